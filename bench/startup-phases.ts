// Where our start-up time goes: process start → first module (node's own start), → every module
// loaded, → bridges set up (configuration read, OVSDB, OpenFlow, default flows), as the agent logs
// them in its "bridges set up" line, for the checkout (`node bin/neutron-openvswitch-agent.js`, which
// loads dist/) and for the command `npm pack` + `npm install -g` give. No message bus
// (transport_url = fake:/), vxlan + physnet1 as bench/startup.ts.
//   scripts/netns-run.sh node dist/bench/startup-phases.js [--runs N]
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { PrivateOvs } from '../lab/ovs.js';
import { labAgentFiles } from '../lab/agent-config.js';
import { checkoutFile } from '../lab/checkout.js';
import { argInt, report, type Series } from './lib.js';

interface Phases {
  node: number;
  modules: number;
  bridges: number;
  total: number;
}

const LINE = /bridges set up \d+ ms after start \(process up (\d+) ms: node (\d+) ms, loading modules (\d+) ms, configuration and bridges (\d+) ms\)/;

async function runOnce(bin: string): Promise<Phases> {
  const ovs = await PrivateOvs.start();
  const dir = mkdtempSync(join(tmpdir(), 'bench-phases-'));
  const child = (() => {
    const files = labAgentFiles({ host: 'bench', transportUrl: 'fake:/', ovsdbConnection: ovs.unixConnection, bridgeMappings: 'physnet1:br-phys' });
    for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
    return spawn(process.execPath, [bin, '--config-file', join(dir, 'neutron.conf'), '--config-file', join(dir, 'openvswitch_agent.ini')], {
      env: ovs.env, stdio: ['ignore', 'pipe', 'pipe'],
    });
  })();
  try {
    await ovs.addBridge('br-phys');
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (out += b.toString()));
    const deadline = Date.now() + 120000;
    for (;;) {
      const m = LINE.exec(out);
      if (m) return { total: Number(m[1]), node: Number(m[2]), modules: Number(m[3]), bridges: Number(m[4]) };
      if (child.exitCode !== null) throw new Error(`agent exited (${child.exitCode}):\n${out}`);
      if (Date.now() > deadline) throw new Error(`no "bridges set up" line within 120 s:\n${out}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  } finally {
    child.kill('SIGKILL');
    await ovs.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * CPU time (user + system) node spends loading the daemon's modules, without running it: on a busy
 * host the wall-clock phases above vary with the load, this much less.
 */
function moduleLoadCpuMs(entry: string): number {
  const script = `const c = process.cpuUsage(); await import(${JSON.stringify(entry)}); const d = process.cpuUsage(c); console.log((d.user + d.system) / 1000);`;
  return Number(execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' }).trim());
}

/** npm pack + npm install -g into a temporary prefix: the command as a compute node gets it. */
function installPackage(root: string, dir: string): string {
  const packed = JSON.parse(execFileSync('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', dir], { cwd: root, encoding: 'utf8' })) as Array<{ filename: string }>;
  const prefix = join(dir, 'prefix');
  execFileSync('npm', ['install', '--global', '--prefix', prefix, '--prefer-offline', '--no-audit', '--no-fund', join(dir, packed[0]!.filename)], { cwd: dir, stdio: 'ignore' });
  return join(prefix, 'bin', 'neutron-openvswitch-agent');
}

async function main(): Promise<void> {
  const runs = argInt('runs', 5);
  const root = dirname(checkoutFile('package.json'));
  const tmp = mkdtempSync(join(tmpdir(), 'bench-phases-pkg-'));
  try {
    const launchers: Array<[string, string]> = [['node bin/ (checkout)', join(root, 'bin', 'neutron-openvswitch-agent.js')], ['installed package', installPackage(root, tmp)]];
    const rows: Series[] = [];
    for (const [label, bin] of launchers) {
      const got: Phases[] = [];
      for (let i = 0; i < runs; i++) {
        got.push(await runOnce(bin));
        process.stderr.write(`${label}: run ${i + 1}/${runs}: ${JSON.stringify(got.at(-1))}\n`);
      }
      const entry = join(dirname(realpathSync(bin)), '..', 'dist', 'src', 'cli', 'neutron-openvswitch-agent.js');
      const cpu: number[] = [];
      for (let i = 0; i < runs * 2; i++) cpu.push(moduleLoadCpuMs(entry));
      const note = 'ours only (phases of our start-up)';
      rows.push(
        { label: `${label}: process start → first module`, unit: 'ms', ours: got.map((p) => p.node), reference: [], referenceNote: note },
        { label: `${label}: loading modules`, unit: 'ms', ours: got.map((p) => p.modules), reference: [], referenceNote: note },
        { label: `${label}: loading modules, CPU time`, unit: 'ms', ours: cpu, reference: [], referenceNote: note },
        { label: `${label}: configuration + bridges set up`, unit: 'ms', ours: got.map((p) => p.bridges), reference: [], referenceNote: note },
        { label: `${label}: process start → bridges set up`, unit: 'ms', ours: got.map((p) => p.total), reference: [], referenceNote: note },
      );
    }
    report('startup-phases', 'Start-up phases: process start → first module → modules loaded → bridges set up (fake:/, vxlan + physnet1)', rows, { runs });
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`bench startup-phases failed: ${e instanceof Error ? e.stack : String(e)}\n`);
  process.exit(1);
});
