// Captures the reference agent's OVS-firewall flows for every scenario of scenarios.ts into
// test/fixtures/reference/firewall/<scenario>[.<step>].flows (br-int, normalised as compare.ts
// does). One lab for all scenarios; per scenario a fresh private OVS and a fresh reference agent
// (its own host name) with `firewall_driver = openvswitch`, whose ovs-ofctl calls reach the private
// OVS through `root_helper = env OVS_RUNDIR=<dir>` (its privsep daemon inherits that environment).
//
//   scripts/capture-firewall-reference.sh [scenario…] [--out DIR]
// Run inside scripts/netns-run.sh (the wrapper does): ovs-vswitchd and the lab need a namespace.
import { mkdirSync, writeFileSync, readdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { NeutronLab } from '../../../lab/neutron.js';
import { PrivateOvs } from '../../../lab/ovs.js';
import { cleanupAllVms } from '../../../lab/vm.js';
import { RunningAgent, defaultFlowsReady, agentRecord, until } from '../../../bench/agents.js';
import { SCENARIOS, runScenario, type Scenario } from './scenarios.js';
import { normaliseFlows } from './compare.js';

function log(line: string): void {
  process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`);
}

function args(): { names: string[]; out: string } {
  const argv = process.argv.slice(2);
  let out = resolve('test/fixtures/reference/firewall');
  const names: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--out') out = resolve(argv[++i] ?? '');
    else names.push(argv[i]!);
  }
  const known = new Set(SCENARIOS.map((s) => s.name));
  const unknown = names.filter((n) => !known.has(n));
  if (unknown.length) throw new Error(`unknown scenario(s) ${unknown.join(', ')}; known: ${[...known].join(', ')}`);
  return { names, out };
}

/** The reference's extra configuration: the OVS firewall, its ovs-ofctl calls on the private OVS. */
function firewallIni(ovs: PrivateOvs): string {
  return ['[securitygroup]', 'firewall_driver = openvswitch', '[agent]', `root_helper = env OVS_RUNDIR=${ovs.dir}`, ''].join('\n');
}

async function captureScenario(lab: NeutronLab, scenario: Scenario, out: string): Promise<number> {
  const ovs = await PrivateOvs.start({ tcp: true });
  let agent: RunningAgent | undefined;
  let written = 0;
  try {
    await ovs.addBridge('br-phys');
    const host = `fwcap-${scenario.name}-${process.pid}`;
    agent = await RunningAgent.start('reference', { host, transportUrl: lab.transportUrl, ovs, extraIni: firewallIni(ovs) });
    const a = agent;
    await until('default flows', a, 120000, () => defaultFlowsReady(ovs), 250);
    // The firewall's base flows (table 71 and up) show that its ovs-ofctl calls reach this OVS.
    await until('firewall base flows', a, 60000, async () => (await ovs.dumpFlows('br-int')).some((f) => f.includes('table=94')), 250);
    await until('agent alive in the API', a, 120000, async () => (await agentRecord(lab, host))?.alive === true, 500);
    // Alive comes before its loop runs (its second privsep daemon starts in between): a port
    // plugged earlier waits all the same, but the first iteration marks the agent ready to work.
    await until('first rpc_loop iteration', a, 120000, async () => /rpc_loop - iteration:0 completed/.test(a.log(1 << 24)), 500);
    log(`${scenario.name}: reference agent ready`);
    const files = new Map<string, string[]>();
    const ids = await runScenario(scenario, {
      lab,
      ovs,
      host,
      assertAgentRunning: () => a.assertRunning(),
      log,
      capture: async (step) => {
        const file = `${scenario.name}${step === undefined ? '' : `.${step}`}.flows`;
        if (files.has(file)) throw new Error(`scenario ${scenario.name}: step ${String(step)} captured twice`);
        files.set(file, normaliseFlows(await ovs.dumpFlows('br-int')));
        log(`${scenario.name}: captured ${file} (${files.get(file)!.length} flows)`);
      },
    });
    // Ids normally do not show in flows; if one does, the fixture would differ on every run.
    const leaks: string[] = [];
    for (const [file, flows] of files) {
      for (const [name, id] of ids) {
        if (flows.some((f) => f.includes(id) || f.includes(id.slice(0, 11)))) leaks.push(`${file}: ${name} (${id})`);
      }
    }
    for (const [file, flows] of files) {
      let text = flows.join('\n') + '\n';
      if (leaks.length) for (const [name, id] of ids) text = text.split(id).join(`<${name}>`);
      writeFileSync(join(out, file), text);
      written++;
    }
    if (leaks.length) {
      writeFileSync(join(out, `${scenario.name}.ids.json`), JSON.stringify(Object.fromEntries(ids), null, 2) + '\n');
      log(`${scenario.name}: neutron ids appear in flows, replaced by names: ${leaks.join('; ')}`);
    }
    return written;
  } catch (e) {
    const tail = agent ? `\n--- reference agent log tail ---\n${agent.log(4000)}` : '';
    throw new Error(`scenario ${scenario.name}: ${e instanceof Error ? e.message : String(e)}${tail}`);
  } finally {
    await cleanupAllVms().catch((e: unknown) => log(`${scenario.name}: VM cleanup: ${String(e)}`));
    if (agent) {
      await agent.stop(3000);
      if (process.env.FW_CAPTURE_KEEP_LOGS) {
        mkdirSync(process.env.FW_CAPTURE_KEEP_LOGS, { recursive: true });
        writeFileSync(join(process.env.FW_CAPTURE_KEEP_LOGS, `${scenario.name}.log`), agent.log(1 << 24));
      }
      agent.cleanup();
    }
    await ovs.stop();
  }
}

async function main(): Promise<void> {
  const { names, out } = args();
  const todo = names.length ? SCENARIOS.filter((s) => names.includes(s.name)) : SCENARIOS;
  mkdirSync(out, { recursive: true });
  // A full run replaces the whole set, so a renamed step leaves no stale fixture behind.
  if (!names.length) for (const f of readdirSync(out)) if (/\.(flows|ids\.json)$/.test(f)) rmSync(join(out, f));
  const t0 = Date.now();
  log('starting the neutron lab');
  const lab = await NeutronLab.start();
  let failed = 0;
  try {
    log(`lab up after ${((Date.now() - t0) / 1000).toFixed(0)} s`);
    for (const scenario of todo) {
      const ts = Date.now();
      try {
        const n = await captureScenario(lab, scenario, out);
        log(`${scenario.name}: ${n} fixture(s) in ${((Date.now() - ts) / 1000).toFixed(0)} s`);
      } catch (e) {
        failed++;
        log(`FAILED ${e instanceof Error ? e.message : String(e)}`);
      }
    }
  } finally {
    await lab.stop();
  }
  log(`${todo.length - failed}/${todo.length} scenarios captured into ${out} in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  if (failed) process.exitCode = 1;
}

main().catch((e: unknown) => {
  log(`capture failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  process.exitCode = 1;
});
