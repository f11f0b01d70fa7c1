// What a QoS agent extension leaves on a host, in a form two agents (or two runs) can be compared
// in: br-int and the provider bridge's flows, br-int's meters, and the OVSDB rows the Open vSwitch
// QoS driver writes (QoS, Queue, the VM ports' Interface policing and Port qos/other_config).
//
// Normalisation, so that only a real difference shows:
// - flows as the firewall fixtures have them (normaliseFlows: no cookies, statistics, sorted);
// - neutron ids and the OVS port names made from them become the names the scenario gave
//   (`<A>`, `tap<A>`), as does any other id the caller names (the network's, …);
// - OVSDB uuids disappear: a QoS's queues map queue numbers to the queues' external_ids, a Port's
//   qos is the QoS's external_ids;
// - meter ids, random in the reference, become `$<key>` where `<key>` is the Port other_config key
//   (`<port>_<direction>`) that stores the id, so `meter:$A_egress` in a flow, `meter=$A_egress` in
//   the meter table and `A_egress: $A_egress` in other_config show that all three agree. A meter
//   no other_config names becomes `$unnamed1`, `$unnamed2`, … in order of first appearance.
import type { PrivateOvs } from '../../../lab/ovs.js';
import { listRows, mapOf, stringMap, uuidOf, type OvsdbDatum } from '../../../lab/ovsdb-rows.js';
import { normaliseFlows, renumberConjunctions } from '../firewall/compare.js';

export interface QosRow {
  type: string;
  other_config: Record<string, string>;
  external_ids: Record<string, string>;
  /** Queue number → that queue's external_ids. */
  queues: Record<string, Record<string, string>>;
}

export interface QueueRow {
  other_config: Record<string, string>;
  external_ids: Record<string, string>;
}

export interface QosPortState {
  /** The OVS port (and interface) name, normalised (`tap<A>`). */
  name: string;
  ingress_policing_rate: number;
  ingress_policing_burst: number;
  /** Port.qos as the QoS row's external_ids; null when unset. */
  qos: Record<string, string> | null;
  other_config: Record<string, string>;
}

export interface QosSnapshot {
  flows: Record<string, string[]>;
  /** `ovs-ofctl -O OpenFlow13 dump-meters br-int`, one line per meter, sorted. */
  meters: string[];
  qos: QosRow[];
  queues: QueueRow[];
  /** By scenario name: the VM ports present, and the provider bridge's physical ports. */
  ports: Record<string, QosPortState>;
}

export interface SnapshotNames {
  /** Scenario name → neutron port id of each VM port (tap + 11 characters of it on OVS). */
  ports: Map<string, string>;
  /** Other ids to replace by `<name>` wherever they show (networks, policies, …). */
  ids: Map<string, string>;
  /** OVS ports on provider bridges to include (not neutron ports): name as given. */
  physicalPorts: string[];
  /** Bridges whose flows to include; br-int first. */
  bridges: string[];
}

function intOf(d: OvsdbDatum | undefined, what: string): number {
  if (typeof d !== 'number') throw new Error(`${what}: expected an integer, got ${JSON.stringify(d)}`);
  return d;
}

// ---- the snapshot ----

const byJson = <T>(a: T, b: T): number => {
  const [x, y] = [JSON.stringify(a), JSON.stringify(b)];
  return x < y ? -1 : x > y ? 1 : 0;
};

/** One `dump-meters` output as one line per meter (`meter=N … bands=` and its band lines joined). */
function meterLines(dump: string): string[] {
  const out: string[] = [];
  for (const raw of dump.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('OFPST') || line.startsWith('OFPT')) continue;
    if (line.startsWith('meter=') || out.length === 0) out.push(line);
    else out[out.length - 1] += ` ${line}`;
  }
  return out;
}

/**
 * Reads the host's QoS state and normalises it (see the top of this file). Raw names are
 * replaced everywhere by the names in `names`, so the snapshot is the same on every run.
 */
