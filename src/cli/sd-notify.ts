// systemd's readiness protocol (Type=notify): "READY=1" to $NOTIFY_SOCKET once the agent is ready.
// That socket is a unix datagram socket, which Node cannot send to without a native addon, so the
// message goes through `systemd-notify`, run once: it sends with the agent's pid as sender (root may
// do so; otherwise NotifyAccess=all in the unit accepts the helper) and waits until systemd has read
// it (its BARRIER=1), so the helper exiting first cannot lose the message.
import { execFile } from 'node:child_process';
import { getLogger } from '../util/log.js';

const LOG = getLogger('cli');

/** Sends READY=1 and a STATUS line when run under systemd with Type=notify; does nothing otherwise. */
export function notifyReady(status: string, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const socket = env['NOTIFY_SOCKET'];
  if (!socket) return Promise.resolve();
  return new Promise((resolve) => {
    execFile('systemd-notify', ['--ready', `--pid=${process.pid}`, `--status=${status}`], { env, timeout: 10000 }, (err, _out, stderr) => {
      if (err) LOG.warning(`could not tell systemd at NOTIFY_SOCKET=${socket} that the agent is ready (systemd-notify: ${stderr.trim() || err.message})`);
      else LOG.info(`told systemd the agent is ready (READY=1 to ${socket})`);
      resolve();
    });
  });
}
