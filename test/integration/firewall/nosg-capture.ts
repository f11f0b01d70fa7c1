// Captures what the reference agent leaves with `[securitygroup] enable_security_group = False`
// and firewall_driver openvswitch or iptables_hybrid (nosg-scenario.ts) into
// test/fixtures/reference/nosg/: `<driver>.<step>.flows` (br-int, br-tun, br-phys),
// `<driver>.<step>.iptables|.ip6tables|.ipset` (iptables_hybrid) and `<driver>.json`.
// Not a test: run it in a private network namespace (its iptables are its own):
//   npm run build && scripts/netns-run.sh node dist/test/integration/firewall/nosg-capture.js [driver...]
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { NeutronLab } from '../../../lab/neutron.js';
import { PrivateOvs } from '../../../lab/ovs.js';
import { cleanupAllVms } from '../../../lab/vm.js';
import { NOSG_DRIVERS, NOSG_STEPS, runNosgScenario, type NosgDriver } from './nosg-scenario.js';

const OUT = resolve(process.env.NOSG_FIXTURES ?? 'test/fixtures/reference/nosg');

function log(line: string): void {
  process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`);
}

async function main(): Promise<void> {
  const wanted = process.argv.slice(2);
  const unknown = wanted.filter((d) => !NOSG_DRIVERS.includes(d as NosgDriver));
  if (unknown.length) throw new Error(`unknown driver(s) ${unknown.join(', ')}; known: ${NOSG_DRIVERS.join(', ')}`);
  const drivers = wanted.length ? (wanted as NosgDriver[]) : NOSG_DRIVERS;
  mkdirSync(OUT, { recursive: true });
  log('starting the neutron lab');
  const lab = await NeutronLab.start();
  let failed = 0;
  try {
    for (const driver of drivers) {
      // The reference's root commands reach this OVS through root_helper (nosgIni), not /var/run/openvswitch.
      const ovs = await PrivateOvs.start({ tcp: true });
      await ovs.addBridge('br-phys');
      const lockDir = mkdtempSync(join(tmpdir(), 'nosg-lock-'));
      try {
        const r = await runNosgScenario('reference', driver, { lab, ovs, host: `nosg-ref-${driver.replace('_', '-')}-${process.pid}`, lockDir, log });
        for (const step of NOSG_STEPS) {
          const s = r.snapshots[step];
          writeFileSync(join(OUT, `${driver}.${step}.flows`), s.flows);
          if (s.iptables) for (const [kind, text] of Object.entries(s.iptables)) writeFileSync(join(OUT, `${driver}.${step}.${kind}`), text);
        }
        writeFileSync(join(OUT, `${driver}.json`), JSON.stringify(r.facts, null, 2) + '\n');
        log(`${driver}: captured into ${OUT}`);
      } catch (e) {
        failed++;
        log(`FAILED ${e instanceof Error ? e.message : String(e)}`);
      } finally {
        await cleanupAllVms().catch((e: unknown) => log(`VM cleanup: ${String(e)}`));
        await ovs.stop();
        rmSync(lockDir, { recursive: true, force: true });
      }
    }
  } finally {
    await lab.stop();
  }
  if (failed) process.exitCode = 1;
}

main().catch((e: unknown) => {
  log(`capture failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  process.exitCode = 1;
});
