// The Open vSwitch QoS driver: a port's rules made true on OVSDB, br-int's flows and meters, and
// the physical bridges (neutron's QosOVSAgentDriver). Where the reference deletes every rule of a
// port and creates them again on each change, this driver compares what a port should have with
// what it has and changes only the difference: a limit that stays is never lifted for a moment,
// also not across an agent restart (what an earlier run wrote is found in OVSDB and kept).
import { mutation } from '../../ovsdb/protocol.js';
import { PORT } from '../../ovsdb/schema.js';
import type { OvsdbOps } from '../../ovsdb/ops.js';
import type { FlowBatch, OVSBridge } from '../../bridges/ovs-bridge.js';
import type { IntegrationBridge } from '../../bridges/br-int.js';
import { getLogger } from '../../util/log.js';
import type { ExtensionPort } from '../seam.js';
import * as flows from './flows.js';
import { MeterIds, type MeterTable } from './meters.js';
import type { Direction, QosRule } from './policy.js';
import { DEFAULT_BURST_RATE, DPDK_PORT_TYPES, type QosRows } from './qos-rows.js';

const LOG = getLogger('extensions.qos');

/** What a port should have, one slot per rule type and direction the driver enforces. */
export interface PortQos {
  egressLimit?: { maxKbps: number; burstKbit: number };
  ingressLimit?: { maxKbps: number; burstKbit: number };
  dscpMark?: number;
  minimumBandwidth?: number;
  packetRate: Partial<Record<Direction, { pps: number; burst: number }>>;
}

/** The slots of a port's rules (ingress minimum bandwidth and minimum packet rate are placement-only, as in the reference). */
export function desiredQos(rules: readonly QosRule[]): PortQos {
  const q: PortQos = { packetRate: {} };
  for (const r of rules) {
    if (r.type === 'bandwidth_limit') {
      // ovs accepts only integer bursts; an egress burst unset is 80% of the rate (tc's ingress qdisc default).
      if (r.direction === 'egress') q.egressLimit = { maxKbps: r.maxKbps, burstKbit: Math.floor(r.maxBurstKbps || r.maxKbps * DEFAULT_BURST_RATE) };
      else q.ingressLimit = { maxKbps: r.maxKbps, burstKbit: r.maxBurstKbps };
    } else if (r.type === 'dscp_marking') q.dscpMark = r.dscpMark;
    else if (r.type === 'minimum_bandwidth' && r.direction === 'egress') q.minimumBandwidth = r.minKbps;
    else if (r.type === 'packet_rate_limit') q.packetRate[r.direction] = { pps: r.maxKpps * 1000, burst: r.maxBurstKpps * 1000 };
  }
  return q;
}

/** What the driver applied to a port, with what it needs to take it off again. */
interface Applied {
  port: ExtensionPort;
  qos: PortQos;
  /** Meter ids by use: packet rate per direction, and our egress bandwidth meter. */
  meters: Partial<Record<Direction | 'egress_bandwidth', number>>;
}

export interface QosDriverDeps {
  ops: OvsdbOps;
  rows: QosRows;
  meters: MeterTable;
  intBridge: () => IntegrationBridge;
  physicalBridges: () => OVSBridge[];
  /** datapath_type = netdev: what an interface receives is not policed, so egress limits are metered. */
  userspaceDatapath: boolean;
  /** external_ids:id of this run's minimum-bandwidth QoS. */
  minimumBandwidthQosId: string;
}

export class QosDriver {
  private readonly applied = new Map<string, Applied>();
  private meterIds = new MeterIds(0);

  constructor(private readonly d: QosDriverDeps) {}

  async initialize(): Promise<void> {
    this.meterIds = new MeterIds(await this.d.meters.maxMeters());
    if (this.meterIds.available) this.meterIds.holdEarlier(await this.d.meters.ids());
    if (!this.meterIds.available) LOG.warning(`${this.d.intBridge().name} has no usable OpenFlow meters: packet rate limits${this.d.userspaceDatapath ? ' and egress bandwidth limits' : ''} cannot be enforced`);
    await this.installBridgeFlows();
  }

  /** br-int's own QoS flow, at start and whenever the bridges are set up anew. */
  async installBridgeFlows(): Promise<void> {
    await this.d.intBridge().installFlows(flows.ingressQueueFlow());
  }

  get portCount(): number {
    return [...this.applied.values()].filter((a) => hasAny(a.qos)).length;
  }

  metersInUse(): number {
    return this.meterIds.inUse;
  }

  appliedTo(portId: string): PortQos | undefined {
    return this.applied.get(portId)?.qos;
  }

  /** Forget what was applied to flows and meters (the switch lost them); OVSDB rows stay known through the replica. */
  forgetSwitchState(): void {
    for (const a of this.applied.values()) this.forgetPortSwitchState(a);
  }

  private forgetPortSwitchState(a: Applied): void {
    a.qos = { ...a.qos, dscpMark: undefined, minimumBandwidth: undefined, packetRate: {} };
    for (const id of Object.values(a.meters)) if (id !== undefined) this.meterIds.release(id);
    a.meters = {};
  }

