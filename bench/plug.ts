// Ports plugged (the ovs-vsctl transaction adding them returned) → flows installed (live tag and
// anti-spoofing flows of every port) and → every port ACTIVE in the API; 1 port, then 200, then 1000
// plugged at once (sizes accumulate on one running agent). Also the resident memory of each agent
// after start-up and with all those ports wired (the reference's privsep helpers apart).
//   node dist/bench/plug.js [--runs N] [--sizes 1,200,1000] [--timeout-s S] [--no-reference]
import { type NeutronLab } from '../lab/neutron.js';
import { startLab } from '../lab/host.js';
import { argInt, haveReference, report, type Series } from './lib.js';
import {
  addPorts, missingReferenceNote, runRounds, sleep, startOvs, startReadyAgent, uniqueHost, waitPorts, type Side, type WaitResult,
} from './agents.js';

interface Run {
  bySize: WaitResult[];
  rssStart: { agent: number; privsep: number };
  rssLoaded: { agent: number; privsep: number };
}

function argList(name: string, dflt: number[]): number[] {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1]!.split(',').map(Number) : dflt;
}

async function runOnce(lab: NeutronLab, side: Side, sizes: number[], timeoutMs: number): Promise<Run> {
  const ovs = await startOvs();
  const host = uniqueHost(side);
  const agent = await startReadyAgent(lab, side, ovs, host).catch(async (e: unknown) => {
    await ovs.stop();
    throw e;
  });
  try {
    await sleep(3000); // let start-up finish (first sync, privsep helpers) before measuring memory
    const rssStart = agent.rss();
    const bySize: WaitResult[] = [];
    for (const n of sizes) {
      const { networkId, ports } = await addPorts(lab, ovs, host, n, `plug-${host}-${n}`);
      const t0 = performance.now();
      const w = await waitPorts(t0, { ovs, lab, networkId, ports, timeoutMs, agent });
      process.stderr.write(`# ${side} ${n} ports: flows ${w.flowsMs.toFixed(0)} ms (${w.flows}), ACTIVE ${w.activeMs.toFixed(0)} ms (${w.active})\n`);
      bySize.push(w);
    }
    await sleep(2000);
    return { bySize, rssStart, rssLoaded: agent.rss() };
  } finally {
    await agent.stop();
    agent.cleanup();
    await ovs.stop();
  }
}

async function main(): Promise<void> {
  const runs = argInt('runs', 3);
  const sizes = argList('sizes', [1, 200, 1000]);
  const timeoutMs = argInt('timeout-s', 900) * 1000;
  const ref = haveReference();
  const lab = await startLab();
  try {
    const res = await runRounds(runs, ref, (side) => runOnce(lab, side, sizes, timeoutMs));
    const skipped = missingReferenceNote(ref, res.reference.length);
    const rows: Series[] = [];
    const total = sizes.reduce((a, b) => a + b, 0);
    sizes.forEach((n, i) => {
      for (const [what, ms, count] of [['flows installed', 'flowsMs', 'flows'], ['ACTIVE in the API', 'activeMs', 'active']] as const) {
        const ours = res.ours.map((r) => r.bySize[i]![ms]).filter((x) => !Number.isNaN(x));
        const refAll = res.reference.map((r) => r.bySize[i]!);
        const reference = refAll.map((w) => w[ms]).filter((x) => !Number.isNaN(x));
        let note = skipped;
        if (!note && reference.length < refAll.length) {
          note = `not done within ${timeoutMs / 1000} s (reached ${refAll.map((w) => `${w[count]}/${n}`).join(', ')})`;
        }
        const oursTimedOut = res.ours.filter((r) => Number.isNaN(r.bySize[i]![ms])).map((r) => `${r.bySize[i]![count]}/${n}`);
        rows.push({
          label: `${n} port${n > 1 ? 's' : ''} plugged → ${what}${oursTimedOut.length ? ` (ours timed out: ${oursTimedOut.join(', ')})` : ''}`,
          unit: 'ms', ours, reference: note && reference.length === 0 ? [] : reference, ...(note ? { referenceNote: note } : {}),
        });
      }
    });
    const mem = (label: string, pick: (r: Run) => number, refOnly = false): Series => ({
      label, unit: 'MiB', ours: refOnly ? [0] : res.ours.map(pick), reference: res.reference.map(pick), ...(skipped ? { referenceNote: skipped } : {}),
    });
    rows.push(mem('RSS after start-up (agent process)', (r) => r.rssStart.agent));
    rows.push(mem(`RSS with ${total} ports wired (agent process)`, (r) => r.rssLoaded.agent));
    rows.push(mem('RSS of the privsep helpers after start-up (ours has none)', (r) => r.rssStart.privsep, true));
    rows.push(mem(`RSS of the privsep helpers with ${total} ports (ours has none)`, (r) => r.rssLoaded.privsep, true));
    report('plug', `Ports plugged at once → flows installed / ACTIVE (sizes ${sizes.join(', ')}, accumulating), and memory`, rows, { runs, sizes, timeoutMs });
  } finally {
    await lab.stop();
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`bench plug failed: ${e instanceof Error ? e.stack : String(e)}\n`);
  process.exit(1);
});
