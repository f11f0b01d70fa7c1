// Every benchmark, one after another, each in its own network namespace (scripts/netns-run.sh: a
// userspace ovs-vswitchd owns its namespace's tap names), tables printed as they finish and JSON
// written under bench/results/. Arguments after the script are passed to every benchmark that
// takes them, e.g. `node dist/bench/run-all.js --runs 1 --no-reference`; --quick uses small sizes.
//   npm run bench            (full sizes: takes a long time, mostly neutron-server's)
//   node dist/bench/run-all.js --quick
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';

const quick = process.argv.includes('--quick');
const pass = process.argv.slice(2).filter((a) => a !== '--quick');
const BENCHES: { name: string; args: string[] }[] = [
  { name: 'startup', args: [] },
  { name: 'flowrate', args: [] },
  { name: 'flow-audit', args: [] },
  { name: 'packet-in-storm', args: [] },
  { name: 'sync', args: quick ? ['--ports', '20'] : [] },
  { name: 'plug', args: quick ? ['--sizes', '1,20,50', '--timeout-s', '300'] : [] },
  { name: 'restart', args: quick ? ['--ports', '50', '--idle-s', '30'] : [] },
  { name: 'server-cost', args: quick ? ['--ports', '20', '--baseline-s', '15', '--after-s', '30'] : [] },
  { name: 'firewall', args: quick ? ['--ports', '50', '--members', '200', '--timeout-s', '600'] : [] },
  { name: 'log', args: quick ? ['--seconds', '5'] : [] },
  { name: 'qos', args: quick ? ['--ports', '10', '--cold-ports', '50', '--timeout-s', '300'] : [] },
  { name: 'trunk', args: [] },
  { name: 'dvr', args: quick ? ['--ports', '20'] : [] },
  { name: 'dhcp', args: quick ? ['--requests', '10'] : [] },
  { name: 'scale', args: quick ? ['--sizes', '2,10', '--ref-sizes', '2', '--idle-s', '20', '--timeout-s', '600'] : [] },
];
const only = process.env.BENCH_ONLY?.split(',');
let failed = 0;
for (const b of BENCHES) {
  if (only && !only.includes(b.name)) continue;
  const args = [...b.args, ...pass.filter((a, i) => !(b.name === 'startup' && a !== '--runs' && pass[i - 1] !== '--runs'))];
  process.stdout.write(`# bench ${b.name} ${args.join(' ')}\n`);
  const r = spawnSync(resolve('scripts/netns-run.sh'), [process.execPath, resolve(`dist/bench/${b.name}.js`), ...args], { stdio: 'inherit' });
  if (r.status !== 0) {
    failed++;
    process.stderr.write(`bench ${b.name} failed (exit ${r.status ?? r.signal})\n`);
  }
}
process.exit(failed ? 1 : 0);
