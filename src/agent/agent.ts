// The agent: bridges at start, then ports wired as OVSDB and neutron-server report changes.
// Event-driven where the reference polls: a change in the OVSDB replica, a push from the server or
// an l2population message schedules one reconciliation pass; passes never overlap, and everything
// that arrived meanwhile is handled together in the next one.
import { isIP } from 'node:net';
import { OvsdbOps, type VifPort } from '../ovsdb/ops.js';
import type { OpenFlowBackend } from '../openflow/backend.js';
import { NativeBackend } from '../openflow/native/backend.js';
import { OfctlBackend } from '../openflow/ofctl/backend.js';
import { IntegrationBridge } from '../bridges/br-int.js';
import { PhysicalBridge } from '../bridges/br-phys.js';
import { TunnelBridge } from '../bridges/br-tun.js';
import type { FlowBatch } from '../bridges/ovs-bridge.js';
import { DEAD_VLAN_TAG, INT_BR_ALL_TABLES, PHY_BR_ALL_TABLES, TUN_BR_ALL_TABLES, TUNNEL_TYPES, type TunnelType } from '../bridges/tables.js';
import { BridgeSetup, allBridges, type Bridges } from './bridge-setup.js';
import { LocalVlanManager, type LocalVlanMapping } from './local-vlan.js';
import { ResourceCache, RESOURCE_VERSIONS, isObj, type Json, type JsonObj } from './resource-cache.js';
import { buildDeviceDetails, type BoundDeviceDetails, type DeviceDetails } from './device-details.js';
import { PluginRpc, type AgentEndpoints } from './plugin-rpc.js';
import { agentProvidesAntiSpoofing, type AgentSettings } from './settings.js';
import { tunnelInterface, tunnelPortName } from './tunnels.js';
import { Backoff } from '../util/backoff.js';
import { getLogger } from '../util/log.js';
import type { JsonObject, JsonValue } from '../rpc/index.js';

const LOG = getLogger('agent');
const FLOODING_ENTRY = ['00:00:00:00:00:00', '0.0.0.0'];
const MAX_DEVICE_RETRIES = 5;

/** A failure at start-up that the operator must fix; the message says what. */
export class StartupError extends Error {
  override name = 'StartupError';
}

interface WiredPort {
  ifaceId: string;
  portName: string;
  ofport: number;
  /** Set when the port is bound to a network here. */
  lvm?: LocalVlanMapping;
  details?: BoundDeviceDetails;
}

export interface AgentStats {
  ports: number;
  localVlans: number;
  passes: number;
  lastPassMs: number;
  rpcConnected: boolean;
  started: number;
}

export class OvsAgent {
  ops!: OvsdbOps;
  backend!: OpenFlowBackend;
  bridges!: Bridges;
  private setup!: BridgeSetup;
  readonly vlans = new LocalVlanManager();
  readonly cache: ResourceCache;
  rpc?: PluginRpc;

  private readonly wired = new Map<string, WiredPort>();
  private readonly pendingUpdated = new Set<string>();
  private readonly pendingDeleted = new Set<string>();
  private readonly retries = new Map<string, number>();
  /** Ports bound while the server could not be told: reported as soon as it can. */
  private readonly unreportedUp = new Set<string>();
  private readonly unreportedDown = new Set<string>();
  private readonly tunnelOfports = new Map<TunnelType, Map<string, number>>(TUNNEL_TYPES.map((t) => [t, new Map()]));
  private fullSync = true;
  private provisioningNeeded = false;
  private firstSyncDone = false;
  private staleFlowsCleaned = false;
  private tunnelSyncNeeded = true;
  private dirty = false;
  private running: Promise<void> | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private reportTimer: NodeJS.Timeout | undefined;
  private canaryTimer: NodeJS.Timeout | undefined;
  private startFlag = true;
  private resourceVersionsSent = false;
  private stopping = false;
  private rpcReady = false;
  readonly stats: AgentStats = { ports: 0, localVlans: 0, passes: 0, lastPassMs: 0, rpcConnected: false, started: Date.now() };
  /** Resolves after the first full pass over the ports with the server reachable. */
  readonly firstSync: Promise<void>;
  private resolveFirstSync!: () => void;

  constructor(readonly s: AgentSettings) {
    this.cache = new ResourceCache((type, version, filter) => this.requireRpc().bulkPull(type, version, filter as JsonObject));
    this.cache.on('port-updated', (id) => {
      this.pendingUpdated.add(id);
      this.kick();
    });
    this.cache.on('port-deleted', (id) => {
      this.pendingDeleted.add(id);
      this.pendingUpdated.delete(id);
      this.kick();
    });
    this.cache.on('network-updated', (id) => this.onNetworkUpdated(id));
    this.firstSync = new Promise((r) => (this.resolveFirstSync = r));
  }

  private requireRpc(): PluginRpc {
    if (!this.rpc || !this.rpcReady) throw new Error('neutron-server is not reachable yet');
    return this.rpc;
  }

  // ------------------------------------------------------------------ start / stop

  /** Connect to OVS, set up every bridge; then talk to the server and wire ports in the background. */
  async start(): Promise<void> {
    const s = this.s;
    try {
      this.ops = await OvsdbOps.connect({ endpoint: s.ovsdbConnection, timeoutSec: s.ovsdbTimeoutSec });
    } catch (e) {
      throw new StartupError(`cannot reach Open vSwitch's database at [ovs] ovsdb_connection = ${s.ovsdbConnection}: ${errText(e)}. Is ovsdb-server running?`);
    }
    this.backend =
      s.ofInterface === 'native'
        ? new NativeBackend({
            listenAddress: s.ofListenAddress,
            listenPort: s.ofListenPort,
            connectTimeoutSec: s.ofConnectTimeoutSec,
            requestTimeoutSec: s.ofRequestTimeoutSec,
          })
        : new OfctlBackend({ timeoutSec: s.ofRequestTimeoutSec });
    try {
      await this.backend.start();
    } catch (e) {
      throw new StartupError(`OpenFlow (${s.ofInterface}) cannot start: ${errText(e)}`);
    }
    this.setup = new BridgeSetup(s, this.ops, this.backend);
    try {
      this.bridges = await this.setup.setupAll();
    } catch (e) {
      throw new StartupError(errText(e));
    }
    this.restoreLocalVlanHints();
    this.ops.replica.on('update', (changes) => {
      if (changes.some((c) => c.table === 'Interface' || c.table === 'Port')) this.kick();
    });
    if (this.backend instanceof NativeBackend) {
      this.backend.on('switch-connected', () => this.checkOvsRestart());
    }
    // The canary catches what no event reports: with ovs-ofctl there is no OpenFlow connection to
    // drop, so it is the only sign of a restarted ovs-vswitchd (checked as often as the reference
    // polls); the native backend learns of a restart from the reconnect at once and checks rarely.
    this.canaryTimer = setInterval(() => this.checkOvsRestart(), this.backend instanceof NativeBackend ? 10_000 : 2_000);
    this.canaryTimer.unref();
    if (s.transportUrl.startsWith('fake:')) {
      LOG.info('transport_url is fake:/: not connecting to neutron-server');
      return;
    }
    this.rpc = new PluginRpc(s);
    void this.startRpc();
  }

