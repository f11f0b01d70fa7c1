// The agent: bridges at start, then ports wired as OVSDB and neutron-server report changes. This
// file assembles the parts and runs their lifecycle; each behaviour lives in its own module:
//   ports/     the port pass (classify, details, plan, commit), when passes run, what a port is,
//              anti-spoofing, egress-direct, the security-group hook and the configured firewall
//   networks/  local VLANs of networks, tunnel ports and flood flows, l2population
//   bridges/   bridges set up at start and after OVS restarts; bridges deleted or re-created
//   repair/    the periodic flow audit, OVSDB drift repair, the back-off of repeated repairs
//   server/    plugin RPC, the resource cache of pushed objects, device and state reports
//   status/    what the metrics endpoint reads (metrics) and the state it shows (snapshot)
//   extension-api.ts  the L2 extensions of `[agent] extensions` (src/extensions, one seam)
import { OvsdbOps } from '../ovsdb/ops.js';
import type { OpenFlowBackend } from '../openflow/backend.js';
import { createOpenFlowBackend } from '../openflow/factory.js';
import { BridgeRecovery } from './bridges/bridge-recovery.js';
import { AFTER_DRIFT, BridgeSetup, switchOfBridge, type Bridges, type SetupMode } from './bridges/bridge-setup.js';
import type { AgentContext } from './context.js';
import { DeviceReports } from './server/device-reports.js';
import { L2Population } from './networks/l2population.js';
import { LocalVlanManager } from './networks/local-vlan.js';
import { Networks } from './networks/networks.js';
import { PassScheduler } from './ports/pass-scheduler.js';
// plugin-rpc (and amqplib under it) loads once the bridges are set up: not on that path.
import type { PluginRpc, AgentEndpoints } from './server/plugin-rpc.js';
import type { FirewallDriver } from '../firewall/driver.js';
import { createFirewall } from './ports/firewall-setup.js';
import { startExtensions } from './extension-api.js';
import type { ExtensionManager } from '../extensions/manager.js';
import { OvsdbDriftRepair, type DriftCounters } from './repair/ovsdb-drift.js';
import { FlowAudit, type FlowAuditCounters } from './repair/flow-audit.js';
import { PortPass } from './ports/port-pass.js';
import { ResourceCache } from './server/resource-cache.js';
import type { AgentSettings } from './settings.js';
import { StateReports } from './server/state-report.js';
import { SyncState } from './ports/sync-state.js';
import { TunnelPorts } from './networks/tunnels.js';
import { getLogger } from '../util/log.js';
import { instrumentOpenFlow, noteConnectionUp, noteOvsRestart, timedCachePull, type AgentSnapshot, type RepairCounts } from './status/metrics.js';
import { buildSnapshot } from './status/snapshot.js';

const LOG = getLogger('agent');

/** A failure at start-up that the operator must fix; the message says what. */
export class StartupError extends Error {
  override name = 'StartupError';
}

export class OvsAgent implements AgentContext {
  ops!: OvsdbOps;
  backend!: OpenFlowBackend;
  bridges!: Bridges;
  private setup!: BridgeSetup;
  private recovery: BridgeRecovery | undefined;
  rpc?: PluginRpc;
  readonly vlans = new LocalVlanManager();
  readonly cache: ResourceCache;
  readonly sync = new SyncState();
  readonly scheduler: PassScheduler;
  readonly drift: OvsdbDriftRepair;
  readonly flowAudit: FlowAudit;
  private readonly tunnels: TunnelPorts;
  private readonly networks: Networks;
  private readonly l2pop: L2Population;
  private readonly deviceReports: DeviceReports;
  private readonly stateReports: StateReports;
  private readonly ports: PortPass;
  private extensions: ExtensionManager | undefined;
  /** The security-group firewall; undefined: ports are not filtered (noop, or security groups disabled). */
  private firewall: FirewallDriver | undefined;
  private canaryTimer: NodeJS.Timeout | undefined;
  /** A canary check is in flight: the timer and a switch reconnect must not start a second. */
  private checkingOvs = false;
  /** A switch reconnected during a check: check again once it ends, on the new connection. */
  private canaryRecheck = false;
  /**
   * The last canary check's result (ovs-ofctl's OpenFlow channel is judged by it); undefined: not
   * read since a switch (re)connected, so the flows may be the empty tables of a restarted switch.
   */
  private canary: 'normal' | 'restarted' | 'dead' | undefined;

