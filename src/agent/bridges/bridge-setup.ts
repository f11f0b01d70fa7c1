// Start-up of the bridges, in the reference's order (agent-loop.md §2): br-int, then the provider
// bridges of bridge_mappings with their patch pairs, then br-tun when tunnelling is on. Each step is
// idempotent, so the same code re-runs after an OVS restart.
import { createHash } from 'node:crypto';
import type { OpenFlowBackend, OpenFlowSwitch } from '../../openflow/backend.js';
import type { OvsdbOps } from '../../ovsdb/ops.js';
import { dpidHex } from '../../openflow/native/controller.js';
import { ingressDirectGotoFlows } from '../ports/egress-direct.js';
import { IntegrationBridge } from '../../bridges/br-int.js';
import { PhysicalBridge } from '../../bridges/br-phys.js';
import { TunnelBridge } from '../../bridges/br-tun.js';
import type { OVSBridge } from '../../bridges/ovs-bridge.js';
import { getLogger } from '../../util/log.js';

const LOG = getLogger('agent.bridges');

/** Protocols every agent bridge speaks: 1.3 for the flows, 1.0 and 1.4 for ovs-ofctl --bundle. */
export const BRIDGE_PROTOCOLS: readonly string[] = ['OpenFlow10', 'OpenFlow13', 'OpenFlow14'];
/** br-int's with the openvswitch firewall driver, which the reference's driver adds when it is built. */
export const OVS_FIREWALL_PROTOCOLS: readonly string[] = ['OpenFlow10', 'OpenFlow11', 'OpenFlow12', 'OpenFlow13', 'OpenFlow14'];

/** What bridge set-up needs from the configuration (a slice of AgentConfig). */
export interface BridgeSetupConfig {
  integrationBridge: string;
  tunnelBridge: string;
  intPeerPatchPort: string;
  tunPeerPatchPort: string;
  bridgeMappings: ReadonlyMap<string, string>;
  datapathType: string;
  bridgeMacTableSize: number;
  igmpSnoopingEnable: boolean;
  ofInactivityProbeSec: number;
  ofConnectTimeoutSec: number;
  dropFlowsOnStart: boolean;
  tunnelTypes: readonly string[];
  arpResponderEnabled: boolean;
  dhcpExtension: boolean;
  dhcpIpv6: boolean;
  /** The agent's own explicitly_egress_direct flows (egress-direct.ts); off when unset. */
  egressDirect?: boolean;
  /** openvswitch: br-int also speaks OpenFlow 1.1 and 1.2, as the reference's driver sets it. */
  firewallDriver?: string;
  /** DVR: a provider bridge's traffic from br-int is not dropped at set-up (its DVR flows sort it). */
  enableDistributedRouting?: boolean;
}

/** Bridge setup refused to go on; the message is meant for the operator as is. */
export class BridgeSetupError extends Error {
  override name = 'BridgeSetupError';
}

/** `int-<bridge>` / `phy-<bridge>`, shortened with a hash beyond the 15 characters of a Linux interface name. */
export function patchPortName(prefix: 'int-' | 'phy-', bridge: string): string {
  const full = prefix + bridge;
  if (full.length <= 15) return full;
  const hash = createHash('sha1').update(bridge).digest('hex').slice(0, 6);
  return prefix + bridge.slice(0, 15 - prefix.length - 6) + hash;
}

const pyBool = (b: boolean): string => (b ? 'True' : 'False');

export interface PhysicalNetwork {
  physnet: string;
  bridge: PhysicalBridge;
  /** ofport of int-<bridge> on br-int. */
  intOfport: number;
  /** ofport of phy-<bridge> on the provider bridge. */
  physOfport: number;
}

export interface Bridges {
  int: IntegrationBridge;
  /** Provider bridges set up, by physical network (one missing while the agent runs is left out). */
  phys: Map<string, PhysicalNetwork>;
  tun?: TunnelBridge;
  /** ofport of patch-tun on br-int / patch-int on br-tun. */
  patchTunOfport?: number;
  patchIntOfport?: number;
}

