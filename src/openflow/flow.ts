// The typed flow model. Pipelines (src/bridges) are written against these types once;
// the native OpenFlow 1.3 codec and the ovs-ofctl text backend both translate from them,
// so the two backends cannot drift apart in what they mean.

/** A value with an optional bit mask (mask bits set = bits compared). */
export interface Masked<T> {
  value: T;
  mask?: T;
}

/** MAC address in canonical lower-case "aa:bb:cc:dd:ee:ff" form. */
export type Mac = string;
/** IPv4 or IPv6 address literal. */
export type IpAddress = string;

/** OpenFlow 1.3 reserved port numbers (ofp_port_no), by name. */
export const OFPP = {
  IN_PORT: 0xfffffff8,
  TABLE: 0xfffffff9,
  NORMAL: 0xfffffffa,
  FLOOD: 0xfffffffb,
  ALL: 0xfffffffc,
  CONTROLLER: 0xfffffffd,
  LOCAL: 0xfffffffe,
  ANY: 0xffffffff,
} as const;
export type ReservedPort = keyof typeof OFPP;
export type PortNo = number | ReservedPort;

/** OFPVID_PRESENT: set in OXM vlan_vid when the packet carries a VLAN tag. */
export const OFPVID_PRESENT = 0x1000;
export const OFPVID_NONE = 0x0000;

/** OFPTT_ALL: "all tables" in flow deletes and stats requests. */
export const OFPTT_ALL = 0xff;

/**
 * Match fields. Names follow the OXM field names of OpenFlow 1.3 (eth_dst, vlan_vid ...);
 * Nicira extension fields (tun_id, reg0-7) use their NXM names.
 * Prerequisites are explicit: a match on arpTpa must also set ethType 0x0806, as on the wire.
 */
export interface Match {
  inPort?: number;
  ethDst?: Masked<Mac>;
  ethSrc?: Masked<Mac>;
  ethType?: number;
  /** Raw OXM vlan_vid: OFPVID_PRESENT|vid for tagged, OFPVID_NONE for untagged. */
  vlanVid?: Masked<number>;
  ipProto?: number;
  ipv4Src?: Masked<IpAddress>;
  ipv4Dst?: Masked<IpAddress>;
  ipv6Src?: Masked<IpAddress>;
  ipv6Dst?: Masked<IpAddress>;
  /** Transport ports: a number, or value/mask for port ranges (`tp_dst=0x3e8/0xfff8`). */
  tcpSrc?: TransportPort;
  tcpDst?: TransportPort;
  udpSrc?: TransportPort;
  udpDst?: TransportPort;
  sctpSrc?: TransportPort;
  sctpDst?: TransportPort;
  icmpv4Type?: number;
  icmpv4Code?: number;
  icmpv6Type?: number;
  icmpv6Code?: number;
  ndTarget?: Masked<IpAddress>;
  arpOp?: number;
  arpSpa?: Masked<IpAddress>;
  arpTpa?: Masked<IpAddress>;
  arpSha?: Masked<Mac>;
  arpTha?: Masked<Mac>;
  /** NXM_NX_TUN_ID (OXM tunnel_id). */
  tunId?: Masked<bigint>;
  /** NXM_NX_REG0..7, keyed by register number. */
  regs?: { [reg: number]: Masked<number> };
  metadata?: Masked<bigint>;
  /** NXM_NX_CT_STATE: bits of CT_STATE; the mask says which bits are compared (`+est-rel-rpl`). */
  ctState?: Masked<number>;
  /** NXM_NX_CT_ZONE (16 bits). */
  ctZone?: number;
  /** NXM_NX_CT_MARK (32 bits). */
  ctMark?: Masked<number>;
  /** NXM_NX_CONJ_ID: the flow matches packets whose conjunctive match `conjunction(id, ...)` completed. */
  conjId?: number;
  /** NXM_NX_PKT_MARK (32 bits): the mark QoS flows put on a packet (skb mark on a kernel datapath). */
  pktMark?: Masked<number>;
}