  constructor(readonly settings: AgentSettings) {
    this.cache = new ResourceCache((type, version, filter) => timedCachePull(type, () => this.requireRpc().bulkPull(type, version, filter)));
    this.scheduler = new PassScheduler(this.sync, () => this.ports.run());
    this.drift = new OvsdbDriftRepair(this);
    this.flowAudit = new FlowAudit(this);
    this.tunnels = new TunnelPorts(this);
    this.networks = new Networks(this, this.tunnels);
    this.l2pop = new L2Population(this, this.tunnels);
    this.deviceReports = new DeviceReports(this);
    this.ports = new PortPass(this, this.networks, this.tunnels, this.deviceReports);
    this.stateReports = new StateReports(this, () => this.ports.portCount, () => this.extensions?.agentConfigurations() ?? {});
    this.cache.on('port-updated', (id) => {
      this.ports.noteUpdated(id);
      this.scheduler.kick();
    });
    this.cache.on('port-deleted', (id) => {
      this.ports.noteDeleted(id);
      this.kickPass();
    });
    this.cache.on('network-updated', (id) => this.onNetworkUpdated(id));
  }

  /** What the agent put back since start (for metrics): OVSDB columns and patch ports, flows. */
  repairCounters(): { ovsdb: DriftCounters; flows: FlowAuditCounters } {
    return { ovsdb: this.drift.counters, flows: this.flowAudit.counters };
  }

  kickPass(): void {
    this.scheduler.kick();
  }
  firewallDriver(): FirewallDriver | undefined {
    return this.firewall;
  }
  requireRpc(): PluginRpc {
    if (!this.rpc || !this.sync.rpcReady) throw new Error('neutron-server is not reachable yet');
    return this.rpc;
  }

  /** Connect to OVS, set up every bridge; then talk to the server and wire ports in the background. */
  async start(): Promise<void> {
    await this.connectOvs();
    try {
      this.bridges = await this.setup.setupAll();
    } catch (e) {
      throw new StartupError(errText(e));
    }
    this.sync.bridges = 'ready';
    this.canary = 'normal';
    this.networks.restoreLocalVlanHints();
    // Before any port is wired: a port is tagged only once its filter is in place.
    await this.startFirewall();
    this.extensions = await startExtensions(this).catch((e: unknown) => Promise.reject(new StartupError(errText(e))));
    this.ports.extensions = this.extensions;
    this.flowAudit.beforeEach = () => this.extensions!.audit();
    this.watchBridges();
    this.flowAudit.start();
    // A restarted ovs-vswitchd shows as a reconnecting switch where the backend has connections;
    // the canary catches what no event reports, as often as the backend says it must.
    this.backend.onSwitchConnected(() => {
      this.canary = undefined;
      void this.checkOvsRestart();
    });
    this.canaryTimer = setInterval(() => void this.checkOvsRestart(), this.backend.canaryIntervalMs);
    this.canaryTimer.unref();
    if (this.settings.transportUrl.startsWith('fake:')) {
      LOG.info('transport_url is fake:/: not connecting to neutron-server');
      return;
    }
    this.rpc = await this.loadRpc();
    void this.startRpc(this.rpc);
  }

  /** OVSDB, then the configured OpenFlow backend; each failure names the option to look at. */
  private async connectOvs(): Promise<void> {
    const s = this.settings;
    try {
      this.ops = await OvsdbOps.connect({ endpoint: s.ovsdbConnection, timeoutSec: s.ovsdbTimeoutSec, ...(s.ovsdbTls ? { tls: s.ovsdbTls } : {}) });
    } catch (e) {
      const why = errText(e);
      // A TLS failure names its own cause; the hint is for a server that does not answer at all.
      throw new StartupError(`cannot reach Open vSwitch's database at [ovs] ovsdb_connection = ${s.ovsdbConnection}: ${why}.${why.includes('TLS:') ? '' : ' Is ovsdb-server running?'}`);
    }
    this.ops.client.on('connected', () => noteConnectionUp('ovsdb', true));
    this.backend = instrumentOpenFlow(await createOpenFlowBackend(s));
    try {
      await this.backend.start();
    } catch (e) {
      throw new StartupError(`OpenFlow (${s.ofInterface}) cannot start: ${errText(e)}`);
    }
    this.setup = new BridgeSetup(s, this.ops, this.backend);
  }

