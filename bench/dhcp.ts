// The `dhcp` agent extension, ours against the reference, both with `[agent] extensions = dhcp`
// (`[dhcp] enable_ipv6` at its default, True; the reference's root commands reach the private OVS
// through `root_helper = env OVS_RUNDIR=<dir>`, as bench/qos.ts). Per run: a vxlan network with a
// DHCP-enabled IPv4 subnet and a stateful DHCPv6 subnet (gateways, a DNS server) and no DHCP agent,
// one compute port bound to the host and plugged as a VM with no address; once the port is ACTIVE
// and its table 77 and 78 flows are in, a client in the VM's namespace (Python on an AF_PACKET
// socket: lab/dhcp-client.ts, as the dhcp tests use) does one untimed warm-up exchange,
// then --requests (20) DISCOVER → OFFER and REQUEST → ACK exchanges one after another, each with
// its own xid and no retransmission, and then as many DHCPv6 SOLICIT → ADVERTISE and REQUEST →
// REPLY: the time from the request's send() to the reply's recv(), through the agent's packet-in,
// its reply and the packet-out (the reference sends each reply more than once: the first counts).
// A request not answered within 2 s counts as lost. --runs (3) per side; the rows pool every
// exchange of every run.
//   node dist/bench/dhcp.js [--runs N] [--requests N] [--no-reference]
import { LAB_PROJECT, type NeutronLab, waitFor } from '../lab/neutron.js';
import { startLab } from '../lab/host.js';
import { type PrivateOvs } from '../lab/ovs.js';
import { plugVm, type Vm } from '../lab/vm.js';
import { timedDhcp6Exchanges, timedDhcpExchanges, type TimedDhcp6Exchanges, type TimedDhcpExchanges } from '../lab/dhcp-client.js';
import { createFilteredPort, createSecurityGroup } from '../lab/security-groups.js';
import { argInt, haveReference, report, type Series } from './lib.js';
import { endRun, missingReferenceNote, runRounds, startOvs, startReadyAgent, uniqueHost, until, type RunningAgent, type Side } from './agents.js';

function dhcpIni(ovs: PrivateOvs): string {
  return ['[agent]', 'extensions = dhcp', `root_helper = env OVS_RUNDIR=${ovs.dir}`, ''].join('\n');
}

type DhcpRun = TimedDhcpExchanges & TimedDhcp6Exchanges;

async function plugAddressless(lab: NeutronLab, ovs: PrivateOvs, agent: RunningAgent, host: string): Promise<Vm> {
  const net = await lab.createNetwork({ name: `dhcp-bench-${host}` });
  const subnet = await lab.createSubnet(net.id, '198.51.100.0/24', { gatewayIp: '198.51.100.1', dhcp: true });
  await lab.api('PUT', `/v2.0/subnets/${subnet.id}`, { subnet: { dns_nameservers: ['203.0.113.53'] } });
  await lab.api('POST', '/v2.0/subnets', {
    subnet: {
      network_id: net.id, tenant_id: LAB_PROJECT, ip_version: 6, cidr: '2001:db8:64::/64', gateway_ip: '2001:db8:64::1', enable_dhcp: true,
      ipv6_address_mode: 'dhcpv6-stateful', dns_nameservers: ['2001:db8::53'],
    },
  });
  const { sg } = await createSecurityGroup(lab, `sg-dhcp-bench-${host}`, [{ direction: 'ingress', protocol: 'icmp' }]);
  const port = await createFilteredPort(lab, net.id, { name: `dhcp-${host}`, host, ip: '198.51.100.30', ip6: '2001:db8:64::30', securityGroups: [sg.id] });
  const vm = await plugVm(ovs, port, { address: false });
  await waitFor(async () => {
    agent.assertRunning();
    return (await lab.getPort(port.id)).status === 'ACTIVE';
  }, 120000, `${agent.side}: port ACTIVE`, 250);
  const mac = port.mac_address.toLowerCase();
  const flowIn = async (table: number): Promise<boolean> => (await ovs.ofctl('-O', 'OpenFlow13', 'dump-flows', 'br-int', `table=${table}`)).includes(`dl_src=${mac}`);
  await until('the port\'s table 77 and 78 flows', agent, 60000, async () => (await flowIn(77)) && (await flowIn(78)), 100);
  return vm;
}

