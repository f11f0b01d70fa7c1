// Captures what the reference agent's `log` extension (ovs_firewall_log) does at each step of
// scenario.ts into test/fixtures/reference/log/: <NN-step>.json (logSnapshot: br-int's tables
// 91-93 and its Controller limits), lines.json (the traffic step's logged lines, loggedLines()'s
// form) and traffic.json (what the traffic saw). One lab (its `log` service plugin on), a private
// OVS, the reference with `[agent] extensions = log`, `firewall_driver = openvswitch`,
// `[network_log] local_output_log_base`, its ovs-ofctl calls through `root_helper = env OVS_RUNDIR`.
//
//   scripts/capture-log-reference.sh [--out DIR]
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NeutronLab } from '../../../lab/neutron.js';
import { PrivateOvs } from '../../../lab/ovs.js';
import type { AgentConfig } from '../../../bench/agents.js';
import { logAgentIni, PROBE_LINES, runLogScenario } from './scenario.js';
import { loggedLines } from './snapshot.js';
import { assertNoIdsLeft, captureLog, captureOutDir } from '../../helpers/capture-cli.js';
import { captureWithReference } from '../../helpers/capture-run.js';

const log = captureLog;
const outDir = (): string => captureOutDir('capture-log-reference.sh', 'test/fixtures/reference/log');

async function main(): Promise<void> {
  const out = outDir();
  mkdirSync(out, { recursive: true });
  for (const f of readdirSync(out)) if (/^\d\d-.*\.json$|^lines\.json$|^traffic\.json$/.test(f)) rmSync(join(out, f));
  const t0 = Date.now();
  const lab = await NeutronLab.start();
  const work = mkdtempSync(join(tmpdir(), 'logcap-'));
  const packetsLog = join(work, 'packets.log');
  let ovs: PrivateOvs | undefined;
  try {
    ovs = await PrivateOvs.start({ tcp: true });
    await ovs.addBridge('br-phys'); // the lab's agent configuration maps physnet1 to it
    const host = `logcap-${process.pid}`;
    const cfg: AgentConfig = { host, transportUrl: lab.transportUrl, ovs, extraIni: logAgentIni(ovs, packetsLog) };
    const o = ovs;
    const readyChecks = [['firewall base flows', async () => (await o.dumpFlows('br-int')).some((f) => f.includes('table=94'))]] as const;
    const lines: { text: string } = { text: '' };
    const ids = await captureWithReference({ lab, ovs, cfg, readyChecks, keepLogAt: process.env.LOG_CAPTURE_AGENT_LOG }, (hooks) => {
      log(`reference agent ready after ${((Date.now() - t0) / 1000).toFixed(0)} s`);
      return runLogScenario({
        lab, ovs: o, host, log, ...hooks,
        capture: async (step, snapshot) => writeFileSync(join(out, `${step}.json`), JSON.stringify(snapshot, null, 2) + '\n'),
        trafficSent: async (results) => {
          writeFileSync(join(out, 'traffic.json'), JSON.stringify(results, null, 2) + '\n');
          await new Promise((r) => setTimeout(r, 2000));
          lines.text = readFileSync(packetsLog, 'utf8');
        },
      });
    });
    writeFileSync(join(out, 'lines.json'), JSON.stringify(loggedLines(lines.text, ids, PROBE_LINES), null, 2) + '\n');
    if (process.env.LOG_CAPTURE_KEEP) writeFileSync(process.env.LOG_CAPTURE_KEEP, lines.text);
    assertNoIdsLeft(out, ids);
    log(`captured into ${out} in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  } finally {
    await ovs?.stop();
    await lab.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  log(`capture failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  process.exitCode = 1;
});
