// What an operator installs on a compute node: `npm pack` gives a tarball with only what runs, it
// installs into a prefix and its commands start; the systemd unit verifies.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { checkoutFile } from '../../../lab/checkout.js';

const run = promisify(execFile);
const ROOT = dirname(checkoutFile('package.json'));
const UNIT = checkoutFile('packaging/systemd/ovs-agent.service');

interface PackEntry { path: string }
interface PackResult { filename: string; files: PackEntry[] }

// The runtime dependencies travel inside the tarball (bundleDependencies), so a compute node without
// a route to a package registry installs it as it is.
const BUNDLED = ['amqplib', 'prom-client'];

test('npm pack ships the compiled agent, its commands, the unit, the README and its runtime dependencies; no tests, fixtures, lab, bench or sources', async () => {
  // --ignore-scripts: the test runs against the build already made (prepack would rebuild).
  const { stdout } = await run('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: ROOT });
  const files = (JSON.parse(stdout) as PackResult[])[0]!.files.map((f) => f.path).sort();
  for (const f of files) {
    assert.match(f, /^(dist\/src\/.*\.js|bin\/[\w-]+\.js|packaging\/systemd\/ovs-agent\.service|package\.json|README\.md|node_modules\/.+)$/, `${f} belongs in the package`);
    assert.doesNotMatch(f, /^node_modules\/(typescript|@types)\//, `${f}: a development dependency is not shipped`);
  }
  for (const dep of BUNDLED) {
    assert.ok(files.includes(`node_modules/${dep}/package.json`), `${dep} is bundled`);
  }
  for (const must of ['bin/neutron-openvswitch-agent.js', 'bin/ovs-agent.js', 'dist/src/cli/neutron-openvswitch-agent.js', 'dist/src/cli/operator.js', 'packaging/systemd/ovs-agent.service', 'README.md', 'package.json']) {
    assert.ok(files.includes(must), `${must} is packed`);
  }
});

test('the tarball installs into a prefix and neutron-openvswitch-agent --help / ovs-agent --help run from it', { timeout: 300000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ovs-agent-pack-'));
  try {
    const { stdout } = await run('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', dir], { cwd: ROOT });
    const tarball = join(dir, (JSON.parse(stdout) as PackResult[])[0]!.filename);
    const prefix = join(dir, 'prefix');
    // --offline with a cache of its own that starts empty: npm may read nothing but the tarball, so
    // this passes only if everything the agent runs with is inside it (the test's namespace has no
    // route to a registry either).
    await run('npm', ['install', '--global', '--prefix', prefix, '--offline', '--cache', join(dir, 'empty-npm-cache'), '--no-audit', '--no-fund', tarball], { cwd: dir, timeout: 120000 });
    const help = await run(join(prefix, 'bin', 'neutron-openvswitch-agent'), ['--help'], { cwd: dir });
    assert.match(help.stdout, /usage: neutron-openvswitch-agent/);
    assert.match(help.stdout, /--config-file/);
    const ops = await run(join(prefix, 'bin', 'ovs-agent'), ['--help'], { cwd: dir });
    assert.match(ops.stdout, /usage: ovs-agent <command>/);
    const installed = join(prefix, 'lib', 'node_modules', 'ovs-agent');
    assert.ok(readFileSync(join(installed, 'packaging', 'systemd', 'ovs-agent.service'), 'utf8').includes('Type=notify'));
    for (const dep of BUNDLED) {
      assert.ok(readFileSync(join(installed, 'node_modules', dep, 'package.json'), 'utf8').includes(`"name": "${dep}"`), `${dep} installed from the bundle`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

function haveSystemdAnalyze(): boolean {
  try {
    execFileSync('systemd-analyze', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

test('packaging/systemd/ovs-agent.service passes systemd-analyze verify', { skip: haveSystemdAnalyze() ? false : 'systemd-analyze is not installed (apt-get install systemd)' }, async () => {
  const text = readFileSync(UNIT, 'utf8');
  assert.match(text, /^Conflicts=neutron-openvswitch-agent\.service$/m);
  assert.match(text, /^Type=notify$/m);
  assert.match(text, /^Restart=on-failure$/m);
  for (const f of ['/etc/neutron/neutron.conf', '/etc/neutron/plugins/ml2/openvswitch_agent.ini', '/etc/neutron/agent.conf.d', '/var/log/neutron/neutron-openvswitch-agent.log']) {
    assert.ok(text.includes(f), `the unit uses ${f}, as Debian's does`);
  }
  // verify exits non-zero on a missing executable and warns (stderr) on an unknown key: both fail here.
  const res = await run('systemd-analyze', ['verify', UNIT]).then(
    (r) => ({ code: 0, stderr: r.stderr }),
    (e: { code?: number; stderr?: string }) => ({ code: e.code ?? -1, stderr: e.stderr ?? '' }),
  );
  assert.equal(res.stderr.trim(), '', 'no warning');
  assert.equal(res.code, 0);
});
