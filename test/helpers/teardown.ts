// The `after` of a test file that plugged VMs and ran an agent on a private OVS with a neutron lab:
// what it started is ended in the order that frees each part before the part under it. Every step
// is tried even when one before it failed (a failed agent stop must not leave OVS running); each
// failure is written to stderr naming the file's `what` and the step, and the hook then fails with
// them all, so nothing left behind goes unsaid.
import { cleanupAllVms } from '../../lab/vm.js';

/** What a teardown step needs of an agent: RunningAgent (bench/agents.ts) and AgentProcess (lab/agent-process.ts) both fit. */
export interface StoppableAgent {
  stop(): Promise<unknown>;
  cleanup(): void;
}

export interface TestHostParts {
  /** Stopped, then its files removed; one or several (two hosts, a restarted one's successor). */
  agent?: StoppableAgent | readonly StoppableAgent[] | undefined;
  ovs?: { stop(): Promise<void> } | undefined;
  lab?: { stop(): Promise<void> } | undefined;
  /** Undone once the agents are stopped and before OVS stops, in order: what each is, and how. */
  also?: ReadonlyArray<readonly [string, () => unknown]>;
}

/** Ends the VMs, the agents, `also`, OVS and the lab, in that order; see the file's comment. */
export async function tearDownTestHost(what: string, parts: TestHostParts): Promise<void> {
  const agents: readonly StoppableAgent[] = parts.agent === undefined ? [] : 'stop' in parts.agent ? [parts.agent] : parts.agent;
  const steps: Array<readonly [string, () => unknown]> = [
    ['removing the VMs\' namespaces and links', () => cleanupAllVms()],
    ...agents.map((a, i) => [`stopping the agent${agents.length > 1 ? ` (${i + 1} of ${agents.length})` : ''}`, async () => {
      await a.stop();
      a.cleanup();
    }] as const),
    ...(parts.also ?? []),
    ...(parts.ovs ? [['stopping OVS', () => parts.ovs!.stop()] as const] : []),
    ...(parts.lab ? [['stopping the neutron lab', () => parts.lab!.stop()] as const] : []),
  ];
  const failures: string[] = [];
  for (const [step, run] of steps) {
    try {
      await run();
    } catch (e) {
      const failure = `${what}: ${step} failed: ${e instanceof Error ? e.message : String(e)}`;
      process.stderr.write(`${failure}\n`);
      failures.push(failure);
    }
  }
  if (failures.length) throw new Error(`teardown left things behind:\n${failures.join('\n')}`);
}