async function dhcpOnce(lab: NeutronLab, side: Side, requests: number, runNo: number): Promise<DhcpRun> {
  const ovs = await startOvs();
  const host = uniqueHost(side);
  let agent: RunningAgent | undefined;
  let vm: Vm | undefined;
  try {
    agent = await startReadyAgent(lab, side, ovs, host, dhcpIni(ovs));
    vm = await plugAddressless(lab, ovs, agent, host);
    const xid0 = 0x0d000000 + runNo * 0x10000;
    const v4 = await timedDhcpExchanges(vm.netns, vm.mac, xid0, requests);
    const v6 = await timedDhcp6Exchanges(vm.netns, vm.mac, xid0 & 0xffffff, requests);
    const r = { ...v4, ...v6 };
    const ok = (xs: (number | null)[]): number[] => xs.filter((x): x is number => x !== null);
    const med = (xs: (number | null)[]): string => (ok(xs).length ? [...ok(xs)].sort((a, b) => a - b)[Math.floor(ok(xs).length / 2)]!.toFixed(2) : '-');
    process.stderr.write(`# ${side}: DISCOVER → OFFER ${med(r.offer)} ms, REQUEST → ACK ${med(r.ack)} ms, SOLICIT → ADVERTISE ${med(r.advertise)} ms, REQUEST → REPLY ${med(r.reply)} ms\n`);
    return r;
  } finally {
    await vm?.unplug();
    await endRun(agent, ovs);
  }
}

function rows(res: Record<Side, DhcpRun[]>, skipped: string | undefined, requests: number): Series[] {
  const pooled = (rs: DhcpRun[], k: keyof DhcpRun): number[] => rs.flatMap((r) => r[k].filter((x): x is number => x !== null));
  const lost = (rs: DhcpRun[]): number[] => rs.map((r) => [r.offer, r.ack, r.advertise, r.reply].reduce((n, xs) => n + xs.filter((x) => x === null).length, 0));
  const note = skipped ? { referenceNote: skipped } : {};
  return [
    { label: `DISCOVER sent → OFFER received (${requests} a run, every run pooled)`, unit: 'ms', ours: pooled(res.ours, 'offer'), reference: pooled(res.reference, 'offer'), ...note },
    { label: `REQUEST sent → ACK received (${requests} a run, every run pooled)`, unit: 'ms', ours: pooled(res.ours, 'ack'), reference: pooled(res.reference, 'ack'), ...note },
    { label: `DHCPv6 SOLICIT sent → ADVERTISE received (${requests} a run, every run pooled)`, unit: 'ms', ours: pooled(res.ours, 'advertise'), reference: pooled(res.reference, 'advertise'), ...note },
    { label: `DHCPv6 REQUEST sent → REPLY received (${requests} a run, every run pooled)`, unit: 'ms', ours: pooled(res.ours, 'reply'), reference: pooled(res.reference, 'reply'), ...note },
    { label: `requests not answered within 2 s (of ${4 * requests} a run)`, unit: 'count', ours: lost(res.ours), reference: lost(res.reference), ...note },
  ];
}

async function main(): Promise<void> {
  const runs = argInt('runs', 3);
  const requests = argInt('requests', 20);
  const ref = haveReference();
  const lab = await startLab();
  try {
    let runNo = 0;
    const res = await runRounds(runs, ref, (side) => dhcpOnce(lab, side, requests, runNo++));
    report('dhcp', 'The dhcp extension: a DHCP request → its reply, in the VM', rows(res, missingReferenceNote(ref, res.reference.length), requests), { runs, requests });
  } finally {
    await lab.stop();
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`dhcp bench failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
