// What the bridge recovery decides from Bridge and Open_vSwitch rows, on a real replica fed with
// monitor updates: which switch handles it retires, when it sets the bridges up again (creating
// them or not), and that it warns once and waits while a bridge the operator deleted is missing.
// The setup itself is a recording stand-in; the real one runs in
// test/integration/resilience/bridges-recreated.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BridgeRecovery, type ManagedBridge } from '../../../src/agent/bridges/bridge-recovery.js';
import type { BridgeIdentity, SetupMode } from '../../../src/agent/bridges/bridge-setup.js';
import type { OpenFlowSwitch } from '../../../src/openflow/backend.js';
import { OvsdbReplica } from '../../../src/ovsdb/replica.js';
import type { Json, TableUpdates } from '../../../src/ovsdb/protocol.js';
import { configureLogging } from '../../../src/util/log.js';

type R = Record<string, Json>;
const map = (o: Record<string, string>): Json => ['map', Object.entries(o)];
function bridgeRow(name: string, dpid?: string): R {
  return { name, ports: ['set', []], datapath_type: 'netdev', datapath_id: dpid ?? ['set', []], protocols: ['set', []], controller: ['set', []], external_ids: map({}), other_config: map({}), fail_mode: ['set', []], mcast_snooping_enable: false };
}
function tu(...tables: Array<[string, Array<[string, { old?: R; new?: R }]>]>): TableUpdates {
  return tables.map(([table, rows]) => ({ table, rows: rows.map(([uuid, update]) => ({ uuid, update })) }));
}
const root = (uuid: string): TableUpdates => tu(['Open_vSwitch', [[uuid, { new: { bridges: ['set', []], datapath_types: ['set', []], iface_types: ['set', []], other_config: map({}) } }]]]);

/** The agent's log lines while a test runs; restore() sends them to stderr again. */
function captureLogs(): { matching(re: RegExp): string[]; restore(): void } {
  const lines: string[] = [];
  configureLogging({ sink: { write: (l) => void lines.push(l) } });
  return {
    matching: (re) => lines.filter((l) => re.test(l)),
    restore: () => configureLogging({ sink: { write: (l) => void process.stderr.write(l) } }),
  };
}

class Harness {
  readonly replica = new OvsdbReplica();
  readonly identities = new Map<string, BridgeIdentity>();
  readonly retired: string[] = [];
  /** The modes each set-up was asked for (its signal left out). */
  readonly setups: Array<Omit<SetupMode, 'signal'>> = [];
  ready = true;
  /** The stand-in setup: records the identities by default; a test may make it wait instead. */
  setupBody: (mode: SetupMode) => Promise<void> = async () => this.recordIdentities();
  private lock: Promise<unknown> = Promise.resolve();
  /** What the stand-in setup records as set up: each managed bridge present, with its row's datapath id. */
  readonly recovery: BridgeRecovery;

  constructor(readonly managed: ManagedBridge[]) {
    this.recovery = new BridgeRecovery({
      replica: this.replica,
      managed,
      identities: this.identities,
      switchOf: (name) => ({ retire: (reason: string) => this.retired.push(`${name}: ${reason}`) }) as unknown as OpenFlowSwitch,
      resetup: (mode) => {
        this.setups.push({ createMissing: mode.createMissing, providerMissingOk: mode.providerMissingOk });
        return this.setupBody(mode);
      },
      withLock: <T>(fn: () => Promise<T>) => {
        const p = this.lock.then(fn);
        this.lock = p.catch(() => undefined);
        return p;
      },
      stopping: () => false,
      setReady: (r) => (this.ready = r),
    });
  }

  /** As the agent does once its bridges are set up at start. */
  start(): void {
    this.recordIdentities();
    this.recovery.started();
    this.replica.on('update', (c) => this.recovery.onUpdate(c));
  }

  recordIdentities(): void {
    for (const b of this.managed) {
      const row = this.replica.bridge(b.name);
      if (row?.datapathId) this.identities.set(b.name, { uuid: row.uuid, datapathId: BigInt(`0x${row.datapathId}`) });
      else this.identities.delete(b.name);
    }
  }

  async settle(): Promise<void> {
    // Not waiting on the lock: a set-up a test keeps waiting holds it.
    for (let i = 0; i < 10; i++) await new Promise((r) => setImmediate(r));
  }
}

const MANAGED: ManagedBridge[] = [
  { name: 'br-int', role: 'integration bridge', provider: false },
  { name: 'br-ex', role: 'provider bridge of physical network physnet1', provider: true },
  { name: 'br-tun', role: 'tunnel bridge', provider: false },
];

function started(): Harness {
  const h = new Harness(MANAGED);
  h.replica.resync([
    ...root('root1'),
    ...tu(['Bridge', [['int1', { new: bridgeRow('br-int', '00000000000000a1') }], ['ex1', { new: bridgeRow('br-ex', '00000000000000e1') }], ['tun1', { new: bridgeRow('br-tun', '00000000000000b1') }]]]),
  ]);
  h.start();
  return h;
}

