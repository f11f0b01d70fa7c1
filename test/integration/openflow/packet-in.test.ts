// Packet-ins from a real ovs-vswitchd reach a listener on the bridge's native switch handle, with
// the flow's cookie, its table, the registers the pipeline set and the whole frame.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { PrivateOvs } from '../../../lab/ovs.js';
import type { NativeBackend } from '../../../src/openflow/native/backend.js';
import { output } from '../../../src/openflow/flow.js';
import type { PacketIn } from '../../../src/openflow/backend.js';
import { startNativeControlled, type NativeControlled } from '../../helpers/openflow-bridges.js';

let controlled: NativeControlled | undefined;
let ovs: PrivateOvs;
let backend: NativeBackend;

before(async () => {
  controlled = await startNativeControlled();
  ({ ovs, backend } = controlled);
});

after(() => controlled?.stop());

// An ICMP echo request 192.0.2.1 -> 192.0.2.2.
const FRAME = 'fa163e000002fa163e0000010800450000545d1f40004001c6c0c0000201c00002020800f7ff00010001' + '00'.repeat(56);

async function waitFor<T>(what: string, get: () => T | undefined, ms = 5000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = get();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('a `controller` action sends the packet with its flow cookie, table, registers and frame to the listener', async () => {
  const name = `pi${process.pid % 100000}`;
  const dpid = await controlled!.addBridge(name);
  await backend.waitForSwitch(dpid);
  const sw = backend.bridge(name, dpid);
  await sw.apply([
    { command: 'add', flow: { table: 0, priority: 1, cookie: 1n, match: {}, actions: [{ type: 'load', dst: { field: 'NXM_NX_REG5' }, value: 3n }, { type: 'resubmit', table: 93 }] } },
    { command: 'add', flow: { table: 93, priority: 53, cookie: 0xabcdef0123n, match: { regs: { 5: { value: 3 } } }, actions: [output('CONTROLLER')] } },
  ]);
  const got: PacketIn[] = [];
  const off = sw.onPacketIn((p) => got.push(p));
  await ovs.ofctl('-O', 'OpenFlow13', 'packet-out', name, `in_port=LOCAL packet=${FRAME} actions=resubmit(,0)`);
  const p = await waitFor('the packet-in', () => got[0]);
  assert.equal(p.bridge, name);
  assert.equal(p.cookie, 0xabcdef0123n);
  assert.equal(p.tableId, 93);
  assert.equal(p.reason, 'action');
  assert.equal(p.match.regs?.[5]?.value, 3);
  assert.equal(p.data.toString('hex'), FRAME);
  assert.equal(p.totalLen, FRAME.length / 2);
  assert.deepEqual(sw.packetInCounters(), { received: 1, delivered: 1, dropped: 0, malformed: 0 });
  off();
  await ovs.ofctl('-O', 'OpenFlow13', 'packet-out', name, `in_port=LOCAL packet=${FRAME} actions=resubmit(,0)`);
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(got.length, 1, 'nothing after unsubscribing');
  await ovs.vsctl('del-br', name);
});
