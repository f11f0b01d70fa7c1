// The audit's comparison: missing wanted flows are re-added, foreign cookies in owned tables go,
// our own flows the registry does not know (learned) and foreign flows elsewhere are left alone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { auditFlows } from '../../../src/agent/flow-audit.js';
import { IntegrationBridge } from '../../../src/bridges/br-int.js';
import type { OpenFlowSwitch } from '../../../src/openflow/backend.js';
import type { Flow, FlowStats } from '../../../src/openflow/flow.js';

const sw: OpenFlowSwitch = { bridge: 'br-int', apply: async () => undefined, dumpFlows: async () => [], portDesc: async () => [], retire: () => undefined };
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