export type TransportPort = number | Masked<number>;

/** Bits of NXM_NX_CT_STATE, as ovs-fields(7) names them. */
export const CT_STATE = {
  new: 0x01,
  est: 0x02,
  rel: 0x04,
  rpl: 0x08,
  inv: 0x10,
  trk: 0x20,
  snat: 0x40,
  dnat: 0x80,
} as const;
export type CtStateFlag = keyof typeof CT_STATE;

/**
 * `ct_state` from OVS's own spelling, e.g. `+est-rel-rpl`: each named flag is compared,
 * set (+) or clear (-); flags not named are not compared.
 */
export function ctState(spec: string): Masked<number> {
  let value = 0;
  let mask = 0;
  for (const m of spec.matchAll(/([+-])([a-z]+)/g)) {
    const bit = CT_STATE[m[2] as CtStateFlag];
    if (bit === undefined) throw new Error(`unknown ct_state flag '${m[2]}' in '${spec}'`);
    mask |= bit;
    if (m[1] === '+') value |= bit;
  }
  if (mask === 0 || spec.replace(/[+-][a-z]+/g, '') !== '') throw new Error(`malformed ct_state '${spec}'`);
  return { value, mask };
}

/** A transport port as value and mask (exact match: mask absent). */
export function transportPortMasked(p: TransportPort): Masked<number> {
  return typeof p === 'number' ? { value: p } : p;
}

/**
 * Fields that can be referred to bit-wise by NXM actions (move, load, learn),
 * spelled as OVS prints them.
 */
export type NxmFieldName =
  | 'NXM_OF_IN_PORT'
  | 'OXM_OF_IN_PORT'
  | 'NXM_OF_ETH_DST'
  | 'NXM_OF_ETH_SRC'
  | 'NXM_OF_ETH_TYPE'
  | 'NXM_OF_VLAN_TCI'
  | 'NXM_OF_IP_SRC'
  | 'NXM_OF_IP_DST'
  | 'NXM_OF_IP_PROTO'
  | 'NXM_OF_TCP_SRC'
  | 'NXM_OF_TCP_DST'
  | 'NXM_OF_UDP_SRC'
  | 'NXM_OF_UDP_DST'
  | 'NXM_OF_ARP_OP'
  | 'NXM_OF_ARP_SPA'
  | 'NXM_OF_ARP_TPA'
  | 'NXM_NX_ARP_SHA'
  | 'NXM_NX_ARP_THA'
  | 'NXM_NX_TUN_ID'
  | 'NXM_NX_REG0'
  | 'NXM_NX_REG1'
  | 'NXM_NX_REG2'
  | 'NXM_NX_REG3'
  | 'NXM_NX_REG4'
  | 'NXM_NX_REG5'
  | 'NXM_NX_REG6'
  | 'NXM_NX_REG7'
  | 'NXM_NX_CT_MARK'
  | 'NXM_NX_CT_ZONE'
  /** The packet's mark, loaded whole by the reference's minimum-bandwidth flow (`load:0x3->NXM_NX_PKT_MARK[]`). */
  | 'NXM_NX_PKT_MARK'
  | 'OXM_OF_METADATA';

/** A bit range of a field: `field[ofs..ofs+nBits-1]`; whole field when ofs/nBits are absent. */
export interface FieldRef {
  field: NxmFieldName;
  ofs?: number;
  nBits?: number;
}

/** Fields settable with OFPAT_SET_FIELD, by OXM name. */
export type SetFieldName =
  | 'vlan_vid'
  | 'eth_src'
  | 'eth_dst'
  | 'arp_op'
  /** OXM IPV4_DST (the local_ip extension's static NAT); needs ip in the match. */
  | 'ipv4_dst'
  | 'arp_spa'
  | 'arp_tpa'
  | 'arp_sha'
  | 'arp_tha'
  | 'tun_id'
  | 'reg0'
  | 'reg1'
  | 'reg2'
  | 'reg3'
  | 'reg4'
  | 'reg5'
  | 'reg6'
  | 'reg7'
  | 'ct_mark'
  | 'metadata'
  /** NXM_NX_PKT_MARK, 32 bits. */
  | 'pkt_mark'
  /** OXM IP_DSCP: the 6-bit DSCP (0..63), not the whole TOS byte; needs ip or ipv6 in the match. */
  | 'ip_dscp';

