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
export function trunkReferenceIni(ovs: PrivateOvs): string {
  return ['[securitygroup]', 'firewall_driver = openvswitch', '[agent]', `root_helper = env OVS_RUNDIR=${ovs.dir}`, ''].join('\n');
}

/** Waits for the reference's start-up to finish: its base flows, alive in the API, its first loop iteration done. */
export async function waitReferenceReady(agent: RunningAgent, ovs: PrivateOvs, lab: NeutronLab, host: string): Promise<void> {
  const logText = (): string => readFileSync(join(agent.dir, 'agent.log'), 'utf8');
  await until('default flows', agent, 120000, () => defaultFlowsReady(ovs), 250);
  await until('firewall base flows', agent, 60000, async () => (await ovs.dumpFlows('br-int')).some((f) => f.includes('table=94')), 250);
  await until('agent alive in the API', agent, 120000, async () => (await agentRecord(lab, host))?.alive === true, 500);
  await until('first rpc_loop iteration', agent, 180000, async () => /rpc_loop - iteration:0 completed/.test(logText()), 500);
}

/** Which agent a trunk test drives: the reference, or ours with one OpenFlow backend. */
export type TrunkAgentRun = 'reference' | 'native' | 'ovs-ofctl';

/** The runs of a trunk test: ours with each backend, or (TRUNK_TEST_AGENT=reference) the reference once. */
export function trunkTestRuns(): readonly TrunkAgentRun[] {
  return process.env['TRUNK_TEST_AGENT'] === 'reference' ? ['reference'] : ['native', 'ovs-ofctl'];
}

/** Starts the agent of `run` on `host` with the OVS firewall; resolves once its start-up is over. */
export async function startTrunkAgent(run: TrunkAgentRun, lab: NeutronLab, ovs: PrivateOvs, host: string): Promise<RunningAgent> {
  if (run === 'reference') {
    const agent = await RunningAgent.start('reference', { host, transportUrl: lab.transportUrl, ovs, extraIni: trunkReferenceIni(ovs) });
    await waitReferenceReady(agent, ovs, lab, host);
    return agent;
  }
  const agent = await RunningAgent.start('ours', { host, transportUrl: lab.transportUrl, ovs, ofInterface: run, extraIni: '[securitygroup]\nfirewall_driver = openvswitch\n' });
  await until('first full sync', agent, 60000, async () => /first full sync done/.test(agent.log(1_000_000)), 100);
  return agent;
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
