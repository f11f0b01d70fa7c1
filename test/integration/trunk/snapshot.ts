// What a trunk leaves on a host, in a form two agents (or two runs) can be compared in: the
// bridges, the OVSDB rows of the trunk's ports on br-int and on the trunk bridge (the VM's tap,
// the tpi-/tpt- and spi-/spt- patch pairs, the trunk bridge's own port), the flows of br-int and
// the trunk bridge, and what the server shows (the trunk's status and subports, the ports' status,
// owner and host).
//
// Normalisation, so that only a real difference shows:
// - neutron ids become the names the scenario gave (`<P>`, `<S1>`, `<T>`, `<A>`), also where an
//   OVS name holds a cut id (`tpi-<P>`, `tbr-<T>`); the VM's uuid becomes `<vm>`, the host `<host>`;
// - the parent tap's `subport_ids` (a JSON list the reference writes from a Python set, in no
//   particular order) is sorted;
// - flows as the other fixtures have them (normaliseFlows: no cookies, statistics, sorted), with
//   every OpenFlow port number (in_port, output, the firewall's reg5) replaced by the port's name,
//   so that the order in which the agent created the patch ports does not matter. Local VLANs
//   stay numbers: the scenario plugs a plain VM on each network first, so they are fixed.
import type { PrivateOvs } from '../../../lab/ovs.js';
import type { NeutronLab } from '../../../lab/neutron.js';
import { getTrunk } from '../../../lab/trunks.js';
import { listRows, stringMap, uuidOf, type OvsdbDatum, type OvsdbRow } from '../../../lab/ovsdb-rows.js';
import { normaliseFlows } from '../firewall/compare.js';

/** One OVS port of the trunk's, with its (single) interface's columns. */
export interface TrunkPortRow {
  bridge: string;
  tag: number | null;
  vlan_mode: string | null;
  trunks: number[];
  other_config: Record<string, string>;
  type: string;
  options: Record<string, string>;
  external_ids: Record<string, string>;
}

export interface TrunkServerState {
  /** null once the trunk is deleted. */
  trunk: { status: string; sub_ports: string[] } | null;
  /** By scenario name: status, device_owner and binding host of the trunk's ports. */
  ports: Record<string, { status: string; device_owner: string; host: string }>;
}

export interface TrunkSnapshot {
  /** Every bridge of the host, by (normalised) name; the lab's guest bridge (gbr-…) left out. */
  bridges: string[];
  /** By normalised port name: the ports on the trunk bridge and the trunk's patch ports on br-int. */
  ports: Record<string, TrunkPortRow>;
  /** br-int's and the trunk bridge's flows; null for a bridge that does not exist. */
  flows: Record<string, string[] | null>;
  server: TrunkServerState;
}

export interface TrunkNames {
  /** Scenario name → neutron port id (parent, subports; plain VMs' ports for their ofports). */
  ports: Map<string, string>;
  /** Scenario name → other ids (networks, the trunk as `T`, security groups, the VM's uuid). */
  ids: Map<string, string>;
  host: string;
  /** The ports whose server state the snapshot shows (the trunk's). */
  serverPorts: string[];
  /** The trunk's id, once created. */
  trunkId?: string;
}

const sorted = <T>(m: Record<string, T>): Record<string, T> => Object.fromEntries(Object.entries(m).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));

/** A function replacing every id (and the cut forms OVS names hold) by its scenario name. */
export function renamer(names: TrunkNames): (s: string) => string {
  const pairs: Array<[string, string]> = [];
  for (const [n, id] of [...names.ports, ...names.ids]) pairs.push([id, `<${n}>`]);
  // Cut ids after whole ones: tap/tpi-/spi- hold 11 characters of a port id, tbr- 10 of the trunk's.
  for (const [n, id] of names.ports) pairs.push([id.slice(0, 11), `<${n}>`]);
  if (names.trunkId) pairs.push([names.trunkId.slice(0, 10), '<T>']);
  pairs.push([names.host, '<host>']);
  return (s) => pairs.reduce((acc, [from, to]) => acc.split(from).join(to), s);
}

function intOrNull(d: OvsdbDatum | undefined): number | null {
  if (typeof d === 'number') return d;
  if (Array.isArray(d) && d[0] === 'set' && (d[1] as unknown[]).length === 0) return null;
  throw new Error(`expected an optional integer, got ${JSON.stringify(d)}`);
}

function intSet(d: OvsdbDatum | undefined): number[] {
  if (typeof d === 'number') return [d];
  if (Array.isArray(d) && d[0] === 'set') return (d[1] as unknown[]).map(Number).sort((a, b) => a - b);
  return [];
}

function stringOrNull(d: OvsdbDatum | undefined): string | null {
  if (typeof d === 'string') return d;
  return null;
}

function uuids(d: OvsdbDatum | undefined): string[] {
  if (Array.isArray(d) && d[0] === 'uuid') return [d[1] as string];
  if (Array.isArray(d) && d[0] === 'set') return (d[1] as Array<['uuid', string]>).map((u) => u[1]);
  return [];
}

/** The parent tap's external_ids with subport_ids sorted (after renaming). */
function plainExternalIds(ext: Record<string, string>, plain: (s: string) => string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(ext)) {
    let value = plain(v);
    if (k === 'subport_ids') {
      try {
        value = JSON.stringify((JSON.parse(value) as string[]).sort());
      } catch (e) {
        throw new Error(`external_ids:subport_ids is not a JSON list: ${v} (${e instanceof Error ? e.message : String(e)})`);
      }
    }
    out[plain(k)] = value;
  }
  return sorted(out);
}

const isTrunkPort = (name: string, bridge: string): boolean => bridge.startsWith('tbr-') || /^(tpi|spi)-/.test(name);

