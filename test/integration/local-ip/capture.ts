// Captures br-int's flows as the reference agent's `local_ip` extension leaves them at each step of
// scenario.ts, for both `[local_ip] static_nat` values, into
// test/fixtures/reference/local_ip/<mode>/<NN-step>.flows. One lab with the local_ip service
// plugin; per mode a fresh private OVS (br-phys for physnet1) and the reference with
// `[agent] extensions = local_ip`, its ovs-ofctl calls reaching the private OVS through
// `root_helper = env OVS_RUNDIR=<dir>`.
//   scripts/capture-local-ip-reference.sh [--out DIR]
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { NeutronLab } from '../../../lab/neutron.js';
import { PrivateOvs } from '../../../lab/ovs.js';
import type { AgentConfig } from '../../../bench/agents.js';
import { captureLog as log, captureOutDir } from '../../helpers/capture-cli.js';
import { captureWithReference } from '../../helpers/capture-run.js';
import { LOCAL_IP_MODES, localIpIni, runLocalIpScenario, type LocalIpMode } from './scenario.js';

async function captureMode(lab: NeutronLab, mode: LocalIpMode, out: string): Promise<void> {
  const dir = join(out, mode);
  mkdirSync(dir, { recursive: true });
  for (const f of readdirSync(dir)) if (f.endsWith('.flows')) rmSync(join(dir, f));
  const ovs = await PrivateOvs.start({ tcp: true });
  try {
    await ovs.addBridge('br-phys');
    const host = `lipcap-${mode}-${process.pid}`;
    const cfg: AgentConfig = { host, transportUrl: lab.transportUrl, ovs, extraIni: localIpIni(mode, [`root_helper = env OVS_RUNDIR=${ovs.dir}`]) };
    const keepLog = process.env.LOCAL_IP_CAPTURE_KEEP_LOG;
    await captureWithReference({ lab, ovs, cfg, keepLogAt: keepLog && `${keepLog}.${mode}`, context: mode }, (hooks) => runLocalIpScenario({
      lab, ovs, host, mode, log, ...hooks,
      capture: async (step, flows) => writeFileSync(join(dir, `${step}.flows`), flows.join('\n') + '\n'),
    }));
  } finally {
    await ovs.stop();
  }
}

async function main(): Promise<void> {
  const out = captureOutDir('capture-local-ip-reference.sh', 'test/fixtures/reference/local_ip');
  const lab = await NeutronLab.start({ localIp: true });
  try {
    for (const mode of LOCAL_IP_MODES) await captureMode(lab, mode, out);
    log(`captured into ${out}`);
  } finally {
    await lab.stop();
  }
}

main().catch((e: unknown) => {
  log(`capture failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  process.exitCode = 1;
});
