// The `log` agent extension under a packet storm, ours against the reference, both with
// `[agent] extensions = log`, `firewall_driver = openvswitch`, `[network_log] local_output_log_base`
// (default rate_limit 100, burst_limit 25). Port A is logged (event ALL) and admits only TCP 22.
// VM B floods A's UDP port 9 (dropped: every packet goes to the controller, Open vSwitch passes at
// most rate_limit of them per second) for --seconds (8); meanwhile VM C opens a TCP connection to
// A's port 22 every 500 ms (accepted: its first packet is logged). Measured per run:
//   - DROP lines written per second during the storm (the rate limit's doing in both agents),
//   - probe connect → its ACCEPT line in the file, ms (median of the probes whose line came),
//   - probes whose line came at all (C's packet-ins queue apart from B's in Open vSwitch),
//   - the agent's CPU over the storm (its helpers apart), % of one core.
//   node dist/bench/log.js [--runs N] [--seconds S] [--no-reference]
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { LAB_PROJECT, type NeutronLab } from '../lab/neutron.js';
import { startLab } from '../lab/host.js';
import type { PrivateOvs } from '../lab/ovs.js';
import { plugVm, type Vm } from '../lab/vm.js';
import { probeTcp } from '../lab/traffic.js';
import { Listener } from '../lab/traffic.js';
import { createFilteredPort, createSecurityGroup } from '../lab/security-groups.js';
import { waitFor } from '../lab/neutron.js';
import { argInt, cpuSeconds, haveReference, report } from './lib.js';
import { endRun, runRounds, seriesOf, sleep, startOvs, startReadyAgent, uniqueHost, until, type RunningAgent, type Side } from './agents.js';

interface StormResult {
  dropLinesPerSec: number;
  probeLineMs: number;
  probesLogged: number;
  probes: number;
  agentCpuPct: number;
}

const IPS = { A: '203.0.113.10', B: '203.0.113.11', C: '203.0.113.12' } as const;

/** UDP datagrams to host:port as fast as the socket takes them, for `seconds`, from inside a VM. */
const FLOOD = `const d=require('dgram').createSocket('udp4');const [h,p,s]=JSON.parse(process.argv[1]);const b=Buffer.alloc(32);const end=Date.now()+s*1000;
function go(){for(let i=0;i<64;i++)d.send(b,p,h);if(Date.now()<end)setImmediate(go);else d.close();}go();`;

function flood(vm: Vm, host: string, port: number, seconds: number): Promise<void> {
  const child = spawn('ip', ['netns', 'exec', vm.netns, process.execPath, '-e', FLOOD, JSON.stringify([host, port, seconds])], { stdio: 'ignore' });
  return new Promise((resolve) => child.on('exit', () => resolve()));
}

function logIni(ovs: PrivateOvs, packetsLog: string): string {
  return ['[securitygroup]', 'firewall_driver = openvswitch', '[agent]', 'extensions = log', `root_helper = env OVS_RUNDIR=${ovs.dir}`, '[network_log]', `local_output_log_base = ${packetsLog}`, ''].join('\n');
}

async function plugged(lab: NeutronLab, ovs: PrivateOvs, agent: RunningAgent, net: string, sg: string, host: string, name: keyof typeof IPS): Promise<{ vm: Vm; id: string }> {
  const port = await createFilteredPort(lab, net, { name, host, ip: IPS[name], securityGroups: [sg] });
  const vm = await plugVm(ovs, port);
  await waitFor(async () => {
    agent.assertRunning();
    return (await lab.getPort(port.id)).status === 'ACTIVE';
  }, 120000, `port ${name} ACTIVE`, 200);
  return { vm, id: port.id };
}

const count = (text: string, re: RegExp): number => text.split('\n').filter((l) => re.test(l)).length;

