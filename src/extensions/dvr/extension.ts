// Distributed virtual routing (`[agent] enable_distributed_routing = True`), the agent's part of
// DVR as the reference's ovs_dvr_neutron_agent does it, behind the extension seam:
//   - once the bridges are up, the DVR flows that need no server (br-int's DVR_TO_SRC_MAC drops,
//     br-tun's and each provider bridge's DVR_PROCESS / DVR_NOT_LEARN chain);
//   - once the server answers, this host's DVR MAC (get_dvr_mac_address_by_host) and the others'
//     (get_dvr_mac_address_list): flows that keep other hosts' DVR MACs out of learning and hand
//     their routed traffic to DVR_TO_SRC_MAC; `dvr_mac_address_update` adds and removes hosts live;
//   - each port wired: router interfaces (IPv4 and IPv6 subnets), the ports they route for, and a
//     dvr_snat host's centralized SNAT ports (dvr-ports.ts).
// The rest of DVR lives in the agent core, driven by the setting: tunnel and provider networks'
// local VLANs provisioned through the DVR tables, and no drop of br-int's traffic on provider bridges.
import { IntDvr, PhysDvr, TunDvr } from '../../bridges/dvr.js';
import { getLogger } from '../../util/log.js';
import type { JsonObject, JsonValue } from '../../util/json.js';
import type { AgentExtension, ExtensionAgentApi, ExtensionPort, ExtensionRpcEndpoint, ExtensionStatus } from '../seam.js';
import { DVR_UPDATE_TOPIC, DVR_UPDATE_VERSION, DvrRpc, parseHostMacs, type DvrHostMac } from './dvr-rpc.js';
import { DvrPorts } from './dvr-ports.js';

const LOG = getLogger('extensions.dvr');
/** How long a port waits for this host's DVR MAC before it is retried by a later pass. */
const MAC_WAIT_MS = 30000;
const MAC_RETRY_MS = 5000;

export class DvrAgentExtension implements AgentExtension {
  readonly name = 'dvr';
  private api!: ExtensionAgentApi;
  private rpc!: DvrRpc;
  private ports!: DvrPorts;
  /** This host's DVR MAC, once the server gave it. */
  private dvrMac: string | undefined;
  /** Other hosts' DVR MACs with flows here (registered_dvr_macs). */
  private readonly registered = new Set<string>();
  /** Resolved once this host's MAC and the others' flows are in: ports wait for it. */
  private macReady!: Promise<void>;
  private resolveMacReady!: () => void;
  private retryTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  /** Serialises MAC flow changes: the first fetch, updates from the server, a reset. */
  private macChain: Promise<void> = Promise.resolve();

  async initialize(api: ExtensionAgentApi): Promise<void> {
    this.api = api;
    this.rpc = new DvrRpc(() => {
      const s = api.server();
      if (!s) throw new Error('neutron-server is not reachable yet');
      return s;
    }, api.settings.host);
    this.ports = new DvrPorts(api, this.rpc, () => {
      if (this.dvrMac === undefined) throw new Error('this host\'s DVR MAC is not known yet');
      return this.dvrMac;
    });
    this.resetMacReady();
    await this.setupFlows();
  }

  private resetMacReady(): void {
    this.macReady = new Promise((resolve) => (this.resolveMacReady = resolve));
  }

  /** setup_dvr_flows_on_integ_br / _tun_br / _phys_br: what needs no DVR MAC. */
  private async setupFlows(): Promise<void> {
    const phys = this.api.physicalNetworks();
    await this.api.intBridge().installFlows(...IntDvr.setupFlows([...phys.values()].map((p) => p.intOfport)));
    const tun = this.api.tunnelBridge();
    if (tun) await tun.bridge.installFlows(...TunDvr.setupFlows(tun.patchIntOfport));
    for (const p of phys.values()) await p.bridge.installFlows(...PhysDvr.setupFlows(p.physOfport));
  }

  async serverReady(): Promise<void> {
    if (this.dvrMac === undefined) {
      this.queueMacWork(() => this.fetchMacs());
      return;
    }
    // Reconnected: notifications may have been missed meanwhile; the list is asked again.
    this.queueMacWork(async () => this.applyHostMacs(await this.rpc.allHostMacs()));
  }

  private queueMacWork(work: () => Promise<void>): void {
    this.macChain = this.macChain.then(work).catch((e: unknown) => LOG.error('DVR: updating the DVR MAC flows failed', e));
  }

  /** get_dvr_mac_address + setup_dvr_mac_flows_on_all_brs; retried until the server answers. */
  private async fetchMacs(): Promise<void> {
    if (this.stopped) return;
    try {
      const own = await this.rpc.macOfThisHost();
      const all = await this.rpc.allHostMacs();
      this.dvrMac = own.mac;
      LOG.info(`L2 Agent operating in DVR Mode with MAC ${own.mac}`);
      await this.installMacFlows(all);
      this.resolveMacReady();
    } catch (e) {
      LOG.error(`DVR: Failed to obtain a valid local DVR MAC address; asking again in ${MAC_RETRY_MS / 1000} s (ports on DVR subnets wait)`, e);
      this.retryTimer = setTimeout(() => this.queueMacWork(() => this.fetchMacs()), MAC_RETRY_MS);
      this.retryTimer.unref();
    }
  }

