// The flows and meters the QoS extension programs (the reference's br-int table 59 PACKET_RATE_LIMIT
// flows, the queue flows of table 0, the DSCP flows), with the corners of their printing, each with
// the line Open vSwitch 3.1 prints for it in `ovs-ofctl -O OpenFlow13 dump-flows --no-stats`.
// Shared by the model's unit tests and the integration test that installs them on a switch.
import { ctState, ETH_TYPE, exact, IP_PROTO, masked, type Flow } from '../../src/openflow/flow.js';
import { dropMeter, type Meter } from '../../src/openflow/meter.js';

const MAC = 'fa:16:3e:00:00:01';
const REG3_BIT0 = { field: 'NXM_NX_REG3', ofs: 0, nBits: 1 } as const;
const REG4_BIT0 = { field: 'NXM_NX_REG4', ofs: 0, nBits: 1 } as const;

/** The reference's QoS flows (br-int table 59, the queue and DSCP flows of table 0) and the corners of their printing. */
export const QOS_FLOWS: { flow: Flow; text: string }[] = [
  {
    flow: { table: 59, priority: 100, match: { inPort: 5, ethSrc: exact(MAC) }, meter: 7, actions: [], gotoTable: 60 },
    text: `table=59, priority=100,in_port=5,dl_src=${MAC} actions=meter:7,goto_table:60`,
  },
  {
    flow: { table: 59, priority: 100, match: { vlanVid: { value: 0x1003 }, ethDst: exact(MAC) }, meter: 8, actions: [], gotoTable: 60 },
    text: `table=59, priority=100,dl_vlan=3,dl_dst=${MAC} actions=meter:8,goto_table:60`,
  },
  {
    flow: { table: 0, priority: 200, match: { regs: { 3: exact(0) } }, actions: [{ type: 'set_queue', queueId: 0 }, { type: 'load', dst: REG3_BIT0, value: 1n }, { type: 'resubmit', table: 0 }] },
    text: 'priority=200,reg3=0 actions=set_queue:0,load:0x1->NXM_NX_REG3[0],resubmit(,0)',
  },
  {
    flow: {
      table: 0, priority: 200, match: { inPort: 5, pktMark: exact(3), regs: { 4: exact(0) } },
      actions: [{ type: 'set_queue', queueId: 3 }, { type: 'load', dst: REG4_BIT0, value: 1n }, { type: 'resubmit', table: 0 }],
    },
    text: 'priority=200,pkt_mark=0x3,reg4=0,in_port=5 actions=set_queue:3,load:0x1->NXM_NX_REG4[0],resubmit(,0)',
  },
  ...[ETH_TYPE.IPV4, ETH_TYPE.IPV6].map((ethType) => ({
    flow: {
      table: 0, priority: 65535, match: { regs: { 2: exact(0) }, inPort: 5, ethType },
      actions: [{ type: 'set_field', field: 'reg2', value: 1 }, { type: 'set_field', field: 'ip_dscp', value: 26 }, { type: 'resubmit', inPort: 5 }],
    } satisfies Flow,
    text: `priority=65535,${ethType === ETH_TYPE.IPV4 ? 'ip' : 'ipv6'},reg2=0,in_port=5 actions=set_field:0x1->reg2,set_field:26->ip_dscp,resubmit:5`,
  })),
  {
    flow: {
      table: 1, priority: 1,
      match: {
        pktMark: masked(5, 0xff), conjId: 5, ctState: ctState('+trk'), ctZone: 3, ctMark: exact(1), ethType: ETH_TYPE.IPV4, ipProto: IP_PROTO.TCP,
        regs: { 1: exact(3) }, tunId: exact(5n), metadata: exact(3n), inPort: 3, tcpDst: 80,
      },
      meter: 10,
      actions: [{ type: 'set_field', field: 'pkt_mark', value: 0 }, { type: 'set_field', field: 'ip_dscp', value: 0 }, { type: 'set_queue', queueId: 7 }, { type: 'resubmit', table: 2 }],
    },
    // pkt_mark is the first match field OVS prints, before conj_id and the conntrack fields.
    text: 'table=1, priority=1,pkt_mark=0x5/0xff,conj_id=5,ct_state=+trk,ct_zone=3,ct_mark=0x1,tcp,reg1=0x3,tun_id=0x5,metadata=0x3,in_port=3,tp_dst=80 actions=meter:10,set_field:0->pkt_mark,set_field:0->ip_dscp,set_queue:7,resubmit(,2)',
  },
  {
    flow: { table: 1, priority: 3, match: { ethType: ETH_TYPE.IPV4 }, actions: [{ type: 'set_field', field: 'pkt_mark', value: 0x12345678 }] },
    text: 'table=1, priority=3,ip actions=set_field:0x12345678->pkt_mark',
  },
  { flow: { table: 1, priority: 4, match: {}, meter: 9, actions: [] }, text: 'table=1, priority=4 actions=meter:9' },
];

/** The meters QOS_FLOWS name: a packet-rate limit with a burst, bandwidth limits with and without one. */
export const QOS_METERS: Meter[] = [
  dropMeter(7, 'pktps', 1000, 100),
  dropMeter(8, 'kbps', 10000),
  dropMeter(9, 'kbps', 10000, 2000),
  { ...dropMeter(10, 'pktps', 5000), stats: true },
];
