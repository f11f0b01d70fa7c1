// What the neutron-server benchmarks share: a lab (neutron-server + RabbitMQ + MariaDB), either agent
// started with the same configuration against the same private OVS, ports created in bulk through the
// API and plugged in one ovs-vsctl transaction, and the observations "flows installed" (per port:
// a live VLAN tag in OVSDB and its anti-spoofing flows in br-int tables 24 and 25) and "ACTIVE in the API".
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdirSync, lstatSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { PrivateOvs, freePort } from '../lab/ovs.js';
import { NeutronLab, LAB_PROJECT, type NeutronAgent } from '../lab/neutron.js';
import { rssMiB, cpuSeconds, type Series } from './lib.js';
import { labAgentFiles } from '../lab/agent-config.js';

const run = promisify(execFile);

export type Side = 'ours' | 'reference';
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** `--flag` present on the command line. */
export function argFlag(name: string): boolean {
  return process.argv.includes(`--${name}`);
}

/** The sides to run: ours always, the reference unless --no-reference. */
export function sides(haveRef: boolean): Side[] {
  return haveRef && !argFlag('no-reference') ? ['ours', 'reference'] : ['ours'];
}

/** End one run: its agent (if it started) and the run's private OVS. */
export async function endRun(agent: RunningAgent | undefined, ovs: PrivateOvs): Promise<void> {
  await agent?.stop();
  agent?.cleanup();
  await ovs.stop();
}

/** `runs` rounds of one run per side (ours, then the reference unless --no-reference), by side. */
export async function runRounds<R>(runs: number, haveRef: boolean, once: (side: Side) => Promise<R>): Promise<Record<Side, R[]>> {
  const res: Record<Side, R[]> = { ours: [], reference: [] };
  for (let i = 0; i < runs; i++) for (const side of sides(haveRef)) res[side].push(await once(side));
  return res;
}

/** Why a table has no reference figures, if it has none. */
export function missingReferenceNote(haveRef: boolean, referenceRuns: number): string | undefined {
  return !haveRef ? 'reference agent not installed' : referenceRuns ? undefined : 'skipped (--no-reference)';
}

/** A table row with one figure picked from every run of each side. */
export function seriesOf<R>(res: Record<Side, R[]>, haveRef: boolean): (label: string, unit: string, pick: (r: R) => number) => Series {
  const note = missingReferenceNote(haveRef, res.reference.length);
  return (label, unit, pick) => ({ label, unit, ours: res.ours.map(pick), reference: res.reference.map(pick), ...(note ? { referenceNote: note } : {}) });
}

/** A private OVS (OVSDB also on TCP, as the reference needs) with br-phys, and the reference's run dir pointing at it. */
export async function startOvs(): Promise<PrivateOvs> {
  const ovs = await PrivateOvs.start({ tcp: true });
  await ovs.addBridge('br-phys');
  // The reference runs ovs-ofctl/ovs-appctl against the compiled-in run directory.
  try {
    if (lstatSync('/var/run/openvswitch').isSymbolicLink()) unlinkSync('/var/run/openvswitch');
  } catch {
    // absent
  }
  try {
    symlinkSync(ovs.dir, '/var/run/openvswitch');
  } catch (e) {
    process.stderr.write(`note: /var/run/openvswitch is not ours to point at the private OVS: ${String(e)}\n`);
  }
  return ovs;
}

export interface AgentConfig {
  host: string;
  transportUrl: string;
  ovs: PrivateOvs;
  /** Ours only: native (default) or ovs-ofctl. */
  ofInterface?: 'native' | 'ovs-ofctl';
  /** A third ini file given after the lab's two (later files win), e.g. a [securitygroup] firewall_driver. */
  extraIni?: string;
  /** The reference's program and leading arguments (default `neutron-openvswitch-agent`), e.g. neutron's fullstack entry point. */
  referenceArgv?: string[];
  /**
   * Other agents share this OVS (bench/scale.ts): an `ovsdb-client monitor` of the OVS's address is then
   * not a stray of this agent's, and only processes under the agent or naming its directory are its helpers.
   */
  sharedOvs?: boolean;
}