/** The handle through which the agent reaches a bridge's switch now; undefined before set-up or for another bridge. */
export function switchOfBridge(b: Bridges | undefined, name: string): OpenFlowSwitch | undefined {
  if (!b) return undefined;
  if (b.int.name === name) return b.int.ofSwitch;
  if (b.tun?.name === name) return b.tun.ofSwitch;
  for (const p of b.phys.values()) if (p.bridge.name === name) return p.bridge.ofSwitch;
  return undefined;
}

/** A patch port bridge set-up created, as it must stay: on `bridge`, type patch, options:peer. */
export interface PatchPortSpec {
  bridge: string;
  name: string;
  peer: string;
  /** The ofport the bridges' flows were written for. */
  ofport: number | undefined;
}

/** The Bridge columns bridge set-up writes and the agent keeps true. */
export interface AgentBridgeSpec {
  name: string;
  failMode: 'secure';
  /** Bridge.protocols must contain these. */
  protocols: readonly string[];
  /** Targets of Bridge.controller, exactly (none with of_interface = ovs-ofctl). */
  controllerTargets: readonly string[];
}

/** Which Bridge row, and which switch, a bridge was set up on. */
export interface BridgeIdentity {
  uuid: string;
  datapathId: bigint;
}

/** How a re-setup treats bridges that are not in the database. */
export interface SetupMode {
  /**
   * Create br-int and br-tun when missing (start-up, or a database created anew). false: a missing
   * one fails the setup with BridgeMissingError (the operator deleted it; theirs to add again).
   */
  createMissing: boolean;
  /**
   * A missing provider bridge of bridge_mappings is left out (with a warning) instead of stopping
   * the agent: only start-up refuses to run without one, as the reference does.
   */
  providerMissingOk: boolean;
  /** Aborted when the bridges change again meanwhile: OVSDB waits give up at once. */
  signal?: AbortSignal;
}

const AT_START: SetupMode = { createMissing: true, providerMissingOk: false };
/** Putting back what changed under the agent on bridges that are there. */
export const AFTER_DRIFT: SetupMode = { createMissing: false, providerMissingOk: true };

export class BridgeSetup {
  /** The identity of each bridge as last set up, by name. */
  readonly identities = new Map<string, BridgeIdentity>();
  /** The datapath each bridge's switch handle was made for. */
  private readonly boundDatapaths = new Map<string, bigint>();
  /**
   * Provider bridges found missing and said so: each re-setup while one stays missing (another
   * bridge changed, OVS restarted) leaves it out without saying it again.
   */
  private readonly missingProviders = new Set<string>();

  constructor(
    private readonly cfg: BridgeSetupConfig,
    private readonly ops: OvsdbOps,
    private readonly backend: OpenFlowBackend,
  ) {}

  /** Names of the bridges the agent sets up and watches: br-int, the provider bridges, br-tun. */
  managedBridges(): Array<{ name: string; role: string; provider: boolean }> {
    const out = [{ name: this.cfg.integrationBridge, role: 'integration bridge', provider: false }];
    for (const [physnet, bridge] of this.cfg.bridgeMappings) out.push({ name: bridge, role: `provider bridge of physical network ${physnet}`, provider: true });
    if (this.cfg.tunnelTypes.length > 0) out.push({ name: this.cfg.tunnelBridge, role: 'tunnel bridge', provider: false });
    return out;
  }

  /**
   * Create or update the bridge row, secure it, and give it the controller the backend wants: ours,
   * or none: a controller left by an earlier native run would let whatever listens on its address
   * program the bridge.
   */
  private async ensureAgentBridge(name: string, mode: SetupMode): Promise<bigint> {
    await this.ops.ensureBridge(name, {
      datapathType: this.cfg.datapathType,
      protocols: [...this.protocolsOf(name)],
      otherConfig: { 'mac-table-size': String(this.cfg.bridgeMacTableSize) },
      failMode: 'secure',
      createIfMissing: mode.createMissing,
    });
    // The row this setup works on: should it be replaced meanwhile, waiting for its datapath id is vain.
    const rowUuid = this.ops.replica.bridge(name)?.uuid;
    const target = this.backend.controllerTarget;
    let replaced = false;
    if (target === undefined) {
      await this.ops.clearControllers(name);
    } else {
      // A new Controller row goes in with OVS's default inactivity probe, ours once the switch has
      // connected (the reference, too, sets the probe after the controller). ovs-vswitchd may apply
      // the controller in the same reconfiguration as fail_mode=secure, the controller first: the
      // bridge is then standalone for a moment, and with a probe of 0 (of_inactivity_probe = 0)
      // OVS 3.1 installs its hidden fail-open NORMAL flow (priority 0xf0f0f0) and never removes
      // it, so the bridge switches everything with NORMAL over the agent's flows.
      replaced = await this.ops.setControllers(name, [target], { connectionMode: 'out-of-band' });
    }
    const dpid = await this.ops.waitDatapathId(name, this.cfg.ofConnectTimeoutSec * 1000, rowUuid, mode.signal);
    if (target !== undefined) {
      if (replaced) await this.waitSwitchConnected(name, dpid, target, mode.signal);
      await this.ops.setControllers(name, [target], { connectionMode: 'out-of-band', inactivityProbeMs: this.cfg.ofInactivityProbeSec * 1000 });
    }
    if (rowUuid !== undefined) this.identities.set(name, { uuid: rowUuid, datapathId: dpid });
    return dpid;
  }

