// Captures the reference agent's DVR flows into test/fixtures/reference/dvr/ (see its README.md):
// start-up with `enable_distributed_routing = True` for each case of startup-scenario.ts, against
// a lab neutron-server that knows another host's DVR MAC.
//   scripts/capture-dvr-reference.sh
// Run inside scripts/netns-run.sh (the wrapper does): the private OVS and the lab need a namespace.
import { mkdirSync } from 'node:fs';
import { NeutronLab } from '../../../lab/neutron.js';
import { DVR_FIXTURES, DVR_STARTUP_CASES, startupFlows, writeFixture } from './startup-scenario.js';
import { movedFixtureName, PORTS_VARIANTS, portsFixtureName, runMovedScenario, runPortsScenario, runSnatScenario, snatFixtureName } from './ports-scenario.js';

function log(line: string): void {
  process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`);
}

async function main(): Promise<void> {
  mkdirSync(DVR_FIXTURES, { recursive: true });
  const ports = process.argv.includes('--ports');
  // --ports --only=vlan (repeatable): those variants alone, the other fixtures kept as they are.
  const variants = PORTS_VARIANTS;
  const variantsWanted = process.argv.filter((a) => a.startsWith('--only=')).map((a) => a.slice('--only='.length));
  const unknown = variantsWanted.filter((v) => v !== 'snat' && v !== 'moved' && !(variants as readonly string[]).includes(v));
  if (unknown.length) throw new Error(`--only takes ${variants.join(', ')}, snat or moved, not ${unknown.join(', ')}`);
  const wanted = (v: string): boolean => !variantsWanted.length || variantsWanted.includes(v);
  log(`starting the neutron lab${ports ? ' (router service plugin, router_distributed = True)' : ''}`);
  const lab = await NeutronLab.start({ dvr: ports });
  try {
    if (ports) {
      log('reference: ports of a distributed router, with neutron-l3-agent in dvr mode');
      for (const variant of variants) {
        if (!wanted(variant)) continue;
        log(`reference: ${variant} networks`);
        for (const [step, text] of await runPortsScenario(lab, 'reference', `dvrcap-ports-${variant}-${process.pid}`, undefined, variant)) writeFixture(portsFixtureName(variant, step), text);
      }
      if (wanted('snat')) {
        log('reference: the centralized SNAT port, with neutron-l3-agent in dvr_snat mode');
        for (const [step, text] of await runSnatScenario(lab, 'reference', `dvrcap-snat-${process.pid}`)) writeFixture(snatFixtureName(step), text);
      }
      if (wanted('moved')) {
        log('reference: a VM port moved between two subnets of one network');
        for (const [step, text] of await runMovedScenario(lab, 'reference', `dvrcap-moved-${process.pid}`)) writeFixture(movedFixtureName(step), text);
      }
    }
    for (const c of ports ? [] : DVR_STARTUP_CASES) {
      log(`reference: ${c.name}`);
      writeFixture(c.name, await startupFlows(lab, 'reference', c, `dvrcap-${c.name}-${process.pid}`));
    }
    log(`captured into ${DVR_FIXTURES}`);
  } finally {
    await lab.stop();
  }
}

main().catch((e: unknown) => {
  log(`capture failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  process.exitCode = 1;
});
