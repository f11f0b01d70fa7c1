// The dhcp extension's DHCPv6 scenario, runnable against either agent (test/fixtures/reference/
// dhcp/lab-v6.json holds the reference's run, scripts/capture-dhcp-reference.sh --v6): both agents
// with `[agent] extensions = dhcp` and `[dhcp] enable_ipv6` left at its default, True. One vxlan
// network with an IPv4 subnet and a stateful DHCPv6 subnet (gateway, a DNS server) and no DHCP
// agent; VM A plugged with no address gets its IPv6 address by DHCPv6 from the agent (our own
// client, lab/dhcp-client.ts, fixed transaction id), configures it and pings VM B's static IPv6 address;
// then A's port is deleted. br-int's tables 60 (its DHCP flows), 77 and 78 are captured once A is
// wired and once it is gone.
import type { NeutronLab } from '../../../lab/neutron.js';
import { LAB_PROJECT, waitFor } from '../../../lab/neutron.js';
import type { PrivateOvs } from '../../../lab/ovs.js';
import { ping } from '../../../lab/vm.js';
import { createSecurityGroup } from '../../../lab/security-groups.js';
import { dhcp6Exchange, type Dhcp6Exchange } from '../../../lab/dhcp-client.js';
import { lease6 } from './replies.js';
import { dhcpFlows, plug, type DhcpScenarioContext } from './scenario.js';

export interface Dhcp6ScenarioResult {
  flowsWired: string[];
  flowsDeleted: string[];
  replies: Dhcp6Exchange;
  /** Echo replies A got from B's IPv6 address with its DHCPv6 address. */
  pings: number;
}

/** Both agents' configuration beyond the lab's: [dhcp] enable_ipv6 is the default, True. */
export function dhcp6AgentIni(ovs: PrivateOvs): string {
  return ['[agent]', 'extensions = dhcp', `root_helper = env OVS_RUNDIR=${ovs.dir}`, ''].join('\n');
}

export const PORTS6 = {
  A: { mac: 'fa:16:3e:66:00:0a', ip: '198.51.100.40', ip6: '2001:db8:64::40' },
  B: { mac: 'fa:16:3e:66:00:0b', ip: '198.51.100.41', ip6: '2001:db8:64::41' },
} as const;
const XID = 0x0a0b0c;
const TABLES = [77, 78] as const;

async function network(lab: NeutronLab): Promise<string> {
  const net = await lab.createNetwork({ name: 'dhcp6-net' });
  await lab.createSubnet(net.id, '198.51.100.0/24', { gatewayIp: '198.51.100.1', dhcp: true });
  await lab.api('POST', '/v2.0/subnets', {
    subnet: {
      network_id: net.id, tenant_id: LAB_PROJECT, ip_version: 6, cidr: '2001:db8:64::/64', gateway_ip: '2001:db8:64::1', enable_dhcp: true,
      ipv6_address_mode: 'dhcpv6-stateful', dns_nameservers: ['2001:db8::53'],
    },
  });
  return net.id;
}

export async function runDhcp6Scenario(ctx: DhcpScenarioContext): Promise<Dhcp6ScenarioResult> {
  const { lab, ovs } = ctx;
  const log = ctx.log ?? (() => undefined);
  const netId = await network(lab);
  const { sg } = await createSecurityGroup(lab, 'sg-dhcp6', [{ direction: 'ingress', ethertype: 'IPv6', protocol: 'ipv6-icmp' }]);
  const a = await plug(ctx, netId, sg.id, 'A', PORTS6.A, false);
  const b = await plug(ctx, netId, sg.id, 'B', PORTS6.B, true);
  const wired = async (): Promise<boolean> => (await dhcpFlows(ovs, TABLES)).filter((f) => f.includes(`dl_src=${PORTS6.A.mac}`)).length === 2;
  await waitFor(wired, 60000, 'A\'s DHCP flows in tables 77 and 78', 250);
  const flowsWired = await dhcpFlows(ovs, TABLES);
  log('A wired; asking for an address by DHCPv6');
  const replies = await dhcp6Exchange(a.netns, PORTS6.A.mac, XID);
  const l = lease6(replies.reply);
  await a.exec('ip', ['-6', 'addr', 'add', `${l.address}/64`, 'dev', 'eth0', 'nodad']);
  const pings = await ping(a, PORTS6.B.ip6, { count: 3, timeoutMs: 10000 });
  log(`A got ${l.address} (DNS ${l.dns.join(', ')}, FQDN ${String(l.fqdn)}), ${pings} echo replies from B`);
  await a.unplug();
  await lab.api('DELETE', `/v2.0/ports/${a.portId}`);
  await waitFor(async () => !(await dhcpFlows(ovs, TABLES)).some((f) => f.includes(`dl_src=${PORTS6.A.mac}`)), 60000, 'A\'s DHCP flows gone', 250);
  const flowsDeleted = await dhcpFlows(ovs, TABLES);
  await b.unplug();
  return { flowsWired, flowsDeleted, replies, pings };
}
