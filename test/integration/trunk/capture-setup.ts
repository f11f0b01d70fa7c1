// The reference agent as the trunk capture and the trunk tests run it: its configuration beyond
// the lab's, and the wait for its start-up to be over.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { NeutronLab } from '../../../lab/neutron.js';
import type { PrivateOvs } from '../../../lab/ovs.js';
import { agentRecord, defaultFlowsReady, until, type RunningAgent } from '../../../bench/agents.js';

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
