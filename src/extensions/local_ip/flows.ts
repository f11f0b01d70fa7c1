// The local_ip extension's br-int flows, as the reference's LocalIPAgentExtension and br_int write
// them: table 31 (LOCAL_IP_TABLE) translates what a VM on the local VLAN sends to the Local IP into
// the associated port's fixed IP (by conntrack NAT, or with `[local_ip] static_nat` by rewriting
// the addresses and learning the reverse flow), answers ARP for the Local IP with the port's MAC,
// and table 0 drops gratuitous ARP claiming the Local IP except towards the port's own IP.
import { ETH_TYPE, IP_PROTO, exact, vlan, type Action, type FieldRef, type Flow, type LearnSpec, type Match } from '../../openflow/flow.js';
import { INT } from '../../bridges/tables.js';
import type { FlowBatch } from '../../bridges/ovs-bridge.js';

/** One Local IP association as the flows need it. */
export interface LocalIpFlowSpec {
  /** The local VLAN of the associated port's network (reg6 once table 30 has set it). */
  vlan: number;
  localIp: string;
  /** The associated port's fixed IP and MAC. */
  destIp: string;
  mac: string;
}

const reg6 = (v: number): Match['regs'] => ({ 6: { value: v } });
const REG6: FieldRef = { field: 'NXM_NX_REG6' };

/** `table=31, priority=11, ip, reg6=V, nw_src=D, nw_dst=L → resubmit(,60)`: the owner of the fixed IP reaching the Local IP is not translated. */
function avoidNatToSelf(s: LocalIpFlowSpec): Flow {
  return {
    table: INT.LOCAL_IP_TABLE, priority: 11,
    match: { ethType: ETH_TYPE.IPV4, regs: reg6(s.vlan), ipv4Src: exact(s.destIp), ipv4Dst: exact(s.localIp) },
    actions: [{ type: 'resubmit', table: INT.TRANSIENT_TABLE }],
  };
}

/** Conntrack NAT (setup_local_ip_translation): destination NAT to the port, replies un-NATed by their connection. */
export function conntrackTranslation(s: LocalIpFlowSpec): Flow[] {
  return [
    {
      table: INT.LOCAL_IP_TABLE, priority: 10,
      match: { ethType: ETH_TYPE.IPV4, regs: reg6(s.vlan), ipv4Dst: exact(s.localIp) },
      actions: [{ type: 'set_field', field: 'eth_dst', value: s.mac }, { type: 'ct', commit: true, table: INT.TRANSIENT_TABLE, zone: s.vlan, nat: { kind: 'dst', ipv4: s.destIp } }],
    },
    {
      table: INT.LOCAL_IP_TABLE, priority: 10,
      match: { ethType: ETH_TYPE.IPV4, regs: reg6(s.vlan), ethSrc: exact(s.mac), ipv4Src: exact(s.destIp), ctState: { value: 0, mask: 0x20 } },
      actions: [{ type: 'ct', table: INT.TRANSIENT_TABLE, zone: s.vlan, nat: {} }],
    },
    avoidNatToSelf(s),
  ];
}

const ipv4ToBig = (ip: string): bigint => ip.split('.').reduce((acc, o) => (acc << 8n) | BigInt(Number(o)), 0n);
const f = (field: FieldRef['field'], nBits?: number): FieldRef => (nBits === undefined ? { field } : { field, ofs: 0, nBits });

/** What every learned reverse flow matches and does: back to the sender, from the Local IP. */
function commonSpecs(s: LocalIpFlowSpec): LearnSpec[] {
  return [
    { kind: 'match_value', dst: f('NXM_OF_ETH_TYPE'), value: BigInt(ETH_TYPE.IPV4) },
    { kind: 'match_field', dst: f('NXM_OF_ETH_DST'), src: f('NXM_OF_ETH_SRC') },
    { kind: 'match_field', dst: f('NXM_OF_ETH_SRC'), src: f('NXM_OF_ETH_DST') },
    { kind: 'match_field', dst: f('NXM_OF_IP_DST'), src: f('NXM_OF_IP_SRC') },
    { kind: 'match_value', dst: f('NXM_OF_IP_SRC'), value: ipv4ToBig(s.destIp) },
    { kind: 'match_value', dst: { ...REG6, ofs: 0, nBits: 4 }, value: BigInt(s.vlan) },
    { kind: 'load_value', dst: f('NXM_OF_IP_SRC'), value: ipv4ToBig(s.localIp) },
    { kind: 'output', src: f('OXM_OF_IN_PORT') },
  ];
}