  private async startFirewall(): Promise<void> {
    this.firewall = await createFirewall({
      settings: this.settings, bridges: () => this.bridges, cache: this.cache, ops: this.ops, onRefilterNeeded: () => this.scheduler.kick(),
    });
    if (!this.settings.enableSecurityGroup) {
      // Once, so an operator who meant to filter sees it; the driver (if any) still starts below.
      LOG.info(
        `security groups are disabled ([securitygroup] enable_security_group = False): ports are not filtered` +
          (this.firewall ? ` (firewall_driver ${this.firewall.name} is loaded but filters no port)` : ''),
      );
    }
    if (!this.firewall) return;
    try {
      await this.firewall.start();
    } catch (e) {
      throw new StartupError(`security-group firewall ${this.firewall.name} cannot start: ${errText(e)}`);
    }
    this.ports.portFilter = this.firewall;
    if (this.settings.enableSecurityGroup) LOG.info(`security groups enforced by the ${this.firewall.name} firewall driver`);
  }

  /** Bridges deleted or re-created (recovery) and columns or patch ports changed under us (drift). */
  private watchBridges(): void {
    this.recovery = new BridgeRecovery({
      replica: this.ops.replica,
      managed: this.setup.managedBridges(),
      identities: this.setup.identities,
      switchOf: (name) => switchOfBridge(this.bridges, name),
      resetup: (mode) => this.resetupBridges(mode),
      withLock: (fn) => this.scheduler.withLock(fn),
      stopping: () => this.sync.stopping,
      setReady: (ready) => {
        this.sync.bridges = ready ? 'ready' : 'recovering';
        if (!ready) return;
        this.scheduler.kick();
        // A switch that reconnected while the bridges were recovered was not checked then.
        if (this.canary === undefined) void this.checkOvsRestart();
      },
    });
    this.recovery.started();
    this.ops.replica.on('update', (changes) => {
      this.drift.onReplicaUpdate(changes);
      this.recovery?.onUpdate(changes);
      if (changes.some((c) => c.table === 'Interface' || c.table === 'Port')) this.scheduler.kick();
    });
    this.drift.watchBridges({
      expectedBridges: () => this.setup.expectedBridges(this.bridges),
      expectedPatchPorts: () => this.setup.expectedPatchPorts(this.bridges),
      bridgeAsSetUp: (name) => {
        const id = this.setup.identities.get(name);
        return id !== undefined && this.ops.replica.bridge(name)?.uuid === id.uuid;
      },
      repairBridge: (name) => this.setup.repairBridge(name),
      repairPatchPort: (p) => this.setup.repairPatchPort(p),
      // Called under the pass lock (the repair runs there): the next pass re-provisions every network.
      patchOfportChanged: async (p) => {
        // The old ofport's flows go first: OVS may give that number to another port later.
        const b = this.bridges;
        const br = [b.int, b.tun, ...[...b.phys.values()].map((x) => x.bridge)].find((x) => x?.name === p.bridge);
        if (br && p.ofport !== undefined) await br.batch().delete({ match: { inPort: p.ofport } }).commit();
        await this.resetupBridges(AFTER_DRIFT);
        this.scheduler.kick();
      },
    });
  }

  /** Loaded only now: amqplib and the RPC layer are not on the way to the bridges being set up. */
  private async loadRpc(): Promise<PluginRpc> {
    let PluginRpcClass: typeof PluginRpc;
    try {
      ({ PluginRpc: PluginRpcClass } = await import('./server/plugin-rpc.js'));
    } catch (e) {
      throw new StartupError(`cannot load the RPC modules: ${errText(e)}`);
    }
    try {
      return new PluginRpcClass(this.settings);
    } catch (e) {
      throw new StartupError(`message bus: ${errText(e)}`);
    }
  }

  private async startRpc(rpc: PluginRpc): Promise<void> {
    rpc.connection.on('reconnected', () => {
      noteConnectionUp('message_bus', true);
      LOG.info(`reconnected to ${rpc.url}: resyncing`);
      this.sync.fullSync = true;
      this.sync.tunnelSyncNeeded = true;
      this.scheduler.kick();
      void this.extensions?.serverReady();
    });
    try {
      await rpc.start(this.endpoints());
    } catch (e) {
      if (!this.sync.stopping) LOG.error(`message bus at ${rpc.url} unusable`, e);
      return;
    }
    this.sync.rpcReady = true;
    LOG.info(`connected to ${rpc.url}`);
    void this.stateReports.report();
    this.scheduler.kick();
    void this.extensions?.serverReady();
  }

  private endpoints(): AgentEndpoints {
    return {
      push: (list, eventType) => this.cache.onPush(list, eventType),
      tunnelUpdate: (ip, type) => this.tunnels.onTunnelUpdate(ip, type),
      tunnelDelete: (ip, type) => this.tunnels.onTunnelDelete(ip, type),
      addFdbEntries: (fdb, host) => this.l2pop.onAddFdbEntries(fdb, host),
      removeFdbEntries: (fdb, host) => this.l2pop.onRemoveFdbEntries(fdb, host),
      updateFdbEntries: (fdb, host) => this.l2pop.onUpdateFdbEntries(fdb, host),
      extensionEndpoints: this.extensions?.rpcEndpoints() ?? [],
    };
  }

