// The reference neutron-openvswitch-agent on a lab host, and the host where it and ours take turns
// as an operator swaps one for the other (reference-parity.test.ts, swap-back.test.ts).
//
// The reference leaves processes behind that are not its children by the time it ends: its privsep
// daemons detach from sudo (they carry its configuration directory on their command line) and its
// `ovsdb-client monitor` is orphaned when it is killed. Everything it started is found in /proc and
// ended by pid, never by a name pattern that could match another run's (a benchmark's reference
// agent may be running on the same machine); a process that will not end is named in an error.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { AgentProcess } from '../../lab/agent-process.js';
import { labAgentFiles, type AgentFiles } from '../../lab/agent-config.js';
import { startLabAndOvs } from '../../lab/host.js';
import { waitFor, type NeutronLab, type NeutronPort } from '../../lab/neutron.js';
import type { PrivateOvs } from '../../lab/ovs.js';
import { plugVm, type Vm } from '../../lab/vm.js';
import { note, stopLabHost, withoutLearnedFlows, type Killable } from './resilience.js';

/** True when the reference is installed. Otherwise the test is skipped (OVS_AGENT_ALLOW_SKIP=1) or failed. */
export function referenceInstalled(t: TestContext): boolean {
  if (spawnSync('sh', ['-c', 'command -v neutron-openvswitch-agent'], { stdio: 'ignore' }).status === 0) return true;
  if (process.env['OVS_AGENT_ALLOW_SKIP'] !== '1') assert.fail('neutron-openvswitch-agent (the reference) is not installed: run scripts/lab/install.sh');
  t.skip('reference agent not installed');
  return false;
}

interface ProcessEntry {
  pid: number;
  ppid: number;
  /** Clock ticks after boot the process started at: with the pid, who it is (pids are reused). */
  startTime: string;
  cmdline: string;
}

function readProcess(pid: number): ProcessEntry | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which may hold spaces: state, ppid, …, starttime (field 22).
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (rest[0] === 'Z') return undefined; // ended, waiting to be reaped
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
    return { pid, ppid: Number(rest[1]), startTime: rest[19] ?? '', cmdline };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT' || (e as NodeJS.ErrnoException).code === 'ESRCH') return undefined;
    throw new Error(`reading /proc/${pid}: ${e instanceof Error ? e.message : String(e)}`);
  }
}

function processTable(): ProcessEntry[] {
  return readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .map((d) => readProcess(Number(d)))
    .filter((p): p is ProcessEntry => p !== undefined);
}

/** Still the same running process (not ended, its pid not reused). */
const running = (p: ProcessEntry): boolean => readProcess(p.pid)?.startTime === p.startTime;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function waitEnded(procs: ProcessEntry[], timeoutMs: number): Promise<ProcessEntry[]> {
  const end = Date.now() + timeoutMs;
  let left = procs.filter(running);
  while (left.length > 0 && Date.now() < end) {
    await sleep(100);
    left = left.filter(running);
  }
  return left;
}

function signal(procs: ProcessEntry[], sig: NodeJS.Signals): void {
  for (const p of procs.filter(running)) {
    try {
      process.kill(p.pid, sig);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ESRCH') throw new Error(`${sig} to pid ${p.pid} (${p.cmdline}): ${e instanceof Error ? e.message : String(e)}`);
    }
  }
}

/** SIGTERM, then SIGKILL what is left after 5 s; returns what is still running 5 s after that. */
async function endProcesses(procs: ProcessEntry[]): Promise<ProcessEntry[]> {
  signal(procs, 'SIGTERM');
  const left = await waitEnded(procs, 5000);
  signal(left, 'SIGKILL');
  return waitEnded(left, 5000);
}

const named = (procs: ProcessEntry[]): string => procs.map((p) => `pid ${p.pid} (${p.cmdline})`).join(', ');

/** The reference agent as an operator runs it, with its configuration files in a directory of their own. */
export class ReferenceAgent {
  private exitCode: number | null | undefined;
  private readonly exited: Promise<void>;

  private constructor(
    readonly dir: string,
    private readonly child: ChildProcess,
    /** `[ovs] ovsdb_connection`, which its `ovsdb-client monitor` names. */
    private readonly ovsdbConnection: string,
  ) {
    this.exited = new Promise((r) => child.once('exit', (code) => ((this.exitCode = code), r())));
  }

