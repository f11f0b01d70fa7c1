// Captures what the reference agent's trunk handler (neutron.services.trunk.drivers.openvswitch.
// agent) leaves at each step of scenario.ts into test/fixtures/reference/trunk/<NN-step>.json
// (trunkSnapshot's normalised form). One lab (the trunk service on, its default), one private OVS
// with br-phys, and the reference with `firewall_driver = openvswitch`, its ovs-ofctl calls reaching
// the private OVS through `root_helper = env OVS_RUNDIR=<dir>`. Zed has no `[ovs] of_interface`
// (it accepts and ignores it): one capture serves both of ours.
//
//   scripts/capture-trunk-reference.sh [--out DIR]
// Run inside scripts/netns-run.sh (the wrapper does): ovs-vswitchd and the lab need a namespace.
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { NeutronLab } from '../../../lab/neutron.js';
import { PrivateOvs } from '../../../lab/ovs.js';
import { cleanupAllVms } from '../../../lab/vm.js';
import type { RunningAgent } from '../../../bench/agents.js';
import { runTrunkScenario, TRUNK_PHYSICAL_BRIDGE } from './scenario.js';
import { restartTrunkAgent, startTrunkAgent } from './host.js';
import { captureFailure, captureLog, captureOutDir } from '../../helpers/capture-cli.js';

const log = captureLog;

/** Every neutron id must have been replaced by its name in the fixtures; one left would differ on every run. */
function assertNoIds(out: string, ids: Map<string, string>): void {
  const leaks: string[] = [];
  for (const f of readdirSync(out).filter((n) => n.endsWith('.json'))) {
    const text = readFileSync(join(out, f), 'utf8');
    for (const [name, id] of ids) if (text.includes(id) || text.includes(id.slice(0, 10))) leaks.push(`${f}: ${name}`);
    const uuid = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/.exec(text);
    if (uuid) leaks.push(`${f}: unnamed uuid ${uuid[0]}`);
  }
  if (leaks.length) throw new Error(`ids left in the fixtures: ${leaks.join('; ')}`);
}

async function main(): Promise<void> {
  const out = captureOutDir('capture-trunk-reference.sh', 'test/fixtures/reference/trunk');
  mkdirSync(out, { recursive: true });
  for (const f of readdirSync(out)) if (f.endsWith('.json')) rmSync(join(out, f));
  const t0 = Date.now();
  log('starting the neutron lab (trunk service on) and a private OVS');
  const lab = await NeutronLab.start();
  let ovs: PrivateOvs | undefined;
  let agent: RunningAgent | undefined;
  try {
    if (!lab.trunk) throw new Error('the lab runs without the trunk service plugin');
    ovs = await PrivateOvs.start({ tcp: true });
    await ovs.addBridge(TRUNK_PHYSICAL_BRIDGE);
    const host = `trunkcap-${process.pid}`;
    agent = await startTrunkAgent('reference', lab, ovs, host);
    log(`reference agent ready after ${((Date.now() - t0) / 1000).toFixed(0)} s`);
    const privateOvs = ovs;
    const ids = await runTrunkScenario({
      lab,
      ovs,
      host,
      log,
      assertAgentRunning: () => agent?.assertRunning(),
      restartAgent: async () => {
        agent = await restartTrunkAgent('reference', agent!, lab, privateOvs, host);
      },
      capture: async (step, snapshot) => {
        writeFileSync(join(out, `${step}.json`), JSON.stringify(snapshot, null, 2) + '\n');
      },
    });
    assertNoIds(out, ids);
    log(`captured into ${out} in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  } catch (e) {
    throw captureFailure(e, agent?.log(6000));
  } finally {
    await cleanupAllVms().catch((e: unknown) => log(`VM cleanup: ${String(e)}`));
    if (agent) {
      await agent.stop(5000);
      if (process.env.TRUNK_CAPTURE_KEEP_LOG) writeFileSync(process.env.TRUNK_CAPTURE_KEEP_LOG, readFileSync(join(agent.dir, 'agent.log'), 'utf8'));
      agent.cleanup();
    }
    await ovs?.stop();
    await lab.stop();
  }
}

main().catch((e: unknown) => {
  log(`capture failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  process.exitCode = 1;
});
