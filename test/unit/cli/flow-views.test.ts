import { test } from 'node:test';
import assert from 'node:assert/strict';
import { networkFlows, parseDump, portFlows } from '../../../src/cli/flow-views.js';
import type { NeutronVif } from '../../../src/cli/annotate.js';

const INT = `OFPST_FLOW reply (OF1.3) (xid=0x2):
 cookie=0x9d, duration=32.193s, table=0, n_packets=0, n_bytes=0, priority=65535,dl_vlan=4095 actions=drop
 cookie=0x9d, duration=32.193s, table=0, n_packets=25, n_bytes=2074, priority=0 actions=goto_table:59
 cookie=0x9d, duration=10.608s, table=60, n_packets=6, n_bytes=476, priority=100,in_port=3 actions=set_field:0x3->reg5,set_field:0x1->reg6,resubmit(,71)
 cookie=0x9d, duration=6.849s, table=60, n_packets=9, n_bytes=746, priority=100,in_port=4 actions=set_field:0x4->reg5,set_field:0x1->reg6,resubmit(,71)
 cookie=0x9d, duration=1.799s, table=60, n_packets=5, n_bytes=426, priority=100,in_port=5 actions=set_field:0x5->reg5,set_field:0x2->reg6,resubmit(,71)
 cookie=0x9d, duration=10.608s, table=71, n_packets=3, n_bytes=294, priority=65,ip,reg5=0x3,in_port=3,dl_src=fa:16:3e:45:70:29,nw_src=198.51.100.10 actions=ct(table=72,zone=NXM_NX_REG6[0..15])
 cookie=0x9d, duration=6.849s, table=73, n_packets=3, n_bytes=294, priority=100,reg6=0x1,dl_dst=fa:16:3e:eb:86:4f actions=set_field:0x4->reg5,resubmit(,81)
 cookie=0x9d, duration=10.608s, table=73, n_packets=0, n_bytes=0, priority=100,reg6=0x1,dl_dst=fa:16:3e:45:70:29 actions=set_field:0x3->reg5,resubmit(,81)
 cookie=0x9d, duration=10.599s, table=82, n_packets=0, n_bytes=0, priority=73,ct_state=+new-est,tcp,reg5=0x3,tp_dst=22 actions=conjunction(23,2/2)
 cookie=0x9d, duration=6.849s, table=82, n_packets=0, n_bytes=0, priority=73,ct_state=+new-est,tcp,reg5=0x4,tp_dst=22 actions=conjunction(23,2/2)
 cookie=0x9d, duration=10.599s, table=82, n_packets=0, n_bytes=0, priority=73,conj_id=23,ct_state=+new-est,ip,reg5=0x3 actions=set_field:0x17->reg7,output:3
 cookie=0x9d, duration=10.599s, table=82, n_packets=0, n_bytes=0, priority=73,conj_id=23,ct_state=+new-est,ip,reg5=0x4 actions=set_field:0x17->reg7,output:4
 cookie=0x9d, duration=9.513s, table=82, n_packets=0, n_bytes=0, priority=73,ct_state=+new-est,ip,reg6=0x1,nw_src=198.51.100.11 actions=conjunction(23,1/2)
 cookie=0x9d, duration=1.798s, table=82, n_packets=0, n_bytes=0, priority=73,ct_state=+new-est,ip,reg6=0x2,nw_src=198.51.100.11 actions=conjunction(23,1/2)
 cookie=0x9d, duration=31.337s, table=82, n_packets=0, n_bytes=0, priority=0 actions=drop
`;
const TUN = ` cookie=0x4b, duration=13.161s, table=4, n_packets=0, n_bytes=0, priority=1,tun_id=0x2df actions=push_vlan:0x8100,set_field:4097->vlan_vid,goto_table:10
 cookie=0x4b, duration=2.052s, table=4, n_packets=0, n_bytes=0, priority=1,tun_id=0xed actions=push_vlan:0x8100,set_field:4098->vlan_vid,goto_table:10
 cookie=0x4b, duration=2.052s, table=22, n_packets=0, n_bytes=0, priority=1,dl_vlan=2 actions=strip_vlan,set_field:0xed->tun_id,output:2
 cookie=0x4b, duration=31.569s, table=22, n_packets=11, n_bytes=818, priority=0 actions=drop
`;
const vif = (portId: string, ofport: number, mac: string, vlan: number): NeutronVif => ({
  portId, name: `tap-${portId}`, ofport, mac, localVlan: vlan, networkId: `net${vlan}`, networkType: 'vxlan', segmentationId: vlan === 1 ? 735 : 237, physicalNetwork: undefined,
});
const vifs = [vif('a', 3, 'fa:16:3e:45:70:29', 1), vif('b', 4, 'fa:16:3e:eb:86:4f', 1), vif('c', 5, 'fa:16:3e:40:cb:57', 2)];
const flows = [...parseDump('br-int', INT), ...parseDump('br-tun', TUN)];

test('a dump line is read into table, priority, match and actions; table misses have an empty match', () => {
  const f = flows.find((x) => x.table === 71)!;
  assert.equal(f.priority, 65);
  assert.equal(f.match, 'ip,reg5=0x3,in_port=3,dl_src=fa:16:3e:45:70:29,nw_src=198.51.100.10');
  assert.equal(f.actions, 'ct(table=72,zone=NXM_NX_REG6[0..15])');
  assert.equal(flows.find((x) => x.table === 82 && x.priority === 0)!.match, '');
});

test('port a: its own flows and its group\'s remote side on its network, nothing of b or c', () => {
  const sel = portFlows(flows, 'br-int', vifs[0]!, vifs).map((v) => `${v.flow.table} ${v.flow.match} ${v.reasons.join('/')}`);
  assert.deepEqual(sel, [
    '60 in_port=3 ofport 3/local VLAN 1',
    '71 ip,reg5=0x3,in_port=3,dl_src=fa:16:3e:45:70:29,nw_src=198.51.100.10 ofport 3/MAC fa:16:3e:45:70:29',
    '73 reg6=0x1,dl_dst=fa:16:3e:45:70:29 ofport 3/MAC fa:16:3e:45:70:29/local VLAN 1',
    '82 ct_state=+new-est,tcp,reg5=0x3,tp_dst=22 ofport 3',
    '82 conj_id=23,ct_state=+new-est,ip,reg5=0x3 ofport 3',
    '82 ct_state=+new-est,ip,reg6=0x1,nw_src=198.51.100.11 local VLAN 1',
  ]);
});

test('network of VLAN 2: its tunnel id and VLAN on br-tun, its zone on br-int', () => {
  const sel = networkFlows(flows, [{ name: 'br-int', kind: 'int' }, { name: 'br-tun', kind: 'tun' }], { networkId: 'net2', localVlan: 2, networkType: 'vxlan', segmentationId: 237, physicalNetwork: undefined }, new Map())
    .map((v) => `${v.flow.bridge} ${v.flow.table} ${v.reasons.join('/')}`);
  assert.deepEqual(sel, ['br-int 60 local VLAN 2', 'br-int 82 local VLAN 2', 'br-tun 4 local VLAN 2/tunnel id 237', 'br-tun 22 local VLAN 2/tunnel id 237']);
});
