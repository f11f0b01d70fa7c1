// Flow installation rate: N flows (default 10 000, as the agent writes them: per-MAC unicast flows
// of br-tun's UCAST_TO_TUN table) through each of our OpenFlow backends, against the physical
// limit of the same switch: raw `ovs-ofctl -O OpenFlow13 --bundle add-flows` of the same flows
// from a file. The "reference" column of this table is that raw ovs-ofctl run, not the Python agent.
//   node dist/bench/flowrate.js [--runs N] [--flows N]
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { PrivateOvs } from '../lab/ovs.js';
import { startBackends } from './backends.js';
import type { OpenFlowSwitch } from '../src/openflow/backend.js';
import type { FlowMod } from '../src/openflow/flow.js';
import { formatFlowModLine } from '../src/openflow/text.js';
import { argInt, report, unicastFlows, type Series } from './lib.js';

const run = promisify(execFile);

function flows(n: number): FlowMod[] {
  return unicastFlows(n).map((flow) => ({ command: 'add', flow: { ...flow, cookie: 0x1234n } }));
}

async function countFlows(ovs: PrivateOvs, br: string): Promise<number> {
  const out = await ovs.ofctl('-O', 'OpenFlow13', 'dump-aggregate', br);
  return Number(/flow_count=(\d+)/.exec(out)?.[1] ?? -1);
}

async function timed(ovs: PrivateOvs, br: string, n: number, fn: () => Promise<void>): Promise<number> {
  const t0 = performance.now();
  await fn();
  const ms = performance.now() - t0;
  const got = await countFlows(ovs, br);
  if (got !== n) throw new Error(`bridge ${br}: ${got} flows installed, expected ${n}`);
  return ms;
}

async function main(): Promise<void> {
  const runs = argInt('runs', 5);
  const n = argInt('flows', 10_000);
  const { ovs, native, ofctl, port, stop } = await startBackends();
  const dir = mkdtempSync(join(tmpdir(), 'bench-flowrate-'));
  try {
    const mods = flows(n);
    const file = join(dir, 'flows.txt');
    writeFileSync(file, mods.map(formatFlowModLine).join('\n') + '\n');
    const s: Record<'native' | 'ofctl' | 'raw', number[]> = { native: [], ofctl: [], raw: [] };
    for (let i = 0; i < runs; i++) {
      const nb = { name: `fr${i}n`, dpid: await ovs.addControlledBridge(`fr${i}n`, port) };
      await native.waitForSwitch(nb.dpid);
      const sw: OpenFlowSwitch = native.bridge(nb.name, nb.dpid);
      s.native.push(await timed(ovs, nb.name, n, () => sw.apply(mods)));

      const ob = { name: `fr${i}o` };
      await ovs.addSecureBridge(ob.name);
      const osw = ofctl.bridge(ob.name);
      s.ofctl.push(await timed(ovs, ob.name, n, () => osw.apply(mods)));

      const rb = { name: `fr${i}r` };
      await ovs.addSecureBridge(rb.name);
      s.raw.push(
        await timed(ovs, rb.name, n, async () => {
          await run('ovs-ofctl', ['-O', 'OpenFlow13', '--bundle', 'add-flows', rb.name, file], { env: ovs.env });
        }),
      );
      for (const b of [nb, ob, rb]) await ovs.vsctl('del-br', b.name);
    }
    const rate = (ms: number[]): number[] => ms.map((m) => n / (m / 1000));
    const rows: Series[] = [
      { label: `${n} flows, native backend (vs raw ovs-ofctl)`, unit: 'ms', ours: s.native, reference: s.raw },
      { label: `${n} flows, ovs-ofctl backend (vs raw ovs-ofctl)`, unit: 'ms', ours: s.ofctl, reference: s.raw },
      { label: 'rate, native backend (vs raw ovs-ofctl)', unit: 'flows/s', ours: rate(s.native), reference: rate(s.raw) },
      { label: 'rate, ovs-ofctl backend (vs raw ovs-ofctl)', unit: 'flows/s', ours: rate(s.ofctl), reference: rate(s.raw) },
    ];
    report('flowrate', `Flow installation: ${n} flows, our backends vs raw \`ovs-ofctl --bundle add-flows\` (the "reference" column)`, rows, {
      runs,
      flows: n,
    });
  } finally {
    await stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`bench flowrate failed: ${e instanceof Error ? e.stack : String(e)}\n`);
  process.exit(1);
});
