// The flow ledger counts flows per table from the flow mods sent, with OpenFlow's semantics:
// an add with the same table/priority/match replaces, deletes select strictly or non-strictly,
// under a cookie mask, and a refused flow mod leaves nothing.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { FlowLedger } from '../../../src/metrics/flow-ledger.js';
import { vlan, type Flow, type FlowMod } from '../../../src/openflow/flow.js';

const C1 = 0x1111n;
const C2 = 0x2222n;
const ALL = 0xffffffffffffffffn;
const add = (flow: Partial<Flow> & { table: number }, cookie = C1): FlowMod => ({
  command: 'add', flow: { priority: 1, match: {}, actions: [], ...flow, cookie },
});
const counts = (l: FlowLedger, bridge = 'br-int') => Object.fromEntries(l.counts().get(bridge) ?? new Map());

describe('FlowLedger', () => {
  it('an add of the same table, priority and match replaces; another priority or match is another flow', () => {
    const l = new FlowLedger();
    l.apply('br-int', [
      add({ table: 0, priority: 2, match: { inPort: 5 } }),
      add({ table: 0, priority: 2, match: { inPort: 5 }, actions: [{ type: 'output', port: 'NORMAL' }] }),
      add({ table: 0, priority: 3, match: { inPort: 5 } }),
      add({ table: 0, priority: 2, match: { inPort: 6 } }),
      add({ table: 24, priority: 2, match: { inPort: 5, ethType: 0x806 } }),
    ]);
    assert.deepEqual(counts(l), { 0: 3, 24: 1 });
  });

  it('match fields compare by value whatever the key order', () => {
    const l = new FlowLedger();
    l.apply('br-int', [add({ table: 0, match: { inPort: 5, vlanVid: vlan(3) } }), add({ table: 0, match: { vlanVid: vlan(3), inPort: 5 } })]);
    assert.deepEqual(counts(l), { 0: 1 });
  });

  it('a non-strict delete removes every flow with at least its fields, any priority, in its table or all tables', () => {
    const l = new FlowLedger();
    l.apply('br-int', [
      add({ table: 0, priority: 2, match: { inPort: 5 } }),
      add({ table: 0, priority: 10, match: { inPort: 5, ethType: 0x806 } }),
      add({ table: 0, priority: 2, match: { inPort: 6 } }),
      add({ table: 24, priority: 2, match: { inPort: 5 } }),
      add({ table: 0, priority: 1, match: {} }),
    ]);
    l.apply('br-int', [{ command: 'delete', filter: { table: 0, match: { inPort: 5 }, cookie: C1, cookieMask: ALL } }]);
    assert.deepEqual(counts(l), { 0: 2, 24: 1 });
    l.apply('br-int', [{ command: 'delete', filter: { match: { inPort: 5 } } }]);
    assert.deepEqual(counts(l), { 0: 2 });
  });

  it('a strict delete needs the same priority and match', () => {
    const l = new FlowLedger();
    l.apply('br-int', [add({ table: 0, priority: 2, match: { inPort: 5 } }), add({ table: 0, priority: 10, match: { inPort: 5, ethType: 0x806 } })]);
    l.apply('br-int', [{ command: 'delete', filter: { table: 0, strict: true, priority: 10, match: { inPort: 5 } } }]);
    assert.deepEqual(counts(l), { 0: 2 }, 'nothing has exactly that match');
    l.apply('br-int', [{ command: 'delete', filter: { table: 0, strict: true, priority: 2, match: { inPort: 5 } } }]);
    assert.deepEqual(counts(l), { 0: 1 });
  });

  it('deletes by cookie touch only that cookie; registers are fields of their own', () => {
    const l = new FlowLedger();
    l.apply('br-int', [
      add({ table: 82, match: { regs: { 5: { value: 7 } } } }, C1),
      add({ table: 82, priority: 2, match: { regs: { 5: { value: 8 } } } }, C2),
    ]);
    l.apply('br-int', [{ command: 'delete', filter: { cookie: C2, cookieMask: ALL } }]);
    assert.deepEqual(counts(l), { 82: 1 });
    l.apply('br-int', [{ command: 'delete', filter: { table: 82, match: { regs: { 5: { value: 8 } } } } }]);
    assert.deepEqual(counts(l), { 82: 1 }, 'reg5=8 is gone already; reg5=7 stays');
    l.apply('br-int', [{ command: 'delete', filter: { table: 82, match: { regs: { 5: { value: 7 } } } } }]);
    assert.deepEqual(counts(l), {});
  });

  it('a refused flow mod is not counted; bridges are apart; clear forgets a bridge', () => {
    const l = new FlowLedger();
    l.apply('br-int', [add({ table: 0, match: { inPort: 1 } }), add({ table: 0, match: { inPort: 2 } })], new Set([1]));
    l.apply('br-tun', [add({ table: 22, match: {} })]);
    assert.deepEqual(counts(l), { 0: 1 });
    assert.deepEqual(counts(l, 'br-tun'), { 22: 1 });
    l.clear('br-int');
    assert.deepEqual(counts(l), {});
    assert.deepEqual(counts(l, 'br-tun'), { 22: 1 });
  });

  it('stays cheap for a big pass: 1000 ports of 20 flows unwired by in_port deletes', () => {
    const l = new FlowLedger();
    const mods: FlowMod[] = [];
    for (let port = 1; port <= 1000; port++) {
      for (let i = 0; i < 20; i++) mods.push(add({ table: i % 4 === 0 ? 0 : 24 + (i % 3), priority: 10 + i, match: { inPort: port } }));
    }
    l.apply('br-int', mods);
    assert.equal([...(l.counts().get('br-int')?.values() ?? [])].reduce((a, b) => a + b, 0), 20000);
    const t0 = performance.now();
    const deletes: FlowMod[] = [];
    for (let port = 1; port <= 1000; port++) {
      deletes.push({ command: 'delete', filter: { match: { inPort: port }, cookie: C1, cookieMask: ALL } });
      deletes.push({ command: 'delete', filter: { table: 24, match: { inPort: port } } });
      deletes.push({ command: 'delete', filter: { table: 0, strict: true, priority: 10, match: { inPort: port } } });
    }
    l.apply('br-int', deletes);
    const ms = performance.now() - t0;
    assert.deepEqual(counts(l), {});
    assert.ok(ms < 1000, `3000 deletes over 20000 flows took ${ms.toFixed(0)} ms`);
  });
});
