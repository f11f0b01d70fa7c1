// Captures what the reference agent's `fdb` extension leaves in the shared NIC's FDB at each step of
// scenario.ts into test/fixtures/reference/fdb/<NN-step>.txt (`bridge fdb show dev fdbnic0`,
// sorted). One lab, one private OVS with br-phys, the NIC (a veth end) and the reference with
// `[agent] extensions = fdb`, its ovs-ofctl calls reaching the private OVS through
// `root_helper = env OVS_RUNDIR=<dir>`.
//   scripts/capture-fdb-reference.sh [--out DIR]
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { NeutronLab } from '../../../lab/neutron.js';
import { PrivateOvs } from '../../../lab/ovs.js';
import type { AgentConfig } from '../../../bench/agents.js';
import { captureLog as log, captureOutDir } from '../../helpers/capture-cli.js';
import { captureWithReference } from '../../helpers/capture-run.js';
import { fdbIni, addSharedNic, runFdbScenario } from './scenario.js';

async function main(): Promise<void> {
  const out = captureOutDir('capture-fdb-reference.sh', 'test/fixtures/reference/fdb');
  mkdirSync(out, { recursive: true });
  for (const f of readdirSync(out)) if (f.endsWith('.txt')) rmSync(join(out, f));
  const lab = await NeutronLab.start();
  let ovs: PrivateOvs | undefined;
  let removeNic: (() => Promise<void>) | undefined;
  try {
    ovs = await PrivateOvs.start({ tcp: true });
    await ovs.addBridge('br-phys');
    removeNic = await addSharedNic();
    const host = `fdbcap-${process.pid}`;
    const cfg: AgentConfig = { host, transportUrl: lab.transportUrl, ovs, extraIni: fdbIni([`root_helper = env OVS_RUNDIR=${ovs.dir}`]) };
    const o = ovs;
    const names = await captureWithReference({ lab, ovs, cfg, keepLogAt: process.env.FDB_CAPTURE_KEEP_LOG }, (hooks) => runFdbScenario({
      lab, ovs: o, host, log, ...hooks,
      capture: async (step, fdb) => writeFileSync(join(out, `${step}.txt`), fdb.join('\n') + '\n'),
    }));
    log(`captured ${names.size} ports' steps into ${out}`);
  } finally {
    await removeNic?.().catch((e: unknown) => log(`deleting the shared NIC: ${String(e)}`));
    await ovs?.stop();
    await lab.stop();
  }
}

main().catch((e: unknown) => {
  log(`capture failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  process.exitCode = 1;
});
