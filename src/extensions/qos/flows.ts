// The QoS driver's flows, as the reference's br_int/ovs_lib write them, in pairs of domain verbs.
// Registers 2, 3 and 4 mark a packet that has been through one of these table-0 flows, so that it
// can be resubmitted to table 0 and meet the port's ordinary flows there (reg2: DSCP marked, reg3:
// ingress queue chosen, reg4: minimum-bandwidth mark set).
import { ETH_TYPE, type Flow, type FlowFilter } from '../../openflow/flow.js';
import { INT, PHYS } from '../../bridges/tables.js';
import type { FlowBatch } from '../../bridges/ovs-bridge.js';
import type { Direction } from './policy.js';

/** QOS_DEFAULT_QUEUE: the queue every packet of br-int is put in before switching. */
const DEFAULT_QUEUE = 0;
const ONE_BIT = (reg: 'NXM_NX_REG2' | 'NXM_NX_REG3' | 'NXM_NX_REG4') => ({ field: reg, ofs: 0, nBits: 1 });

/**
 * br-int, at start: every packet's queue is 0 before it is switched, so a port's ingress limit
 * (a linux-htb QoS on the VM's Port, queue 0) applies to what is sent to it.
 */
export function ingressQueueFlow(): Flow {
  return {
    table: INT.LOCAL_SWITCHING,
    priority: 200,
    match: { regs: { 3: { value: 0 } } },
    actions: [{ type: 'set_queue', queueId: DEFAULT_QUEUE }, { type: 'load', dst: ONE_BIT('NXM_NX_REG3'), value: 1n }, { type: 'resubmit', table: INT.LOCAL_SWITCHING }],
  };
}

/** DSCP marking of the port's IPv4 and IPv6 packets (br_int.install_dscp_marking_rule). */
export function installDscpMarking(b: FlowBatch, ofport: number, dscpMark: number): void {
  for (const ethType of [ETH_TYPE.IPV4, ETH_TYPE.IPV6]) {
    b.add({
      table: INT.LOCAL_SWITCHING,
      priority: 65535,
      match: { inPort: ofport, ethType, regs: { 2: { value: 0 } } },
      actions: [{ type: 'set_field', field: 'reg2', value: 1 }, { type: 'set_field', field: 'ip_dscp', value: dscpMark }, { type: 'resubmit', inPort: ofport }],
    });
  }
}

/** The reference deletes by in_port and reg2=0 in table 0, not strictly. */
export function uninstallDscpMarking(b: FlowBatch, ofport: number): void {
  b.delete({ table: INT.LOCAL_SWITCHING, match: { inPort: ofport, regs: { 2: { value: 0 } } } });
}

/** The meter of a port's packet-rate limit (br_int.apply_meter_to_port): egress by in_port and source MAC, ingress by local VLAN and destination MAC. */
function meterMatch(direction: Direction, mac: string, ofport: number, localVlan: number): FlowFilter['match'] {
  return direction === 'egress' ? { inPort: ofport, ethSrc: { value: mac } } : { vlanVid: { value: 0x1000 | localVlan }, ethDst: { value: mac } };
}

export function applyPacketRateMeter(b: FlowBatch, meterId: number, direction: Direction, mac: string, ofport: number, localVlan: number): void {
  b.add({ table: INT.PACKET_RATE_LIMIT, priority: 100, match: meterMatch(direction, mac, ofport, localVlan)!, meter: meterId, actions: [], gotoTable: INT.TRANSIENT_TABLE });
}

export function removePacketRateMeter(b: FlowBatch, direction: Direction, mac: string, ofport: number, localVlan: number): void {
  b.delete({ table: INT.PACKET_RATE_LIMIT, match: meterMatch(direction, mac, ofport, localVlan)! });
}

/**
 * Ours, not the reference's: the userspace datapath does not police what a system or tap port
 * receives (Interface.ingress_policing_rate is written but not enforced there), so a port's egress
 * bandwidth limit is also a kbps meter on everything the port sends, applied in table 0 before any
 * other flow of the port. Bit 1 of reg2 marks the packet as metered (bit 0 is DSCP's): the DSCP
 * flow, at a higher priority, matches reg2=0 and so runs first.
 */
const EGRESS_METERED = 0x2;
export function applyEgressPolicingMeter(b: FlowBatch, meterId: number, ofport: number): void {
  b.add({
    table: INT.LOCAL_SWITCHING,
    priority: 65534,
    match: { inPort: ofport, regs: { 2: { value: 0, mask: EGRESS_METERED } } },
    meter: meterId,
    actions: [{ type: 'load', dst: { field: 'NXM_NX_REG2', ofs: 1, nBits: 1 }, value: 1n }, { type: 'resubmit', table: INT.LOCAL_SWITCHING }],
  });
}

export function removeEgressPolicingMeter(b: FlowBatch, ofport: number): void {
  b.delete({ table: INT.LOCAL_SWITCHING, strict: true, priority: 65534, match: { inPort: ofport, regs: { 2: { value: 0, mask: EGRESS_METERED } } } });
}

/** br-int: the port's packets carry its queue number as pkt_mark (ovs_lib._set_pkt_mark_for_minimum_bandwidth). */
export function setMinimumBandwidthMark(b: FlowBatch, queueNum: number): void {
  b.add({
    table: INT.LOCAL_SWITCHING,
    priority: 200,
    match: { inPort: queueNum, regs: { 4: { value: 0 } } },
    actions: [{ type: 'load', dst: { field: 'NXM_NX_PKT_MARK' }, value: BigInt(queueNum) }, { type: 'load', dst: ONE_BIT('NXM_NX_REG4'), value: 1n }, { type: 'resubmit', table: INT.LOCAL_SWITCHING }],
  });
}

export function unsetMinimumBandwidthMark(b: FlowBatch, queueNum: number): void {
  b.delete({ table: INT.LOCAL_SWITCHING, match: { inPort: queueNum, regs: { 4: { value: 0 } } } });
}

/** A physical bridge: packets marked with the queue number leave in that queue (set_queue_for_minimum_bandwidth). */
export function setMinimumBandwidthQueue(b: FlowBatch, patchOfport: number, queueNum: number): void {
  b.add({
    table: PHYS.LOCAL_SWITCHING,
    priority: 200,
    match: { inPort: patchOfport, pktMark: { value: queueNum }, regs: { 4: { value: 0 } } },
    actions: [{ type: 'set_queue', queueId: queueNum }, { type: 'load', dst: ONE_BIT('NXM_NX_REG4'), value: 1n }, { type: 'resubmit', table: PHYS.LOCAL_SWITCHING }],
  });
}
