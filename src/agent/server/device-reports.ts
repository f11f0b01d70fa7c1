// Port states told to the server (update_device_list), in the background: an overloaded server can
// take a minute to answer, and the next pass (a port set admin-down, a deleted port to isolate)
// must not wait for that. A state queued while a report is in flight is sent in the next round.
import type { AgentContext } from '../context.js';
import type { DeviceListResult } from './rpc-payloads.js';
import { getLogger } from '../../util/log.js';
import { FirstUpReports, type UpCandidate } from '../ports/known-active.js';

const LOG = getLogger('agent');

export type DeviceState = 'up' | 'down';

export class DeviceReports {
  /** Ports whose state the server has not acknowledged yet. */
  private readonly unreportedUp = new Set<string>();
  private readonly unreportedDown = new Set<string>();
  /** Generation of each port's latest queued state: an answer only clears what it reported. */
  private readonly reportGen = new Map<string, number>();
  private reportSeq = 0;
  private reporting: Promise<void> | undefined;
  /** A report was requested while one is in flight: run another round. */
  private reportAgain = false;
  /** The next round asks the server to resend tunnel endpoints (refresh_tunnels). */
  private refreshTunnelsWanted = false;
  /** Callers of answered(), told when no state is left unreported. */
  private waiters: Array<() => void> = [];

  /** Ports the server already has ACTIVE here when this process first wires them are not reported up. */
  private readonly firstReports: FirstUpReports;

  constructor(private readonly ctx: AgentContext) {
    const { host, l2Population, localIp, tunnelBridge } = ctx.settings;
    const previousTunnels = () => ctx.ops.replica.portsOfBridge(tunnelBridge).flatMap((p) => ctx.ops.replica.interfacesOfPort(p));
    this.firstReports = new FirstUpReports({ host, l2Population, localIp, previousTunnels }, LOG);
  }

  /**
   * The states a pass found, then a report round. `refreshTunnels`: the server is to resend the
   * fdb entries of the networks reported (a first sync, a tunnel network without tunnels yet).
   */
  queuePass(up: readonly string[], down: readonly string[], refreshTunnels: boolean, lookup: (id: string) => Omit<UpCandidate, 'id'>): void {
    for (const id of this.firstReports.upToReport(up, down, refreshTunnels, lookup)) this.queue(id, 'up');
    for (const id of down) this.queue(id, 'down');
    this.request(refreshTunnels);
  }

  /** A port deleted on the server. */
  forget(id: string): void {
    this.firstReports.forget(id);
  }

  queue(id: string, state: DeviceState): void {
    (state === 'up' ? this.unreportedUp : this.unreportedDown).add(id);
    (state === 'up' ? this.unreportedDown : this.unreportedUp).delete(id);
    this.reportGen.set(id, ++this.reportSeq);
  }

  /** Starts reporting in the background, one update_device_list round at a time. */
  request(refreshTunnels: boolean): void {
    this.refreshTunnelsWanted ||= refreshTunnels;
    this.reportAgain = true;
    if (this.reporting || this.ctx.sync.stopping) return;
    this.reporting = this.reportLoop();
  }

  /**
   * Resolves once the server has answered every state queued so far (or the agent stops). The
   * server sends the fdb entries a restarted agent needs while it answers update_device_list.
   */
  answered(): Promise<void> {
    if (this.settled()) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  private settled(): boolean {
    return this.ctx.sync.stopping || (!this.reporting && this.unreportedUp.size === 0 && this.unreportedDown.size === 0);
  }

  /** Wait for the round in flight (stop() caps RPC timeouts first). */
  async stop(): Promise<void> {
    await this.reporting?.catch(() => undefined);
    for (const w of this.waiters.splice(0)) w();
  }

  private async reportLoop(): Promise<void> {
    try {
      while (this.reportAgain && !this.ctx.sync.stopping) {
        this.reportAgain = false;
        const refresh = this.refreshTunnelsWanted;
        this.refreshTunnelsWanted = false;
        await this.reportDevices(refresh).catch((e: unknown) => {
          LOG.warning('reporting device states failed; will retry', e);
          this.ctx.scheduler.scheduleRetry();
        });
      }
    } finally {
      // In the same turn as the last check of reportAgain: a request arriving later starts a new loop.
      this.reporting = undefined;
      if (this.settled()) for (const w of this.waiters.splice(0)) w();
    }
  }

  /** update_device_list for everything not yet reported, chunked as the reference does. */
  private async reportDevices(refreshTunnels: boolean): Promise<void> {
    const up = [...this.unreportedUp];
    const down = [...this.unreportedDown];
    const gen = new Map([...up, ...down].map((id) => [id, this.reportGen.get(id)]));
    // Cleared only if the port's state was not queued again while the call was in flight.
    const done = (id: string, set: Set<string>) => {
      if (this.reportGen.get(id) !== gen.get(id)) return;
      set.delete(id);
      this.reportGen.delete(id);
    };
    if (!up.length && !down.length) return;
    const step = this.ctx.settings.rpcResourcesProcessingStep;
    const chunks: Array<[string[], string[]]> = [];
    for (let i = 0; i < Math.max(up.length, down.length); i += step) chunks.push([up.slice(i, i + step), down.slice(i, i + step)]);
    // One chunk after the other, as the reference sends them: neutron-server marks each device up
    // in its own DB transactions with an l2population fan-out, and concurrent chunks only make
    // them contend (200 ports took twice as long to turn ACTIVE with all chunks in flight).
    const results: PromiseSettledResult<DeviceListResult>[] = [];
    for (const [u, d] of chunks) {
      // Stopping: what is left is reported by the next start's full sync. Going on would keep a
      // SIGTERM waiting for minutes while the server works through 500 ports.
      if (this.ctx.sync.stopping) break;
      results.push(
        await this.ctx.requireRpc().updateDeviceList(u, d, refreshTunnels).then(
          (value) => ({ status: 'fulfilled', value }) as const,
          (reason: unknown) => ({ status: 'rejected', reason }) as const,
        ),
      );
    }
    let failed = false;
    results.forEach((r, i) => {
      const [u, d] = chunks[i]!;
      if (r.status === 'rejected') {
        failed = true;
        LOG.warning(`update_device_list for ${u.length} up / ${d.length} down failed; will retry`, r.reason);
        return;
      }
      const { failedDevicesUp: failedUp, failedDevicesDown: failedDown } = r.value;
      for (const id of u) if (!failedUp.has(id)) done(id, this.unreportedUp);
      for (const id of d) if (!failedDown.has(id)) done(id, this.unreportedDown);
      if (failedUp.size || failedDown.size) failed = true;
    });
    if (failed) this.ctx.scheduler.scheduleRetry();
  }
}
