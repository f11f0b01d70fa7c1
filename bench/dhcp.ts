// The `dhcp` agent extension, ours against the reference, both with `[agent] extensions = dhcp`
// (`[dhcp] enable_ipv6` at its default, True; the reference's root commands reach the private OVS
// through `root_helper = env OVS_RUNDIR=<dir>`, as bench/qos.ts). Per run: a vxlan network with a
// DHCP-enabled IPv4 subnet and a stateful DHCPv6 subnet (gateways, a DNS server) and no DHCP agent,
// one compute port bound to the host and plugged as a VM with no address; once the port is ACTIVE
// and its table 77 and 78 flows are in, a client in the VM's namespace (Python on an AF_PACKET
// socket, as test/integration/dhcp/client.ts and client6.ts) does one untimed warm-up exchange,
// then --requests (20) DISCOVER → OFFER and REQUEST → ACK exchanges one after another, each with
// its own xid and no retransmission, and then as many DHCPv6 SOLICIT → ADVERTISE and REQUEST →
// REPLY: the time from the request's send() to the reply's recv(), through the agent's packet-in,
// its reply and the packet-out (the reference sends each reply more than once: the first counts).
// A request not answered within 2 s counts as lost. --runs (3) per side; the rows pool every
// exchange of every run.
//   node dist/bench/dhcp.js [--runs N] [--requests N] [--no-reference]
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { LAB_PROJECT, type NeutronLab, waitFor } from '../lab/neutron.js';
import { eui64LinkLocal } from '../src/util/addresses.js';
import { startLab } from '../lab/host.js';
import { type PrivateOvs } from '../lab/ovs.js';
import { plugVm, type Vm } from '../lab/vm.js';
import { createFilteredPort, createSecurityGroup } from '../lab/security-groups.js';
import { argInt, haveReference, report, type Series } from './lib.js';
import { endRun, missingReferenceNote, runRounds, startOvs, startReadyAgent, uniqueHost, until, type RunningAgent, type Side } from './agents.js';

const run = promisify(execFile);

function dhcpIni(ovs: PrivateOvs): string {
  return ['[agent]', 'extensions = dhcp', `root_helper = env OVS_RUNDIR=${ovs.dir}`, ''].join('\n');
}

// argv: mac, first xid, exchanges. Prints {"offer": [ms...], "ack": [ms...]} (null: lost).
const CLIENT = String.raw`
import json, socket, struct, sys, time
mac = bytes.fromhex(sys.argv[1].replace(':', '')); xid0 = int(sys.argv[2]); n = int(sys.argv[3])
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0800)); s.bind(('eth0', 0))
def csum(b):
    t = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    while t >> 16: t = (t & 0xffff) + (t >> 16)
    return ~t & 0xffff
def frame(xid, opts):
    bootp = struct.pack('!BBBBIHH4s4s4s4s16s64s128s', 1, 1, 6, 0, xid, 0, 0x8000, b'\0'*4, b'\0'*4, b'\0'*4, b'\0'*4, mac, b'', b'')
    dhcp = bootp + b'\x63\x82\x53\x63' + opts + b'\xff'
    udp = struct.pack('!HHHH', 68, 67, 8 + len(dhcp), 0) + dhcp
    ip = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0, b'\0'*4, b'\xff'*4)
    ip = ip[:10] + struct.pack('!H', csum(ip)) + ip[12:]
    return b'\xff'*6 + mac + b'\x08\x00' + ip + udp
def opt(d, tag):
    i = 240
    while i < len(d) and d[i] != 255:
        if d[i] == 0: i += 1; continue
        if d[i] == tag: return d[i+2:i+2+d[i+1]]
        i += 2 + d[i+1]
def reply(xid, want, until):
    while True:
        left = until - time.perf_counter()
        if left <= 0: return None
        s.settimeout(left)
        try: f = s.recv(4096)
        except socket.timeout: return None
        if len(f) < 42 + 240 or f[23] != 17: continue
        u = 14 + (f[14] & 15) * 4
        if struct.unpack('!HH', f[u:u+4]) != (67, 68): continue
        d = f[u+8:]
        if struct.unpack('!I', d[4:8])[0] == xid and opt(d, 53) == bytes([want]): return d
def exchange(xid, opts, want, timeout):
    t0 = time.perf_counter(); s.send(frame(xid, opts)); d = reply(xid, want, t0 + timeout)
    return d, (time.perf_counter() - t0) * 1000
param = b'\x37\x07\x01\x03\x06\x0f\x1a\x1c\x79'
def both(xid, timeout):
    d, t1 = exchange(xid, b'\x35\x01\x01' + param, 2, timeout)
    if d is None: return None, None
    a, t2 = exchange(xid, b'\x35\x01\x03\x32\x04' + d[16:20] + b'\x36\x04' + opt(d, 54) + param, 5, timeout)
    return t1, (t2 if a is not None else None)
deadline = time.perf_counter() + 30
while both(xid0, 1.0)[1] is None:
    if time.perf_counter() > deadline: sys.exit('warm-up: no DHCP OFFER and ACK within 30 s')
out = {'offer': [], 'ack': []}
for i in range(n):
    o, a = both(xid0 + 1 + i, 2.0); out['offer'].append(o); out['ack'].append(a); time.sleep(0.05)
print(json.dumps(out))
`;