  private async startRpc(): Promise<void> {
    const rpc = this.rpc!;
    rpc.connection.on('reconnected', () => {
      LOG.info(`reconnected to ${rpc.url}: resyncing`);
      this.fullSync = true;
      this.tunnelSyncNeeded = true;
      this.kick();
    });
    try {
      await rpc.start(this.endpoints());
    } catch (e) {
      if (!this.stopping) LOG.error(`message bus at ${rpc.url} unusable`, e);
      return;
    }
    this.rpcReady = true;
    this.stats.rpcConnected = true;
    rpc.connection.on('disconnected', () => (this.stats.rpcConnected = false));
    rpc.connection.on('reconnected', () => (this.stats.rpcConnected = true));
    LOG.info(`connected to ${rpc.url}`);
    void this.reportState();
    this.kick();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.retryTimer);
    clearTimeout(this.reportTimer);
    clearInterval(this.canaryTimer);
    this.rpc?.capTimeouts(this.s.quittingRpcTimeoutSec);
    await this.running?.catch(() => undefined);
    await this.reporting?.catch(() => undefined);
    await this.rpc?.stop().catch((e: unknown) => LOG.warning('closing the message bus connection', e));
    await this.backend?.stop().catch((e: unknown) => LOG.warning('stopping OpenFlow', e));
    await this.ops?.close().catch((e: unknown) => LOG.warning('closing OVSDB', e));
  }

  // ------------------------------------------------------------------ state reports

  private stateReport(): JsonObject {
    const s = this.s;
    const ovs = this.ops.openVSwitch();
    const configurations: JsonObject = {
      bridge_mappings: Object.fromEntries(s.bridgeMappings),
      resource_provider_bandwidths: s.resourceProviderBandwidths as unknown as JsonObject,
      resource_provider_inventory_defaults: s.resourceProviderInventoryDefaults,
      resource_provider_packet_processing_without_direction: s.resourceProviderPacketProcessingWithoutDirection as JsonObject,
      resource_provider_packet_processing_with_direction: s.resourceProviderPacketProcessingWithDirection as JsonObject,
      resource_provider_packet_processing_inventory_defaults: s.resourceProviderPacketProcessingInventoryDefaults,
      resource_provider_hypervisors: s.resourceProviderHypervisors,
      integration_bridge: s.integrationBridge,
      tunnel_types: [...s.tunnelTypes],
      tunneling_ip: s.localIp ?? null,
      l2_population: s.l2Population,
      arp_responder_enabled: s.arpResponderEnabled,
      enable_distributed_routing: s.enableDistributedRouting,
      log_agent_heartbeats: s.logAgentHeartbeats,
      extensions: [...s.extensions],
      datapath_type: s.datapathType,
      ovs_capabilities: { datapath_types: [...ovs.datapathTypes].sort(), iface_types: [...ovs.ifaceTypes].sort() },
      vhostuser_socket_dir: s.vhostuserSocketDir,
      ovs_hybrid_plug: s.firewallDriver === 'iptables_hybrid',
      baremetal_smartnic: s.baremetalSmartnic,
      devices: this.wired.size,
      in_distributed_mode: false,
    };
    const state: JsonObject = {
      binary: 'neutron-openvswitch-agent',
      host: s.host,
      topic: 'N/A',
      agent_type: 'Open vSwitch agent',
      uuid: crypto.randomUUID(),
      configurations,
    };
    if (this.startFlag) state['start_flag'] = true;
    if (!this.resourceVersionsSent) state['resource_versions'] = RESOURCE_VERSIONS;
    return state;
  }

  private async reportState(): Promise<void> {
    if (this.stopping || !this.rpc || this.s.reportIntervalSec <= 0) return;
    try {
      const state = this.stateReport();
      const result = await this.rpc.reportState(state, this.s.reportIntervalSec);
      this.resourceVersionsSent = true;
      if (this.firstSyncDone) this.startFlag = false;
      if (result === 'revived') {
        LOG.info('agent has just been revived: doing a full sync');
        this.fullSync = true;
        this.kick();
      }
    } catch (e) {
      LOG.warning('failed reporting state', e);
    } finally {
      if (!this.stopping) {
        this.reportTimer = setTimeout(() => void this.reportState(), this.s.reportIntervalSec * 1000);
        this.reportTimer.unref();
      }
    }
  }

  // ------------------------------------------------------------------ OVS restart

  private checkingOvs = false;
  private async checkOvsRestart(): Promise<void> {
    if (this.checkingOvs || this.stopping || !this.bridges) return;
    this.checkingOvs = true;
    try {
      const status = await this.bridges.int.checkCanaryTable();
      if (status === 'restarted') {
        LOG.warning('OVS is restarted: the canary flow is gone; setting up the bridges and every port again');
        await this.withLock(async () => {
          this.bridges = await this.setup.setupAll(this.bridges);
          for (const m of this.tunnelOfports.values()) m.clear();
          this.provisioningNeeded = true;
          this.fullSync = true;
          this.tunnelSyncNeeded = true;
        });
        this.kick();
      }
    } catch (e) {
      LOG.warning('checking the canary table', e);
    } finally {
      this.checkingOvs = false;
    }
  }

  // ------------------------------------------------------------------ the reconciliation pass

  /** Something changed: run a pass soon (passes never overlap; changes meanwhile join the next). */
  kick(): void {
    this.dirty = true;
    if (this.draining) return;
    this.draining = true;
    this.running = this.withLock(() => this.drain()).finally(() => {
      this.draining = false;
      if (this.dirty && !this.stopping) this.kick();
    });
  }

  private draining = false;
  private lock: Promise<void> = Promise.resolve();

  /** Passes over the ports, OVS re-setup and l2population handlers change the same state: one at a time. */
  private withLock<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.lock.then(fn);
    this.lock = p.then(
      () => undefined,
      () => undefined,
    );
    return p;
  }

  private async drain(): Promise<void> {
    while (this.dirty && !this.stopping) {
      this.dirty = false;
      await new Promise<void>((r) => setImmediate(r)); // let events of the same burst arrive
      const t0 = Date.now();
      try {
        await this.processPorts();
      } catch (e) {
        LOG.error('port processing failed; full resync on the next pass', e);
        this.fullSync = true;
        this.scheduleRetry();
      }
      this.stats.passes++;
      this.stats.lastPassMs = Date.now() - t0;
    }
  }

  private retryBackoff = new Backoff(500, 10_000);
  private scheduleRetry(): void {
    if (this.retryTimer || this.stopping) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.kick();
    }, this.retryBackoff.next());
    this.retryTimer.unref();
  }

  private currentVifs(): Map<string, VifPort> {
    const out = new Map<string, VifPort>();
    for (const v of this.ops.vifPorts(this.s.integrationBridge)) {
      if (v.ofport === undefined || v.ofport <= 0) continue; // not ready yet: its ofport update triggers a pass
      out.set(v.ifaceId, v);
    }
    return out;
  }

  private async processPorts(): Promise<void> {
    if (!this.rpcReady) return; // ports are wired once the server can tell us what they are
    if (this.tunnelSyncNeeded && this.s.tunnelTypes.length > 0) await this.tunnelSync();
    const full = this.fullSync;
    this.fullSync = false;
    const provisioning = this.provisioningNeeded;
    this.provisioningNeeded = false;

    const vifs = this.currentVifs();
    const added: VifPort[] = [];
    const updated: VifPort[] = [];
    const moved: WiredPort[] = [];
    for (const [id, vif] of vifs) {
      const w = this.wired.get(id);
      if (!w || full) added.push(vif);
      else if (w.ofport !== vif.ofport) {
        moved.push(w);
        updated.push(vif);
      } else if (this.pendingUpdated.has(id)) updated.push(vif);
    }
    const removed = [...this.wired.values()].filter((w) => !vifs.has(w.ifaceId));
    for (const v of [...added, ...updated]) this.pendingUpdated.delete(v.ifaceId);
    const deleted = [...this.pendingDeleted];
    this.pendingDeleted.clear();

    const intBatch = this.bridges.int.batch();
    const tunBatch = this.bridges.tun?.batch();
    const physBatches = new Map([...this.bridges.phys.values()].map((p) => [p.physnet, p.bridge.batch()]));
    const ovsdbSettings: Parameters<OvsdbOps['setPortsTagAndOtherConfig']>[0] = [];
    const down: string[] = [];
    const up: string[] = [];
    let tunnelsMissing = false;

    // Ports whose ofport changed, or that left br-int: their flows go with the old ofport.
    for (const w of [...moved, ...removed]) {
      intBatch.delete({ match: { inPort: w.ofport } });
      if (agentProvidesAntiSpoofing(this.s)) IntegrationBridge.deleteArpSpoofingProtection(intBatch, w.ofport);
    }
    for (const w of removed) {
      this.unbind(w, tunBatch, physBatches, intBatch);
      this.wired.delete(w.ifaceId);
      down.push(w.ifaceId);
      this.retries.delete(w.ifaceId);
    }
    // Ports deleted on the server: isolated on the dead VLAN, then unbound.
    for (const id of deleted) {
      const vif = vifs.get(id);
      const w = this.wired.get(id);
      if (vif) this.markDead(vif, intBatch, ovsdbSettings);
      if (w) {
        this.unbind(w, tunBatch, physBatches, intBatch);
        w.lvm = undefined;
        w.details = undefined;
      }
    }

    // Details of added and updated ports, from the cache (pulled from the server on a miss).
    const tStart = performance.now();
    const toWire = [...added, ...updated].filter((v) => !deleted.includes(v.ifaceId));
    const details = await Promise.all(
      toWire.map(async (vif): Promise<[VifPort, DeviceDetails | Error]> => {
        try {
          const port = await this.cache.get('Port', vif.ifaceId);
          const d = buildDeviceDetails(vif.ifaceId, port, this.s.host);
          // A cached Port can lag its network's segmentation change; the Network push is authoritative.
          if (d.kind === 'bound' && d.networkType === 'vlan') d.segmentationId = this.currentVlanSegment(d.networkId) ?? d.segmentationId;
          return [vif, d];
        } catch (e) {
          return [vif, e instanceof Error ? e : new Error(String(e))];
        }
      }),
    );
    let failed = 0;
    for (const [vif, d] of details) {
      if (d instanceof Error) {
        failed++;
        this.noteFailure(vif.ifaceId, d);
        continue;
      }
      const prev = this.wired.get(vif.ifaceId);
      const w: WiredPort = { ifaceId: vif.ifaceId, portName: vif.portName, ofport: vif.ofport!, ...(prev?.lvm ? { lvm: prev.lvm } : {}) };
      if (d.kind !== 'bound') {
        if (d.kind === 'unbound') LOG.warning(`Device ${vif.ifaceId} not defined on plugin or binding failed`);
        if (prev) this.unbind(prev, tunBatch, physBatches, intBatch);
        w.lvm = undefined;
        this.markDead(vif, intBatch, ovsdbSettings);
        this.wired.set(vif.ifaceId, w);
        continue;
      }
      if (!d.adminStateUp) {
        if (prev) this.unbind(prev, tunBatch, physBatches, intBatch);
        w.lvm = undefined;
        this.markDead(vif, intBatch, ovsdbSettings);
        this.wired.set(vif.ifaceId, w);
        down.push(vif.ifaceId);
        continue;
      }
      // Bound and up: local VLAN (provisioned on first use), tag, alive, anti-spoofing.
      if (prev?.lvm && (prev.lvm.networkId !== d.networkId || prev.lvm.segmentationId !== d.segmentationId)) {
        this.unbind(prev, tunBatch, physBatches, intBatch);
      }
      const { lvm, created } = this.ensureLocalVlan(d);
      if (created || provisioning) this.provision(lvm, intBatch, tunBatch, physBatches);
      lvm.vifPorts.add(vif.ifaceId);
      w.lvm = lvm;
      w.details = d;
      ovsdbSettings.push({
        port: vif.portName,
        tag: lvm.vlan,
        clearVlanModeAndTrunks: true,
        otherConfig: {
          net_uuid: d.networkId,
          network_type: d.networkType,
          physical_network: d.physicalNetwork ?? 'None',
          ...(d.segmentationId !== undefined ? { segmentation_id: String(d.segmentationId) } : {}),
          tag: String(lvm.vlan),
        },
      });
      intBatch.delete(IntegrationBridge.alivePortFilter(vif.ofport!));
      if (agentProvidesAntiSpoofing(this.s)) this.antiSpoof(vif.ofport!, d, intBatch);
      this.wired.set(vif.ifaceId, w);
      up.push(vif.ifaceId);
      // As the reference: a tunnel network nothing floods to yet asks the server for its whole fdb.
      if (TUNNEL_TYPES.includes(d.networkType as TunnelType) && lvm.tunOfports.size === 0) tunnelsMissing = true;
      this.retries.delete(vif.ifaceId);
    }

    // Provisioning flows before the tags: a tagged port must find its VLAN's flows in place.
    const tDetails = performance.now();
    await Promise.all([
      tunBatch?.commit(),
      ...[...physBatches.values()].map((b) => b.commit()),
    ]);
    if (ovsdbSettings.length) await this.ops.setPortsTagAndOtherConfig(ovsdbSettings);
    await intBatch.commit();

    this.stats.ports = this.wired.size;
    this.stats.localVlans = this.vlans.size;
    if (up.length || down.length) {
      LOG.info(`Configuration for devices up ${JSON.stringify(up)} and devices down ${JSON.stringify(down)} completed.`);
    }
    for (const id of up) this.queueReport(id, 'up');
    for (const id of down) this.queueReport(id, 'down');
    const tWired = performance.now();
    // Not awaited: an overloaded server can take a minute to answer update_device_list, and
    // the next pass (a port set admin-down, a deleted port to isolate) must not wait for that.
    this.requestReport(!this.firstSyncDone || tunnelsMissing);
    if (toWire.length || removed.length || deleted.length) {
      const ms = (a: number, b: number) => (b - a).toFixed(0);
      LOG.info(
        `pass: ${added.length} added, ${updated.length} updated, ${removed.length} removed, ${deleted.length} deleted; ` +
          `details ${ms(tStart, tDetails)} ms, OVSDB+flows ${ms(tDetails, tWired)} ms`,
      );
    }

    if (full && !this.staleFlowsCleaned && failed === 0) {
      // Only now are all flows still needed re-added with this run's cookies.
      await this.cleanupStaleFlows();
      this.vlans.releaseUnusedHints();
      this.staleFlowsCleaned = true;
    }
    if (failed > 0) this.scheduleRetry();
    else this.retryBackoff.reset();
    if (!this.firstSyncDone && failed === 0) {
      this.firstSyncDone = true;
      LOG.info(`first full sync done: ${this.wired.size} ports, ${this.vlans.size} local VLANs`);
      this.resolveFirstSync();
    }
  }

  private noteFailure(id: string, e: Error): void {
    const n = (this.retries.get(id) ?? 0) + 1;
    this.retries.set(id, n);
    if (n > MAX_DEVICE_RETRIES) {
      LOG.warning(`Device ${id} failed for ${MAX_DEVICE_RETRIES} times and won't be retried anymore`, e);
      return;
    }
    LOG.warning(`device ${id}: details unavailable (attempt ${n}), will retry`, e);
    this.pendingUpdated.add(id);
  }

  /** Generation of each port's latest queued state: an answer only clears what it reported. */
  private readonly reportGen = new Map<string, number>();
  private reportSeq = 0;
  private reporting: Promise<void> | undefined;
  private reportAgain = false;
  private refreshTunnelsWanted = false;

  private queueReport(id: string, state: 'up' | 'down'): void {
    (state === 'up' ? this.unreportedUp : this.unreportedDown).add(id);
    (state === 'up' ? this.unreportedDown : this.unreportedUp).delete(id);
    this.reportGen.set(id, ++this.reportSeq);
  }

  /** Starts reporting in the background, one update_device_list round at a time. */
  private requestReport(refreshTunnels: boolean): void {
    this.refreshTunnelsWanted ||= refreshTunnels;
    this.reportAgain = true;
    if (this.reporting || this.stopping) return;
    this.reporting = this.reportLoop();
  }

  private async reportLoop(): Promise<void> {
    try {
      while (this.reportAgain && !this.stopping) {
        this.reportAgain = false;
        const refresh = this.refreshTunnelsWanted;
        this.refreshTunnelsWanted = false;
        await this.reportDevices(refresh).catch((e: unknown) => {
          LOG.warning('reporting device states failed; will retry', e);
          this.scheduleRetry();
        });
      }
    } finally {
      // In the same turn as the last check of reportAgain: a request arriving later starts a new loop.
      this.reporting = undefined;
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
    const step = this.s.rpcResourcesProcessingStep;
    const chunks: Array<[string[], string[]]> = [];
    for (let i = 0; i < Math.max(up.length, down.length); i += step) chunks.push([up.slice(i, i + step), down.slice(i, i + step)]);
    // One chunk after the other, as the reference sends them: neutron-server marks each device up
    // in its own DB transactions with an l2population fan-out, and concurrent chunks only make
    // them contend (200 ports took twice as long to turn ACTIVE with all chunks in flight).
    const results: PromiseSettledResult<JsonValue>[] = [];
    for (const [u, d] of chunks) {
      // Stopping: what is left is reported by the next start's full sync. Going on would keep a
      // SIGTERM waiting for minutes while the server works through 500 ports.
      if (this.stopping) break;
      results.push(await this.requireRpc().updateDeviceList(u, d, refreshTunnels).then(
        (value) => ({ status: 'fulfilled', value }) as const,
        (reason: unknown) => ({ status: 'rejected', reason }) as const,
      ));
    }
    let failed = false;
    results.forEach((r, i) => {
      const [u, d] = chunks[i]!;
      if (r.status === 'rejected') {
        failed = true;
        LOG.warning(`update_device_list for ${u.length} up / ${d.length} down failed; will retry`, r.reason);
        return;
      }
      const res = isObj(r.value as Json) ? (r.value as JsonObj) : {};
      const failedUp = new Set(Array.isArray(res['failed_devices_up']) ? (res['failed_devices_up'] as Json[]).map(String) : []);
      const failedDown = new Set(Array.isArray(res['failed_devices_down']) ? (res['failed_devices_down'] as Json[]).map(String) : []);
      for (const id of u) if (!failedUp.has(id)) done(id, this.unreportedUp);
      for (const id of d) if (!failedDown.has(id)) done(id, this.unreportedDown);
      if (failedUp.size || failedDown.size) failed = true;
    });
    if (failed) this.scheduleRetry();
  }

  // ------------------------------------------------------------------ ports

  /**
   * Isolate a port on the dead VLAN. The drop flow is added even when the tag is already 4095:
   * after a restart the previous run's drop flow carries a stale cookie and is cleaned up, so
   * skipping it (as for the tag) left dead ports without one. The port's anti-spoofing flows
   * go: at priority 9/10 they would shadow the priority-2 drop, and a freshly started agent
   * never installs them for a dead port either.
   */
  private markDead(vif: VifPort, intBatch: FlowBatch, settings: Parameters<OvsdbOps['setPortsTagAndOtherConfig']>[0]): void {
    const ofport = vif.ofport!;
    if (vif.tag !== DEAD_VLAN_TAG) settings.push({ port: vif.portName, tag: DEAD_VLAN_TAG });
    IntegrationBridge.deleteArpSpoofingProtection(intBatch, ofport);
    intBatch.delete({ table: 0, strict: true, priority: 9, match: { inPort: ofport } });
    intBatch.delete({ table: 25, match: { inPort: ofport } });
    intBatch.add(IntegrationBridge.deadPortFlow(ofport));
  }

  private antiSpoof(ofport: number, d: BoundDeviceDetails, b: FlowBatch): void {
    if (!d.portSecurityEnabled || d.deviceOwner.startsWith('network:')) {
      IntegrationBridge.deleteArpSpoofingProtection(b, ofport);
      b.delete({ table: 0, match: { inPort: ofport } });
      b.delete({ table: 25, match: { inPort: ofport } });
      return;
    }
    const macs = [...new Set([d.macAddress, ...d.allowedAddressPairs.map((p) => p.macAddress).filter(Boolean)])];
    const addrs = [...d.fixedIps.map((f) => f.ipAddress), ...d.allowedAddressPairs.map((p) => p.ipAddress)];
    const v4: Array<{ ip: string; mask?: string }> = [];
    const v6: Array<{ ip: string; mask?: string }> = [];
    let v4Any = false;
    let v6Any = false;
    for (const a of addrs) {
      const [ip, plen] = a.split('/') as [string, string | undefined];
      if (isIP(ip) === 4) {
        if (plen === '0') v4Any = true;
        v4.push(plen && plen !== '32' ? { ip, mask: v4Mask(Number(plen)) } : { ip });
      } else if (isIP(ip) === 6) {
        if (plen === '0') v6Any = true;
        v6.push(plen && plen !== '128' ? { ip, mask: v6Mask(Number(plen)) } : { ip });
      }
    }
    for (const mac of macs) v6.push({ ip: eui64LinkLocal(mac) });
    b.delete({ table: 24, match: { inPort: ofport } });
    if (v4Any) {
      IntegrationBridge.deleteArpSpoofingProtection(b, ofport);
      b.add(...IntegrationBridge.antiSpoofFlows(ofport, macs, [], []));
      return;
    }
    b.add(...IntegrationBridge.antiSpoofFlows(ofport, macs, v4, v6Any ? [] : v6));
  }

  // ------------------------------------------------------------------ local VLANs

  private ensureLocalVlan(d: BoundDeviceDetails): { lvm: LocalVlanMapping; created: boolean } {
    const existing = this.vlans.get(d.networkId, d.segmentationId);
    if (existing) return { lvm: existing, created: false };
    const lvm = this.vlans.allocate(d.networkId, d.networkType, d.physicalNetwork, d.segmentationId);
    LOG.info(`Assigning ${lvm.vlan} as local vlan for net-id=${d.networkId}, seg-id=${d.segmentationId ?? 'None'}`);
    return { lvm, created: true };
  }

  private provision(lvm: LocalVlanMapping, intBatch: FlowBatch, tunBatch: FlowBatch | undefined, phys: Map<string, FlowBatch>): void {
    const type = lvm.networkType;
    if (TUNNEL_TYPES.includes(type as TunnelType)) {
      if (!tunBatch || !this.s.tunnelTypes.includes(type as TunnelType) || lvm.segmentationId === undefined) {
        LOG.error(`Cannot provision ${type} network for net-id=${lvm.networkId} - tunneling disabled`);
        return;
      }
      tunBatch.add(TunnelBridge.tunToLvFlow(type as TunnelType, lvm.segmentationId, lvm.vlan));
      const ofports = this.tunnelOfportsOf(type as TunnelType);
      if (ofports.size) tunBatch.add(TunnelBridge.floodFlow(lvm.vlan, lvm.segmentationId, ofports.values()));
    } else if (type === 'vlan' || type === 'flat') {
      const pn = lvm.physicalNetwork ? this.bridges.phys.get(lvm.physicalNetwork) : undefined;
      if (!pn) {
        LOG.error(`Cannot provision ${type} network for net-id=${lvm.networkId} - no bridge for physical_network ${lvm.physicalNetwork}`);
        return;
      }
      const seg = type === 'vlan' ? lvm.segmentationId : undefined;
      phys.get(pn.physnet)!.add(PhysicalBridge.provisionFlow(pn.physOfport, lvm.vlan, seg));
      intBatch.add(IntegrationBridge.provisionFromPhysFlow(pn.intOfport, lvm.vlan, seg));
    } else if (type !== 'local') {
      LOG.error(`Cannot provision unknown network type ${type} for net-id=${lvm.networkId}`);
    }
  }

  /** Take a port off its network; the last port of a network reclaims the VLAN and its flows. */
  private unbind(w: WiredPort, tunBatch: FlowBatch | undefined, phys: Map<string, FlowBatch>, intBatch: FlowBatch): void {
    const lvm = w.lvm;
    if (!lvm) return;
    lvm.vifPorts.delete(w.ifaceId);
    w.lvm = undefined;
    if (lvm.vifPorts.size > 0) return;
    LOG.info(`Reclaiming vlan = ${lvm.vlan} from net-id = ${lvm.networkId}`);
    const type = lvm.networkType;
    if (TUNNEL_TYPES.includes(type as TunnelType) && tunBatch && lvm.segmentationId !== undefined) {
      tunBatch.delete(TunnelBridge.tunToLvFilter(type as TunnelType, lvm.segmentationId));
      tunBatch.delete(TunnelBridge.floodFilter(lvm.vlan));
      tunBatch.delete(TunnelBridge.unicastFilter(lvm.vlan));
      tunBatch.delete(TunnelBridge.arpResponderFilter(lvm.vlan));
      if (this.s.l2Population) {
        const ofports = [...lvm.tunOfports];
        lvm.tunOfports.clear();
        this.vlans.release(lvm);
        for (const p of ofports) void this.cleanupTunnelPort(p, type as TunnelType);
        return;
      }
    } else if (type === 'vlan' || type === 'flat') {
      const pn = lvm.physicalNetwork ? this.bridges.phys.get(lvm.physicalNetwork) : undefined;
      if (pn) {
        phys.get(pn.physnet)!.delete(PhysicalBridge.reclaimFilter(pn.physOfport, lvm.vlan));
        intBatch.delete(IntegrationBridge.reclaimFromPhysFilter(pn.intOfport, type === 'vlan' ? lvm.segmentationId : undefined));
      }
    }
    this.vlans.release(lvm);
  }

  /** Tags of ports already wired by a previous run: their networks get the same VLANs again. */
  private restoreLocalVlanHints(): void {
    for (const v of this.ops.vifPorts(this.s.integrationBridge)) {
      const net = v.otherConfig.get('net_uuid');
      if (v.tag === undefined || v.tag === DEAD_VLAN_TAG || !net || v.ofport === undefined || v.ofport < 0) continue;
      const seg = v.otherConfig.get('segmentation_id');
      this.vlans.addHint(net, seg !== undefined ? Number(seg) : undefined, v.tag);
    }
  }

  private async cleanupStaleFlows(): Promise<void> {
    const b = this.bridges;
    await b.int.cleanupStaleFlows(INT_BR_ALL_TABLES);
    for (const p of b.phys.values()) await p.bridge.cleanupStaleFlows(PHY_BR_ALL_TABLES);
    if (b.tun) await b.tun.cleanupStaleFlows(TUN_BR_ALL_TABLES);
  }

  /** Flows on every bridge, for the pipeline view and tests. */
  bridgesList() {
    return allBridges(this.bridges);
  }

  // ------------------------------------------------------------------ network updates

  /** The segmentation id of a single-segment VLAN network as the server now has it. */
  private currentVlanSegment(networkId: string): number | undefined {
    const net = this.cache.getCached('Network', networkId);
    const segments = net && Array.isArray(net['segments']) ? (net['segments'] as Json[]).filter(isObj) : [];
    if (segments.length !== 1 || segments[0]!['network_type'] !== 'vlan') return undefined;
    const seg = segments[0]!['segmentation_id'];
    return typeof seg === 'number' ? seg : undefined;
  }

  /**
   * A VLAN network's segmentation id changed (network_update): the provider-bridge and br-int
   * translation flows move to the new VID; the local VLAN, and so every port's tag, stays.
   */
  private onNetworkUpdated(networkId: string): void {
    void this.withLock(async () => {
      const seg = this.currentVlanSegment(networkId);
      if (seg === undefined) return;
      for (const lvm of this.vlans.segments(networkId)) {
        if (lvm.networkType !== 'vlan' || lvm.segmentationId === seg) continue;
        const pn = lvm.physicalNetwork ? this.bridges.phys.get(lvm.physicalNetwork) : undefined;
        LOG.info(`network ${networkId}: segmentation id ${lvm.segmentationId} -> ${seg}; local vlan ${lvm.vlan} kept`);
        const moved = this.vlans.resegment(lvm, seg);
        for (const w of this.wired.values()) if (w.lvm === lvm) w.lvm = moved;
        if (pn) {
          await pn.bridge
            .batch()
            .delete(PhysicalBridge.reclaimFilter(pn.physOfport, lvm.vlan))
            .add(PhysicalBridge.provisionFlow(pn.physOfport, lvm.vlan, seg))
            .commit();
          await this.bridges.int
            .batch()
            .delete(IntegrationBridge.reclaimFromPhysFilter(pn.intOfport, lvm.segmentationId))
            .add(IntegrationBridge.provisionFromPhysFlow(pn.intOfport, lvm.vlan, seg))
            .commit();
        }
        const settings = [...this.wired.values()]
          .filter((w) => w.lvm === moved)
          .map((w) => ({ port: w.portName, otherConfig: { segmentation_id: String(seg) } }));
        if (settings.length) await this.ops.setPortsTagAndOtherConfig(settings);
      }
    }).catch((e: unknown) => LOG.error(`applying the update of network ${networkId}`, e));
  }

  // ------------------------------------------------------------------ tunnels and l2population

  private tunnelOfportsOf(type: TunnelType): Map<string, number> {
    return this.tunnelOfports.get(type)!;
  }

  private async tunnelSync(): Promise<void> {
    const local = this.s.localIp!;
    for (const type of this.s.tunnelTypes) {
      const res = await this.requireRpc().tunnelSync(local, type);
      if (this.s.l2Population) continue;
      const tunnels = isObj(res as Json) && Array.isArray((res as JsonObj)['tunnels']) ? ((res as JsonObj)['tunnels'] as Json[]) : [];
      for (const t of tunnels) {
        const ip = isObj(t) ? t['ip_address'] : undefined;
        if (typeof ip === 'string' && ip !== local) await this.setupTunnelPort(type, ip);
      }
      await this.refreshFloodFlows(type);
    }
    this.tunnelSyncNeeded = false;
  }

  private async setupTunnelPort(type: TunnelType, remoteIp: string): Promise<number | undefined> {
    const known = this.tunnelOfportsOf(type).get(remoteIp);
    if (known !== undefined) return known;
    const tun = this.bridges.tun;
    const name = tunnelPortName(type, remoteIp);
    if (!tun || !name) {
      LOG.error(`cannot create a ${type} tunnel port to '${remoteIp}'`);
      return undefined;
    }
    const { ifaceType, options } = tunnelInterface(type, remoteIp, {
      localIp: this.s.localIp!,
      vxlanUdpPort: this.s.vxlanUdpPort,
      dontFragment: this.s.dontFragment,
      tunnelCsum: this.s.tunnelCsum,
      dscp: this.s.dscp,
      dscpInherit: this.s.dscpInherit,
      hwOffload: this.ops.openVSwitch().otherConfig.get('hw-offload') === 'true',
    });
    try {
      await this.ops.addTunnelPort(tun.name, name, ifaceType, options);
      const ofport = await this.ops.waitOfport(name, this.s.ovsdbTimeoutSec * 1000);
      await tun.installFlows(TunnelBridge.tunnelPortFlow(type, ofport));
      this.tunnelOfportsOf(type).set(remoteIp, ofport);
      LOG.info(`tunnel port ${name} to ${remoteIp} is ofport ${ofport}`);
      return ofport;
    } catch (e) {
      LOG.error(`Failed to set-up ${type} tunnel port to ${remoteIp}`, e);
      return undefined;
    }
  }

  private async cleanupTunnelPort(ofport: number, type: TunnelType): Promise<void> {
    for (const lvm of this.vlans.all()) if (lvm.tunOfports.has(ofport)) return;
    const entry = [...this.tunnelOfportsOf(type)].find(([, p]) => p === ofport);
    if (!entry || !this.bridges.tun) return;
    const [ip] = entry;
    this.tunnelOfportsOf(type).delete(ip);
    await this.ops.deletePort(this.bridges.tun.name, tunnelPortName(type, ip)!);
    await this.bridges.tun.uninstallFlows({ match: { inPort: ofport } });
  }

  private async refreshFloodFlows(type: TunnelType): Promise<void> {
    const tun = this.bridges.tun;
    const ofports = [...this.tunnelOfportsOf(type).values()];
    if (!tun || !ofports.length) return;
    const b = tun.batch();
    for (const lvm of this.vlans.all()) {
      if (lvm.networkType === type && lvm.segmentationId !== undefined) b.add(TunnelBridge.floodFlow(lvm.vlan, lvm.segmentationId, ofports.values()));
    }
    await b.commit();
  }

  private endpoints(): AgentEndpoints {
    const forUs = (host: JsonValue | undefined) => host === undefined || host === null || host === this.s.host;
    return {
      push: (list, eventType) => this.cache.onPush(list as Json, eventType),
      tunnelUpdate: async (ip, type) => {
        if (!this.validTunnelArgs(ip, type) || this.s.l2Population) return;
        await this.setupTunnelPort(type as TunnelType, ip);
        await this.refreshFloodFlows(type as TunnelType);
      },
      tunnelDelete: async (ip, type) => {
        if (!this.validTunnelArgs(ip, type)) return;
        const ofport = this.tunnelOfportsOf(type as TunnelType).get(ip);
        if (ofport !== undefined) await this.cleanupTunnelPort(ofport, type as TunnelType);
      },
      // l2population messages change the same flows as port passes: they take the same lock.
      addFdbEntries: async (fdb, host) => {
        LOG.info(`l2population add_fdb_entries for ${fdbSummary(fdb)}`);
        if (forUs(host)) await this.withLock(() => this.fdbAdd(fdb));
      },
      removeFdbEntries: async (fdb, host) => {
        LOG.info(`l2population remove_fdb_entries for ${fdbSummary(fdb)}`);
        if (forUs(host)) await this.withLock(() => this.fdbRemove(fdb));
      },
      updateFdbEntries: async (fdb, host) => {
        LOG.info(`l2population update_fdb_entries for ${fdbSummary(fdb)}`);
        if (forUs(host)) await this.withLock(() => this.fdbUpdate(fdb));
      },
    };
  }

  private validTunnelArgs(ip: string, type: string): boolean {
    if (this.s.tunnelTypes.length === 0) return false;
    if (!ip || !this.s.tunnelTypes.includes(type as TunnelType)) {
      LOG.error(`No tunnel_type specified or tunnel type ${type} not configured; ignoring tunnel to ${ip}`);
      return false;
    }
    return ip !== this.s.localIp;
  }

  private fdbNetworks(fdb: JsonValue): Array<[LocalVlanMapping, string, JsonObj]> {
    if (!isObj(fdb as Json)) {
      LOG.warning('l2population message without a fdb_entries object; ignored');
      return [];
    }
    const out: Array<[LocalVlanMapping, string, JsonObj]> = [];
    for (const [netId, v] of Object.entries(fdb as JsonObj)) {
      if (!isObj(v)) continue;
      const seg = typeof v['segment_id'] === 'number' ? v['segment_id'] : undefined;
      const lvm = this.vlans.get(netId, seg);
      const type = v['network_type'];
      if (!lvm || typeof type !== 'string' || !TUNNEL_TYPES.includes(type as TunnelType)) continue;
      const ports = isObj(v['ports']) ? v['ports'] : {};
      out.push([lvm, type, ports]);
    }
    return out;
  }

  private async fdbAdd(fdb: JsonValue): Promise<void> {
    const tun = this.bridges.tun;
    if (!tun) return;
    for (const [lvm, type, ports] of this.fdbNetworks(fdb)) {
      const b = tun.batch();
      let floodChanged = false;
      for (const [ip, entries] of Object.entries(ports)) {
        if (ip === this.s.localIp || !Array.isArray(entries)) continue;
        const ofport = await this.setupTunnelPort(type as TunnelType, ip);
        if (ofport === undefined) continue;
        for (const e of entries) {
          if (!Array.isArray(e) || typeof e[0] !== 'string' || typeof e[1] !== 'string') continue;
          const [mac, addr] = [e[0].toLowerCase(), e[1]];
          if (!validFdbEntry(mac, addr, `add_fdb_entries for network ${lvm.networkId} via ${ip}`)) continue;
          if (mac === FLOODING_ENTRY[0] && addr === FLOODING_ENTRY[1]) {
            lvm.tunOfports.add(ofport);
            floodChanged = true;
          } else {
            if (this.s.arpResponderEnabled && isIP(addr) === 4) b.add(TunnelBridge.arpResponderFlow(lvm.vlan, mac, addr));
            b.add(TunnelBridge.unicastFlow(lvm.vlan, lvm.segmentationId!, mac, ofport));
          }
        }
      }
      if (floodChanged) b.add(TunnelBridge.floodFlow(lvm.vlan, lvm.segmentationId!, lvm.tunOfports));
      await b.commit();
    }
  }

  private async fdbRemove(fdb: JsonValue): Promise<void> {
    const tun = this.bridges.tun;
    if (!tun) return;
    for (const [lvm, type, ports] of this.fdbNetworks(fdb)) {
      const b = tun.batch();
      const cleanup: number[] = [];
      for (const [ip, entries] of Object.entries(ports)) {
        const ofport = this.tunnelOfportsOf(type as TunnelType).get(ip);
        if (ip === this.s.localIp || ofport === undefined || !Array.isArray(entries)) continue;
        for (const e of entries) {
          if (!Array.isArray(e) || typeof e[0] !== 'string' || typeof e[1] !== 'string') continue;
          const [mac, addr] = [e[0].toLowerCase(), e[1]];
          if (!validFdbEntry(mac, addr, `remove_fdb_entries for network ${lvm.networkId} via ${ip}`)) continue;
          if (mac === FLOODING_ENTRY[0] && addr === FLOODING_ENTRY[1]) {
            lvm.tunOfports.delete(ofport);
            if (lvm.tunOfports.size) b.add(TunnelBridge.floodFlow(lvm.vlan, lvm.segmentationId!, lvm.tunOfports));
            else b.delete(TunnelBridge.floodFilter(lvm.vlan));
            cleanup.push(ofport);
          } else {
            b.delete(TunnelBridge.arpResponderFilter(lvm.vlan, addr));
            b.delete(TunnelBridge.unicastFilter(lvm.vlan, mac));
          }
        }
      }
      await b.commit();
      for (const p of cleanup) await this.cleanupTunnelPort(p, type as TunnelType);
    }
  }

  private async fdbUpdate(fdb: JsonValue): Promise<void> {
    const tun = this.bridges.tun;
    if (!tun || !isObj(fdb as Json)) return;
    for (const [action, nets] of Object.entries(fdb as JsonObj)) {
      if (action !== 'chg_ip') {
        LOG.warning(`update_fdb_entries: unknown action '${action}'; ignored`);
        continue;
      }
      if (!isObj(nets) || !this.s.arpResponderEnabled) continue;
      for (const [netId, byIp] of Object.entries(nets)) {
        if (!isObj(byIp)) continue;
        for (const lvm of this.vlans.segments(netId)) {
          const b = tun.batch();
          for (const [ip, change] of Object.entries(byIp)) {
            if (ip === this.s.localIp || !isObj(change)) continue;
            for (const [mac, addr] of pairs(change['after'])) if (isIP(addr) === 4) b.add(TunnelBridge.arpResponderFlow(lvm.vlan, mac, addr));
            for (const [, addr] of pairs(change['before'])) if (isIP(addr) === 4) b.delete(TunnelBridge.arpResponderFilter(lvm.vlan, addr));
          }
          await b.commit();
        }
      }
    }
  }
}

