// What the QoS driver writes to OVSDB, as the reference's ovs_lib writes it (so agents can be
// swapped either way and find their rows): the egress limit as the VM interface's
// ingress_policing_rate/burst; the ingress limit as a linux-htb QoS with one queue (number 0) on
// the VM's Port (an egress-policer QoS on DPDK ports); minimum bandwidth as queues, numbered by the
// VM port's ofport, of one linux-htb QoS on the physical bridges' ports. Each verb is one
// transaction built from the replica (the reference needs several, with windows between them).
import { NamedUuid, Uuid, cond, type Operation } from '../../ovsdb/protocol.js';
import { INTERFACE, PORT, QOS, QUEUE } from '../../ovsdb/schema.js';
import type { OvsdbOps } from '../../ovsdb/ops.js';
import type { RowOf } from '../../ovsdb/schema.js';

/** ovs_lib.OVS_MAX_RATE: the max-rate of a QoS (and of a queue without its own), bit/s. */
export const OVS_MAX_RATE = 2 ** 35 - 1;
/** The queue of a port's ingress limit (ovs_lib.QOS_DEFAULT_QUEUE). */
export const QOS_DEFAULT_QUEUE = 0;
/** neutron_lib's DEFAULT_BURST_RATE: an egress burst unset is this share of the rate. */
export const DEFAULT_BURST_RATE = 0.8;
export const DPDK_PORT_TYPES = new Set(['dpdk', 'dpdkvhostuser', 'dpdkvhostuserclient']);

type QosRow = RowOf<'QoS'>;
type QueueRow = RowOf<'Queue'>;
type RuleType = 'bandwidth_limit' | 'minimum_bandwidth';

const SI = 1000;

/** The VM's port or interface left OVSDB (the VM is going away) before its QoS was written. */
export class QosPortGoneError extends Error {
  constructor(
    readonly portName: string,
    what: string,
  ) {
    super(what);
    this.name = 'QosPortGoneError';
  }
}

export class QosRows {
  constructor(private readonly ops: OvsdbOps) {}

  private get replica() {
    return this.ops.replica;
  }

  // ---- egress limit: the interface's policing ------------------------------------------------

  /** Interface.ingress_policing_rate/burst of the VM port (kbit/s, kbit). */
  async setEgressLimit(portName: string, maxKbps: number, burstKbit: number): Promise<void> {
    const label = `egress bandwidth limit ${maxKbps} kbit/s on ${portName}`;
    await this.ops.transaction(label, () => {
      const i = this.replica.iface(portName);
      if (!i) throw new QosPortGoneError(portName, `${label}: interface ${portName} does not exist`);
      if (i.ingressPolicingRate === maxKbps && i.ingressPolicingBurst === burstKbit) return undefined;
      return [INTERFACE.update([cond.uuid(i.uuid)], { ingressPolicingRate: maxKbps, ingressPolicingBurst: burstKbit })];
    });
  }

  /** Both back to 0; nothing when the interface is gone or unlimited already. */
  async clearEgressLimit(portName: string): Promise<void> {
    await this.ops.transaction(`clear the egress bandwidth limit of ${portName}`, () => {
      const i = this.replica.iface(portName);
      if (!i || (i.ingressPolicingRate === 0 && i.ingressPolicingBurst === 0)) return undefined;
      return [INTERFACE.update([cond.uuid(i.uuid)], { ingressPolicingRate: 0, ingressPolicingBurst: 0 })];
    });
  }

  egressLimitOf(portName: string): { rate: number; burst: number } | undefined {
    const i = this.replica.iface(portName);
    return i && i.ingressPolicingRate > 0 ? { rate: i.ingressPolicingRate, burst: i.ingressPolicingBurst } : undefined;
  }

  // ---- ingress limit: a QoS on the VM's port -------------------------------------------------

  /** linux-htb QoS (or egress-policer on DPDK) on the port, queue 0 limited to maxKbps. */
  async setIngressLimit(portName: string, maxKbps: number, maxBurstKbps: number, interfaceType: string): Promise<void> {
    const label = `ingress bandwidth limit ${maxKbps} kbit/s on ${portName}`;
    await this.ops.transaction(label, () => {
      const port = this.replica.port(portName);
      if (!port) throw new QosPortGoneError(portName, `${label}: port ${portName} does not exist`);
      if (DPDK_PORT_TYPES.has(interfaceType)) return this.dpdkPolicerOps(port.uuid, portName, maxKbps, maxBurstKbps);
      const { ops, qosRef } = this.queueInQosOps(
        { owner: portName, type: 'bandwidth_limit', queueNum: QOS_DEFAULT_QUEUE, qosId: portName },
        (had) => ({ ...had, 'max-rate': String(maxKbps * SI), burst: String(maxBurstKbps * SI) }),
      );
      if (port.qos !== qosRef.toString()) ops.push(PORT.update([cond.uuid(port.uuid)], { qos: qosRef }));
      return ops;
    });
  }

