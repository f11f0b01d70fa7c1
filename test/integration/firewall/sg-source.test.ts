// Security-group data from the resource cache against the real neutron-server: groups, rules,
// remote members and address groups made through the API come back from infoFor() as the
// reference's shim would give them, and API changes arrive as pushes that raise change notices.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type NeutronLab, labSkipReason, type NeutronPort } from '../../../lab/neutron.js';
import { startLab } from '../../../lab/host.js';
import { labAgentFiles } from '../../../lab/agent-config.js';
import { createAddressGroup, createFilteredPort, createRule, createSecurityGroup, deleteRule } from '../../../lab/security-groups.js';
import { loadConfig } from '../../../src/config/index.js';
import { settingsFromConfig } from '../../../src/agent/settings.js';
import { PluginRpc } from '../../../src/agent/server/plugin-rpc.js';
import { ResourceCache, type Json } from '../../../src/agent/server/resource-cache.js';
import { firewallPortFrom } from '../../../src/firewall/sg-objects.js';
import { CacheSecurityGroupSource } from '../../../src/firewall/sg-source.js';
import type { FirewallPort, SecurityGroupChange, SecurityGroupInfo } from '../../../src/firewall/types.js';

const skip = labSkipReason();
const WIRING = { ofport: 1, vifName: 'tap-sg', localVlan: 1, networkType: 'vxlan', physicalNetwork: undefined, segmentationId: 1 };

