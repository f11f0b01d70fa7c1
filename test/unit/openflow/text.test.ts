// text.ts spells flows as `ovs-ofctl -O OpenFlow13 dump-flows --no-stats` prints them. The
// firewall's flows are checked against the switch itself (test/integration/openflow/firewall-flows);
// these are the corners of OVS's printing rules (lib/match.c, lib/ofp-actions.c, lib/learn.c) the
// firewall does not reach. Each expected flow line and ct_state is what OVS 3.1 printed for the
// same flow (added with ovs-ofctl add-flows, read back with dump-flows); the last test is about
// ovs-ofctl's input side, which the ofctl integration tests run against the switch.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ctStateText, formatFilter, formatFlow, formatFlowModLine } from '../../../src/openflow/text.js';
import { ctState, ETH_TYPE, exact, masked, output, type Flow } from '../../../src/openflow/flow.js';

test('registers, ids and loads print zero as 0 and other values in 0x hex, as C\'s %#x does', () => {
  const flow: Flow = {
    table: 1, priority: 1, match: { ethType: ETH_TYPE.IPV4, regs: { 5: exact(0) } },
    actions: [
      { type: 'load', dst: { field: 'NXM_NX_REG6' }, value: 0x99n },
      { type: 'load', dst: { field: 'NXM_NX_REG0', ofs: 4, nBits: 8 }, value: 0xabn },
      { type: 'set_field', field: 'reg3', value: 0 },
      { type: 'resubmit', inPort: 5 },
      { type: 'resubmit', table: 3 },
    ],
  };
  assert.equal(formatFlow(flow), 'table=1, priority=1,ip,reg5=0 actions=load:0x99->NXM_NX_REG6[],load:0xab->NXM_NX_REG0[4..11],set_field:0->reg3,resubmit:5,resubmit(,3)');
  assert.equal(formatFlow({ table: 9, priority: 0x8000, match: { tunId: exact(0n), metadata: exact(0n) }, actions: [] }), 'table=9, tun_id=0,metadata=0 actions=drop');
});

test('address masks print as prefixes when they are, protocol numbers after the addresses', () => {
  assert.equal(
    formatFlow({ table: 5, priority: 1, match: { ethType: ETH_TYPE.IPV4, ipProto: 47, ipv4Src: masked('10.0.0.0', '255.255.255.0') }, actions: [] }),
    'table=5, priority=1,ip,nw_src=10.0.0.0/24,nw_proto=47 actions=drop',
  );
  assert.equal(
    formatFlow({ table: 11, priority: 1, match: { ethType: ETH_TYPE.IPV6, ipProto: 47, ipv6Src: masked('FE80:0::', 'ffff:ffff:ffff:ffff::') }, actions: [] }),
    'table=11, priority=1,ipv6,ipv6_src=fe80::/64,nw_proto=47 actions=drop',
  );
  assert.equal(
    formatFlow({ table: 10, priority: 1, match: { ethType: ETH_TYPE.ARP, arpOp: 1, arpSpa: exact('10.0.0.1'), arpTpa: masked('10.0.0.0', '255.0.0.0'), arpSha: exact('fa:16:3e:00:00:01') }, actions: [] }),
    'table=10, priority=1,arp,arp_spa=10.0.0.1,arp_tpa=10.0.0.0/8,arp_op=1,arp_sha=fa:16:3e:00:00:01 actions=drop',
  );
  // A mask that is not a prefix stays a mask.
  assert.equal(formatFlow({ table: 0, priority: 1, match: { ethType: ETH_TYPE.IPV4, ipv4Dst: masked('10.0.0.1', '255.0.255.255') }, actions: [] }), 'priority=1,ip,nw_dst=10.0.0.1/255.0.255.255 actions=drop');
});

test('a VLAN match that is not one VID prints as vlan_tci, OFPVID_PRESENT being the CFI bit', () => {
  assert.equal(formatFlow({ table: 6, priority: 1, match: { vlanVid: masked(0x1000, 0x1000) }, actions: [] }), 'table=6, priority=1,vlan_tci=0x1000/0x1000 actions=drop');
});

test('ct_state prints each compared flag, or with every bit compared the set flags joined by |', () => {
  assert.equal(ctStateText(ctState('+new+trk')), '+new+trk');
  assert.equal(ctStateText(ctState('-trk')), '-trk');
  assert.equal(ctStateText({ value: 0x22 }), 'est|trk');
  assert.equal(ctStateText({ value: 0 }), '0');
  assert.throws(() => ctState('+est+bogus'), /unknown ct_state flag 'bogus'/);
});

test('learn prints a constant match on a whole field under the field\'s own name, and leaves the default priority out', () => {
  assert.equal(
    formatFlow({
      table: 14, priority: 1, match: { ethType: ETH_TYPE.IPV4, inPort: 3, vlanVid: { value: 0x1004 } },
      actions: [
        { type: 'learn', table: 6, priority: 7, idleTimeout: 5, specs: [
          { kind: 'match_value', dst: { field: 'NXM_OF_ETH_TYPE' }, value: 0x800n },
          { kind: 'match_field', dst: { field: 'NXM_OF_IP_DST' }, src: { field: 'NXM_OF_IP_SRC' } },
          { kind: 'load_value', dst: { field: 'NXM_NX_REG1', ofs: 0, nBits: 16 }, value: 0x1234n },
        ] },
        output('CONTROLLER'),
      ],
    }),
    'table=14, priority=1,ip,in_port=3,dl_vlan=4 actions=learn(table=6,idle_timeout=5,priority=7,eth_type=0x800,NXM_OF_IP_DST[]=NXM_OF_IP_SRC[],load:0x1234->NXM_NX_REG1[0..15]),CONTROLLER:65535',
  );
  assert.match(formatFlow({ table: 0, priority: 1, match: {}, actions: [{ type: 'learn', table: 1, priority: 0x8000, specs: [] }] }), /actions=learn\(table=1\)$/);
});

test('add, modify and delete lines carry the cookie as ovs-ofctl reads it', () => {
  assert.equal(formatFlowModLine({ command: 'add', flow: { table: 0, priority: 2, cookie: 0x10n, match: { inPort: 1 }, actions: [] } }), 'add cookie=0x10, priority=2,in_port=1 actions=drop');
  assert.equal(formatFlowModLine({ command: 'delete', filter: { table: 72, cookie: 0x10n, match: { regs: { 5: exact(3) } } } }), 'delete table=72,cookie=0x10/-1,reg5=0x3');
  assert.equal(formatFilter({ strict: true, table: 60, priority: 90, match: { ethDst: exact('fa:16:3e:00:00:01'), vlanVid: { value: 0x1001 } } }), 'table=60,priority=90,dl_vlan=1,dl_dst=fa:16:3e:00:00:01');
});