  /**
   * The owner's queue of `type` with the other_config `config` makes of what it had, created with
   * the reference's external_ids when missing, and in the linux-htb QoS of that type and id (created
   * with OVS_MAX_RATE when missing) as queue `queueNum` (ovs_lib's _update_queue and _update_qos).
   */
  private queueInQosOps(
    q: { owner: string; type: RuleType; queueNum: number; qosId: string },
    config: (had: Record<string, string>) => Record<string, string>,
  ): { ops: Operation[]; qosRef: Uuid | NamedUuid } {
    const ops: Operation[] = [];
    const queue = this.findQueue(q.owner, q.type);
    const otherConfig = config(Object.fromEntries(queue?.otherConfig ?? []));
    const queueRef = queue ? new Uuid(queue.uuid) : new NamedUuid('queue');
    if (!queue) ops.push(QUEUE.insert({ otherConfig, externalIds: { port: q.owner, type: q.type, 'queue-num': String(q.queueNum) } }, 'queue'));
    else if (!sameMap(queue.otherConfig, otherConfig)) ops.push(QUEUE.update([cond.uuid(queue.uuid)], { otherConfig }));
    const qos = this.findQos(q.qosId, q.type);
    const queues = new Map<number, Uuid | NamedUuid>([...(qos?.queues ?? [])].map(([n, u]) => [n, new Uuid(u)]));
    queues.set(q.queueNum, queueRef);
    if (!qos) {
      ops.push(QOS.insert({ type: 'linux-htb', queues, externalIds: { id: q.qosId, _type: q.type }, otherConfig: { 'max-rate': String(OVS_MAX_RATE) } }, 'qos'));
      return { ops, qosRef: new NamedUuid('qos') };
    }
    if (qos.queues.get(q.queueNum) !== queue?.uuid) ops.push(QOS.update([cond.uuid(qos.uuid)], { queues }));
    return { ops, qosRef: new Uuid(qos.uuid) };
  }

  private dpdkPolicerOps(portUuid: string, portName: string, maxKbps: number, maxBurstKbps: number): Operation[] {
    // cir and cbs are bytes (per second).
    const otherConfig = { cir: String(Math.floor((maxKbps * SI) / 8)), cbs: String(Math.floor((maxBurstKbps * SI) / 8)) };
    const qos = [...this.replica.rows('QoS').values()].find((q) => q.externalIds.get('id') === portName);
    if (qos) return [QOS.update([cond.uuid(qos.uuid)], { otherConfig }), PORT.update([cond.uuid(portUuid)], { qos: new Uuid(qos.uuid) })];
    return [
      QOS.insert({ type: 'egress-policer', externalIds: { id: portName }, otherConfig }, 'qos'),
      PORT.update([cond.uuid(portUuid)], { qos: new NamedUuid('qos') }),
    ];
  }

  /** The port's limit queue goes, its QoS with it when no other queue is left, Port.qos cleared. */
  async clearIngressLimit(portName: string): Promise<void> {
    await this.ops.transaction(`clear the ingress bandwidth limit of ${portName}`, () => {
      const qos = this.findQos(portName, 'bandwidth_limit');
      const queueUuid = qos?.queues.get(QOS_DEFAULT_QUEUE);
      if (!qos || queueUuid === undefined) return undefined;
      const ops: Operation[] = [];
      const left = new Map([...qos.queues].filter(([n]) => n !== QOS_DEFAULT_QUEUE).map(([n, u]) => [n, new Uuid(u)]));
      const port = this.replica.port(portName);
      if (port?.qos !== undefined) ops.push(PORT.update([cond.uuid(port.uuid)], { qos: null }));
      if (left.size) ops.push(QOS.update([cond.uuid(qos.uuid)], { queues: left }));
      else ops.push(QOS.deleteRows([cond.uuid(qos.uuid)]));
      ops.push(QUEUE.deleteRows([cond.uuid(queueUuid)]));
      return ops;
    });
  }

  ingressLimitOf(portName: string): { maxKbps: number; burstKbit: number } | undefined {
    const q = this.findQueue(portName, 'bandwidth_limit');
    const rate = q?.otherConfig.get('max-rate');
    if (!q || rate === undefined) return undefined;
    return { maxKbps: Number(rate) / SI, burstKbit: Number(q.otherConfig.get('burst') ?? 0) / SI };
  }

  // ---- minimum bandwidth: queues on the physical bridges' ports ------------------------------

