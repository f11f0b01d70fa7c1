// The QoS extension's meters and flows through both OpenFlow backends on a real Open vSwitch
// (userspace datapath): the same meters and flows leave the same `dump-meters` and `dump-flows`,
// each backend reads them back into the model it was given, the flow audit finds nothing to repair,
// and the switch's refusals of a meter mod reach the caller as a MeterModError it can act on.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { PrivateOvs } from '../../../lab/ovs.js';
import { auditFlows } from '../../../src/agent/repair/flow-audit.js';
import { OVSBridge } from '../../../src/bridges/ovs-bridge.js';
import { MeterModError, type OpenFlowSwitch } from '../../../src/openflow/backend.js';
import { flowKey } from '../../../src/openflow/flow-key.js';
import { dropMeter, metersUsable, type MeterModFailure } from '../../../src/openflow/meter.js';
import { OfctlBackend } from '../../../src/openflow/ofctl/backend.js';
import { startNativeControlled, type NativeControlled } from '../../helpers/openflow-bridges.js';
import { QOS_FLOWS, QOS_METERS } from '../../helpers/qos-flows.js';

let controlled: NativeControlled | undefined;
let ovs: PrivateOvs;
/** One bridge per backend, named after it. */
const switches = new Map<string, OpenFlowSwitch>();
const NATIVE = `tqn${process.pid % 10000}`;
const OFCTL = `tqo${process.pid % 10000}`;

before(async () => {
  controlled = await startNativeControlled();
  ovs = controlled.ovs;
  switches.set(NATIVE, controlled.backend.bridge(NATIVE, await controlled.addBridge(NATIVE)));
  await ovs.addSecureBridge(OFCTL);
  const ofctl = new OfctlBackend({ timeoutSec: 10, env: ovs.env });
  await ofctl.start();
  switches.set(OFCTL, ofctl.bridge(OFCTL));
});

after(() => controlled?.stop());

/** `ovs-ofctl dump-meters` of a bridge, the reply header left out. */
async function dumpMeters(bridge: string): Promise<string> {
  const out = await ovs.ofctl('-O', 'OpenFlow13', 'dump-meters', bridge);
  return out.replace(/^OFPST_METER_CONFIG reply.*\n/gm, '');
}

test('meter-features: this datapath meters, and both backends say so alike', async () => {
  const [a, b] = await Promise.all([...switches.values()].map((sw) => sw.meterFeatures()));
  assert.deepEqual(a, b);
  assert.equal(metersUsable(a!), true, JSON.stringify(a));
  assert.ok(a!.bandTypes.includes('drop') && a!.capabilities.includes('pktps') && a!.capabilities.includes('kbps'), JSON.stringify(a));
});

test('the same meters through either backend: the same dump-meters, read back as they were given', async () => {
  for (const sw of switches.values()) {
    for (const meter of QOS_METERS) await sw.applyMeter({ command: 'add', meter });
  }
  const text = await dumpMeters(NATIVE);
  assert.equal(await dumpMeters(OFCTL), text);
  // OVS sorts meters by their id as text: 10 before 7.
  assert.match(text, /^meter=10 pktps stats bands=\ntype=drop rate=5000\n\nmeter=7 pktps burst bands=\ntype=drop rate=1000 burst_size=100\n/);
  for (const sw of switches.values()) assert.deepEqual(await sw.dumpMeters(), QOS_METERS, sw.bridge);
});

test('the QoS flows through either backend: the same dump-flows as the reference prints, each read back unchanged, nothing for the audit to repair', async () => {
  for (const sw of switches.values()) {
    const br = new OVSBridge(sw.bridge, sw, 0x5e1f00dn);
    await br.installFlows(...QOS_FLOWS.map((q) => q.flow));
    const stats = await sw.dumpFlows();
    const wanted = [...br.desired.entries()].map(([, f]) => f);
    const got = new Map(stats.map((s) => [s.flow ? flowKey(s.flow) : `undecoded ${s.table}/${s.priority}`, s.flow]));
    for (const f of wanted) assert.deepEqual(got.get(flowKey(f)), f, `${sw.bridge}: ${flowKey(f)}`);
    assert.equal(stats.length, wanted.length, sw.bridge);
    assert.deepEqual(auditFlows(br, [0, 1, 59], stats).mods, [], sw.bridge);
  }
  const expected = QOS_FLOWS.map((q) => q.text).sort();
  assert.deepEqual(await ovs.dumpFlows(NATIVE), expected);
  assert.deepEqual(await ovs.dumpFlows(OFCTL), expected);
});

/** The MeterModError `sw` rejects `mod` with, checked for bridge, meter and failure. */
async function refusal(sw: OpenFlowSwitch, mod: Parameters<OpenFlowSwitch['applyMeter']>[0], meterId: number, failure: MeterModFailure): Promise<void> {
  await assert.rejects(sw.applyMeter(mod), (e: unknown) => {
    assert.ok(e instanceof MeterModError, String(e));
    assert.deepEqual([e.bridge, e.meterId, e.failure], [sw.bridge, meterId, failure]);
    assert.match(e.message, new RegExp(`^${sw.bridge}: switch refused .*meter=${meterId}.*: ${failure}$`));
    return true;
  });
}

test('an add of an existing meter and a modify of a missing one are MeterModErrors; add-then-modify works; a delete takes its flows along', async () => {
  for (const sw of switches.values()) {
    const changed = dropMeter(7, 'pktps', 2000, 300);
    await refusal(sw, { command: 'add', meter: changed }, 7, 'OFPMMFC_METER_EXISTS');
    await refusal(sw, { command: 'modify', meter: dropMeter(70, 'kbps', 1) }, 70, 'OFPMMFC_UNKNOWN_METER');
    // What the reference does: add, and on METER_EXISTS modify.
    await sw.applyMeter({ command: 'modify', meter: changed });
    assert.deepEqual((await sw.dumpMeters()).find((m) => m.id === 7), changed, sw.bridge);
    // OpenFlow removes the flows that use a deleted meter; a missing meter's delete is no error.
    await sw.applyMeter({ command: 'delete', meterId: 8 });
    await sw.applyMeter({ command: 'delete', meterId: 80 });
    assert.deepEqual((await sw.dumpMeters()).map((m) => m.id), [7, 9, 10], sw.bridge);
  }
  assert.equal(await dumpMeters(OFCTL), await dumpMeters(NATIVE));
  const left = await ovs.dumpFlows(NATIVE);
  assert.deepEqual(await ovs.dumpFlows(OFCTL), left);
  assert.deepEqual(left, QOS_FLOWS.filter((q) => q.flow.meter !== 8).map((q) => q.text).sort());
});
