// Cost of one flow audit ([agent] flow_audit_interval) of a bridge holding N flows (default 10 000,
// br-tun-style unicast flows written through the bridge, so its desired-flow registry has them
// all): the dump (native: one multipart FLOW_STATS request and its decoding; ovs-ofctl: one
// `ovs-ofctl dump-flows` process and parsing its text) and the comparison with the registry.
// Measured as the agent process's CPU time (process.cpuUsage: user + system) around the audit,
// and as wall time; the ovs-ofctl child's own CPU is not the agent's and is not counted. The
// "reference" column is empty: the reference agent has no audit.
//   node dist/bench/flow-audit.js [--runs N] [--flows N]
import { auditFlows } from '../src/agent/repair/flow-audit.js';
import { OVSBridge } from '../src/bridges/ovs-bridge.js';
import { TUN_BR_ALL_TABLES } from '../src/bridges/tables.js';
import { startBackends } from './backends.js';
import type { OpenFlowSwitch } from '../src/openflow/backend.js';
import { argInt, report, unicastFlows, type Series } from './lib.js';

/** One audit: CPU ms of this process and wall ms; throws if the audit finds anything to repair. */
async function audit(br: OVSBridge): Promise<{ cpuMs: number; wallMs: number }> {
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  const dump = await br.ofSwitch.dumpFlows();
  const { mods, result } = auditFlows(br, TUN_BR_ALL_TABLES, dump);
  const c = process.cpuUsage(c0);
  const wallMs = performance.now() - t0;
  if (mods.length) throw new Error(`${br.name}: audit of ${result.desired} flows found ${result.readded.length} missing, ${result.removed.length} foreign`);
  return { cpuMs: (c.user + c.system) / 1000, wallMs };
}

async function main(): Promise<void> {
  const runs = argInt('runs', 5);
  const n = argInt('flows', 10_000);
  const { ovs, native, ofctl, port, stop } = await startBackends();
  try {
    const nb = { name: 'fa-native', dpid: await ovs.addControlledBridge('fa-native', port) };
    await native.waitForSwitch(nb.dpid);
    const ob = { name: 'fa-ofctl' };
    await ovs.addSecureBridge(ob.name);
    const sides: Array<[string, OpenFlowSwitch]> = [
      ['native', native.bridge(nb.name, nb.dpid)],
      ['ovs-ofctl', ofctl.bridge(ob.name)],
    ];
    const series: Series[] = [];
    for (const [label, sw] of sides) {
      const br = new OVSBridge(sw.bridge, sw);
      await br.installFlows(...unicastFlows(n));
      const cpu: number[] = [];
      const wall: number[] = [];
      await audit(br); // warm-up: JIT and first-use allocations are not the steady state
      for (let i = 0; i < runs; i++) {
        const r = await audit(br);
        cpu.push(r.cpuMs);
        wall.push(r.wallMs);
      }
      series.push({ label: `audit of ${n} flows, ${label}: agent CPU`, unit: 'ms', ours: cpu, reference: [], referenceNote: 'no audit' });
      series.push({ label: `audit of ${n} flows, ${label}: wall time`, unit: 'ms', ours: wall, reference: [], referenceNote: 'no audit' });
    }
    report('flow-audit', `Flow audit: one bridge with ${n} flows, dump and comparison with the desired flows`, series, { runs, flows: n });
  } finally {
    await stop();
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`bench flow-audit failed: ${e instanceof Error ? e.stack : String(e)}\n`);
  process.exitCode = 1;
});
