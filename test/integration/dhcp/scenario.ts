// The dhcp extension's scenario, runnable against either agent (test/fixtures/reference/dhcp/
// holds the reference's run, scripts/capture-dhcp-reference.sh): one vxlan network with a
// DHCP-enabled subnet (gateway, a DNS server, a host route) and no DHCP agent; VM A plugged with
// no address gets it by DHCP from the agent (our own client, lab/dhcp-client.ts, fixed xid), configures it
// and pings VM B (a static address); then A's port is deleted. br-int's table 77 (and the
// TRANSIENT_TABLE flow steering DHCP there) is captured once A is wired and once it is gone.
import type { NeutronLab } from '../../../lab/neutron.js';
import { waitFor } from '../../../lab/neutron.js';
import type { PrivateOvs } from '../../../lab/ovs.js';
import { ping, plugVm, type Vm } from '../../../lab/vm.js';
import { createFilteredPort, createSecurityGroup } from '../../../lab/security-groups.js';
import { dhcpExchange, type DhcpExchange } from '../../../lab/dhcp-client.js';
import { lease } from './replies.js';

export interface DhcpScenarioContext {
  lab: NeutronLab;
  ovs: PrivateOvs;
  host: string;
  assertAgentRunning(): void;
  log?(line: string): void;
}

export interface DhcpScenarioResult {
  flowsWired: string[];
  flowsDeleted: string[];
  replies: DhcpExchange;
  /** Echo replies A got from B with its DHCP address. */
  pings: number;
}

/** Both agents' configuration beyond the lab's. */
export function dhcpAgentIni(ovs: PrivateOvs): string {
  return ['[agent]', 'extensions = dhcp', `root_helper = env OVS_RUNDIR=${ovs.dir}`, '[dhcp]', 'enable_ipv6 = False', ''].join('\n');
}

export const PORTS = {
  A: { mac: 'fa:16:3e:64:00:0a', ip: '198.51.100.30' },
  B: { mac: 'fa:16:3e:64:00:0b', ip: '198.51.100.31' },
} as const;
const XID = 0x0a0b0c0d;

/** Table 60's DHCP flows and the given DHCP tables (77; 78 too for DHCPv6), without counters and cookies, sorted. */
export async function dhcpFlows(ovs: PrivateOvs, tables: readonly number[] = [77]): Promise<string[]> {
  const out: string[] = [];
  for (const t of [60, ...tables]) {
    for (const l of (await ovs.ofctl('-O', 'OpenFlow13', 'dump-flows', 'br-int', `table=${t}`)).split('\n')) {
      if (!l.includes('actions=') || (t === 60 && !/tp_dst=(67|547)\b/.test(l))) continue;
      out.push(l.trim().replace(/\b(cookie=0x[0-9a-f]+|duration=[0-9.]+s|n_packets=\d+|n_bytes=\d+|idle_age=\d+|hard_age=\d+), ?/g, '').replace(/\breset_counts,? ?/g, '').replace(/ +/g, ' '));
    }
  }
  return out.sort();
}

/** VM `name` plugged on the scenario's host with its port as `spec` says (with an address on eth0 when `address`), its port ACTIVE. */
export async function plug(ctx: DhcpScenarioContext, netId: string, sgId: string, name: string, spec: { mac: string; ip: string; ip6?: string }, address: boolean): Promise<Vm> {
  const port = await createFilteredPort(ctx.lab, netId, { name, host: ctx.host, ...spec, securityGroups: [sgId] });
  const vm = await plugVm(ctx.ovs, port, { address });
  await waitFor(async () => {
    ctx.assertAgentRunning();
    return (await ctx.lab.getPort(port.id)).status === 'ACTIVE';
  }, 120000, `port ${name} ACTIVE`, 250);
  return vm;
}

export async function runDhcpScenario(ctx: DhcpScenarioContext): Promise<DhcpScenarioResult> {
  const { lab, ovs } = ctx;
  const log = ctx.log ?? (() => undefined);
  const net = await lab.createNetwork({ name: 'dhcp-net' });
  const subnet = await lab.createSubnet(net.id, '198.51.100.0/24', { gatewayIp: '198.51.100.1', dhcp: true });
  await lab.api('PUT', `/v2.0/subnets/${subnet.id}`, {
    subnet: { dns_nameservers: ['203.0.113.53'], host_routes: [{ destination: '203.0.113.0/24', nexthop: '198.51.100.254' }] },
  });
  const { sg } = await createSecurityGroup(lab, 'sg-dhcp', [{ direction: 'ingress', protocol: 'icmp' }]);
  const a = await plug(ctx, net.id, sg.id, 'A', PORTS.A, false);
  const b = await plug(ctx, net.id, sg.id, 'B', PORTS.B, true);
  await waitFor(async () => (await dhcpFlows(ovs)).some((f) => f.includes(`dl_src=${PORTS.A.mac}`)), 60000, 'A\'s DHCP flow in table 77', 250);
  const flowsWired = await dhcpFlows(ovs);
  log('A wired; asking for an address by DHCP');
  const replies = await dhcpExchange(a.netns, PORTS.A.mac, XID);
  const l = lease(replies.ack);
  await a.exec('ip', ['addr', 'add', `${l.address}/${l.prefixLen}`, 'dev', 'eth0']);
  if (l.mtu) await a.exec('ip', ['link', 'set', 'eth0', 'mtu', String(l.mtu)]);
  const pings = await ping(a, b.ip, { count: 3, timeoutMs: 8000 });
  log(`A got ${l.address}/${l.prefixLen} (mtu ${String(l.mtu)}, host ${String(l.hostName)}), ${pings} echo replies from B`);
  await a.unplug();
  await lab.api('DELETE', `/v2.0/ports/${a.portId}`);
  await waitFor(async () => !(await dhcpFlows(ovs)).some((f) => f.includes(`dl_src=${PORTS.A.mac}`)), 60000, 'A\'s DHCP flow gone', 250);
  const flowsDeleted = await dhcpFlows(ovs);
  await b.unplug();
  return { flowsWired, flowsDeleted, replies, pings };
}
