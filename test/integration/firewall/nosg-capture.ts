// Captures what the reference agent leaves with `[securitygroup] enable_security_group = False`
// and firewall_driver openvswitch or iptables_hybrid (also with explicitly_egress_direct: the
// variants of nosg-scenario.ts) into
// test/fixtures/reference/nosg/: `<variant>.<step>.flows` (br-int, br-tun, br-phys),
// `<variant>.<step>.iptables|.ip6tables|.ipset` (iptables_hybrid) and `<variant>.json`.
// Not a test: run it in a private network namespace (its iptables are its own):
//   npm run build && scripts/netns-run.sh node dist/test/integration/firewall/nosg-capture.js [variant...]
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { NeutronLab } from '../../../lab/neutron.js';
import { PrivateOvs } from '../../../lab/ovs.js';
import { cleanupAllVms } from '../../../lab/vm.js';
import { NOSG_VARIANT_NAMES, NOSG_STEPS, runNosgScenario, type NosgVariant } from './nosg-scenario.js';

const OUT = resolve(process.env.NOSG_FIXTURES ?? 'test/fixtures/reference/nosg');

function log(line: string): void {
  process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`);
}

async function main(): Promise<void> {
  const wanted = process.argv.slice(2);
  const unknown = wanted.filter((d) => !NOSG_VARIANT_NAMES.includes(d as NosgVariant));
  if (unknown.length) throw new Error(`unknown variant(s) ${unknown.join(', ')}; known: ${NOSG_VARIANT_NAMES.join(', ')}`);
  const variants = wanted.length ? (wanted as NosgVariant[]) : NOSG_VARIANT_NAMES;
  mkdirSync(OUT, { recursive: true });
  log('starting the neutron lab');
  const lab = await NeutronLab.start();
  let failed = 0;
  try {
    for (const variant of variants) {
      // The reference's root commands reach this OVS through root_helper (nosgIni), not /var/run/openvswitch.
      const ovs = await PrivateOvs.start({ tcp: true });
      await ovs.addBridge('br-phys');
      const lockDir = mkdtempSync(join(tmpdir(), 'nosg-lock-'));
      try {
        const r = await runNosgScenario('reference', variant, { lab, ovs, host: `nosg-ref-${variant.replace('_', '-')}-${process.pid}`, lockDir, log });
        for (const step of NOSG_STEPS) {
          const s = r.snapshots[step];
          writeFileSync(join(OUT, `${variant}.${step}.flows`), s.flows);
          if (s.iptables) for (const [kind, text] of Object.entries(s.iptables)) writeFileSync(join(OUT, `${variant}.${step}.${kind}`), text);
        }
        writeFileSync(join(OUT, `${variant}.json`), JSON.stringify(r.facts, null, 2) + '\n');
        log(`${variant}: captured into ${OUT}`);
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