export async function qosSnapshot(ovs: PrivateOvs, names: SnapshotNames): Promise<QosSnapshot> {
  const portName = (id: string): string => `tap${id.slice(0, 11)}`;
  const rename: Array<[string, string]> = [];
  for (const [name, id] of names.ports) rename.push([portName(id), `tap<${name}>`], [id, `<${name}>`]);
  for (const [name, id] of names.ids) rename.push([id, `<${name}>`]);
  const plain = (s: string): string => rename.reduce((acc, [from, to]) => acc.split(from).join(to), s);

  const [qosRows, queueRows, portRows, ifaceRows] = await Promise.all([
    listRows(ovs, 'QoS', ['_uuid', 'type', 'other_config', 'external_ids', 'queues']),
    listRows(ovs, 'Queue', ['_uuid', 'other_config', 'external_ids']),
    listRows(ovs, 'Port', ['name', 'qos', 'other_config']),
    listRows(ovs, 'Interface', ['name', 'ingress_policing_rate', 'ingress_policing_burst']),
  ]);

  // The minimum-bandwidth QoS row is named by a uuid the reference draws at each start.
  for (const q of qosRows) {
    const ext = stringMap(q.external_ids);
    if (ext._type === 'minimum_bandwidth' && ext.id !== undefined && !rename.some(([from]) => from === ext.id)) rename.push([ext.id, '<min-bw-qos-id>']);
  }
  const plainMap = (m: Record<string, string>): Record<string, string> =>
    Object.fromEntries(Object.entries(m).map(([k, v]) => [plain(k), plain(v)]).sort(([a], [b]) => (a! < b! ? -1 : a! > b! ? 1 : 0)));

  const queueExt = new Map(queueRows.map((r) => [uuidOf(r._uuid) ?? '', plainMap(stringMap(r.external_ids))]));
  const qosExt = new Map(qosRows.map((r) => [uuidOf(r._uuid) ?? '', plainMap(stringMap(r.external_ids))]));
  const qos: QosRow[] = qosRows
    .map((r) => ({
      type: String(r.type),
      other_config: plainMap(stringMap(r.other_config)),
      external_ids: plainMap(stringMap(r.external_ids)),
      queues: Object.fromEntries(
        [...mapOf(r.queues)].map(([num, q]) => {
          const id = Array.isArray(q) ? q[1] : String(q);
          return [num, queueExt.get(id) ?? { missing: id }];
        }),
      ),
    }))
    .sort(byJson);
  const queues: QueueRow[] = queueRows.map((r) => ({ other_config: plainMap(stringMap(r.other_config)), external_ids: plainMap(stringMap(r.external_ids)) })).sort(byJson);

  // Meter ids: the Port other_config keys `<port id>_<direction>` name them.
  const meterName = new Map<string, string>();
  const wanted = new Map<string, string>(); // OVS port name -> scenario name
  for (const [name, id] of names.ports) wanted.set(portName(id), name);
  for (const p of names.physicalPorts) wanted.set(p, p);
  for (const r of portRows) {
    if (!wanted.has(String(r.name))) continue;
    for (const [k, v] of mapOf(r.other_config)) {
      const m = /^(.+)_(ingress|egress)$/.exec(k);
      if (m && /^\d+$/.test(String(v))) meterName.set(String(v), `$${plain(k).replace(/^<(.+)>_/, '$1_')}`);
    }
  }
  let unnamed = 0;
  const meterLabel = (id: string): string => {
    let n = meterName.get(id);
    if (n === undefined) meterName.set(id, (n = `$unnamed${++unnamed}`));
    return n;
  };

  const ports: Record<string, QosPortState> = {};
  const ifaces = new Map(ifaceRows.map((r) => [String(r.name), r]));
  for (const r of portRows) {
    const name = wanted.get(String(r.name));
    if (name === undefined) continue;
    const iface = ifaces.get(String(r.name));
    const qosId = uuidOf(r.qos);
    const otherConfig = plainMap(stringMap(r.other_config));
    for (const [k, v] of Object.entries(otherConfig)) if (/_(ingress|egress)$/.test(k) && /^\d+$/.test(v)) otherConfig[k] = meterLabel(v);
    ports[name] = {
      name: plain(String(r.name)),
      ingress_policing_rate: intOf(iface?.ingress_policing_rate, `Interface ${String(r.name)} ingress_policing_rate`),
      ingress_policing_burst: intOf(iface?.ingress_policing_burst, `Interface ${String(r.name)} ingress_policing_burst`),
      qos: qosId === undefined ? null : (qosExt.get(qosId) ?? { missing: qosId }),
      other_config: otherConfig,
    };
  }

  const flows: Record<string, string[]> = {};
  for (const b of names.bridges) {
    flows[b] = normaliseFlows(await ovs.ofctl('-O', 'OpenFlow13', 'dump-flows', '--no-stats', b))
      .map((f) => plain(f).replace(/\bmeter:(\d+)/g, (_m, id: string) => `meter:${meterLabel(id)}`))
      .sort();
  }
  const meters = meterLines(await ovs.ofctl('-O', 'OpenFlow13', 'dump-meters', 'br-int'))
    .map((l) => l.replace(/^meter=(\d+)/, (_m, id: string) => `meter=${meterLabel(id)}`))
    .sort();
  return { flows, meters, qos, queues, ports: Object.fromEntries(Object.entries(ports).sort(([a], [b]) => (a < b ? -1 : 1))) };
}

/**
 * The snapshot with br-int's conjunction ids renumbered (renumberConjunctions): the firewall's ids
 * are each agent's own choice, and the reference allocates new ones at a restart.
 */
export function comparableSnapshot(s: QosSnapshot): QosSnapshot {
  return { ...s, flows: Object.fromEntries(Object.entries(s.flows).map(([b, fl]) => [b, renumberConjunctions(fl)])) };
}