  /**
   * Queue `queueNum` (the VM port's ofport) with min-rate, in the agent's minimum-bandwidth QoS
   * (external_ids id = this run's `qosId`), set on every port that leaves through a physical bridge.
   */
  async setMinimumBandwidth(portId: string, queueNum: number, minKbps: number, qosId: string, egressPortNames: readonly string[]): Promise<void> {
    const label = `minimum bandwidth ${minKbps} kbit/s for port ${portId}`;
    await this.ops.transaction(label, () => {
      const { ops, qosRef } = this.queueInQosOps({ owner: portId, type: 'minimum_bandwidth', queueNum, qosId }, (had) => {
        const otherConfig: Record<string, string> = { ...had, 'min-rate': String(minKbps * SI) };
        if (!('max-rate' in otherConfig)) otherConfig['max-rate'] = String(OVS_MAX_RATE);
        return otherConfig;
      });
      for (const name of egressPortNames) {
        const p = this.replica.port(name);
        if (p && p.qos !== qosRef.toString()) ops.push(PORT.update([cond.uuid(p.uuid)], { qos: qosRef }));
      }
      return ops;
    });
  }

  /** The port's queue goes; with the last one the QoS goes and the physical ports are cleared. */
  async clearMinimumBandwidth(portId: string, qosId: string): Promise<number | undefined> {
    let queueNum: number | undefined;
    await this.ops.transaction(`clear the minimum bandwidth of port ${portId}`, () => {
      const queue = this.findQueue(portId, 'minimum_bandwidth');
      if (!queue) return undefined;
      queueNum = Number(queue.externalIds.get('queue-num'));
      const ops: Operation[] = [];
      const qos = this.findQos(qosId, 'minimum_bandwidth');
      if (qos) {
        const left = new Map([...qos.queues].filter(([, u]) => u !== queue.uuid).map(([n, u]) => [n, new Uuid(u)]));
        if (left.size) ops.push(QOS.update([cond.uuid(qos.uuid)], { queues: left }));
        else ops.push(...this.dropQosOps(qos));
      }
      ops.push(QUEUE.deleteRows([cond.uuid(queue.uuid)]));
      return ops;
    });
    return queueNum;
  }

  minimumBandwidthOf(portId: string): { minKbps: number; queueNum: number } | undefined {
    const q = this.findQueue(portId, 'minimum_bandwidth');
    if (!q) return undefined;
    return { minKbps: Number(q.otherConfig.get('min-rate') ?? 0) / SI, queueNum: Number(q.externalIds.get('queue-num')) };
  }

  // ---- start-up ------------------------------------------------------------------------------

  /**
   * QoS rows of the agent's kinds whose owner is not in `keep` (ports for ingress limits, this
   * run's id for minimum bandwidth) go, with their queues and the Port references to them: what an
   * earlier run left for ports that are gone, and an earlier run's minimum-bandwidth QoS.
   */
  async removeOrphans(keep: { ingressPorts: ReadonlySet<string>; minimumBandwidthQosId: string; minimumBandwidthPorts: ReadonlySet<string> }): Promise<number> {
    let removed = 0;
    await this.ops.transaction('remove QoS rows no port needs', () => {
      const ops: Operation[] = [];
      removed = 0;
      for (const q of this.replica.rows('QoS').values()) {
        const type = q.externalIds.get('_type');
        const id = q.externalIds.get('id') ?? '';
        const orphan = (type === 'bandwidth_limit' && !keep.ingressPorts.has(id)) || (type === 'minimum_bandwidth' && id !== keep.minimumBandwidthQosId);
        if (!orphan) continue;
        removed++;
        ops.push(...this.dropQosOps(q));
        for (const u of q.queues.values()) ops.push(QUEUE.deleteRows([cond.uuid(u)]));
      }
      for (const q of this.replica.rows('Queue').values()) {
        if (q.externalIds.get('type') !== 'minimum_bandwidth' || keep.minimumBandwidthPorts.has(q.externalIds.get('port') ?? '')) continue;
        const referenced = [...this.replica.rows('QoS').values()].some((x) => [...x.queues.values()].includes(q.uuid));
        if (!referenced) ops.push(QUEUE.deleteRows([cond.uuid(q.uuid)]));
      }
      return ops;
    });
    return removed;
  }

  /** The QoS row deleted and every Port referring to it cleared (Port.qos is a strong reference). */
  private dropQosOps(qos: QosRow): Operation[] {
    const ops: Operation[] = [];
    for (const p of this.replica.rows('Port').values()) if (p.qos === qos.uuid) ops.push(PORT.update([cond.uuid(p.uuid)], { qos: null }));
    ops.push(QOS.deleteRows([cond.uuid(qos.uuid)]));
    return ops;
  }

  private findQueue(owner: string, type: RuleType): QueueRow | undefined {
    for (const q of this.replica.rows('Queue').values()) {
      if (q.externalIds.get('port') === owner && q.externalIds.get('type') === type) return q;
    }
    return undefined;
  }

  private findQos(id: string, type: RuleType): QosRow | undefined {
    for (const q of this.replica.rows('QoS').values()) {
      if (q.externalIds.get('id') === id && q.externalIds.get('_type') === type) return q;
    }
    return undefined;
  }
}

function sameMap(a: ReadonlyMap<string, string>, b: Readonly<Record<string, string>>): boolean {
  const keys = Object.keys(b);
  return a.size === keys.length && keys.every((k) => a.get(k) === b[k]);
}