  /** Starts it on the files already in `dir` (neutron.conf, openvswitch_agent.ini), logging to dir/agent.log. */
  static start(dir: string, ovs: PrivateOvs): ReferenceAgent {
    const args = ['--config-file', join(dir, 'neutron.conf'), '--config-file', join(dir, 'openvswitch_agent.ini'), '--log-file', join(dir, 'agent.log')];
    const child = spawn('neutron-openvswitch-agent', args, { env: ovs.env, stdio: 'ignore' });
    return new ReferenceAgent(dir, child, ovs.tcpConnection);
  }

  get hasExited(): boolean {
    return this.exitCode !== undefined;
  }

  /** The end of its log file. */
  logTail(chars = 3000): string {
    try {
      return readFileSync(join(this.dir, 'agent.log'), 'utf8').slice(-chars);
    } catch (e) {
      return `(no log: ${e instanceof Error ? e.message : String(e)})`;
    }
  }

  /** Waits until the server lists it alive; fails at once, with its log, if it exits first. */
  async waitAlive(lab: NeutronLab, host: string, timeoutMs = 300000): Promise<void> {
    await waitFor(async () => {
      if (this.hasExited) throw new Error(`the reference agent of ${host} exited (${String(this.exitCode)})`);
      return (await lab.listAgents()).find((a) => a.host === host && a.alive);
    }, timeoutMs, `the reference agent of ${host} alive`, 500).catch((e: unknown) => {
      throw new Error(`${e instanceof Error ? e.message : String(e)}\nreference log (end):\n${this.logTail()}`);
    });
  }

  /** Processes it started, still running: its descendants and those tied to it by its directory or its OVSDB monitor. */
  private helpers(): ProcessEntry[] {
    const table = processTable();
    const byPid = new Map(table.map((p) => [p.pid, p]));
    const descends = (p: ProcessEntry): boolean => {
      for (let q = byPid.get(p.ppid), i = 0; q && i < 64; q = byPid.get(q.ppid), i++) if (q.pid === this.child.pid) return true;
      return false;
    };
    return table.filter(
      (p) => p.pid !== this.child.pid && (descends(p) || p.cmdline.includes(this.dir) || (p.cmdline.includes('ovsdb-client') && p.cmdline.includes(this.ovsdbConnection))),
    );
  }

  /**
   * Ends it with `sig` (SIGKILL after 30 s if it has not ended by then), then every process it
   * started, by pid. Throws, naming them, if any is still running after SIGKILL.
   */
  async stop(sig: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const before = this.helpers();
    if (!this.hasExited) {
      this.child.kill(sig);
      if (await Promise.race([this.exited.then(() => false), sleep(30000).then(() => true)])) {
        note(`the reference agent (pid ${String(this.child.pid)}) did not end within 30 s of ${sig}: killing it`);
        this.child.kill('SIGKILL');
        await this.exited;
      }
    }
    const seen = new Set(before.map((p) => `${p.pid}/${p.startTime}`));
    const helpers = [...before, ...this.helpers().filter((p) => !seen.has(`${p.pid}/${p.startTime}`))];
    const left = await endProcesses(helpers);
    if (left.length > 0) throw new Error(`the reference agent's helper processes would not stop, even with SIGKILL: ${named(left)}`);
  }
}

/** The bridges of a swap host: br-phys carries physnet1 (VLAN and flat networks). */
export const SWAP_BRIDGES = ['br-int', 'br-tun', 'br-phys'] as const;

/** What a swap compares: each bridge's flows (no cookies, no learned flows) and the VMs' local VLANs. */
export interface Dataplane {
  flows: Map<string, string[]>;
  tags: string[];
}

/**
 * A lab host for swapping agents: the neutron-server lab, a private OVS (OVSDB also on TCP, as the
 * reference takes nothing else) with br-phys, and one set of configuration files both agents start
 * from, as on a host where the operator only swaps the binary. The reference's root commands (its
 * ovs-ofctl calls, its privsep daemons) reach the private OVS through `[agent] root_helper = env
 * OVS_RUNDIR=…`, so the machine's /var/run/openvswitch is left alone.
 */