const PROTOCOLS: Array<{ proto: number; ports?: [FieldRef['field'], FieldRef['field']] }> = [
  { proto: IP_PROTO.ICMP },
  { proto: IP_PROTO.TCP, ports: ['NXM_OF_TCP_SRC', 'NXM_OF_TCP_DST'] },
  { proto: IP_PROTO.UDP, ports: ['NXM_OF_UDP_SRC', 'NXM_OF_UDP_DST'] },
];

/**
 * Static NAT (setup_static_local_ip_translation): per protocol, the destination rewritten to the
 * port and a reverse flow learned (in table 31, or 94 under the openvswitch firewall) that rewrites
 * the reply's source back to the Local IP; `cookie` is br-int's, so the audit leaves them be.
 */
export function staticTranslation(s: LocalIpFlowSpec, learnTable: number, cookie: bigint): Flow[] {
  const flows = PROTOCOLS.map(({ proto, ports }): Flow => {
    const specs: LearnSpec[] = [...commonSpecs(s), { kind: 'match_value', dst: f('NXM_OF_IP_PROTO'), value: BigInt(proto) }];
    if (ports) specs.push({ kind: 'match_field', dst: f(ports[1]), src: f(ports[0]) }, { kind: 'match_field', dst: f(ports[0]), src: f(ports[1]) });
    const actions: Action[] = [
      { type: 'set_field', field: 'eth_dst', value: s.mac },
      { type: 'learn', table: learnTable, priority: 20, idleTimeout: 30, hardTimeout: 300, cookie, specs },
      { type: 'set_field', field: 'ipv4_dst', value: s.destIp },
      { type: 'resubmit', table: INT.TRANSIENT_TABLE },
    ];
    return { table: INT.LOCAL_IP_TABLE, priority: 10, match: { ethType: ETH_TYPE.IPV4, ipProto: proto, regs: reg6(s.vlan), ipv4Dst: exact(s.localIp) }, actions };
  });
  return [...flows, avoidNatToSelf(s)];
}

/** ARP for the Local IP on the VLAN answered with the port's MAC (install_arp_responder in table 31). */
export function arpResponder(s: LocalIpFlowSpec): Flow {
  return {
    table: INT.LOCAL_IP_TABLE, priority: 1,
    match: { ethType: ETH_TYPE.ARP, regs: reg6(s.vlan), arpTpa: exact(s.localIp) },
    actions: [
      { type: 'set_field', field: 'arp_op', value: 2 },
      { type: 'move', src: { field: 'NXM_NX_ARP_SHA' }, dst: { field: 'NXM_NX_ARP_THA' } },
      { type: 'move', src: { field: 'NXM_OF_ARP_SPA' }, dst: { field: 'NXM_OF_ARP_TPA' } },
      { type: 'set_field', field: 'arp_sha', value: s.mac },
      { type: 'set_field', field: 'arp_spa', value: s.localIp },
      { type: 'move', src: { field: 'NXM_OF_ETH_SRC' }, dst: { field: 'NXM_OF_ETH_DST' } },
      { type: 'set_field', field: 'eth_src', value: s.mac },
      { type: 'output', port: 'IN_PORT' },
    ],
  };
}

const garpMatch = (s: LocalIpFlowSpec): Match => ({ vlanVid: vlan(s.vlan), ethType: ETH_TYPE.ARP, arpSpa: exact(s.localIp) });

