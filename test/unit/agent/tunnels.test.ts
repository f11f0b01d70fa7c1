import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tunnelInterface, tunnelPortName, tunnelPortNameByBothIps } from '../../../src/agent/networks/tunnels.js';

const base = { localIp: '192.0.2.10', vxlanUdpPort: 4789, dontFragment: true, tunnelCsum: false, dscp: undefined, dscpInherit: false, hwOffload: false };

test('tunnel ports are named after the remote IPv4 in hex, as the reference names them', () => {
  assert.equal(tunnelPortName('vxlan', '192.0.2.20'), 'vxlan-c0000214');
  assert.equal(tunnelPortName('gre', '192.0.2.30'), 'gre-c000021e');
  assert.equal(tunnelPortName('geneve', '10.0.0.1'), 'geneve-0a000001');
  assert.equal(tunnelPortName('vxlan', 'not-an-ip'), undefined);
  const v6 = tunnelPortName('vxlan', '2001:db8::1')!;
  assert.match(v6, /^vxlan-[a-z2-7]{9}$/);
  assert.ok(tunnelPortName('geneve', '2001:db8::1')!.length <= 15);
});

test('tunnel_port_naming = local-and-remote-ip: the names neutron\'s fullstack test agent gives (get_tunnel_name_full), distinct per local IP', () => {
  // Expected values computed with neutron's own get_tunnel_name_full on these inputs.
  assert.equal(tunnelPortNameByBothIps('vxlan', '240.0.0.1', '240.0.0.2'), 'vxl-8be1d-141b1');
  assert.equal(tunnelPortNameByBothIps('gre', '192.0.2.1', '2001:db8::1'), 'gre-a58d0-c6f1c');
  assert.equal(tunnelPortNameByBothIps('geneve', '192.0.2.1', '192.0.2.2'), 'gen-a58d0-f4cfe');
  assert.notEqual(tunnelPortNameByBothIps('vxlan', '240.0.0.3', '240.0.0.2'), tunnelPortNameByBothIps('vxlan', '240.0.0.1', '240.0.0.2'));
  assert.equal(tunnelPortNameByBothIps('vxlan', '240.0.0.1', 'bogus'), undefined);
});

test('tunnel interface options match the captured reference', () => {
  assert.deepEqual(tunnelInterface('vxlan', '192.0.2.20', base), {
    ifaceType: 'vxlan',
    options: { df_default: 'true', egress_pkt_mark: '0', in_key: 'flow', local_ip: '192.0.2.10', out_key: 'flow', remote_ip: '192.0.2.20' },
  });
  const o = tunnelInterface('vxlan', '192.0.2.20', { ...base, vxlanUdpPort: 4790, tunnelCsum: true, dscp: 10 }).options;
  assert.equal(o['dst_port'], '4790');
  assert.equal(o['csum'], 'true');
  assert.equal(o['tos'], '40');
  assert.equal(tunnelInterface('gre', '2001:db8::2', { ...base, localIp: '2001:db8::1' }).ifaceType, 'ip6gre');
  assert.equal(tunnelInterface('geneve', '192.0.2.20', { ...base, dscpInherit: true, dscp: 10 }).options['tos'], 'inherit');
});