/** "network <id>: <n> entries on <vtep>, ..." for logs. */
function fdbSummary(fdb: JsonValue): string {
  if (!isObj(fdb as Json)) return `a malformed fdb (${typeof fdb})`;
  return Object.entries(fdb as JsonObj)
    .map(([net, v]) => {
      const ports = isObj(v) && isObj(v['ports']) ? v['ports'] : {};
      const where = Object.entries(ports).map(([ip, e]) => `${Array.isArray(e) ? e.length : '?'} on ${ip}`);
      return `network ${net} (${where.join(', ') || 'no ports'})`;
    })
    .join('; ');
}

function pairs(v: Json | undefined): Array<[string, string]> {
  if (!Array.isArray(v)) return [];
  return v.flatMap((e) =>
    Array.isArray(e) && typeof e[0] === 'string' && typeof e[1] === 'string' && validFdbEntry(e[0].toLowerCase(), e[1], 'update_fdb_entries chg_ip')
      ? [[e[0].toLowerCase(), e[1]] as [string, string]]
      : [],
  );
}

const MAC_RE = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;

/**
 * An fdb entry the flows can be built from. Checked one entry at a time: a single malformed
 * entry used to make the whole batch unencodable, losing the good entries of the same message.
 */
function validFdbEntry(mac: string, addr: string, where: string): boolean {
  if (MAC_RE.test(mac) && (isIP(addr) !== 0 || addr === FLOODING_ENTRY[1])) return true;
  LOG.warning(`${where}: ignoring malformed fdb entry [${JSON.stringify(mac)}, ${JSON.stringify(addr)}]`);
  return false;
}

function v4Mask(plen: number): string {
  const m = plen === 0 ? 0 : (0xffffffff << (32 - plen)) >>> 0;
  return [24, 16, 8, 0].map((s) => (m >>> s) & 0xff).join('.');
}

function v6Mask(plen: number): string {
  const groups: string[] = [];
  for (let i = 0; i < 8; i++) {
    const bits = Math.max(0, Math.min(16, plen - i * 16));
    groups.push((bits === 0 ? 0 : (0xffff << (16 - bits)) & 0xffff).toString(16));
  }
  return groups.join(':');
}

/** fe80::/64 link-local address derived from a MAC (modified EUI-64). */
export function eui64LinkLocal(mac: string): string {
  const b = mac.split(':').map((x) => parseInt(x, 16));
  b[0] = b[0]! ^ 0x02;
  const words = [(b[0]! << 8) | b[1]!, (b[2]! << 8) | 0xff, (0xfe << 8) | b[3]!, (b[4]! << 8) | b[5]!];
  return `fe80::${words.map((w) => w.toString(16)).join(':')}`;
}

function errText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