describe('security-group source on the resource cache, real neutron-server', { skip, timeout: 300_000 }, () => {
  let lab: NeutronLab | undefined;
  let rpc: PluginRpc | undefined;
  let dir: string | undefined;
  let cache: ResourceCache;
  let source: CacheSecurityGroupSource;
  const changes: SecurityGroupChange[] = [];

  before(async () => {
    lab = await startLab();
    await lab.waitRpcConsumers();
    dir = mkdtempSync(join(tmpdir(), 'sg-source-'));
    const files = labAgentFiles({ host: 'sg-host', transportUrl: lab.transportUrl, ovsdbConnection: 'unix:/nonexistent' });
    writeFileSync(join(dir, 'neutron.conf'), files['neutron.conf']);
    writeFileSync(join(dir, 'ovs.ini'), files['openvswitch_agent.ini']);
    const settings = settingsFromConfig(loadConfig(['--config-file', join(dir, 'neutron.conf'), '--config-file', join(dir, 'ovs.ini')], { hostname: 'sg-host' }));
    const r = new PluginRpc(settings);
    rpc = r;
    cache = new ResourceCache((type, version, filter) => r.bulkPull(type, version, filter));
    source = new CacheSecurityGroupSource(cache);
    source.onChange((c) => changes.push(c));
    const none = async () => {};
    await r.start({
      tunnelUpdate: none,
      tunnelDelete: none,
      addFdbEntries: none,
      removeFdbEntries: none,
      updateFdbEntries: none,
      push: (list, eventType) => cache.onPush(list as Json, eventType),
    });
  });

  after(async () => {
    await rpc?.stop();
    await lab?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** Waits for a change notice that satisfies `want` (pushes arrive a few ms after the API answers). */
  async function changeWhere(want: (c: SecurityGroupChange) => boolean, what: string): Promise<SecurityGroupChange> {
    const deadline = Date.now() + 20_000;
    for (;;) {
      const i = changes.findIndex(want);
      if (i >= 0) return changes.splice(0, i + 1).at(-1)!;
      if (Date.now() > deadline) throw new Error(`no change notice with ${what} in 20 s; got ${JSON.stringify(changes.map(show))}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  const show = (c: SecurityGroupChange) => ({ rules: [...c.rulesChanged], members: [...c.membersChanged], ags: [...c.addressGroupsChanged] });

  async function fwPort(id: string): Promise<FirewallPort> {
    const p = await cache.get('Port', id);
    assert.ok(p, `port ${id} not known to the server`);
    return firewallPortFrom(p, WIRING);
  }

  const rulesOf = (info: SecurityGroupInfo, sg: string) =>
    info.securityGroups
      .get(sg)!
      .rules.map((r) => `${r.direction} ${r.ethertype} ${r.protocol ?? 'any'}${r.portRangeMin !== undefined ? ` ${r.portRangeMin}-${r.portRangeMax}` : ''}${r.remoteIpPrefix ? ` from ${r.remoteIpPrefix}` : ''}${r.remoteGroupId ? ` group ${r.remoteGroupId === sg ? 'self' : r.remoteGroupId}` : ''}${r.remoteAddressGroupId ? ' address-group' : ''}`)
      .sort();

  it('answers infoFor with the rules, members and address groups made through the API, and follows API changes', async () => {
    const l = lab!;
    const net = await l.createNetwork({ name: 'sg-net' });
    await l.createSubnet(net.id, '192.0.2.0/24');
    const ag = (await createAddressGroup(l, 'partners', ['203.0.113.0/28'])).id;
    const sg = (
      await createSecurityGroup(l, 'web', [
        { direction: 'ingress', protocol: 'tcp', port_range_min: 22, port_range_max: 22, remote_ip_prefix: '198.51.100.0/24' },
        { direction: 'ingress', remote_group_id: 'self' },
        { direction: 'ingress', protocol: 'udp', port_range_min: 53, port_range_max: 53, remote_address_group_id: ag },
        { direction: 'egress', ethertype: 'IPv6' },
      ])
    ).sg.id;
    // Made in the group at once: a port created in the default group and moved right after would be
    // cached from its first push, the move's push still on its way.
    const p1 = await createFilteredPort(l, net.id, { name: 'vm1', host: 'sg-host', securityGroups: [sg] });
    const p2 = await createFilteredPort(l, net.id, { name: 'vm2', host: 'sg-host', securityGroups: [sg], allowedAddressPairs: [{ ip_address: '192.0.2.200' }] });
    const ip = (p: NeutronPort) => p.fixed_ips[0]!.ip_address;

    let info = await source.infoFor([await fwPort(p1.id), await fwPort(p2.id)]);
    assert.deepEqual([...info.securityGroups.keys()], [sg]);
    assert.equal(info.securityGroups.get(sg)!.stateful, true);
    assert.deepEqual(rulesOf(info, sg), [
      'egress IPv6 any',
      'ingress IPv4 tcp 22-22 from 198.51.100.0/24',
      'ingress IPv4 udp 53-53 address-group',
      'ingress IPv4 any group self',
    ].sort());
    // The group's members for its IPv4 rule: both ports' fixed IPs and p2's allowed address pair.
    const expected = [
      [ip(p1), p1.mac_address],
      [ip(p2), p2.mac_address],
      ['192.0.2.200/32', p2.mac_address],
    ].sort((a, b) => a[0]!.localeCompare(b[0]!));
    assert.deepEqual(info.members.get(sg), { IPv4: expected, IPv6: [] });
    assert.deepEqual(info.addressGroups.get(ag), { IPv4: ['203.0.113.0/28'], IPv6: [] });
    changes.length = 0;

    // A rule added through the API: its group's rules changed, and infoFor has it.
    const icmp = await createRule(l, sg, { direction: 'ingress', protocol: 'icmp' });
    await changeWhere((c) => c.rulesChanged.has(sg), `rulesChanged ${sg}`);
    info = await source.infoFor([await fwPort(p1.id)]);
    assert.ok(info.securityGroups.get(sg)!.rules.some((r) => r.id === icmp.id && r.protocol === 'icmp'));

    // p1's IP changed through the API: the group's members changed, and infoFor has the new address.
    const subnetId = p1.fixed_ips[0]!.subnet_id;
    await l.updatePort(p1.id, { fixed_ips: [{ subnet_id: subnetId, ip_address: '192.0.2.50' }] });
    await changeWhere((c) => c.membersChanged.has(sg), `membersChanged ${sg}`);
    info = await source.infoFor([await fwPort(p2.id)]);
    const v4 = info.members.get(sg)!.IPv4;
    assert.ok(v4.some(([a, m]) => a === '192.0.2.50' && m === p1.mac_address), JSON.stringify(v4));
    assert.ok(!v4.some(([a]) => a === ip(p1)), `old address ${ip(p1)} still a member: ${JSON.stringify(v4)}`);

    // The address group gains a CIDR: it changed, so did the group whose rule refers to it.
    await l.api('PUT', `/v2.0/address-groups/${ag}/add_addresses`, { addresses: ['203.0.113.64/28'] });
    const c = await changeWhere((x) => x.addressGroupsChanged.has(ag), `addressGroupsChanged ${ag}`);
    assert.ok(c.rulesChanged.has(sg), JSON.stringify(show(c)));
    info = await source.infoFor([await fwPort(p2.id)]);
    assert.deepEqual(info.addressGroups.get(ag)!.IPv4.sort(), ['203.0.113.0/28', '203.0.113.64/28']);

    // The rule deleted through the API: a rules change again, and it is gone.
    await deleteRule(l, icmp.id);
    await changeWhere((x) => x.rulesChanged.has(sg), `rulesChanged ${sg} after the delete`);
    info = await source.infoFor([await fwPort(p2.id)]);
    assert.ok(!info.securityGroups.get(sg)!.rules.some((r) => r.id === icmp.id));
  });
});
