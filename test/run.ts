// `npm test`'s runner: starts one neutron-server lab, offers it to every test file (lab/host.ts,
// SHARED_LAB_ENV), runs node's test runner over the files given, one file at a time, and stops the
// lab when the files are done, failed or interrupted. Most integration files would otherwise start
// a lab of their own (~25 s each). The output is node's test runner's, summary last; the exit
// code is its exit code.
//
//   node dist/test/run.js FILE...
import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { NeutronLab, haveNeutronLab } from '../lab/neutron.js';
import { SHARED_LAB_ENV } from '../lab/host.js';

const say = (line: string): void => {
  process.stderr.write(`test runner: ${line}\n`);
};

async function startSharedLab(): Promise<NeutronLab | undefined> {
  // Without the lab installed, the files that need one skip or fail on their own, as they say.
  if (!haveNeutronLab()) return undefined;
  const t0 = Date.now();
  try {
    const lab = await NeutronLab.start();
    say(`shared neutron lab up in ${Date.now() - t0} ms (${lab.dir}, API ${lab.apiUrl})`);
    return lab;
  } catch (e) {
    // Each file then starts its own, and reports what goes wrong with it.
    say(`the shared neutron lab did not start, each test file starts its own: ${e instanceof Error ? e.message : String(e)}`);
    return undefined;
  }
}

async function main(files: string[]): Promise<number> {
  if (files.length === 0) throw new Error('usage: node dist/test/run.js FILE...');
  let interrupted: NodeJS.Signals | undefined;
  const onSignal = (sig: NodeJS.Signals): void => {
    interrupted = sig;
  };
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, onSignal);

  const lab = await startSharedLab();
  try {
    if (interrupted) return 128 + constants.signals[interrupted];
    const child = spawn(process.execPath, ['--test', '--test-concurrency=1', ...files], {
      stdio: 'inherit',
      env: lab ? { ...process.env, [SHARED_LAB_ENV]: lab.dir } : process.env,
    });
    // From now on a signal goes to the test runner, which ends its files; the lab is stopped after it.
    for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
      process.off(sig, onSignal);
      process.on(sig, () => child.kill(sig));
    }
    return await new Promise<number>((resolve, reject) => {
      child.once('error', (e) => reject(new Error(`node --test did not start: ${e.message}`)));
      child.once('exit', (code, signal) => resolve(code ?? (signal ? 128 + constants.signals[signal] : 1)));
    });
  } finally {
    if (lab) {
      await lab.stop().catch((e: unknown) => say(`stopping the shared lab in ${lab.dir} failed: ${e instanceof Error ? e.message : String(e)}`));
    }
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    say(e instanceof Error ? e.message : String(e));
    process.exit(1);
  },
);