/** A running agent, ours or the reference, with the same configuration files. */
export class RunningAgent {
  private exited = false;
  private constructor(
    readonly side: Side,
    readonly dir: string,
    readonly child: ChildProcess,
    /** The OVS address whose `ovsdb-client monitor` strays are this agent's; undefined when the OVS is shared. */
    private readonly ovsTcp: string | undefined,
  ) {
    child.on('exit', () => (this.exited = true));
  }

  static async start(side: Side, cfg: AgentConfig, dir = mkdtempSync(join(tmpdir(), 'bench-agent-'))): Promise<RunningAgent> {
    const ofPort = await freePort();
    const files = labAgentFiles({
      host: cfg.host, transportUrl: cfg.transportUrl, ovsdbConnection: cfg.ovs.tcpConnection, bridgeMappings: 'physnet1:br-phys', ofListenPort: ofPort,
      ...(side === 'ours' && cfg.ofInterface ? { ofInterface: cfg.ofInterface } : {}),
    });
    for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
    const extra: string[] = [];
    if (cfg.extraIni !== undefined) {
      writeFileSync(join(dir, 'extra.ini'), cfg.extraIni);
      extra.push('--config-file', join(dir, 'extra.ini'));
    }
    // BENCH_AGENT_DEBUG=1: DEBUG logging (with BENCH_KEEP_LOGS, to see when each step happened).
    if (process.env.BENCH_AGENT_DEBUG) extra.push('--debug');
    const configArgs = ['--config-file', join(dir, 'neutron.conf'), '--config-file', join(dir, 'openvswitch_agent.ini'), ...extra, '--log-file', join(dir, 'agent.log')];
    const [refCmd, ...refArgs] = cfg.referenceArgv ?? ['neutron-openvswitch-agent'];
    const [cmd, args] =
      side === 'reference' ? [refCmd!, [...refArgs, ...configArgs]] : [process.execPath, [...(process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : []), resolve('bin/neutron-openvswitch-agent.js'), ...configArgs]];
    const child = spawn(cmd, args, { env: cfg.ovs.env, stdio: 'ignore' });
    return new RunningAgent(side, dir, child, cfg.sharedOvs ? undefined : cfg.ovs.tcpConnection);
  }

  get pid(): number {
    return this.child.pid!;
  }

  log(tail = 3000): string {
    try {
      return readFileSync(join(this.dir, 'agent.log'), 'utf8').slice(-tail);
    } catch {
      return '(no log)';
    }
  }

  assertRunning(): void {
    if (this.exited) throw new Error(`${this.side} agent exited; log tail:\n${this.log()}`);
  }

  /** Processes started under the agent (sudo, privsep-helper, ovsdb-client monitor), and strays tied to this run. */
  helpers(): { pid: number; cmd: string }[] {
    const parent = new Map<number, number>();
    const cmds = new Map<number, string>();
    for (const d of readdirSync('/proc')) {
      if (!/^\d+$/.test(d)) continue;
      try {
        const st = readFileSync(`/proc/${d}/stat`, 'utf8');
        parent.set(Number(d), Number(st.slice(st.lastIndexOf(')') + 2).split(' ')[1]));
        cmds.set(Number(d), readFileSync(`/proc/${d}/cmdline`, 'utf8').replace(/\0/g, ' ').trim());
      } catch {
        // gone meanwhile
      }
    }
    const out: { pid: number; cmd: string }[] = [];
    for (const [pid, cmd] of cmds) {
      if (pid === this.pid) continue;
      let p = parent.get(pid);
      let under = false;
      for (let i = 0; p && i < 20; i++, p = parent.get(p)) if (p === this.pid) under = true;
      // privsep daemons detach from sudo; they are tied to this run by its config directory.
      if (under || cmd.includes(this.dir) || (this.ovsTcp !== undefined && cmd.includes(`monitor ${this.ovsTcp}`))) out.push({ pid, cmd });
    }
    return out;
  }

  rss(): { agent: number; privsep: number } {
    return {
      agent: rssMiB(this.pid),
      privsep: this.helpers()
        .filter((h) => h.cmd.includes('privsep-helper'))
        .reduce((a, h) => a + rssMiB(h.pid), 0),
    };
  }

