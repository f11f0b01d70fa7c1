// One slot of `npm test` (test/run.ts): a process in a network namespace of its own, in which the
// runner runs test files one at a time (`nsenter --net=/proc/<this pid>/ns/net`), and which owns the
// slot's shared neutron lab. Its lines on stdout are JSON events for the runner; it reads commands
// from stdin:
//   lab    start the slot's neutron lab → {"event":"lab","dir":…} or {"event":"lab-failed","error":…}
// and when stdin ends (the runner is done or gone) or on SIGTERM, stops the lab and exits.
//
//   unshare -n sh -c 'ip link set lo up && exec node dist/test/slot.js'
import { createInterface } from 'node:readline';
import { NeutronLab } from '../lab/neutron.js';

export type SlotEvent = { event: 'ready' } | { event: 'lab'; dir: string } | { event: 'lab-failed'; error: string };

const emit = (e: SlotEvent): void => {
  process.stdout.write(`${JSON.stringify(e)}\n`);
};

let lab: NeutronLab | undefined;
let starting: Promise<void> | undefined;
let ending = false;

async function end(): Promise<void> {
  if (ending) return;
  ending = true;
  await starting;
  if (lab) {
    await lab.stop().catch((e: unknown) => {
      process.stderr.write(`test slot ${process.pid}: stopping the neutron lab in ${lab?.dir} failed: ${e instanceof Error ? e.message : String(e)}\n`);
    });
  }
  process.exit(0);
}

for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(sig, () => void end());

const input = createInterface({ input: process.stdin });
input.on('line', (cmd) => {
  if (cmd !== 'lab' || starting || ending) {
    process.stderr.write(`test slot ${process.pid}: ignoring command ${JSON.stringify(cmd)}\n`);
    return;
  }
  starting = NeutronLab.start().then(
    (l) => {
      lab = l;
      emit({ event: 'lab', dir: l.dir });
    },
    (e: unknown) => emit({ event: 'lab-failed', error: e instanceof Error ? e.message : String(e) }),
  );
});
input.on('close', () => void end());
emit({ event: 'ready' });