/** Value of a set_field: number for integer fields up to 32 bits, bigint for 64-bit, string for MAC/IP. */
export type FieldValue = number | bigint | string;

/** One flow_mod_spec of NXAST_LEARN, in OVS's own vocabulary. */
export type LearnSpec =
  /** `dst[]=src[]` (or `field[]` when dst and src are the same): the learned flow matches dst on the value of src. */
  | { kind: 'match_field'; dst: FieldRef; src: FieldRef }
  /** `dst[]=value`: the learned flow matches dst on a constant. */
  | { kind: 'match_value'; dst: FieldRef; value: bigint }
  /** `load:src[]->dst[]`: the learned flow loads the current value of src into dst. */
  | { kind: 'load_field'; dst: FieldRef; src: FieldRef }
  /** `load:value->dst[]`: the learned flow loads a constant into dst. */
  | { kind: 'load_value'; dst: FieldRef; value: bigint }
  /** `output:src[]`: the learned flow outputs to the port number held in src. */
  | { kind: 'output'; src: FieldRef };

export interface LearnAction {
  type: 'learn';
  table: number;
  priority: number;
  idleTimeout?: number;
  hardTimeout?: number;
  finIdleTimeout?: number;
  finHardTimeout?: number;
  cookie?: bigint;
  /** NX_LEARN_F_* flags. */
  flags?: number;
  specs: LearnSpec[];
}

export type Action =
  | { type: 'output'; port: PortNo; maxLen?: number }
  | { type: 'push_vlan'; ethertype: number }
  | { type: 'pop_vlan' }
  | { type: 'set_field'; field: SetFieldName; value: FieldValue }
  /** NXAST_RESUBMIT(_TABLE): `resubmit(inPort,table)`; absent inPort = the packet's in_port. */
  | { type: 'resubmit'; inPort?: number; table?: number }
  /** NXAST_REG_MOVE: `move:src[]->dst[]`. */
  | { type: 'move'; src: FieldRef; dst: FieldRef }
  /** NXAST_REG_LOAD: `load:value->dst[]`. */
  | { type: 'load'; dst: FieldRef; value: bigint }
  | LearnAction
  | CtAction
  /** NXAST_CT_CLEAR: forget the packet's conntrack state, so it can be sent through `ct` again. */
  | { type: 'ct_clear' }
  /**
   * NXAST_CONJUNCTION: `conjunction(id,clause/nClauses)`, clause counted from 1 as OVS prints it.
   * A packet matching one flow of every clause of `id` then matches the flow with `conj_id=id`.
   */
  | { type: 'conjunction'; id: number; clause: number; nClauses: number }
  /** OFPAT_SET_QUEUE: `set_queue:N`, the output port's queue (QoS queue N of its Open vSwitch QoS). */
  | { type: 'set_queue'; queueId: number };

/**
 * NXAST_CT: send the packet through the connection tracker.
 * `ct(commit,table=T,zone=NXM_NX_REG6[0..15],exec(set_field:0x1->ct_mark))`.
 */
export interface CtAction {
  type: 'ct';
  /** Commit the connection (create the conntrack entry). */
  commit?: boolean;
  /** Zone: a constant or the bits of a field (neutron uses the network's register). */
  zone?: number | FieldRef;
  /** Recirculate to this table after tracking; absent = the packet is not recirculated. */
  table?: number;
  /** Actions applied to the connection on commit (only set_field of ct_mark / ct_label). */
  exec?: Action[];
  /** NXAST_NAT inside the ct: `nat` (the connection's own NAT, for replies) or `nat(dst=IP)`. */
  nat?: CtNat;
}

