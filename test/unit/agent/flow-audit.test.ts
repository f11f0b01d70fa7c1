// The audit's comparison: missing wanted flows are re-added, foreign cookies in owned tables go,
// our own flows the registry does not know (learned) and foreign flows elsewhere are left alone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { auditFlows, FlowAudit } from '../../../src/agent/repair/flow-audit.js';
import type { AgentContext } from '../../../src/agent/context.js';
import { IntegrationBridge } from '../../../src/bridges/br-int.js';
import { INT } from '../../../src/bridges/tables.js';
import { OpenFlowError, type OpenFlowSwitch } from '../../../src/openflow/backend.js';
import type { Flow, FlowMod, FlowStats } from '../../../src/openflow/flow.js';
import { flowKey } from '../../../src/openflow/flow-key.js';
import { configureLogging } from '../../../src/util/log.js';
import { NO_METERS } from '../../helpers/meterless-switch.js';

const sw: OpenFlowSwitch = { bridge: 'br-int', apply: async () => undefined, dumpFlows: async () => [], portDesc: async () => [], retire: () => undefined, ...NO_METERS };
const stats = (f: Flow, cookie: bigint): FlowStats => ({
  table: f.table, priority: f.priority, cookie, packetCount: 0n, byteCount: 0n, durationSec: 0, idleTimeout: 0, hardTimeout: 0,
  // As decoded from the switch: a fresh object with the same content.
  flow: JSON.parse(JSON.stringify({ ...f, cookie: undefined })) as Flow,
});

test('nothing missing, nothing foreign: no mods', async () => {
  const br = new IntegrationBridge('br-int', sw, 0x11n);
  await br.installFlows(...IntegrationBridge.defaultFlows());
  const dump = [...br.desired.entries()].map(([, f]) => stats(f, 0x11n));
  const { mods, result } = auditFlows(br, [0, 60], dump);
  assert.deepEqual(mods, []);
  assert.equal(result.desired, dump.length);
});

test('missing flows are re-added; foreign cookies in owned tables deleted by table and cookie first', async () => {
  const br = new IntegrationBridge('br-int', sw, 0x11n);
  await br.installFlows(...IntegrationBridge.defaultFlows());
  const all = [...br.desired.entries()].map(([, f]) => f);
  const gone = all.filter((f) => f.table === 60);
  assert.ok(gone.length > 0);
  const foreign: Flow = { table: 0, priority: 200, match: { ethType: 0x800 }, actions: [] };
  const learned: Flow = { table: 20, priority: 1, match: { vlanVid: { value: 0x1001 } }, actions: [] };
  const elsewhere: Flow = { table: 3, priority: 5, match: {}, actions: [] };
  const dump = [
    ...all.filter((f) => f.table !== 60).map((f) => stats(f, 0x11n)),
    stats(foreign, 0x1234n),
    stats(learned, 0x11n),
    stats(elsewhere, 0x99n),
  ];
  const { mods, result } = auditFlows(br, [0, 20, 60], dump);
  assert.deepEqual(mods[0], { command: 'delete', filter: { table: 0, cookie: 0x1234n, cookieMask: 0xffffffffffffffffn } });
  assert.deepEqual(mods.slice(1).map((m) => (m.command === 'add' ? m.flow : undefined)), gone);
  assert.equal(result.removed.length, 1);
  assert.equal(result.readded.length, gone.length);
});

test('a flow missing is found even when the dump has as many of our flows as the registry (a repeat, a learned one)', async () => {
  const br = new IntegrationBridge('br-int', sw, 0x11n);
  await br.installFlows(...IntegrationBridge.defaultFlows());
  const all = [...br.desired.entries()].map(([, f]) => f);
  const [missing, repeated, ...rest] = all;
  const learned: Flow = { table: 20, priority: 1, match: { vlanVid: { value: 0x1001 } }, actions: [] };
  for (const extra of [repeated!, learned]) {
    const dump = [repeated!, ...rest, extra].map((f) => stats(f, 0x11n));
    assert.equal(dump.length, all.length);
    const { mods, result } = auditFlows(br, [0, 20, 60], dump);
    assert.deepEqual(result.readded, [missing]);
    assert.deepEqual(mods, [{ command: 'add', flow: missing }]);
  }
});

// ---- A wanted flow the switch refuses (a full table): one ERROR, tries spaced out, settled when taken.

/** A switch that keeps its flows by identity and refuses adds to the tables in `full`. */
class FakeSwitch implements OpenFlowSwitch {
  readonly bridge = 'br-int';
  readonly flows = new Map<string, Flow>();
  readonly full = new Set<number>();
  /** Every add sent, by table. */
  readonly addsSent: Flow[] = [];
  async apply(mods: FlowMod[]): Promise<void> {
    const refused: Array<{ index: number; reason: string }> = [];
    mods.forEach((m, index) => {
      if (m.command !== 'add') return;
      this.addsSent.push(m.flow);
      if (this.full.has(m.flow.table)) refused.push({ index, reason: 'OFPFMFC_TABLE_FULL' });
      else this.flows.set(flowKey(m.flow), m.flow);
    });
    if (refused.length) throw new OpenFlowError(`switch refused ${refused.length} of ${mods.length} flow mods`, this.bridge, { refused });
  }
  async dumpFlows(): Promise<FlowStats[]> {
    return [...this.flows.values()].map((f) => stats(f, f.cookie ?? 0n));
  }
  async portDesc(): Promise<[]> {
    return [];
  }
  retire(): void {}
  readonly applyMeter = NO_METERS.applyMeter;
  readonly dumpMeters = NO_METERS.dumpMeters;
  readonly meterFeatures = NO_METERS.meterFeatures;
  /** `ovs-ofctl del-flows br-int table=N` */
  delTable(table: number): void {
    for (const [k, f] of this.flows) if (f.table === table) this.flows.delete(k);
  }
}