test('bridge recovery: br-int deleted is waited for with one WARNING, its handle retired; re-added, it is set up again without creating anything', async () => {
  const logs = captureLogs();
  try {
    const h = started();
    h.replica.update(tu(['Bridge', [['int1', { old: bridgeRow('br-int', '00000000000000a1') }]]]));
    await h.settle();
    assert.equal(h.ready, false, 'passes wait');
    assert.deepEqual(h.retired, ['br-int: bridge br-int was deleted']);
    assert.deepEqual(h.setups, [], 'nothing set up while br-int is missing');
    // More changes while it is missing: still one warning.
    h.replica.update(tu(['Bridge', [['tun1', { old: bridgeRow('br-tun', '00000000000000b1'), new: { ...bridgeRow('br-tun', '00000000000000b1'), fail_mode: 'secure' } }]]]));
    await h.settle();
    assert.equal(logs.matching(/WARNING.*br-int \(integration bridge\) was deleted while the agent ran.*ovs-vsctl add-br br-int/).length, 1);

    h.replica.update(tu(['Bridge', [['int2', { new: bridgeRow('br-int') }]]]));
    await h.settle();
    assert.deepEqual(h.setups, [{ createMissing: false, providerMissingOk: true }], 'set up again at once, before its datapath id is known');
    assert.equal(h.ready, true);
    // ovs-vswitchd filling in the new row's datapath id is no change.
    h.replica.update(tu(['Bridge', [['int2', { old: { datapath_id: ['set', []] }, new: bridgeRow('br-int', '00000000000000a2') }]]]));
    h.recordIdentities();
    await h.settle();
    assert.equal(h.setups.length, 1);
  } finally {
    logs.restore();
  }
});

test('bridge recovery: a new datapath id retires the old handle and sets the bridges up again', async () => {
  const h = started();
  h.replica.update(tu(['Bridge', [['int1', { old: { datapath_id: '00000000000000a1' }, new: bridgeRow('br-int', '00000000000000ab') }]]]));
  await h.settle();
  assert.deepEqual(h.retired, ['br-int: bridge br-int changed datapath id from 0x00000000000000a1 to 0x00000000000000ab']);
  assert.equal(h.setups.length, 1);
  assert.equal(h.ready, true);
});

test('bridge recovery: a database created anew is waited for until initialised, then the bridges are created; a missing provider bridge does not hold it up', async () => {
  const logs = captureLogs();
  try {
    const h = started();
    // The replica reconnects to an empty database: every row gone.
    h.replica.resync([]);
    await h.settle();
    assert.deepEqual(h.setups, []);
    assert.equal(logs.matching(/WARNING.*no Open_vSwitch row.*ovs-vsctl init/).length, 1);
    assert.equal(h.retired.length, 3, 'every handle retired');
    h.replica.update(root('root2'));
    await h.settle();
    assert.deepEqual(h.setups, [{ createMissing: true, providerMissingOk: true }]);
    assert.equal(h.ready, true);
  } finally {
    logs.restore();
  }
});

test('bridge recovery: a change that leaves every bridge as set up does nothing', async () => {
  const h = started();
  h.replica.update(tu(['Bridge', [['int1', { old: { fail_mode: ['set', []] }, new: { ...bridgeRow('br-int', '00000000000000a1'), fail_mode: 'standalone' } }]]]));
  await h.settle();
  assert.deepEqual(h.setups, []);
  assert.deepEqual(h.retired, []);
  assert.equal(h.ready, true);
});

test('bridge recovery: a set-up waiting on a bridge that is deleted again is cancelled at once, then the bridge is waited for', async () => {
  const logs = captureLogs();
  try {
    const h = started();
    let cancelled: string | undefined;
    // A set-up stuck waiting (for a datapath id, an ofport, a switch) until its signal says stop.
    h.setupBody = (mode) => new Promise<void>((_, reject) => {
      mode.signal?.addEventListener('abort', () => {
        cancelled = String((mode.signal!.reason as Error).message);
        reject(mode.signal!.reason as Error);
      });
    });
    h.replica.update(tu(['Bridge', [['int1', { old: bridgeRow('br-int', '00000000000000a1'), new: bridgeRow('br-int', '00000000000000ab') }]]]));
    await h.settle();
    assert.equal(h.setups.length, 1, 'set-up started');
    h.replica.update(tu(['Bridge', [['int1', { old: bridgeRow('br-int', '00000000000000ab') }]]]));
    await h.settle();
    assert.match(cancelled ?? '', /br-int \(integration bridge\) was deleted/, 'the waiting set-up is cancelled by the deletion');
    assert.equal(h.setups.length, 1, 'no new set-up while br-int is missing');
    assert.equal(h.ready, false);
    assert.equal(logs.matching(/WARNING.*br-int \(integration bridge\) was deleted while the agent ran/).length, 1);
  } finally {
    logs.restore();
  }
});

test('bridge recovery: a provider bridge missing from a new database does not hold br-int up, and is set up once the operator adds it', async () => {
  const h = started();
  h.replica.resync(root('root2'));
  await h.settle();
  assert.deepEqual(h.setups, [{ createMissing: true, providerMissingOk: true }], 'br-int and br-tun created, br-ex left out');
  assert.equal(h.ready, true);
  // The stand-in set up what existed: nothing yet. The agent created br-int and br-tun meanwhile.
  h.replica.update(tu(['Bridge', [['int3', { new: bridgeRow('br-int', '00000000000000c1') }], ['tun3', { new: bridgeRow('br-tun', '00000000000000c2') }]]]));
  h.recordIdentities();
  await h.settle();
  assert.equal(h.setups.length, 1, 'its own bridges appearing is no new change');
  h.replica.update(tu(['Bridge', [['ex3', { new: bridgeRow('br-ex', '00000000000000c3') }]]]));
  await h.settle();
  assert.deepEqual(h.setups[1], { createMissing: false, providerMissingOk: true }, 'br-ex added: set up again');
  assert.equal(h.ready, true);
});