  cpu(): { agent: number; helpers: number } {
    return { agent: cpuSeconds(this.pid), helpers: this.helpers().reduce((a, h) => a + cpuSeconds(h.pid), 0) };
  }

  /** SIGTERM, then SIGKILL after `graceMs`; helper processes of this run are killed by pid. */
  async stop(graceMs = 10000): Promise<void> {
    const helpers = this.helpers();
    if (!this.exited) {
      this.child.kill('SIGTERM');
      const end = Date.now() + graceMs;
      while (!this.exited && Date.now() < end) await sleep(50);
      if (!this.exited) this.child.kill('SIGKILL');
      while (!this.exited) await sleep(20);
    }
    for (const h of [...helpers, ...this.helpers()]) {
      try {
        process.kill(h.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }

  cleanup(): void {
    // BENCH_KEEP_LOGS=dir: keep each agent's log there to see where time went.
    const keep = process.env.BENCH_KEEP_LOGS;
    if (keep) {
      mkdirSync(keep, { recursive: true });
      try {
        copyFileSync(join(this.dir, 'agent.log'), join(keep, `${this.side}-${Date.now()}.log`));
      } catch (e) {
        process.stderr.write(`keeping ${this.side} agent log: ${String(e)}\n`);
      }
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A vxlan network with a /20 subnet from the benchmarking range 198.18.0.0/15 (RFC 2544): room for 4000 ports. */
export async function createNetwork(lab: NeutronLab, name: string): Promise<string> {
  const net = await lab.createNetwork({ name, provider: { network_type: 'vxlan' } });
  await lab.api('POST', '/v2.0/subnets', {
    subnet: { network_id: net.id, cidr: '198.18.0.0/20', ip_version: 4, tenant_id: LAB_PROJECT, enable_dhcp: false, gateway_ip: null },
  });
  return net.id;
}

export interface BenchPort {
  id: string;
  mac: string;
  /** OVS port name, as Nova names it: tap + first 11 characters of the port id. */
  name: string;
  /** The integration bridge it is plugged into (default br-int; bench/scale.ts has one per host). */
  bridge?: string;
}

/**
 * Ports per bulk POST. neutron-server binds each port of a bulk inside the one request; on a loaded
 * machine 250 took longer than fetch's 300 s wait for the answer's headers.
 */
export const PORTS_PER_BULK = 50;

export interface CreatePortsOptions {
  /** Ports per request (default PORTS_PER_BULK). */
  chunk?: number;
  /** More fields for the i-th port (0-based over all n), e.g. its `qos_policy_id`. */
  fields?: (i: number) => Record<string, unknown>;
}

/** Ports bound to `host`, created in bulk (POST /v2.0/ports with a list), `chunk` per request. */
export async function createPorts(lab: NeutronLab, networkId: string, host: string, n: number, opts: CreatePortsOptions = {}): Promise<BenchPort[]> {
  const chunk = opts.chunk ?? PORTS_PER_BULK;
  const out: BenchPort[] = [];
  for (let i = 0; i < n; i += chunk) {
    const ports = Array.from({ length: Math.min(chunk, n - i) }, (_, j) => ({
      network_id: networkId,
      tenant_id: LAB_PROJECT,
      device_owner: 'compute:nova',
      device_id: randomUUID(),
      'binding:host_id': host,
      ...(opts.fields ? opts.fields(i + j) : {}),
    }));
    const r = await lab.api<{ ports: { id: string; mac_address: string; 'binding:vif_type': string }[] }>('POST', '/v2.0/ports', { ports });
    for (const p of r.ports) {
      if (p['binding:vif_type'] !== 'ovs') throw new Error(`port ${p.id} not bound to ${host} by the openvswitch driver (vif_type ${p['binding:vif_type']}): is the agent alive?`);
      out.push({ id: p.id, mac: p.mac_address, name: `tap${p.id.slice(0, 11)}` });
    }
  }
  return out;
}

async function vsctl(ovs: PrivateOvs, args: string[]): Promise<string> {
  try {
    const { stdout } = await run('ovs-vsctl', [`--db=${ovs.unixConnection}`, '--timeout=300', ...args], { env: ovs.env, maxBuffer: 64 << 20 });
    return stdout;
  } catch (e) {
    throw new Error(`ovs-vsctl (${args.length} args) failed: ${(e as { stderr?: string }).stderr ?? String(e)}`);
  }
}

/** Plug every port into br-int as an internal interface, as Nova/os-vif would, in ONE transaction. Returns when ovs-vswitchd has them. */
export async function plugPorts(ovs: PrivateOvs, ports: BenchPort[]): Promise<void> {
  const args: string[] = [];
  for (const p of ports) {
    args.push('--', 'add-port', p.bridge ?? 'br-int', p.name, '--', 'set', 'Interface', p.name, 'type=internal',
      `external_ids:iface-id=${p.id}`, `external_ids:attached-mac=${p.mac}`, 'external_ids:iface-status=active', `external_ids:vm-uuid=${randomUUID()}`);
  }
  await vsctl(ovs, args);
}

/** Remove every flow of the agent's bridges, as a restarted ovs-vswitchd would have none. */
export async function clearFlows(ovs: PrivateOvs): Promise<void> {
  for (const br of ['br-int', 'br-tun', 'br-phys']) await run('ovs-ofctl', ['del-flows', br], { env: ovs.env });
}

export async function unplugPorts(ovs: PrivateOvs, ports: BenchPort[]): Promise<void> {
  await vsctl(ovs, ports.flatMap((p) => ['--', '--if-exists', 'del-port', 'br-int', p.name]));
}

/** ofport of each named interface. */
export async function ofports(ovs: PrivateOvs): Promise<Map<string, number>> {
  const out = await vsctl(ovs, ['-f', 'csv', '--no-headings', '--columns=name,ofport', 'list', 'Interface']);
  const m = new Map<string, number>();
  for (const l of out.split('\n')) {
    const [name, of] = l.split(',');
    if (name && of) m.set(name.replace(/"/g, ''), Number(of));
  }
  return m;
}

/** Ports (by name) whose Port.tag is a live local VLAN (set, not 4095). */
export async function taggedPorts(ovs: PrivateOvs): Promise<Set<string>> {
  const out = await vsctl(ovs, ['-f', 'csv', '--no-headings', '--columns=name,tag', 'list', 'Port']);
  const s = new Set<string>();
  for (const l of out.split('\n')) {
    const [name, tag] = l.split(',');
    if (name && tag && /^\d+$/.test(tag) && tag !== '4095') s.add(name.replace(/"/g, ''));
  }
  return s;
}

/** br-int's flows: cookie, table and in_port of each. */
export async function intFlows(ovs: PrivateOvs, bridge = 'br-int'): Promise<{ cookie: string; table: number; inPort?: number }[]> {
  const { stdout } = await run('ovs-ofctl', ['-O', 'OpenFlow13', 'dump-flows', '--no-stats', bridge], { env: ovs.env, maxBuffer: 256 << 20 });
  const out: { cookie: string; table: number; inPort?: number }[] = [];
  for (const l of stdout.split('\n')) {
    const c = /cookie=(0x[0-9a-f]+)/.exec(l);
    if (!c) continue;
    const t = /table=(\d+)/.exec(l);
    const ip = /in_port=(\d+)/.exec(l);
    out.push({ cookie: c[1]!, table: t ? Number(t[1]) : 0, ...(ip ? { inPort: Number(ip[1]) } : {}) });
  }
  return out;
}

/** How many of the ports have their flows installed: a live tag, and anti-spoofing flows (tables 24, 25) not of an old cookie. */
export async function portsWithFlows(ovs: PrivateOvs, ports: BenchPort[], ofp: Map<string, number>, oldCookies = new Set<string>()): Promise<number> {
  const [tagged, flows] = await Promise.all([taggedPorts(ovs), intFlows(ovs)]);
  const t24 = new Set<number>();
  const t25 = new Set<number>();
  for (const f of flows) {
    if (f.inPort === undefined || oldCookies.has(f.cookie)) continue;
    if (f.table === 24) t24.add(f.inPort);
    else if (f.table === 25) t25.add(f.inPort);
  }
  let n = 0;
  for (const p of ports) {
    const of = ofp.get(p.name);
    if (of !== undefined && tagged.has(p.name) && t24.has(of) && t25.has(of)) n++;
  }
  return n;
}

/** How many of the ports are ACTIVE in the API (one list call, only id and status). */
export async function activeCount(lab: NeutronLab, networkId: string, ids: Set<string>): Promise<number> {
  const r = await lab.api<{ ports: { id: string; status: string }[] }>('GET', `/v2.0/ports?network_id=${networkId}&fields=id&fields=status`);
  return r.ports.filter((p) => ids.has(p.id) && p.status === 'ACTIVE').length;
}

export async function agentRecord(lab: NeutronLab, host: string): Promise<NeutronAgent | undefined> {
  const r = await lab.api<{ agents: NeutronAgent[] }>('GET', `/v2.0/agents?host=${host}&agent_type=Open%20vSwitch%20agent`);
  return r.agents[0];
}

export interface WaitResult {
  /** ms from t0 until every port had its flows (NaN if never). */
  flowsMs: number;
  /** ms from t0 until every port was ACTIVE (NaN if never). */
  activeMs: number;
  /** Counts reached when the wait ended. */
  flows: number;
  active: number;
}

/**
 * Polls flows and API status of the ports from t0 until both are complete or timeoutMs passes.
 * Polls every 25 ms for the first 2 s, then every 200 ms: the machine is small and polling competes with the agent.
 */
export async function waitPorts(
  t0: number,
  opts: { ovs: PrivateOvs; lab: NeutronLab; networkId: string; ports: BenchPort[]; timeoutMs: number; agent: RunningAgent; checkActive?: boolean; oldCookies?: Set<string> },
): Promise<WaitResult> {
  const ofp = await ofports(opts.ovs);
  const ids = new Set(opts.ports.map((p) => p.id));
  const n = opts.ports.length;
  const r: WaitResult = { flowsMs: NaN, activeMs: NaN, flows: 0, active: 0 };
  const checkActive = opts.checkActive ?? true;
  let lastProgress = performance.now();
  while (performance.now() - t0 < opts.timeoutMs) {
    // A long wait shows how far it got, so a stall is visible while it happens.
    if (performance.now() - lastProgress > 30000) {
      lastProgress = performance.now();
      process.stderr.write(`# ${opts.agent.side}: ${((performance.now() - t0) / 1000).toFixed(0)} s: ${r.flows}/${n} ports with flows${checkActive ? `, ${r.active}/${n} ACTIVE` : ''}\n`);
    }
    opts.agent.assertRunning();
    const now = (): number => performance.now() - t0;
    if (Number.isNaN(r.flowsMs)) {
      r.flows = await portsWithFlows(opts.ovs, opts.ports, ofp, opts.oldCookies);
      if (r.flows === n) r.flowsMs = now();
    }
    if (checkActive && Number.isNaN(r.activeMs)) {
      r.active = await activeCount(opts.lab, opts.networkId, ids);
      if (r.active === n) r.activeMs = now();
    }
    if (!Number.isNaN(r.flowsMs) && (!checkActive || !Number.isNaN(r.activeMs))) break;
    await sleep(now() < 2000 ? 25 : 200);
  }
  return r;
}

/** Starts an agent and waits for its default flows and for the server to see it alive (ports bind only to a live agent). */
export async function startReadyAgent(lab: NeutronLab, side: Side, ovs: PrivateOvs, host: string, extraIni?: string): Promise<RunningAgent> {
  const agent = await RunningAgent.start(side, { host, transportUrl: lab.transportUrl, ovs, ...(extraIni !== undefined ? { extraIni } : {}) });
  try {
    await until('default flows', agent, 120000, () => defaultFlowsReady(ovs), 100);
    await until('agent alive', agent, 120000, async () => (await agentRecord(lab, host))?.alive === true, 200);
  } catch (e) {
    await agent.stop();
    agent.cleanup();
    throw e;
  }
  return agent;
}

/** A new network with n ports bound to host, plugged into br-int in one transaction. */
export async function addPorts(lab: NeutronLab, ovs: PrivateOvs, host: string, n: number, name: string): Promise<{ networkId: string; ports: BenchPort[] }> {
  const networkId = await createNetwork(lab, name);
  const ports = await createPorts(lab, networkId, host, n);
  await plugPorts(ovs, ports);
  return { networkId, ports };
}

/** Default flows of all three bridges are there (counts as in bench/startup.ts). */
export async function defaultFlowsReady(ovs: PrivateOvs): Promise<boolean> {
  const expected: Record<string, number> = { 'br-int': 10, 'br-tun': 12, 'br-phys': 2 };
  for (const [br, n] of Object.entries(expected)) {
    let flows: string[];
    try {
      flows = await ovs.dumpFlows(br);
    } catch (e) {
      // Not created yet by the starting agent; any other failure is the benchmark's to report.
      if (/is not a bridge or a socket/.test(e instanceof Error ? e.message : String(e))) return false;
      throw e;
    }
    if (flows.length < n) return false;
  }
  return true;
}

/** Waits until `check` holds; throws with the agent's log after timeoutMs. */
export async function until(what: string, agent: RunningAgent, timeoutMs: number, check: () => Promise<boolean>, intervalMs = 25): Promise<void> {
  const t0 = performance.now();
  const end = t0 + timeoutMs;
  let lastProgress = t0;
  let lastError: unknown;
  for (;;) {
    agent.assertRunning();
    try {
      if (await check()) return;
      lastError = undefined;
    } catch (e) {
      lastError = e; // a probe failing (OVS busy, the API not answering): said if time runs out
    }
    if (performance.now() > end) {
      const cause = lastError === undefined ? '' : `; the check last failed: ${lastError instanceof Error ? lastError.message : String(lastError)}`;
      throw new Error(`${agent.side}: ${what} not within ${timeoutMs} ms${cause}; log tail:\n${agent.log()}`);
    }
    // As waitPorts: a long wait says what it waits for, so a stall shows while it happens.
    if (performance.now() - lastProgress > 30000) {
      lastProgress = performance.now();
      process.stderr.write(`# ${agent.side}: waiting for ${what}: ${((performance.now() - t0) / 1000).toFixed(0)} s of at most ${(timeoutMs / 1000).toFixed(0)} s\n`);
    }
    await sleep(intervalMs);
  }
}

let hostSeq = 0;
/** A host name unique to this run, so agent records and port bindings of runs never mix. */
export function uniqueHost(side: Side): string {
  return `bench-${side === 'ours' ? 'o' : 'r'}-${process.pid}-${hostSeq++}`;
}

/**
 * A ping every 50 ms from `iface` in `netns` to `to`; resolves with the epoch ms of the first reply.
 * No `-w`: with a deadline ping ends at its first ICMP error (an unreachable network, say), and
 * those are expected before the path exists; `timeoutMs` is kept here instead.
 */
export function firstReply(netns: string, iface: string, to: string, timeoutMs: number): { reply: Promise<number>; stop: () => void } {
  const child = spawn('ip', ['netns', 'exec', netns, 'ping', '-n', '-D', '-i', '0.05', '-I', iface, to], { stdio: ['ignore', 'pipe', 'pipe'] });
  const stop = (): void => void (child.exitCode === null && child.pid !== undefined && process.kill(child.pid));
  let out = '';
  let timer: NodeJS.Timeout | undefined;
  const reply = new Promise<number>((resolve, reject) => {
    timer = setTimeout(() => {
      stop();
      reject(new Error(`ping ${to} from ${netns} (${iface}): no reply in ${timeoutMs} ms: ${out.slice(-300)}`));
    }, timeoutMs);
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /^\[(\d+\.\d+)\] \d+ bytes from/m.exec(out);
      if (m) resolve(Number(m[1]) * 1000);
    });
    child.on('exit', (code) => reject(new Error(`ping ${to} from ${netns} (${iface}) ended (exit ${code}) with no reply: ${out.slice(-300)}`)));
    child.on('error', reject);
  });
  reply.then(() => clearTimeout(timer), () => clearTimeout(timer));
  return { reply, stop };
}