  /** This host's MAC: ARP replies to it go to the router; every other host's: its traffic is DVR traffic. */
  private async installMacFlows(all: DvrHostMac[]): Promise<void> {
    const own = this.dvrMac!;
    const int = this.api.intBridge().batch();
    const tun = this.api.tunnelBridge();
    if (all.some((m) => m.mac === own)) {
      for (const p of this.api.physicalNetworks().values()) IntDvr.addGatewayMacArpVlan(int, own, p.intOfport);
      if (tun) IntDvr.addGatewayMacArpTun(int, own, tun.patchTunOfport);
    }
    await int.commit();
    for (const m of all) if (m.mac !== own) await this.addHostMac(m.mac);
  }

  private async addHostMac(mac: string): Promise<void> {
    const int = this.api.intBridge().batch();
    for (const p of this.api.physicalNetworks().values()) {
      IntDvr.addDvrMacPhysical(int, mac, p.intOfport);
      const phys = p.bridge.batch();
      PhysDvr.addDvrMacPhysical(phys, mac, p.physOfport);
      await phys.commit();
    }
    const tun = this.api.tunnelBridge();
    if (tun) {
      IntDvr.addDvrMacTun(int, mac, tun.patchTunOfport);
      const t = tun.bridge.batch();
      TunDvr.addDvrMacTun(t, mac, tun.patchIntOfport);
      await t.commit();
    }
    await int.commit();
    this.registered.add(mac);
    LOG.debug(`Added DVR MAC flow for ${mac}`);
  }

  private async removeHostMac(mac: string): Promise<void> {
    const int = this.api.intBridge().batch();
    for (const p of this.api.physicalNetworks().values()) {
      IntDvr.removeDvrMacVlan(int, mac);
      const phys = p.bridge.batch();
      PhysDvr.removeDvrMacVlan(phys, mac);
      await phys.commit();
    }
    const tun = this.api.tunnelBridge();
    if (tun) {
      IntDvr.removeDvrMacTun(int, mac, tun.patchTunOfport);
      const t = tun.bridge.batch();
      TunDvr.removeDvrMacTun(t, mac);
      await t.commit();
    }
    await int.commit();
    this.registered.delete(mac);
    LOG.debug(`Removed DVR MAC flow for ${mac}`);
  }

  /** dvr_mac_address_update: the hosts' MACs as the server has them now. */
  private async applyHostMacs(all: DvrHostMac[]): Promise<void> {
    if (this.dvrMac === undefined) {
      LOG.debug('Self mac unknown, ignoring this dvr_mac_address_update()');
      return;
    }
    const others = new Set(all.map((m) => m.mac).filter((m) => m !== this.dvrMac));
    const removed = [...this.registered].filter((m) => !others.has(m));
    const added = [...others].filter((m) => !this.registered.has(m));
    if (!removed.length && !added.length) {
      LOG.debug('DVR Mac address already up to date');
      return;
    }
    for (const m of removed) await this.removeHostMac(m);
    for (const m of added) await this.addHostMac(m);
  }

  rpcEndpoints(): ExtensionRpcEndpoint[] {
    return [{ topic: DVR_UPDATE_TOPIC, version: DVR_UPDATE_VERSION, methods: { dvr_mac_address_update: (args) => this.onMacUpdate(args) } }];
  }

  /** A malformed update is logged and dropped; a good one is applied after what is under way. */
  private onMacUpdate(args: JsonObject): void {
    let macs: DvrHostMac[];
    try {
      macs = parseHostMacs(args['dvr_macs'] ?? ([] as JsonValue), 'dvr_mac_address_update');
    } catch (e) {
      LOG.error('DVR: a dvr_mac_address_update the agent cannot read was dropped', e);
      return;
    }
    LOG.debug(`dvr_macs updated on remote: ${JSON.stringify(macs)}`);
    this.queueMacWork(() => this.applyHostMacs(macs));
  }

  async handlePort(port: ExtensionPort): Promise<void> {
    // Admin down (no local VLAN): the reference leaves a port's DVR flows alone while it is dead.
    if (port.localVlan === undefined || !port.segment) return;
    await this.waitForMac();
    await this.ports.bind({
      id: port.portId, ofport: port.ofport, mac: port.mac, deviceOwner: port.deviceOwner, fixedIps: port.fixedIps ?? [],
      network: { networkType: port.segment.networkType, lvid: port.localVlan, segmentationId: port.segment.segmentationId, physicalNetwork: port.segment.physicalNetwork },
    });
  }

  private async waitForMac(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`this host's DVR MAC is not known after ${MAC_WAIT_MS / 1000} s (neutron-server has not answered get_dvr_mac_address_by_host)`)), MAC_WAIT_MS);
    });
    try {
      await Promise.race([this.macReady, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  async deletePort(portId: string): Promise<void> {
    if (this.dvrMac === undefined) return;
    await this.ports.unbind(portId);
  }

  /** reset_dvr_flows: every flow is gone; set up again, other hosts' MACs asked again, every port handed again. */
  async bridgesReset(): Promise<void> {
    this.ports.reset();
    this.registered.clear();
    await this.setupFlows();
    if (this.dvrMac === undefined) return;
    this.queueMacWork(async () => this.installMacFlows(await this.rpc.allHostMacs()));
    await this.macChain;
  }

  async audit(): Promise<void> {}

  async firstSyncDone(): Promise<void> {}

  agentConfigurations(): JsonObject {
    return { in_distributed_mode: this.dvrMac !== undefined };
  }

  status(): ExtensionStatus {
    return {
      ports: this.ports?.ports.size ?? 0,
      details: { dvr_mac: this.dvrMac ?? 'unknown', other_hosts: this.registered.size, subnets: this.ports?.subnets.size ?? 0 },
    };
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retryTimer);
  }
}