// argv: mac, its link-local address, first transaction id, exchanges. Prints {"advertise": [ms...], "reply": [ms...]}.
const CLIENT6 = String.raw`
import json, socket, struct, sys, time
mac = bytes.fromhex(sys.argv[1].replace(':', '')); src = socket.inet_pton(socket.AF_INET6, sys.argv[2])
xid0 = int(sys.argv[3]); n = int(sys.argv[4]); dst = socket.inet_pton(socket.AF_INET6, 'ff02::1:2')
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x86dd)); s.bind(('eth0', 0))
def csum(b):
    if len(b) % 2: b += b'\0'
    t = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    while t >> 16: t = (t & 0xffff) + (t >> 16)
    return ~t & 0xffff
def opt(code, data): return struct.pack('!HH', code, len(data)) + data
def opts(d):
    out, i = {}, 4
    while i + 4 <= len(d):
        code, n = struct.unpack('!HH', d[i:i+4]); out.setdefault(code, d[i+4:i+4+n]); i += 4 + n
    return out
def frame(t, xid, options):
    dhcp = bytes([t]) + struct.pack('!I', xid)[1:] + b''.join(options)
    udp = struct.pack('!HHHH', 546, 547, 8 + len(dhcp), 0) + dhcp
    udp = udp[:6] + struct.pack('!H', csum(src + dst + struct.pack('!I3xB', len(udp), 17) + udp)) + udp[8:]
    return b'\x33\x33\x00\x01\x00\x02' + mac + b'\x86\xdd' + struct.pack('!IHBB', 6 << 28, len(udp), 17, 1) + src + dst + udp
def exchange(t, xid, options, want, timeout):
    t0 = time.perf_counter(); s.send(frame(t, xid, options))
    while True:
        left = t0 + timeout - time.perf_counter()
        if left <= 0: return None, None
        s.settimeout(left)
        try: f = s.recv(4096)
        except socket.timeout: return None, None
        if len(f) < 66 or f[12:14] != b'\x86\xdd' or f[20] != 17 or struct.unpack('!HH', f[54:58]) != (547, 546): continue
        d = f[62:]
        if d[0] == want and struct.unpack('!I', b'\0' + d[1:4])[0] == xid: return d, (time.perf_counter() - t0) * 1000
client = opt(1, b'\x00\x03\x00\x01' + mac); elapsed = opt(8, b'\x00\x00'); oro = opt(6, struct.pack('!HH', 23, 24))
def both(xid, timeout):
    d, t1 = exchange(1, xid, [client, elapsed, opt(3, struct.pack('!III', 1, 0, 0)), oro], 2, timeout)
    if d is None: return None, None
    o = opts(d)
    _, t2 = exchange(3, xid, [client, opt(2, o[2]), elapsed, opt(3, o[3]), oro], 7, timeout)
    return t1, t2
deadline = time.perf_counter() + 30
while both(xid0, 1.0)[1] is None:
    if time.perf_counter() > deadline: sys.exit('warm-up: no DHCPv6 ADVERTISE and REPLY within 30 s')
out = {'advertise': [], 'reply': []}
for i in range(n):
    a, r = both(xid0 + 1 + i, 2.0); out['advertise'].append(a); out['reply'].append(r); time.sleep(0.05)
print(json.dumps(out))
`;

interface DhcpRun {
  offer: (number | null)[];
  ack: (number | null)[];
  advertise: (number | null)[];
  reply: (number | null)[];
}

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
    const opts = { timeout: 30000 + requests * 5000 };
    const v4 = JSON.parse((await run('ip', ['netns', 'exec', vm.netns, 'python3', '-c', CLIENT, vm.mac, String(xid0), String(requests)], opts)).stdout) as Pick<DhcpRun, 'offer' | 'ack'>;
    const v6 = JSON.parse((await run('ip', ['netns', 'exec', vm.netns, 'python3', '-c', CLIENT6, vm.mac, eui64LinkLocal(vm.mac), String(xid0 & 0xffffff), String(requests)], opts)).stdout) as Pick<DhcpRun, 'advertise' | 'reply'>;
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
