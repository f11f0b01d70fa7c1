// The host of the trunk capture and the trunk tests: the reference's configuration beyond the
// lab's and the wait for its start-up to be over, either agent started for a test, and the
// teardown of everything a test file started.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { NeutronLab } from '../../../lab/neutron.js';
import type { PrivateOvs } from '../../../lab/ovs.js';
import { cleanupAllVms } from '../../../lab/vm.js';
import { agentRecord, defaultFlowsReady, until, RunningAgent } from '../../../bench/agents.js';
import type { TrunkFixture } from './scenario.js';

/** The reference's configuration beyond the lab's: the OVS firewall, its root commands on the private OVS. */
function trunkReferenceIni(ovs: PrivateOvs): string {
  return ['[securitygroup]', 'firewall_driver = openvswitch', '[agent]', `root_helper = env OVS_RUNDIR=${ovs.dir}`, ''].join('\n');
}

/** The agent's log after its first `from` characters (a restarted agent appends to the same file). */
function logSince(agent: RunningAgent, from: number): string {
  try {
    return readFileSync(join(agent.dir, 'agent.log'), 'utf8').slice(from);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw e;
  }
}

/** Waits for the reference's start-up to finish: its base flows, alive in the API, its first loop iteration (logged after `from`) done. */
async function waitReferenceReady(agent: RunningAgent, ovs: PrivateOvs, lab: NeutronLab, host: string, from: number): Promise<void> {
  await until('default flows', agent, 120000, () => defaultFlowsReady(ovs), 250);
  await until('firewall base flows', agent, 60000, async () => (await ovs.dumpFlows('br-int')).some((f) => f.includes('table=94')), 250);
  await until('agent alive in the API', agent, 120000, async () => (await agentRecord(lab, host))?.alive === true, 500);
  await until('first rpc_loop iteration', agent, 180000, async () => /rpc_loop - iteration:0 completed/.test(logSince(agent, from)), 500);
}

/** Which agent a trunk test drives: the reference, or ours with one OpenFlow backend. */
export type TrunkAgentRun = 'reference' | 'native' | 'ovs-ofctl';

/** The runs of a trunk test: ours with each backend, or (TRUNK_TEST_AGENT=reference) the reference once. */
export function trunkTestRuns(): readonly TrunkAgentRun[] {
  return process.env['TRUNK_TEST_AGENT'] === 'reference' ? ['reference'] : ['native', 'ovs-ofctl'];
}

/**
 * Starts the agent of `run` on `host` with the OVS firewall (in `dir`, the directory of an agent
 * stopped before: the same files, its log appended to); resolves once its start-up is over.
 */
export async function startTrunkAgent(run: TrunkAgentRun, lab: NeutronLab, ovs: PrivateOvs, host: string, dir?: string): Promise<RunningAgent> {
  const cfg = { host, transportUrl: lab.transportUrl, ovs };
  const from = dir ? readFileSync(join(dir, 'agent.log'), 'utf8').length : 0;
  if (run === 'reference') {
    const agent = await RunningAgent.start('reference', { ...cfg, extraIni: trunkReferenceIni(ovs) }, ...(dir ? [dir] : []));
    await waitReferenceReady(agent, ovs, lab, host, from);
    return agent;
  }
  const agent = await RunningAgent.start('ours', { ...cfg, ofInterface: run, extraIni: '[securitygroup]\nfirewall_driver = openvswitch\n' }, ...(dir ? [dir] : []));
  await until('first full sync', agent, 60000, async () => /first full sync done/.test(logSince(agent, from)), 100);
  return agent;
}

/** Stops `old` (SIGTERM, as systemd does) and starts the same agent again on its files; resolves once it is up. */
export async function restartTrunkAgent(run: TrunkAgentRun, old: RunningAgent, lab: NeutronLab, ovs: PrivateOvs, host: string): Promise<RunningAgent> {
  await old.stop(10000);
  return startTrunkAgent(run, lab, ovs, host, old.dir);
}

/** What a trunk test file started, ended whatever failed before: VMs, the agent (and its helpers), the OVS, the lab. */
export async function endTrunkHost(h: { fixture?: TrunkFixture; agent?: RunningAgent; ovs?: PrivateOvs; lab?: NeutronLab }): Promise<void> {
  await h.fixture?.unplugAll().catch((e: unknown) => process.stderr.write(`unplugging the trunk test's VMs: ${e instanceof Error ? e.message : String(e)}\n`));
  await cleanupAllVms().catch((e: unknown) => process.stderr.write(`removing the trunk test's namespaces: ${e instanceof Error ? e.message : String(e)}\n`));
  if (h.agent) {
    await h.agent.stop(5000);
    h.agent.cleanup();
  }
  await h.ovs?.stop();
  await h.lab?.stop();
}