/** OVS port numbers in a flow replaced by the ports' names: in_port, output, the firewall's reg5. */
export function namePorts(flow: string, byNumber: Map<number, string>): string {
  const name = (n: string, radix: number): string | undefined => byNumber.get(parseInt(n, radix));
  return flow
    .replace(/\bin_port=(\d+)/g, (m, n: string) => (name(n, 10) ? `in_port=${name(n, 10)!}` : m))
    .replace(/\boutput:(\d+)/g, (m, n: string) => (name(n, 10) ? `output:${name(n, 10)!}` : m))
    .replace(/\breg5=0x([0-9a-f]+)/g, (m, n: string) => (name(n, 16) ? `reg5=${name(n, 16)!}` : m))
    .replace(/set_field:0x([0-9a-f]+)->reg5/g, (m, n: string) => (name(n, 16) ? `set_field:${name(n, 16)!}->reg5` : m))
    .replace(/load:0x([0-9a-f]+)->NXM_NX_REG5\[\]/g, (m, n: string) => (name(n, 16) ? `load:${name(n, 16)!}->NXM_NX_REG5[]` : m));
}

async function bridgeFlows(ovs: PrivateOvs, bridge: string, byNumber: Map<number, string>, plain: (s: string) => string): Promise<string[]> {
  const dump = await ovs.ofctl('-O', 'OpenFlow13', 'dump-flows', '--no-stats', bridge);
  return normaliseFlows(dump).map((f) => plain(namePorts(f, byNumber))).sort();
}

async function serverState(lab: NeutronLab, names: TrunkNames, plain: (s: string) => string): Promise<TrunkServerState> {
  let trunk: TrunkServerState['trunk'] = null;
  if (names.trunkId) {
    try {
      const t = await getTrunk(lab, names.trunkId);
      trunk = { status: t.status, sub_ports: t.sub_ports.map((s) => `${plain(s.port_id)} vlan ${s.segmentation_id}`).sort() };
    } catch (e) {
      if (!(e instanceof Error && /HTTP 404/.test(e.message))) throw e;
    }
  }
  const ports: TrunkServerState['ports'] = {};
  for (const n of names.serverPorts) {
    const id = names.ports.get(n);
    if (id === undefined) continue;
    const p = await lab.getPort(id);
    ports[n] = { status: p.status, device_owner: p.device_owner, host: plain(p['binding:host_id']) };
  }
  return { trunk, ports: sorted(ports) };
}

/** Reads the OVS side of the snapshot (rows and flows), normalised. */
export async function trunkOvsState(ovs: PrivateOvs, names: TrunkNames): Promise<Omit<TrunkSnapshot, 'server'>> {
  const plain = renamer(names);
  const [bridgeRows, portRows, ifaceRows] = await Promise.all([
    listRows(ovs, 'Bridge', ['name', 'ports']),
    listRows(ovs, 'Port', ['_uuid', 'name', 'tag', 'vlan_mode', 'trunks', 'other_config', 'interfaces']),
    listRows(ovs, 'Interface', ['_uuid', 'name', 'type', 'options', 'external_ids', 'ofport']),
  ]);
  const ifaceById = new Map(ifaceRows.map((r) => [uuidOf(r._uuid) ?? '', r]));
  const portById = new Map(portRows.map((r) => [uuidOf(r._uuid) ?? '', r]));
  const ports: Record<string, TrunkPortRow> = {};
  const byNumber = new Map<string, Map<number, string>>();
  for (const b of bridgeRows) {
    const bridge = String(b.name);
    const numbers = new Map<number, string>();
    byNumber.set(bridge, numbers);
    for (const pid of uuids(b.ports)) {
      const p = portById.get(pid);
      const iface: OvsdbRow | undefined = p ? ifaceById.get(uuids(p.interfaces)[0] ?? '') : undefined;
      if (!p || !iface) continue;
      const name = plain(String(p.name));
      if (typeof iface.ofport === 'number' && iface.ofport > 0) numbers.set(iface.ofport, name);
      if (!isTrunkPort(String(p.name), bridge)) continue;
      ports[name] = {
        bridge: plain(bridge),
        tag: intOrNull(p.tag),
        vlan_mode: stringOrNull(p.vlan_mode),
        trunks: intSet(p.trunks),
        other_config: sorted(Object.fromEntries(Object.entries(stringMap(p.other_config)).map(([k, v]) => [k, plain(v)]))),
        type: String(iface.type),
        options: sorted(Object.fromEntries(Object.entries(stringMap(iface.options)).map(([k, v]) => [k, plain(v)]))),
        external_ids: plainExternalIds(stringMap(iface.external_ids), plain),
      };
    }
  }
  const trunkBridge = bridgeRows.map((b) => String(b.name)).find((n) => n.startsWith('tbr-'));
  // gbr-…: the lab's stand-in for the guest's VLAN stack (lab/trunk-vm.ts), not the host's.
  const bridges = bridgeRows.map((b) => String(b.name)).filter((n) => !n.startsWith('gbr-'));
  const flows: Record<string, string[] | null> = { 'br-int': await bridgeFlows(ovs, 'br-int', byNumber.get('br-int') ?? new Map(), plain) };
  flows['tbr-<T>'] = trunkBridge ? await bridgeFlows(ovs, trunkBridge, byNumber.get(trunkBridge) ?? new Map(), plain) : null;
  return { bridges: bridges.map(plain).sort(), ports: sorted(ports), flows };
}

/** The whole snapshot: OVS rows and flows, and the server's view of the trunk. */
export async function trunkSnapshot(ovs: PrivateOvs, lab: NeutronLab, names: TrunkNames): Promise<TrunkSnapshot> {
  const state = await trunkOvsState(ovs, names);
  return { ...state, server: await serverState(lab, names, renamer(names)) };
}