  async stop(): Promise<void> {
    this.sync.stopping = true;
    this.stateReports.stop();
    clearInterval(this.canaryTimer);
    this.drift.stop();
    this.flowAudit.stop();
    this.recovery?.stop();
    this.rpc?.capTimeouts(this.settings.quittingRpcTimeoutSec);
    await this.scheduler.stop();
    await this.extensions?.stop();
    await this.firewall?.stop().catch((e: unknown) => LOG.warning('stopping the firewall driver', e));
    await this.deviceReports.stop();
    await this.rpc?.stop().catch((e: unknown) => LOG.warning('closing the message bus connection', e));
    await this.backend?.stop().catch((e: unknown) => LOG.warning('stopping OpenFlow', e));
    await this.ops?.close().catch((e: unknown) => LOG.warning('closing OVSDB', e));
  }

  /**
   * Set every bridge up again and have the next pass rewire every port and network (under the pass
   * lock). The firewall's flows go in right after br-int is bound to its switch, before br-int's
   * own: br-int is fail_mode=secure and empty, so it drops everything until its flows are back,
   * and those (NORMAL in table 60) must find every filter in place.
   */
  private async resetupBridges(mode: SetupMode): Promise<void> {
    const firewall = this.firewall;
    this.bridges = await this.setup.setupAll(this.bridges, mode, firewall ? () => firewall.start() : undefined);
    await this.extensions?.bridgesReset();
    this.canary = 'normal';
    this.tunnels.forgetAll();
    this.sync.redoAfterOvsRestart();
  }

  /** A restarted ovs-vswitchd lost every flow: set up the bridges again and rewire everything. */
  private async checkOvsRestart(): Promise<void> {
    // While bridges are being recovered the canary is not there to read; the recovery rewires all.
    if (this.sync.stopping || !this.bridges || !this.sync.passesMayRun) return;
    if (this.checkingOvs) {
      this.canaryRecheck = true;
      return;
    }
    this.checkingOvs = true;
    this.canaryRecheck = false;
    try {
      const status = await this.bridges.int.checkCanaryTable();
      this.canary = status;
      if (status === 'restarted') {
        LOG.warning('OVS is restarted: the canary flow is gone; setting up the bridges and every port again');
        noteOvsRestart();
        this.sync.bridges = 'resetting';
        try {
          await this.scheduler.withLock(() => this.resetupBridges({ createMissing: false, providerMissingOk: true }));
        } catch (e) {
          // Passes go on with what can be wired; the next canary check sees the flow missing and retries.
          this.sync.bridges = 'failed';
          throw e;
        }
        this.sync.bridges = 'ready';
        this.scheduler.kick();
      }
    } catch (e) {
      LOG.warning('checking the canary table', e);
    } finally {
      this.checkingOvs = false;
      if (this.canaryRecheck) void this.checkOvsRestart();
    }
  }

  /** What the agent holds and how its connections stand, for the metrics endpoint. */
  snapshot(): AgentSnapshot {
    return buildSnapshot({
      ovsdbEndpoint: this.settings.ovsdbConnection,
      ops: this.ops,
      backend: this.backend,
      bridges: this.bridges,
      canary: this.canary,
      rpc: this.rpc,
      sync: this.sync,
      ports: this.ports.portStates(),
      lastFullSync: this.ports.lastFullSync,
      lastStateReportAt: this.stateReports.lastSuccessAt,
      vlans: this.vlans,
      tunnels: this.tunnels,
      firewall: this.firewall,
      extensions: this.extensions?.status() ?? {},
      cache: this.cache,
      repairs: this.repairCounts(),
    });
  }

  private repairCounts(): RepairCounts {
    const { ovsdb, flows } = this.repairCounters();
    return {
      ovsdbRepairs: ovsdb.repairs, ovsdbFlaps: ovsdb.flaps,
      flowAudits: flows.audits, flowsReadded: flows.flowsReadded, foreignFlowsRemoved: flows.foreignFlowsRemoved, flowsRefused: flows.flowsRefused,
    };
  }

  /** A network's segmentation may have changed: move its flows (under the pass lock). */
  private onNetworkUpdated(networkId: string): void {
    void this.scheduler
      .withLock(() => this.networks.resegment(networkId, this.ports.wiredPorts()))
      .catch((e: unknown) => LOG.error(`applying the update of network ${networkId}`, e));
  }
}

function errText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
