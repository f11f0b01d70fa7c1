import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDpifShow, parseTarget, parseTrace, splitActions, traceFlow, verdict } from '../../../src/cli/trace-port.js';

test('--to takes IP, IP:PORT, [IPv6]:PORT and bare IPv6; refuses the rest', () => {
  assert.deepEqual(parseTarget('198.51.100.11'), { ip: '198.51.100.11', port: undefined });
  assert.deepEqual(parseTarget('198.51.100.11:22'), { ip: '198.51.100.11', port: 22 });
  assert.deepEqual(parseTarget('[2001:db8::5]:443'), { ip: '2001:db8::5', port: 443 });
  assert.deepEqual(parseTarget('2001:DB8::5'), { ip: '2001:db8::5', port: undefined });
  assert.equal(parseTarget('host.example'), undefined);
  assert.equal(parseTarget('198.51.100.11:0'), undefined);
});

test('the traced packet: ICMP echo, TCP/UDP with the ports ofproto/trace accepts, IPv6 variants', () => {
  const base = { ofport: 3, srcMac: 'fa:16:3e:00:00:01', dstMac: 'fa:16:3e:00:00:02', srcIp: '198.51.100.10', dstIp: '198.51.100.11' };
  assert.equal(traceFlow({ ...base, proto: 'icmp', dstPort: undefined }),
    'in_port=3,dl_src=fa:16:3e:00:00:01,dl_dst=fa:16:3e:00:00:02,icmp,nw_src=198.51.100.10,nw_dst=198.51.100.11,nw_ttl=64,icmp_type=8,icmp_code=0');
  assert.match(traceFlow({ ...base, proto: 'tcp', dstPort: 22 }), /,tcp,.*,tp_src=40000,tp_dst=22$/);
  assert.match(traceFlow({ ...base, proto: 'udp', dstPort: 53 }), /,udp,.*,udp_src=40000,udp_dst=53$/);
  assert.match(traceFlow({ ...base, srcIp: '2001:db8::1', dstIp: '2001:db8::2', proto: 'icmp', dstPort: undefined }), /,icmp6,ipv6_src=2001:db8::1,ipv6_dst=2001:db8::2,nw_ttl=64,icmp_type=128,icmp_code=0$/);
});

const TRACE = `Flow: tcp,in_port=3,vlan_tci=0x0000
bridge("br-int")
----------------
 0. priority 0, cookie 0x9d
    goto_table:60
60. in_port=3, priority 100, cookie 0x9d
    set_field:0x3->reg5
    resubmit(,71)
71. ip,reg5=0x3, priority 65, cookie 0x9d
    ct(table=72,zone=NXM_NX_REG6[0..15])
    drop
     -> A clone of the packet is forked to recirculate.
Final flow: tcp,reg5=0x3
Megaflow: recirc_id=0
Datapath actions: ct(zone=1),recirc(0x2)
===============================================================================
recirc(0x2) - resume conntrack with ct_state=new|trk
===============================================================================
Flow: recirc_id=0x2
bridge("br-int")
----------------
    thaw
        Resuming from table 72
82. ct_state=-est,reg5=0x4, priority 40, cookie 0x9d
    resubmit(,93)
93. priority 0, cookie 0x9d
    drop
Final flow: recirc_id=0x2
Megaflow: recirc_id=0x2
Datapath actions: drop
`;

const names = (b: string, t: number) => (b === 'br-int' ? new Map([[82, 'RULES_INGRESS_TABLE'], [93, 'DROPPED_TRAFFIC_TABLE']]).get(t) : undefined);

test('a trace is read as sections of steps; a drop names the table and flow, and what sent it there', () => {
  const s = parseTrace(TRACE, 'br-int');
  assert.equal(s.length, 2);
  assert.deepEqual(s[0]!.steps.map((x) => x.table), [0, 60, 71]);
  assert.deepEqual(s[0]!.steps[1]!.actions, ['set_field:0x3->reg5', 'resubmit(,71)']);
  assert.equal(s[0]!.datapathActions, 'ct(zone=1),recirc(0x2)');
  const v = verdict(s, [], () => undefined, names);
  assert.equal(v.kind, 'dropped');
  assert.equal(v.line, 'dropped in br-int table 93 DROPPED_TRAFFIC_TABLE by flow "priority 0", sent there by br-int table 82 RULES_INGRESS_TABLE flow "ct_state=-est,reg5=0x4, priority 40"');
});

test('delivered: datapath ports resolved to their names, Neutron ports and tunnels', () => {
  const dp = parseDpifShow(`netdev@ovs-netdev: hit:13 missed:22
  br-int:
    br-int 65534/2: (tap)
    patch-tun 2/none: (patch: peer=patch-int)
    tap40e90382-51 3/4: (system)
    tapfddf648c-09 4/5: (system)
  br-tun:
    vxlan-c0000202 2/7: (vxlan: key=flow, local_ip=192.0.2.1, remote_ip=192.0.2.2)
`);
  assert.deepEqual(dp.find((p) => p.odp === 5), { bridge: 'br-int', name: 'tapfddf648c-09', ofport: 4, odp: 5 });
  const one = verdict([{ steps: [], datapathActions: 'ct(commit,zone=1),5' }], dp, (n) => (n === 'tapfddf648c-09' ? 'port-b' : undefined), names);
  assert.equal(one.line, 'delivered to tapfddf648c-09 (port port-b) on br-int');
  const tun = verdict([{ steps: [], datapathActions: 'pop_vlan,set(tunnel(tun_id=0x2df,src=192.0.2.1,dst=192.0.2.2,ttl=64,flags(df|key))),7,4' }], dp, () => undefined, names);
  assert.equal(tun.line, 'flooded to 2 ports: vxlan-c0000202 on br-tun, tunnel id 735 to 192.0.2.2; tap40e90382-51 on br-int');
  assert.deepEqual(splitActions('a(b,c),d'), ['a(b,c)', 'd']);
});