  /**
   * The meters the driver holds, checked against the switch: a port whose meter is gone (deleted by
   * hand; its flows went with it) forgets what it had on the switch, and is returned to be applied
   * again. Meters the driver does not hold are not its business.
   */
  async auditMeters(): Promise<Array<{ port: ExtensionPort; lost: number[] }>> {
    if (!this.meterIds.available || ![...this.applied.values()].some((a) => Object.keys(a.meters).length)) return [];
    const present = new Set(await this.d.meters.ids());
    const out: Array<{ port: ExtensionPort; lost: number[] }> = [];
    for (const a of this.applied.values()) {
      const lost = Object.values(a.meters).filter((id): id is number => id !== undefined && !present.has(id));
      if (lost.length === 0) continue;
      this.forgetPortSwitchState(a);
      out.push({ port: a.port, lost });
    }
    return out;
  }

  /** Makes the port's QoS what `want` says. */
  async apply(port: ExtensionPort, want: PortQos): Promise<void> {
    const prev = this.applied.get(port.portId);
    const a: Applied = prev ?? { port, qos: { packetRate: {} }, meters: {} };
    // A port that moved (new ofport or VLAN): its flows go with the old values and come back with the new.
    if (prev && (prev.port.ofport !== port.ofport || prev.port.localVlan !== port.localVlan || prev.port.mac !== port.mac)) {
      await this.apply(prev.port, { packetRate: {} });
    }
    a.port = port;
    this.applied.set(port.portId, a);
    const b = this.d.intBridge().batch();
    await this.applyEgressLimit(a, want.egressLimit, b);
    await this.applyIngressLimit(a, want.ingressLimit);
    this.applyDscp(a, want.dscpMark, b);
    await this.applyMinimumBandwidth(a, want.minimumBandwidth, b);
    for (const dir of ['egress', 'ingress'] as const) await this.applyPacketRate(a, dir, want.packetRate[dir], b);
    await b.commit();
    await this.releaseUnusedMeters(a);
    if (!hasAny(a.qos)) this.applied.delete(port.portId);
  }

  /** Everything off the port (deleted, unbound, its policy gone). */
  async reset(portId: string, port?: ExtensionPort): Promise<void> {
    const a = this.applied.get(portId);
    const p = a?.port ?? port;
    if (p) await this.apply(p, { packetRate: {} });
  }

  private pendingRelease: number[] = [];

  private async applyEgressLimit(a: Applied, want: PortQos['egressLimit'], b: FlowBatch): Promise<void> {
    const { portName, ofport, interfaceType } = a.port;
    const current = this.d.rows.egressLimitOf(portName);
    if (want) {
      if (!current || current.rate !== want.maxKbps || current.burst !== want.burstKbit) await this.d.rows.setEgressLimit(portName, want.maxKbps, want.burstKbit);
    } else if (current) {
      await this.d.rows.clearEgressLimit(portName);
    }
    // The meter that enforces it where the datapath does not police the interface.
    const metered = want && this.d.userspaceDatapath && !DPDK_PORT_TYPES.has(interfaceType);
    const same = sameValue(a.qos.egressLimit, want) && (a.meters.egress_bandwidth !== undefined) === Boolean(metered);
    if (!same) {
      const old = a.meters.egress_bandwidth;
      if (metered) {
        const id = old ?? this.meterIds.allocate();
        if (id === undefined) {
          LOG.error(`port ${a.port.portId} (${portName}): no free OpenFlow meter on br-int; its egress limit of ${want.maxKbps} kbit/s is written to OVSDB but not enforced by this datapath`);
        } else {
          await this.d.meters.set(id, { unit: 'kbps', rate: want.maxKbps, burst: want.burstKbit });
          a.meters.egress_bandwidth = id;
          if (old === undefined) flows.applyEgressPolicingMeter(b, id, ofport);
        }
      } else if (old !== undefined) {
        flows.removeEgressPolicingMeter(b, ofport);
        this.pendingRelease.push(old);
        delete a.meters.egress_bandwidth;
      }
    }
    a.qos.egressLimit = want;
  }

  private async applyIngressLimit(a: Applied, want: PortQos['ingressLimit']): Promise<void> {
    const { portName, interfaceType } = a.port;
    const current = this.d.rows.ingressLimitOf(portName);
    if (want) {
      if (!current || current.maxKbps !== want.maxKbps || current.burstKbit !== want.burstKbit || this.d.ops.replica.port(portName)?.qos === undefined) {
        await this.d.rows.setIngressLimit(portName, want.maxKbps, want.burstKbit, interfaceType);
      }
    } else if (current) {
      await this.d.rows.clearIngressLimit(portName);
    }
    a.qos.ingressLimit = want;
  }

  private applyDscp(a: Applied, want: number | undefined, b: FlowBatch): void {
    if (a.qos.dscpMark === want) return;
    if (a.qos.dscpMark !== undefined || want === undefined) flows.uninstallDscpMarking(b, a.port.ofport);
    if (want !== undefined) flows.installDscpMarking(b, a.port.ofport, want);
    a.qos.dscpMark = want;
  }

