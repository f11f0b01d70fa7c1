// The openvswitch firewall's own CPU for a rule change on many ports (issue 24's "rule change on
// 1,000 ports ≤ 1 s"), without a switch or server: the driver against a recording switch, the same
// group as bench/firewall.ts (ingress from itself, egress any), a probe rule added then removed.
//   node dist/bench/firewall-pass.js [--ports N] [--runs R]
import { OVSBridge } from '../src/bridges/ovs-bridge.js';
import { OVSFirewallDriver } from '../src/firewall/openvswitch/firewall.js';
import { FakeSource, RecordingSwitch, port, rule } from '../test/unit/firewall/openvswitch/fixtures.js';
import type { FirewallPort } from '../src/firewall/types.js';
import { argInt } from './lib.js';

async function main(): Promise<void> {
  const n = argInt('ports', 1000);
  const runs = argInt('runs', 5);
  const source = new FakeSource();
  source.groups.set('g', {
    id: 'g', stateful: true,
    rules: [
      rule('g', { direction: 'egress', ethertype: 'IPv4' }),
      rule('g', { direction: 'egress', ethertype: 'IPv6' }),
      rule('g', { direction: 'ingress', ethertype: 'IPv4', remoteGroupId: 'g' }),
      rule('g', { direction: 'ingress', ethertype: 'IPv6', remoteGroupId: 'g' }),
    ],
  });
  const ports: FirewallPort[] = [];
  for (let i = 0; i < n; i++) {
    const mac = `fa:16:3e:00:${((i >> 8) & 0xff).toString(16).padStart(2, '0')}:${(i & 0xff).toString(16).padStart(2, '0')}`;
    const ip = `198.18.${Math.floor(i / 250)}.${(i % 250) + 1}`;
    ports.push(port(10 + i, { id: `port-${i}`, mac, fixedIps: [ip], securityGroupIds: ['g'], networkId: 'net', vifName: `tap${i}`, localVlan: 1 }));
  }
  source.members.set('g', { IPv4: ports.map((p) => [p.fixedIps[0]!, p.mac] as [string, string]), IPv6: [] });
  const driver = new OVSFirewallDriver(new OVSBridge('br-int', new RecordingSwitch(), 0xabcn), source);
  await driver.start();
  let t = performance.now();
  await driver.filterPorts({ added: ports, updated: [], removed: [] });
  console.log(`${n} ports filtered: ${(performance.now() - t).toFixed(0)} ms, ${driver.desiredFlows().length} flows`);
  const g = source.groups.get('g')!;
  for (let r = 0; r < runs; r++) {
    g.rules = [...g.rules, rule('g', { direction: 'ingress', ethertype: 'IPv4', protocol: 'tcp', portRangeMin: 5201, portRangeMax: 5201, remoteIpPrefix: '203.0.113.0/24' })];
    t = performance.now();
    await driver.filterPorts({ added: [], updated: ports, removed: [] });
    const add = performance.now() - t;
    g.rules = g.rules.slice(0, -1);
    t = performance.now();
    await driver.filterPorts({ added: [], updated: ports, removed: [] });
    console.log(`rule added: ${add.toFixed(0)} ms, removed: ${(performance.now() - t).toFixed(0)} ms`);
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
