// Type=notify: under systemd the agent says READY=1 on $NOTIFY_SOCKET, as itself (its pid in the
// credentials, so systemd's default NotifyAccess=main accepts it), once it is ready. Without a
// neutron-server (transport_url fake:/) that is once the bridges are set up; the live test with a
// server (test/integration/cli/operator.test.ts) checks it comes after the first full sync.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PrivateOvs } from '../../../lab/ovs.js';
import { AgentProcess } from '../../../lab/agent-process.js';
import { DatagramReceiver } from '../../helpers/unix-datagram.js';

let ovs: PrivateOvs;
let dir: string;
before(async () => {
  ovs = await PrivateOvs.start();
  dir = mkdtempSync(join(tmpdir(), 'ovs-agent-notify-'));
});
after(async () => {
  await ovs?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const conf = () => `[DEFAULT]\nhost = compute1\ntransport_url = fake:/\n[ovs]\novsdb_connection = ${ovs.unixConnection}\ndatapath_type = netdev\nof_listen_port = 16636\n`;

test('READY=1 reaches NOTIFY_SOCKET from the agent\'s own pid, after the bridges are set up', async () => {
  const rx = new DatagramReceiver(join(dir, 'notify.sock'));
  const agent = new AgentProcess({ 'neutron.conf': conf() }, { ...ovs.env, NOTIFY_SOCKET: rx.path });
  try {
    await rx.ready;
    agent.start();
    await agent.waitForLog(/told systemd the agent is ready/, 30000);
    const ready = rx.messages.find((m) => /^READY=1$/m.test(m.text));
    assert.ok(ready, `READY=1 received: ${JSON.stringify(rx.messages)}`);
    assert.equal(ready.pid, agent.pid, 'sent as the agent (MAINPID)');
    assert.match(ready.text, /^MAINPID=\d+$/m);
    assert.match(ready.text, /^STATUS=bridges set up/m);
    assert.ok(agent.output.indexOf('bridges set up') < agent.output.indexOf('told systemd'), 'only once the bridges are set up');
    assert.equal(await agent.stop(), 0);
  } finally {
    agent.cleanup();
    rx.stop();
  }
});

test('without NOTIFY_SOCKET nothing is sent and nothing is said about systemd', async () => {
  const agent = new AgentProcess({ 'neutron.conf': conf() }, ovs.env);
  try {
    agent.start();
    await agent.waitForLog(/bridges set up/, 30000);
    await new Promise((r) => setTimeout(r, 500));
    assert.doesNotMatch(agent.output, /systemd/);
    assert.equal(await agent.stop(), 0);
  } finally {
    agent.cleanup();
  }
});