  private async applyMinimumBandwidth(a: Applied, want: number | undefined, b: FlowBatch): Promise<void> {
    const { portId, ofport } = a.port;
    const current = this.d.rows.minimumBandwidthOf(portId);
    if (want !== undefined) {
      const egressPorts = this.physicalEgressPorts();
      if (egressPorts.length === 0) LOG.warning(`port ${portId}: minimum bandwidth ${want} kbit/s: no physical bridge has a port to shape on`);
      await this.d.rows.setMinimumBandwidth(portId, ofport, want, this.d.minimumBandwidthQosId, egressPorts);
      if (a.qos.minimumBandwidth === undefined) {
        flows.setMinimumBandwidthMark(b, ofport);
        for (const br of this.d.physicalBridges()) {
          const pb = br.batch();
          for (const patch of this.patchOfports(br.name)) flows.setMinimumBandwidthQueue(pb, patch, ofport);
          await pb.commit();
        }
      }
    } else if (current) {
      const queueNum = await this.d.rows.clearMinimumBandwidth(portId, this.d.minimumBandwidthQosId);
      if (queueNum !== undefined) flows.unsetMinimumBandwidthMark(b, queueNum);
    }
    a.qos.minimumBandwidth = want;
  }

  private async applyPacketRate(a: Applied, dir: Direction, want: { pps: number; burst: number } | undefined, b: FlowBatch): Promise<void> {
    const { portId, portName, mac, ofport } = a.port;
    const localVlan = a.port.localVlan;
    const have = a.qos.packetRate[dir];
    if (sameValue(have, want) && (want === undefined || a.meters[dir] !== undefined)) return;
    const key = `${portId}_${dir}`;
    const old = a.meters[dir];
    if (want) {
      if (dir === 'ingress' && localVlan === undefined) {
        LOG.debug(`port ${portId}: ingress packet rate limit waits for the port's local VLAN`);
        return;
      }
      const stored = Number(this.d.ops.replica.port(portName)?.otherConfig.get(key));
      const id = old ?? this.meterIds.allocate(Number.isInteger(stored) ? stored : undefined);
      if (id === undefined) {
        LOG.error(`port ${portId} (${portName}): no free OpenFlow meter on br-int; its ${dir} packet rate limit is not enforced`);
        return;
      }
      await this.d.meters.set(id, { unit: 'pktps', rate: want.pps, burst: want.burst });
      if (old === undefined) {
        await this.d.ops.setPortOtherConfig(portName, { [key]: String(id) });
        flows.applyPacketRateMeter(b, id, dir, mac, ofport, localVlan ?? 0);
      }
      a.meters[dir] = id;
      a.qos.packetRate[dir] = want;
    } else if (old !== undefined || have) {
      flows.removePacketRateMeter(b, dir, mac, ofport, localVlan ?? 0);
      await this.d.ops.transaction(`forget the ${dir} meter of port ${portId}`, () =>
        this.d.ops.replica.port(portName)?.otherConfig.has(key) ? [PORT.mutate([PORT.eq('name', portName)], [mutation.delete('other_config', [key])])] : undefined);
      if (old !== undefined) this.pendingRelease.push(old);
      delete a.meters[dir];
      delete a.qos.packetRate[dir];
    }
  }

  /** After the first full sync: the earlier run's meters that no port took again go. */
  async removeUnclaimedMeters(): Promise<number> {
    const ids = this.meterIds.takeUnclaimed();
    for (const id of ids) await this.d.meters.delete(id);
    return ids.length;
  }

  /** Meters go after the flows that used them (a flow naming a missing meter is refused). */
  private async releaseUnusedMeters(a: Applied): Promise<void> {
    const ids = this.pendingRelease.splice(0);
    for (const id of ids) {
      try {
        await this.d.meters.delete(id);
        this.meterIds.release(id);
      } catch (e) {
        LOG.warning(`port ${a.port.portId}: deleting meter ${id}`, e);
      }
    }
  }

  /** System interfaces of the physical bridges: where minimum-bandwidth queues shape (phy_br.get_bridge_ports('')). */
  private physicalEgressPorts(): string[] {
    const r = this.d.ops.replica;
    return this.d.physicalBridges().flatMap((br) =>
      r.portsOfBridge(br.name).filter((p) => r.interfacesOfPort(p).some((i) => i.type === '')).map((p) => p.name));
  }

  private patchOfports(bridge: string): number[] {
    const r = this.d.ops.replica;
    return r.portsOfBridge(bridge).flatMap((p) => r.interfacesOfPort(p).filter((i) => i.type === 'patch' && (i.ofport ?? 0) > 0).map((i) => i.ofport!));
  }
}

function hasAny(q: PortQos): boolean {
  return q.egressLimit !== undefined || q.ingressLimit !== undefined || q.dscpMark !== undefined || q.minimumBandwidth !== undefined || Object.keys(q.packetRate).length > 0;
}

function sameValue<T>(a: T | undefined, b: T | undefined): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

