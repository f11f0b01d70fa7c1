// The reference-capture programs' driver (test/integration/*/capture.ts): the reference agent
// started on the capture's lab and private OVS and waited for, the scenario run with it (restarts
// included, each waited for from where its log had got to), a failure carrying the agent's log
// tail, and the VMs and the agent ended whatever happened. What each capture writes stays its own.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { NeutronLab } from '../../lab/neutron.js';
import type { PrivateOvs } from '../../lab/ovs.js';
import { cleanupAllVms } from '../../lab/vm.js';
import { RunningAgent, agentRecord, defaultFlowsReady, until, type AgentConfig } from '../../bench/agents.js';
import { captureFailure, captureLog } from './capture-cli.js';

/** The reference's whole log; empty before it has written one. */
function referenceLog(agent: RunningAgent): string {
  try {
    return readFileSync(join(agent.dir, 'agent.log'), 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw e;
  }
}

/** A check the reference must pass once its default flows are in, before it counts as started. */
export type ReadyCheck = readonly [what: string, check: () => Promise<boolean>];

export interface ReferenceCapture {
  lab: NeutronLab;
  ovs: PrivateOvs;
  /** The agent's configuration; its host is the one the API must report alive. */
  cfg: AgentConfig;
  /** What the extension sets up at start-up (60 s each), beyond the default flows. */
  readyChecks?: readonly ReadyCheck[];
  /** Written with the agent's whole log once it is stopped (the capture's *_KEEP_LOG variable). */
  keepLogAt?: string | undefined;
  /** Put before a failure's message (which of several captures of one run failed). */
  context?: string;
}

/** What the scenario is given to drive the agent. */
export interface ReferenceHooks {
  assertAgentRunning(): void;
  /** Stops the reference and starts it again on the same files, waiting until it is ready again. */
  restartAgent(): Promise<void>;
}

/**
 * Waits for the reference's start-up to finish: its default flows, `readyChecks`, alive in the
 * API, and its first loop iteration logged after `from` characters of its log.
 */
async function waitReady(agent: RunningAgent, c: ReferenceCapture, from: number): Promise<void> {
  await until('default flows', agent, 120000, () => defaultFlowsReady(c.ovs), 250);
  for (const [what, check] of c.readyChecks ?? []) await until(what, agent, 60000, check, 250);
  await until('agent alive in the API', agent, 120000, async () => (await agentRecord(c.lab, c.cfg.host))?.alive === true, 500);
  await until('first rpc_loop iteration', agent, 180000, async () => /rpc_loop - iteration:0 completed/.test(referenceLog(agent).slice(from)), 500);
}

/** Runs `scenario` with the reference agent started and ready; see the file's comment. */
export async function captureWithReference<T>(c: ReferenceCapture, scenario: (hooks: ReferenceHooks) => Promise<T>): Promise<T> {
  let agent: RunningAgent | undefined;
  try {
    agent = await RunningAgent.start('reference', c.cfg);
    await waitReady(agent, c, 0);
    return await scenario({
      assertAgentRunning: () => agent?.assertRunning(),
      restartAgent: async () => {
        const old = agent!;
        const from = referenceLog(old).length;
        await old.stop(10000);
        agent = await RunningAgent.start('reference', c.cfg, old.dir);
        await waitReady(agent, c, from);
      },
    });
  } catch (e) {
    throw captureFailure(e, agent?.log(6000), c.context);
  } finally {
    await cleanupAllVms().catch((e: unknown) => captureLog(`${c.context ? `${c.context}: ` : ''}VM cleanup: ${String(e)}`));
    if (agent) {
      await agent.stop(5000);
      if (c.keepLogAt) writeFileSync(c.keepLogAt, referenceLog(agent));
      agent.cleanup();
    }
  }
}