/** Gratuitous ARP claiming the Local IP dropped, but towards the port's own fixed IP (install_garp_blocker[_exception]). */
export function garpBlocker(s: LocalIpFlowSpec): Flow[] {
  return [
    { table: INT.LOCAL_SWITCHING, priority: 10, match: garpMatch(s), actions: [] },
    { table: INT.LOCAL_SWITCHING, priority: 11, match: { ...garpMatch(s), arpTpa: exact(s.destIp) }, actions: [], gotoTable: INT.PACKET_RATE_LIMIT },
  ];
}

/** Every flow of one association. */
export function associationFlows(s: LocalIpFlowSpec, staticNat: boolean, learnTable: number, cookie: bigint): Flow[] {
  return [...(staticNat ? staticTranslation(s, learnTable, cookie) : conntrackTranslation(s)), arpResponder(s), ...garpBlocker(s)];
}

/** What delete_local_ip_flows removes: non-strict deletes, as the reference's uninstall_flows. */
export function deleteAssociationFlows(b: FlowBatch, s: LocalIpFlowSpec): void {
  b.delete({ table: INT.LOCAL_IP_TABLE, match: { ethType: ETH_TYPE.IPV4, regs: reg6(s.vlan), ipv4Dst: exact(s.localIp) } });
  b.delete({ table: INT.LOCAL_IP_TABLE, match: { ethType: ETH_TYPE.IPV4, regs: reg6(s.vlan), ipv4Src: exact(s.destIp), ipv4Dst: exact(s.localIp) } });
  b.delete({ table: INT.LOCAL_IP_TABLE, match: { ethType: ETH_TYPE.IPV4, regs: reg6(s.vlan), ethSrc: exact(s.mac), ipv4Src: exact(s.destIp) } });
  b.delete({ table: INT.LOCAL_IP_TABLE, match: { ethType: ETH_TYPE.ARP, regs: reg6(s.vlan), arpTpa: exact(s.localIp) } });
  b.delete({ table: INT.LOCAL_SWITCHING, match: garpMatch(s) });
  b.delete({ table: INT.LOCAL_SWITCHING, match: { ...garpMatch(s), arpTpa: exact(s.destIp) } });
}

/**
 * A compute port's traffic through tables 30 and 31 with its VLAN in reg6 (setup_local_egress_flows):
 * table 0 sends it to 30 at priority 8 (under the anti-spoofing flows), 30 sets reg6 and resubmits
 * to 31. `viaTable0` false leaves the table-0 flow out, as the reference leaves it for a port
 * without port security when the agent does the anti-spoofing (see egressViaTable0).
 */
export function localEgressFlows(ofport: number, localVlan: number, viaTable0 = true): Flow[] {
  return [
    ...(viaTable0 ? [{ table: INT.LOCAL_SWITCHING, priority: 8, match: { inPort: ofport }, actions: [], gotoTable: INT.LOCAL_EGRESS_TABLE }] : []),
    {
      table: INT.LOCAL_EGRESS_TABLE, priority: 10, match: { inPort: ofport },
      actions: [{ type: 'set_field', field: 'reg6', value: localVlan }, { type: 'resubmit', inPort: ofport, table: INT.LOCAL_IP_TABLE }],
    },
  ];
}

/**
 * Whether the reference leaves a compute port its `table=0, priority=8` flow: it installs it in
 * process_install_ports_egress_flows and then, in _bind_devices, when the agent does the ARP/MAC
 * anti-spoofing (no openvswitch firewall) and the port has port security off,
 * setup_arp_spoofing_protection calls set_allowed_macs_for_port(allow_all=True), which removes
 * every table-0 flow of the port, that one with them. Only the table-30 flow stays, and the port's
 * traffic does not reach table 31 (it goes table 0 → 59 → 60, NORMAL).
 */
export function egressViaTable0(agentDoesAntiSpoofing: boolean, portSecurityEnabled: boolean): boolean {
  return !agentDoesAntiSpoofing || portSecurityEnabled;
}
