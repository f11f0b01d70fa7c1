// What the operator CLI knows about the host, read from OVSDB once per command: the agent's bridges,
// every port by ofport (with its Neutron port id), every local VLAN by network. Flow lines are
// annotated with it, and the per-port / per-network views and the trace select with it.
import type { AgentConfig } from '../config/index.js';
import type { OvsdbOps } from '../ovsdb/ops.js';
import { tableNames, type BridgeKind } from '../bridges/pipeline.js';

export interface HostBridge {
  name: string;
  kind: BridgeKind;
}

/** A Neutron port plugged into br-int, as OVSDB and the agent's Port other_config describe it. */
export interface NeutronVif {
  portId: string;
  /** The OVS port / interface name (tap…, qvo…). */
  name: string;
  ofport: number;
  mac: string;
  /** Local VLAN (the Port's tag); undefined: not wired yet. */
  localVlan: number | undefined;
  networkId: string | undefined;
  networkType: string | undefined;
  segmentationId: number | undefined;
  physicalNetwork: string | undefined;
}

/** A network with a local VLAN on this host. */
export interface LocalNetwork {
  networkId: string;
  localVlan: number;
  networkType: string | undefined;
  segmentationId: number | undefined;
  physicalNetwork: string | undefined;
}

export interface HostView {
  bridges: HostBridge[];
  /** Name of the physical network a provider bridge serves. */
  physnetOf: Map<string, string>;
  vifs: NeutronVif[];
  networks: LocalNetwork[];
  portName(bridge: string, ofport: number): string | undefined;
  network(vlan: number): string | undefined;
  tableName(bridge: string, table: number): string | undefined;
}

function intOrUndefined(s: string | undefined): number | undefined {
  if (s === undefined || !/^\d+$/.test(s)) return undefined;
  return Number(s);
}

export function hostView(cfg: AgentConfig, ops: OvsdbOps): HostView {
  const bridges: HostBridge[] = [{ name: cfg.ovs.integration_bridge, kind: 'int' }];
  if (cfg.tunnelTypes.length) bridges.push({ name: cfg.ovs.tunnel_bridge, kind: 'tun' });
  const physnetOf = new Map<string, string>();
  for (const [physnet, b] of cfg.bridgeMappings) {
    bridges.push({ name: b, kind: 'phys' });
    physnetOf.set(b, physnet);
  }
  const ofports = new Map<string, Map<number, string>>();
  for (const b of bridges) {
    const m = new Map<number, string>();
    for (const p of ops.replica.portsOfBridge(b.name)) {
      for (const i of ops.replica.interfacesOfPort(p)) {
        if (i.ofport !== undefined && i.ofport > 0) {
          const id = i.externalIds.get('iface-id');
          m.set(i.ofport, id ? `${i.name} (port ${id})` : i.name);
        }
      }
    }
    ofports.set(b.name, m);
  }
  const vifs: NeutronVif[] = [];
  const networks = new Map<number, LocalNetwork>();
  for (const v of ops.vifPorts(cfg.ovs.integration_bridge)) {
    const net = v.otherConfig.get('net_uuid');
    const seg = intOrUndefined(v.otherConfig.get('segmentation_id'));
    const type = v.otherConfig.get('network_type');
    const physnet = v.otherConfig.get('physical_network');
    // The dead VLAN (4095) isolates; it is no network's.
    const vlan = v.tag !== undefined && v.tag !== 4095 ? v.tag : undefined;
    if (v.ofport !== undefined && v.ofport > 0) {
      vifs.push({ portId: v.ifaceId, name: v.ifaceName, ofport: v.ofport, mac: v.mac.toLowerCase(), localVlan: vlan, networkId: net, networkType: type, segmentationId: seg, physicalNetwork: physnet });
    }
    if (vlan !== undefined && net && !networks.has(vlan)) {
      networks.set(vlan, { networkId: net, localVlan: vlan, networkType: type, segmentationId: seg, physicalNetwork: physnet });
    }
  }
  const names = new Map(bridges.map((b) => [b.name, tableNames(b.kind)]));
  return {
    bridges,
    physnetOf,
    vifs,
    networks: [...networks.values()],
    portName: (bridge, ofport) => ofports.get(bridge)?.get(ofport),
    network: (vlan) => {
      const n = networks.get(vlan);
      if (!n) return undefined;
      const seg = n.segmentationId !== undefined ? ` ${n.segmentationId}` : '';
      return `network ${n.networkId} (${n.networkType ?? '?'}${seg})`;
    },
    tableName: (bridge, table) => names.get(bridge)?.get(table),
  };
}

/** Notes for one flow line: which port an in_port/output/reg5 is, which network a VLAN or tunnel id is. */
export function annotateLine(line: string, bridge: string, a: Pick<HostView, 'portName' | 'network'>): string[] {
  const notes: string[] = [];
  for (const m of line.matchAll(/\b(in_port|output)[=:](\d+)/g)) {
    const name = a.portName(bridge, Number(m[2]));
    if (name) notes.push(`${m[1]} ${m[2]} = ${name}`);
  }
  // The openvswitch firewall keeps the port's ofport in reg5 (matched, or set for what follows).
  for (const m of line.matchAll(/\breg5=(0x[0-9a-f]+)|set_field:(0x[0-9a-f]+)->reg5/g)) {
    const ofport = Number(m[1] ?? m[2]);
    const name = a.portName(bridge, ofport);
    if (name) notes.push(`reg5 ${ofport} = ${name}`);
  }
  for (const m of line.matchAll(/\bdl_vlan=(\d+)|set_field:(\d+)->vlan_vid|mod_vlan_vid:(\d+)/g)) {
    const vlan = m[1] !== undefined ? Number(m[1]) : m[2] !== undefined ? Number(m[2]) - 4096 : Number(m[3]);
    const net = a.network(vlan);
    if (net) notes.push(`vlan ${vlan} = ${net}`);
  }
  for (const m of line.matchAll(/tun_id=(0x[0-9a-f]+)|set_field:(0x[0-9a-f]+)->tun_id/g)) {
    notes.push(`tunnel id ${Number(m[1] ?? m[2])}`);
  }
  for (const m of line.matchAll(/\bconj_id=(\d+)|conjunction\((\d+),/g)) {
    notes.push(`security-group conjunction ${m[1] ?? m[2]}`);
  }
  return [...new Set(notes)];
}