async function once(lab: NeutronLab, side: Side, seconds: number): Promise<StormResult> {
  const ovs = await startOvs();
  const work = mkdtempSync(join(tmpdir(), 'benchlog-'));
  const packetsLog = join(work, 'packets.log');
  const host = uniqueHost(side);
  let agent: RunningAgent | undefined;
  const vms: Vm[] = [];
  try {
    agent = await startReadyAgent(lab, side, ovs, host, logIni(ovs, packetsLog));
    const a0 = agent;
    const net = (await lab.createNetwork({ name: `log-${host}` })).id;
    await lab.createSubnet(net, '203.0.113.0/24', { gatewayIp: null });
    const { sg } = await createSecurityGroup(lab, `log-${host}`, [{ direction: 'ingress', protocol: 'tcp', port_range_min: 22, port_range_max: 22 }, { direction: 'egress' }]);
    const a = await plugged(lab, ovs, a0, net, sg.id, host, 'A');
    const b = await plugged(lab, ovs, a0, net, sg.id, host, 'B');
    const c = await plugged(lab, ovs, a0, net, sg.id, host, 'C');
    vms.push(a.vm, b.vm, c.vm);
    await lab.api('POST', '/v2.0/log/logs', { log: { name: `log-${host}`, resource_type: 'security_group', target_id: a.id, event: 'ALL', tenant_id: LAB_PROJECT } });
    await until('DROP log flow of A', a0, 60000, async () => (await ovs.ofctl('-O', 'OpenFlow13', 'dump-flows', 'br-int', 'table=93')).includes('priority=53'), 100);
    const listener = await Listener.start(a.vm, { tcp: [22] });
    try {
      return await storm(a0, b.vm, c.vm, packetsLog, seconds);
    } finally {
      listener.stop();
    }
  } finally {
    for (const vm of vms) await vm.unplug().catch(() => undefined);
    await endRun(agent, ovs);
    rmSync(work, { recursive: true, force: true });
  }
}

async function storm(agent: RunningAgent, b: Vm, c: Vm, packetsLog: string, seconds: number): Promise<StormResult> {
  const before = readFileSync(packetsLog, 'utf8').length;
  const cpu0 = cpuSeconds(agent.pid);
  const t0 = performance.now();
  const flooding = flood(b, IPS.A, 9, seconds);
  const latencies: number[] = [];
  let probes = 0;
  for (let srcPort = 41000; performance.now() - t0 < seconds * 1000 - 1000; srcPort++) {
    probes++;
    const sent = performance.now();
    await probeTcp(c, IPS.A, 22, { timeoutMs: 1000, srcPort });
    const seen = new RegExp(`action=ACCEPT .*src_port=${srcPort},`);
    while (performance.now() - sent < 1500) {
      if (seen.test(readFileSync(packetsLog, 'utf8').slice(before))) {
        latencies.push(performance.now() - sent);
        break;
      }
      await sleep(10);
    }
    await sleep(Math.max(0, 500 - (performance.now() - sent)));
  }
  await flooding;
  const secs = (performance.now() - t0) / 1000;
  const cpu = cpuSeconds(agent.pid) - cpu0;
  const text = readFileSync(packetsLog, 'utf8').slice(before);
  latencies.sort((x, y) => x - y);
  return {
    dropLinesPerSec: count(text, /action=DROP .*udp\(.*dst_port=9,/) / secs,
    probeLineMs: latencies.length ? latencies[Math.floor(latencies.length / 2)]! : NaN,
    probesLogged: latencies.length,
    probes,
    agentCpuPct: (100 * cpu) / secs,
  };
}

async function main(): Promise<void> {
  const runs = argInt('runs', 3);
  const seconds = argInt('seconds', 8);
  const ref = haveReference();
  const lab = await startLab();
  try {
    const res = await runRounds(runs, ref, (side) => once(lab, side, seconds));
    const s = seriesOf(res, ref);
    report('log', `Security-group logging under a packet storm (${seconds} s of UDP to a logged port's dropped port)`, [
      s('DROP lines written during the storm', 'lines/s', (r) => r.dropLinesPerSec),
      s('probe connection → its ACCEPT line', 'ms', (r) => r.probeLineMs),
      s('probes whose line came (of the probes sent)', '%', (r) => (100 * r.probesLogged) / r.probes),
      s('agent CPU during the storm', '% of a core', (r) => r.agentCpuPct),
    ]);
  } finally {
    await lab.stop();
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