/** br-int with its default flows on a FakeSwitch, audited every 60 s by a clock the test turns. */
async function auditedBridge(): Promise<{ sw: FakeSwitch; br: IntegrationBridge; clock: { now: number }; audit: FlowAudit }> {
  const sw = new FakeSwitch();
  const br = new IntegrationBridge('br-int', sw, 0x11n);
  await br.installFlows(...IntegrationBridge.defaultFlows());
  const clock = { now: 0 };
  const ctx = {
    settings: { flowAuditIntervalSec: 60 },
    sync: { stopping: false, staleFlowsCleaned: true },
    scheduler: { withLock: <T>(fn: () => Promise<T>): Promise<T> => fn() },
    bridges: { int: br, phys: new Map() },
  } as unknown as AgentContext;
  return { sw, br, clock, audit: new FlowAudit(ctx, () => clock.now) };
}

function captureLog(): { lines: string[]; restore: () => void } {
  const lines: string[] = [];
  configureLogging({ debug: false, sink: { write: (l) => void lines.push(l) } });
  return { lines, restore: () => configureLogging({ sink: { write: (l) => void process.stderr.write(l) } }) };
}

test('a missing flow the switch refuses: one ERROR with bridge, flow and error, tried again at audits 1, 3, 7, 15; in place once taken', async () => {
  const { sw, br, clock, audit } = await auditedBridge();
  const log = captureLog();
  try {
    sw.delTable(INT.TRANSIENT_TABLE);
    sw.full.add(INT.TRANSIENT_TABLE);
    const wanted = [...br.desired.entries()].filter(([, f]) => f.table === INT.TRANSIENT_TABLE).length;
    assert.ok(wanted > 0);
    const tried: number[] = [];
    for (let i = 0; i < 16; i++) {
      clock.now = i * 60_000;
      const before = sw.addsSent.length;
      await audit.runOnce();
      if (sw.addsSent.length > before) tried.push(i);
    }
    assert.deepEqual(tried, [0, 1, 3, 7, 15], 'tries spaced out, not at every audit');
    const errors = log.lines.filter((l) => / ERROR /.test(l));
    assert.equal(errors.length, wanted, `one ERROR per refused flow:\n${log.lines.join('')}`);
    assert.match(errors[0]!, /br-int: the switch refuses a flow the agent wants \(OFPFMFC_TABLE_FULL\): .*table=60, /);
    assert.equal(log.lines.filter((l) => /added again/.test(l)).length, 0, 'a refused flow is not reported as added again');
    assert.equal(audit.counters.flowsRefused, wanted);
    assert.equal(audit.counters.flowsReadded, 0);

    // The operator makes room: the next due try is taken, said once, and the state is gone.
    sw.full.delete(INT.TRANSIENT_TABLE);
    for (let i = 16; i < 48 && audit.counters.flowsRefused > 0; i++) {
      clock.now = i * 60_000;
      await audit.runOnce();
    }
    assert.equal(audit.counters.flowsRefused, 0);
    assert.equal([...sw.flows.values()].filter((f) => f.table === INT.TRANSIENT_TABLE).length, wanted, 'back on the switch');
    assert.equal(log.lines.filter((l) => /the switch took the flow it refused 5 times/.test(l)).length, wanted, log.lines.join(''));
    const sent = sw.addsSent.length;
    clock.now += 60_000;
    await audit.runOnce();
    assert.equal(sw.addsSent.length, sent, 'nothing missing, nothing sent');
  } finally {
    log.restore();
  }
});

test('a refused flow the agent changes is tried at once; one it no longer wants is dropped', async () => {
  const { sw, br, clock, audit } = await auditedBridge();
  const log = captureLog();
  try {
    const flow: Flow = { table: 3, priority: 7, match: { inPort: 9 }, actions: [] };
    sw.full.add(3);
    await assert.rejects(br.installFlows(flow), OpenFlowError);
    await audit.runOnce(); // refused: ERROR, next try in one interval
    clock.now = 60_000;
    await audit.runOnce(); // refused again: next try in two
    clock.now = 120_000;
    const before = sw.addsSent.length;
    await audit.runOnce();
    assert.equal(sw.addsSent.length, before, 'held back');

    // Another action for the same match: another flow, news again, tried now.
    await assert.rejects(br.installFlows({ ...flow, actions: [{ type: 'output', port: 'NORMAL' }] }), OpenFlowError);
    const sentByPass = sw.addsSent.length;
    await audit.runOnce();
    assert.equal(sw.addsSent.length, sentByPass + 1, 'the changed flow is tried at the next audit');
    assert.equal(log.lines.filter((l) => / ERROR /.test(l)).length, 2, log.lines.join(''));
    assert.match(log.lines.filter((l) => / ERROR /.test(l))[1]!, /in_port=9 actions=NORMAL/);

    await br.batch().delete({ table: 3, match: { inPort: 9 } }).commit();
    await audit.runOnce();
    assert.equal(audit.counters.flowsRefused, 0);
    assert.equal(log.lines.filter((l) => /no longer wants the flow the switch refused/.test(l)).length, 1);
  } finally {
    log.restore();
  }
});