export class SwapHost {
  reference?: ReferenceAgent;
  ours?: AgentProcess;
  /** Traffic the test started, ended by stop() whatever the test left running. */
  readonly running: Killable[] = [];

  private constructor(
    readonly host: string,
    readonly lab: NeutronLab,
    readonly ovs: PrivateOvs,
    /** The reference's configuration directory (ours copies the same files into one of its own). */
    readonly dir: string,
    readonly files: AgentFiles,
  ) {}

  static async start(host: string): Promise<SwapHost> {
    const [lab, ovs] = await startLabAndOvs({ tcp: true });
    try {
      await ovs.addBridge('br-phys');
    } catch (e) {
      await Promise.allSettled([lab.stop(), ovs.stop()]);
      throw e;
    }
    const dir = mkdtempSync(join(tmpdir(), 'ovs-agent-swap-'));
    const files = labAgentFiles({
      host,
      transportUrl: lab.transportUrl,
      ovsdbConnection: ovs.tcpConnection,
      bridgeMappings: 'physnet1:br-phys',
      agent: [`root_helper = env OVS_RUNDIR=${ovs.dir}`],
    });
    for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
    return new SwapHost(host, lab, ovs, dir, files);
  }

  startOurs(): AgentProcess {
    this.ours = new AgentProcess(this.files, this.ovs.env).start();
    return this.ours;
  }

  startReference(): ReferenceAgent {
    this.reference = ReferenceAgent.start(this.dir, this.ovs);
    return this.reference;
  }

  /**
   * A vxlan network with two ports, a VLAN one (segmentation id `vlanId` on physnet1) and a flat
   * one with a port each, every port plugged into a VM and ACTIVE (set so by `wiredBy`).
   */
  async plugScenario(prefix: string, vlanId: number, wiredBy: string): Promise<{ ports: NeutronPort[]; vms: Vm[] }> {
    const { lab } = this;
    const vx = await lab.createNetwork({ name: `${prefix}-vx` });
    await lab.createSubnet(vx.id, '192.0.2.0/24', { gatewayIp: null });
    const vl = await lab.createNetwork({ name: `${prefix}-vlan`, provider: { network_type: 'vlan', physical_network: 'physnet1', segmentation_id: vlanId } });
    await lab.createSubnet(vl.id, '198.51.100.0/24', { gatewayIp: null });
    const fl = await lab.createNetwork({ name: `${prefix}-flat`, provider: { network_type: 'flat', physical_network: 'physnet1' } });
    await lab.createSubnet(fl.id, '203.0.113.0/24', { gatewayIp: null });
    const ports: NeutronPort[] = [];
    const vms: Vm[] = [];
    for (const [net, name] of [[vx, 'vx1'], [vx, 'vx2'], [vl, 'vl1'], [fl, 'fl1']] as const) {
      const port = await lab.createPort(net.id, { name, host: this.host });
      ports.push(port);
      vms.push(await plugVm(this.ovs, port));
      await waitFor(async () => (await lab.getPort(port.id)).status === 'ACTIVE', 120000, `${name} ACTIVE ${wiredBy}`, 200);
    }
    return { ports, vms };
  }

  async dataplane(vms: Vm[]): Promise<Dataplane> {
    const flows = new Map<string, string[]>();
    for (const b of SWAP_BRIDGES) flows.set(b, withoutLearnedFlows(await this.ovs.dumpFlows(b)));
    return { flows, tags: await Promise.all(vms.map((v) => this.ovs.vsctl('get', 'Port', v.tap, 'tag'))) };
  }

  /**
   * Ends everything, whatever failed before: the reference and its helpers (SIGKILL), the traffic,
   * the VMs, our agent, the OVS and the lab. Throws at the end if a process would not stop.
   */
  async stop(): Promise<void> {
    const failed = await this.reference?.stop('SIGKILL').then(() => undefined, (e: unknown) => e);
    await stopLabHost({ host: this.host, running: this.running, lab: this.lab, ovs: this.ovs, agent: this.ours });
    rmSync(this.dir, { recursive: true, force: true });
    if (failed !== undefined) throw failed;
  }
}