  /**
   * Until the bridge's switch is connected to the agent: ovs-vswitchd has then applied the
   * configuration that added the controller, and with it the fail_mode written before it.
   */
  private async waitSwitchConnected(name: string, dpid: bigint, target: string, signal: AbortSignal | undefined): Promise<void> {
    const isConnected = this.backend.isConnected?.bind(this.backend);
    if (!isConnected) return;
    const timeoutMs = this.cfg.ofConnectTimeoutSec * 1000;
    const deadline = Date.now() + timeoutMs;
    while (!isConnected(dpid)) {
      if (signal?.aborted) throw new Error(`bridge ${name}: waiting for its switch to connect to ${target}: aborted`);
      if (Date.now() >= deadline) throw new Error(`bridge ${name}: its switch (datapath ${dpidHex(dpid)}) did not connect to ${target} within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  /**
   * An existing patch port keeps its peer: re-pointing a live patch (even briefly) would cut the
   * traffic of every VM behind it when the agent restarts.
   */
  private async addPatchPortIfMissing(bridge: string, name: string, peer: string): Promise<void> {
    const port = this.ops.replica.port(name);
    if (port && this.ops.replica.bridgeOfPortRow(port)?.name === bridge) return;
    await this.ops.addPatchPort(bridge, name, peer);
  }

  /**
   * The bridge object of the previous setup rebound to the switch as it is now (a restarted
   * ovs-vswitchd is a new OpenFlow connection), so it keeps its cookie; else a new one.
   */
  private bind<B extends OVSBridge>(name: string, dpid: bigint, existing: B | undefined, create: (sw: OpenFlowSwitch) => B): B {
    const sw = this.backend.bridge(name, dpid);
    const previous = this.boundDatapaths.get(name);
    this.boundDatapaths.set(name, dpid);
    if (!existing) return create(sw);
    // Whoever still holds the old handle must not wait for a datapath that is gone (the same
    // datapath, after an ovs-vswitchd restart, reconnects: requests on the old handle still land).
    if (previous !== undefined && previous !== dpid) existing.ofSwitch.retire(`bridge ${name} is now datapath ${dpidHex(dpid)}`);
    existing.ofSwitch = sw;
    return existing;
  }

  /** `onBound`: runs once br-int is bound to its switch, before its default flows (the firewall's go first). */
  async setupIntegrationBridge(existing?: IntegrationBridge, mode: SetupMode = AT_START, onBound?: () => Promise<void>): Promise<IntegrationBridge> {
    const name = this.cfg.integrationBridge;
    const dpid = await this.ensureAgentBridge(name, mode);
    await this.ops.setBridgeMcastSnooping(name, this.cfg.igmpSnoopingEnable, {
      'mcast-snooping-disable-flood-unregistered': 'false',
    });
    const br = this.bind(name, dpid, existing, (sw) => new IntegrationBridge(name, sw));
    if (this.cfg.dropFlowsOnStart) {
      LOG.info(`${name}: drop_flows_on_start: deleting port ${this.cfg.intPeerPatchPort} and every flow`);
      await this.ops.deletePort(name, this.cfg.intPeerPatchPort);
      await br.deleteAllFlows();
    }
    await onBound?.();
    await br.setupDefaultFlows({ dhcp: this.cfg.dhcpExtension, dhcpIpv6: this.cfg.dhcpIpv6 });
    LOG.info(`${name}: integration bridge ready (cookie 0x${br.cookie.toString(16)})`);
    return br;
  }

  async setupPhysicalBridges(intBr: IntegrationBridge, existing?: Map<string, PhysicalNetwork>, mode: SetupMode = AT_START): Promise<Map<string, PhysicalNetwork>> {
    const result = new Map<string, PhysicalNetwork>();
    for (const [physnet, bridge] of this.cfg.bridgeMappings) {
      if (!this.ops.bridgeExists(bridge)) {
        if (!mode.providerMissingOk) throw new BridgeSetupError(`Bridge ${bridge} for physical network ${physnet} does not exist. Agent terminated!`);
        // As the reference, the agent never creates a bridge_mappings bridge (it carries the host's
        // uplink, which only the operator knows); it is set up once it is added.
        if (!this.missingProviders.has(bridge)) {
          LOG.warning(`Bridge ${bridge} for physical network ${physnet} does not exist: networks on ${physnet} stay unwired until it is added (ovs-vsctl add-br ${bridge}, with its uplink port)`);
          this.missingProviders.add(bridge);
        }
        this.identities.delete(bridge);
        continue;
      }
      this.missingProviders.delete(bridge);
      const dpid = await this.ensureAgentBridge(bridge, { ...mode, createMissing: false });
      const br = this.bind(bridge, dpid, existing?.get(physnet)?.bridge, (sw) => new PhysicalBridge(bridge, sw));
      if (this.cfg.dropFlowsOnStart) await br.deleteAllFlows();
      await br.installFlows(...PhysicalBridge.defaultFlows());

      // Patch pair first created dangling, so no traffic crosses before both drop flows exist.
      const intName = patchPortName('int-', bridge);
      const phyName = patchPortName('phy-', bridge);
      await this.addPatchPortIfMissing(intBr.name, intName, 'nonexistent-peer');
      await this.addPatchPortIfMissing(bridge, phyName, 'nonexistent-peer');
      await this.ops.setPortOtherConfig(intName, {
        'mcast-snooping-flood': pyBool(this.cfg.igmpSnoopingEnable),
        'mcast-snooping-flood-reports': pyBool(this.cfg.igmpSnoopingEnable),
      });
      const intOfport = await this.ops.waitOfport(intName, this.cfg.ofConnectTimeoutSec * 1000, mode.signal);
      const physOfport = await this.ops.waitOfport(phyName, this.cfg.ofConnectTimeoutSec * 1000, mode.signal);
      await intBr.installFlows(IntegrationBridge.dropPortFlow(intOfport));
      // With DVR the reference leaves this out: DVR_PROCESS_PHYSICAL takes br-int's traffic instead.
      if (!this.cfg.enableDistributedRouting) await br.installFlows(PhysicalBridge.dropFromIntFlow(physOfport));
      await this.ops.setPatchPeer(intName, phyName);
      await this.ops.setPatchPeer(phyName, intName);
      LOG.info(`${bridge}: provider bridge for ${physnet} ready (${intName}=${intOfport}, ${phyName}=${physOfport})`);
      result.set(physnet, { physnet, bridge: br, intOfport, physOfport });
    }
    return result;
  }

  async setupTunnelBridge(intBr: IntegrationBridge, existing?: TunnelBridge, mode: SetupMode = AT_START): Promise<{ tun: TunnelBridge; patchTunOfport: number; patchIntOfport: number }> {
    const name = this.cfg.tunnelBridge;
    const dpid = await this.ensureAgentBridge(name, mode);
    const tun = this.bind(name, dpid, existing, (sw) => new TunnelBridge(name, sw));
    await this.addPatchPortIfMissing(intBr.name, this.cfg.intPeerPatchPort, this.cfg.tunPeerPatchPort);
    await this.addPatchPortIfMissing(name, this.cfg.tunPeerPatchPort, this.cfg.intPeerPatchPort);
    const patchTunOfport = await this.ops.waitOfport(this.cfg.intPeerPatchPort, this.cfg.ofConnectTimeoutSec * 1000, mode.signal);
    const patchIntOfport = await this.ops.waitOfport(this.cfg.tunPeerPatchPort, this.cfg.ofConnectTimeoutSec * 1000, mode.signal);
    await this.ops.setPortOtherConfig(this.cfg.intPeerPatchPort, {
      'mcast-snooping-flood': pyBool(this.cfg.igmpSnoopingEnable),
      'mcast-snooping-flood-reports': pyBool(this.cfg.igmpSnoopingEnable),
    });
    if (this.cfg.dropFlowsOnStart) await tun.deleteAllFlows();
    await tun.installFlows(...tun.defaultFlows(patchIntOfport, this.cfg.arpResponderEnabled, this.cfg.enableDistributedRouting === true));
    LOG.info(`${name}: tunnel bridge ready (${this.cfg.tunPeerPatchPort}=${patchIntOfport}, cookie 0x${tun.cookie.toString(16)})`);
    return { tun, patchTunOfport, patchIntOfport };
  }

  /** The bridges' columns set-up wrote, for the drift repair to compare with the replica. */
  expectedBridges(bridges: Bridges): AgentBridgeSpec[] {
    const names = [bridges.int.name, ...[...bridges.phys.values()].map((p) => p.bridge.name), ...(bridges.tun ? [bridges.tun.name] : [])];
    const target = this.backend.controllerTarget;
    return names.map((name) => ({ name, failMode: 'secure', protocols: this.protocolsOf(name), controllerTargets: target === undefined ? [] : [target] }));
  }

  private protocolsOf(bridge: string): readonly string[] {
    return bridge === this.cfg.integrationBridge && this.cfg.firewallDriver === 'openvswitch' ? OVS_FIREWALL_PROTOCOLS : BRIDGE_PROTOCOLS;
  }

  /** The patch pairs set-up made (br-int ↔ each provider bridge, br-int ↔ br-tun). */
  expectedPatchPorts(bridges: Bridges): PatchPortSpec[] {
    const out: PatchPortSpec[] = [];
    for (const p of bridges.phys.values()) {
      const intName = patchPortName('int-', p.bridge.name);
      const phyName = patchPortName('phy-', p.bridge.name);
      out.push({ bridge: bridges.int.name, name: intName, peer: phyName, ofport: p.intOfport });
      out.push({ bridge: p.bridge.name, name: phyName, peer: intName, ofport: p.physOfport });
    }
    if (bridges.tun) {
      out.push({ bridge: bridges.int.name, name: this.cfg.intPeerPatchPort, peer: this.cfg.tunPeerPatchPort, ofport: bridges.patchTunOfport });
      out.push({ bridge: bridges.tun.name, name: this.cfg.tunPeerPatchPort, peer: this.cfg.intPeerPatchPort, ofport: bridges.patchIntOfport });
    }
    return out;
  }

  /** Fail mode, protocols and controller of an agent bridge put back as set-up writes them. */
  async repairBridge(name: string): Promise<void> {
    // Never re-creates a bridge: a deleted one is bridge recovery's business.
    await this.ensureAgentBridge(name, AFTER_DRIFT);
  }

  /** A patch port put back (created, or its type and peer set); resolves with its ofport. */
  async repairPatchPort(p: PatchPortSpec): Promise<number> {
    await this.ops.addPatchPort(p.bridge, p.name, p.peer);
    return this.ops.waitOfport(p.name, this.cfg.ofConnectTimeoutSec * 1000);
  }

  /**
   * The whole start-up, or the re-setup when `existing` is given (after an OVS restart, or bridges
   * deleted, re-created or given a new datapath id while the agent ran).
   */
  async setupAll(existing?: Bridges, mode: SetupMode = AT_START, onIntegrationBridgeBound?: () => Promise<void>): Promise<Bridges> {
    const int = await this.setupIntegrationBridge(existing?.int, mode, onIntegrationBridgeBound);
    const phys = await this.setupPhysicalBridges(int, existing?.phys, mode);
    const bridges: Bridges = { int, phys };
    if (this.cfg.tunnelTypes.length > 0) {
      const t = await this.setupTunnelBridge(int, existing?.tun, mode);
      bridges.tun = t.tun;
      bridges.patchTunOfport = t.patchTunOfport;
      bridges.patchIntOfport = t.patchIntOfport;
    }
    if (this.cfg.egressDirect) await int.installFlows(...ingressDirectGotoFlows(bridges));
    return bridges;
  }
}