/** A `nat(...)` of a ct action: no kind = apply the NAT the connection already has. */
export interface CtNat {
  kind?: 'src' | 'dst';
  /** The one IPv4 address translated to (ranges, ports and flags are not in the model). */
  ipv4?: IpAddress;
}

/**
 * One flow. Instructions are reduced to what the agent uses: an optional meter, an apply-actions
 * list and an optional goto_table; none of them means drop (an empty instruction list).
 */
export interface Flow {
  table: number;
  priority: number;
  match: Match;
  /** OFPIT_METER: packets go through this meter (src/openflow/meter.ts) before the actions. */
  meter?: number;
  actions: Action[];
  gotoTable?: number;
  /** Stamped by the bridge (its per-run cookie); backends send it as given. */
  cookie?: bigint;
  idleTimeout?: number;
  hardTimeout?: number;
}

/** Selects flows for delete / stats, as OpenFlow does: non-strict matches every flow the match covers. */
export interface FlowFilter {
  /** Absent = all tables (OFPTT_ALL). */
  table?: number;
  match?: Match;
  /** Strict delete: match and priority must be identical. */
  strict?: boolean;
  priority?: number;
  cookie?: bigint;
  cookieMask?: bigint;
  outPort?: number;
}

export type FlowMod =
  | { command: 'add'; flow: Flow }
  | { command: 'modify'; flow: Flow }
  | { command: 'delete'; filter: FlowFilter };

/** One entry of a flow-stats reply. `flow` is the decoded flow when the backend can decode it. */
export interface FlowStats {
  table: number;
  priority: number;
  cookie: bigint;
  packetCount: bigint;
  byteCount: bigint;
  durationSec: number;
  idleTimeout: number;
  hardTimeout: number;
  flow?: Flow;
}

export interface PortDesc {
  portNo: number;
  name: string;
  hwAddr: Mac;
}

// ---- small constructors, so pipelines read like the flows they describe ----

export const ETH_TYPE = { IPV4: 0x0800, ARP: 0x0806, VLAN: 0x8100, IPV6: 0x86dd } as const;
export const IP_PROTO = { ICMP: 1, TCP: 6, UDP: 17, ICMPV6: 58, SCTP: 132 } as const;

/** `dl_vlan=vid`. */
export function vlan(vid: number): Masked<number> {
  return { value: OFPVID_PRESENT | vid };
}

/** `vlan_tci=0x0000/0x1fff`: no VLAN header. */
export function untagged(): Masked<number> {
  return { value: OFPVID_NONE };
}

export function exact<T>(value: T): Masked<T> {
  return { value };
}

export function masked<T>(value: T, mask: T): Masked<T> {
  return { value, mask };
}

export function output(port: PortNo): Action {
  return { type: 'output', port };
}

/** `ct(...)`. */
export function ct(o: Omit<CtAction, 'type'>): Action {
  return { type: 'ct', ...o };
}

export function resubmit(table: number): Action {
  return { type: 'resubmit', table };
}

/** `set_field:value->regN`. */
export function setReg(reg: 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7, value: number): Action {
  return { type: 'set_field', field: `reg${reg}`, value };
}

/** `push_vlan:0x8100` when untagged, then `set_field:<0x1000|vid>->vlan_vid`. */
export function setVlan(vid: number): Action {
  return { type: 'set_field', field: 'vlan_vid', value: OFPVID_PRESENT | vid };
}

export function pushVlan(): Action {
  return { type: 'push_vlan', ethertype: ETH_TYPE.VLAN };
}

export function popVlan(): Action {
  return { type: 'pop_vlan' };
}

/** Canonical MAC: lower-case, colon separated, two digits per byte. */
export function normalizeMac(mac: string): Mac {
  const parts = mac.trim().toLowerCase().split(/[:-]/);
  if (parts.length !== 6 || parts.some((p) => !/^[0-9a-f]{1,2}$/.test(p))) {
    throw new Error(`invalid MAC address '${mac}'`);
  }
  return parts.map((p) => p.padStart(2, '0')).join(':');
}
