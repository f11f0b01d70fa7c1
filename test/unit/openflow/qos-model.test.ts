// What the QoS extension programs, through the flow model's three translations: ovs-ofctl text,
// dump-flows text read back, native FLOW_MOD/FLOW_STATS bytes. Each expected line is what Open vSwitch
// 3.1 printed for the same flow (added with ovs-ofctl add-flow, read back with `dump-flows --no-stats`;
// the integration test test/integration/openflow/qos-flows checks the same against the switch), and
// each meter text what its dump-meters / meter-features / refusals printed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { auditFlows } from '../../../src/agent/repair/flow-audit.js';
import { OVSBridge } from '../../../src/bridges/ovs-bridge.js';
import { masked } from '../../../src/openflow/flow.js';
import { flowKey } from '../../../src/openflow/flow-key.js';
import { dropMeter, metersUsable, type Meter, type MeterFeatures, type MeterMod } from '../../../src/openflow/meter.js';
import { decodeMessage, encodeMessage, errorName, flowModToWire, type FlowStatsEntry, type MultipartReply, type MultipartRequest, type OfMessage } from '../../../src/openflow/native/codec/index.js';
import { OfCodecError } from '../../../src/openflow/native/codec/errors.js';
import { parseDumpFlows } from '../../../src/openflow/ofctl/backend.js';
import { parseDumpLine } from '../../../src/openflow/ofctl/dump.js';
import { meterModFailure, MeterTextError, parseDumpMeters, parseMeterFeatures } from '../../../src/openflow/ofctl/meters.js';
import { formatFlow, formatMeter } from '../../../src/openflow/text.js';
import { NO_METERS } from '../../helpers/meterless-switch.js';
import { QOS_FLOWS } from '../../helpers/qos-flows.js';

test('QoS flows print as Open vSwitch prints them and parse back from dump-flows into the same flow', () => {
  for (const { flow, text } of QOS_FLOWS) {
    assert.equal(formatFlow(flow), text);
    const parsed = parseDumpLine(` cookie=0x0, duration=0.052s, table=${flow.table}, n_packets=0, n_bytes=0, ${text.replace(/^table=\d+, /, '')}`);
    assert.deepEqual(parsed?.flow, { ...flow, cookie: 0n }, text);
  }
  // An all-ones mask is no mask to OVS: `pkt_mark=0x3/0xffffffff` prints as `pkt_mark=0x3`.
  assert.equal(formatFlow({ table: 1, priority: 4, match: { pktMark: masked(3, 0xffffffff) }, meter: 10, actions: [] }), 'table=1, priority=4,pkt_mark=0x3 actions=meter:10');
});

test('QoS flows go through FLOW_MOD and FLOW_STATS bytes unchanged; the meter is the first instruction', () => {
  for (const { flow, text } of QOS_FLOWS) {
    const mod = decodeMessage(encodeMessage({ type: 'flow_mod', xid: 1, ...flowModToWire({ command: 'add', flow }) }));
    assert.equal(mod.type, 'flow_mod');
    if (mod.type !== 'flow_mod') continue;
    assert.deepEqual({ meter: mod.meter, actions: mod.actions, gotoTable: mod.gotoTable, match: mod.match }, { meter: flow.meter, actions: flow.actions, gotoTable: flow.gotoTable, match: flow.match }, text);
    const entry: FlowStatsEntry = { table: flow.table, priority: flow.priority, cookie: 0n, packetCount: 0n, byteCount: 0n, durationSec: 0, durationNsec: 0, idleTimeout: 0, hardTimeout: 0, flags: 0, flow };
    const reply = decodeMessage(encodeMessage({ type: 'multipart_reply', xid: 2, flags: 0, reply: { kind: 'flow', entries: [entry] } }));
    assert.ok(reply.type === 'multipart_reply' && reply.reply.kind === 'flow');
    assert.deepEqual(reply.reply.entries[0]?.flow, { ...flow, cookie: 0n }, text);
  }
  const bytes = encodeMessage({ type: 'flow_mod', xid: 1, ...flowModToWire({ command: 'add', flow: QOS_FLOWS[0]!.flow }) });
  // After the 8-byte ofp_match padding: OFPIT_METER (6), length 8, meter 7; then OFPIT_GOTO_TABLE (1) to 60.
  assert.equal(bytes.subarray(-16).toString('hex'), '0006000800000007' + '000100083c000000');
  // set_queue: OFPAT_SET_QUEUE (21), length 8, queue 3; ip_dscp: OXM basic field 8, one byte.
  const queueFlow = encodeMessage({ type: 'flow_mod', xid: 1, ...flowModToWire({ command: 'add', flow: QOS_FLOWS[3]!.flow }) }).toString('hex');
  assert.ok(queueFlow.includes('0015000800000003'), queueFlow);
  const dscpFlow = encodeMessage({ type: 'flow_mod', xid: 1, ...flowModToWire({ command: 'add', flow: QOS_FLOWS[4]!.flow }) }).toString('hex');
  assert.ok(dscpFlow.includes('001900108000100' + '11a'), dscpFlow);
  assert.throws(() => encodeMessage({ type: 'flow_mod', xid: 1, ...flowModToWire({ command: 'add', flow: { ...QOS_FLOWS[0]!.flow, meter: 0 } }) }), OfCodecError);
});

test('the flow audit finds a metered flow present after a dump through either backend, not missing', async () => {
  const sw = { bridge: 'br-int', apply: async () => undefined, dumpFlows: async () => [], portDesc: async () => [], retire: () => undefined, ...NO_METERS };
  const br = new OVSBridge('br-int', sw, 0x11n);
  await br.installFlows(...QOS_FLOWS.map((q) => q.flow));
  const wanted = [...br.desired.entries()].map(([, f]) => f);
  const text = wanted.map((f) => ` cookie=0x11, duration=1s, table=${f.table}, n_packets=0, n_bytes=0, ${formatFlow({ ...f, table: 0, cookie: 0n })}`).join('\n');
  const fromText = parseDumpFlows(text);
  const entries: FlowStatsEntry[] = wanted.map((f) => ({ table: f.table, priority: f.priority, cookie: 0x11n, packetCount: 0n, byteCount: 0n, durationSec: 0, durationNsec: 0, idleTimeout: 0, hardTimeout: 0, flags: 0, flow: f }));
  const reply = decodeMessage(encodeMessage({ type: 'multipart_reply', xid: 1, flags: 0, reply: { kind: 'flow', entries } }));
  assert.ok(reply.type === 'multipart_reply' && reply.reply.kind === 'flow');
  for (const dump of [fromText, reply.reply.entries]) {
    assert.deepEqual(dump.map((s) => s.flow), wanted);
    assert.deepEqual(dump.map((s) => s.flow && flowKey(s.flow)), wanted.map(flowKey));
    assert.deepEqual(auditFlows(br, [0, 1, 59], dump).mods, []);
  }
});

const PPS_METER = dropMeter(7, 'pktps', 1000, 100);
const KBPS_METER = dropMeter(8, 'kbps', 10000);

test('meters print as ovs-ofctl add-meter reads them; dump-meters and meter-features output parse back', () => {
  assert.deepEqual(PPS_METER, { id: 7, unit: 'pktps', burst: true, bands: [{ type: 'drop', rate: 1000, burstSize: 100 }] });
  assert.equal(formatMeter(PPS_METER), 'meter=7,pktps,burst,bands=type=drop,rate=1000,burst_size=100');
  assert.equal(formatMeter(KBPS_METER), 'meter=8,kbps,bands=type=drop,rate=10000');
  // The reference's packet-rate meter: a burst size without the flag, which ovs-ofctl refuses (and OVS ignores).
  assert.equal(formatMeter({ id: 3, unit: 'pktps', bands: [{ type: 'drop', rate: 1000, burstSize: 1000 }] }), 'meter=3,pktps,bands=type=drop,rate=1000');
  const stats: Meter = { id: 9, unit: 'kbps', burst: true, stats: true, bands: [{ type: 'drop', rate: 10000, burstSize: 2000 }, { type: 'drop', rate: 20000, burstSize: 1 }] };
  assert.equal(formatMeter(stats), 'meter=9,kbps,burst,stats,bands=type=drop,rate=10000,burst_size=2000,type=drop,rate=20000,burst_size=1');
  const dump = 'OFPST_METER_CONFIG reply (OF1.3) (xid=0x2):\nmeter=7 pktps burst bands=\ntype=drop rate=1000 burst_size=100\n\nmeter=8 kbps bands=\ntype=drop rate=10000\n\n' +
    'meter=9 kbps burst stats bands=\ntype=drop rate=10000 burst_size=2000\ntype=drop rate=20000 burst_size=1\n';
  assert.deepEqual(parseDumpMeters(dump), [PPS_METER, KBPS_METER, stats]);
  assert.deepEqual(parseDumpMeters('OFPST_METER_CONFIG reply (OF1.3) (xid=0x2):\n'), []);
  assert.throws(() => parseDumpMeters('meter=3 kbps bands=\ntype=dscp_remark rate=5 prec_level=1\n'), (e: unknown) => e instanceof MeterTextError && /type=dscp_remark/.test(e.message));
  assert.throws(() => parseDumpMeters('meter=3 bands=\ntype=drop rate=5\n'), (e: unknown) => e instanceof MeterTextError && /neither kbps nor pktps/.test(e.message));
  const features = parseMeterFeatures('OFPST_METER_FEATURES reply (OF1.3) (xid=0x2):\nmax_meter:262144 max_bands:8 max_color:0\nband_types: drop\ncapabilities: kbps pktps burst stats\n');
  assert.deepEqual(features, { maxMeter: 262144, bandTypes: ['drop'], capabilities: ['kbps', 'pktps', 'burst', 'stats'], maxBands: 8, maxColor: 0 });
  assert.equal(metersUsable(features), true);
  assert.equal(metersUsable(parseMeterFeatures('max_meter:0 max_bands:0 max_color:0\nband_types:\ncapabilities:\n')), false);
  assert.equal(meterModFailure('OFPT_ERROR (OF1.3) (xid=0x2): OFPMMFC_METER_EXISTS\nOFPT_METER_MOD (OF1.3) (xid=0x2): ADD meter=7 pktps bands=\ntype=drop rate=5\n'), 'OFPMMFC_METER_EXISTS');
  assert.equal(meterModFailure('OFPT_ERROR (OF1.3) (xid=0x2): OFPMMFC_UNKNOWN_METER\n'), 'OFPMMFC_UNKNOWN_METER');
  assert.equal(meterModFailure('ovs-ofctl: brx is not a bridge or a socket\n'), undefined);
});

const features: MeterFeatures = { maxMeter: 262144, bandTypes: ['drop'], capabilities: ['kbps', 'pktps', 'burst', 'stats'], maxBands: 8, maxColor: 0 };

test('meter mods, meter config and meter features go through their OpenFlow 1.3 layouts unchanged', () => {
  const mods: MeterMod[] = [{ command: 'add', meter: PPS_METER }, { command: 'modify', meter: { ...KBPS_METER, stats: true } }, { command: 'delete', meterId: 7 }];
  for (const mod of mods) assert.deepEqual(decodeMessage(encodeMessage({ type: 'meter_mod', xid: 4, mod })), { type: 'meter_mod', xid: 4, mod });
  // OFPT_METER_MOD (29), 32 bytes: OFPMC_ADD, OFPMF_PKTPS|OFPMF_BURST, meter 7; OFPMBT_DROP band of 16 bytes, rate 1000, burst 100.
  assert.equal(encodeMessage({ type: 'meter_mod', xid: 1, mod: mods[0]! }).toString('hex'), '041d002000000001' + '0000000600000007' + '00010010000003e80000006400000000');
  const requests: MultipartRequest[] = [{ kind: 'meter_config', meterId: 0xffffffff }, { kind: 'meter_features' }];
  for (const request of requests) assert.deepEqual(decodeMessage(encodeMessage({ type: 'multipart_request', xid: 5, flags: 0, request })), { type: 'multipart_request', xid: 5, flags: 0, request });
  assert.equal(encodeMessage({ type: 'multipart_request', xid: 5, flags: 0, request: requests[0]! }).toString('hex'), '0412001800000005' + '000a000000000000' + 'ffffffff00000000');
  const replies: MultipartReply[] = [{ kind: 'meter_config', meters: [PPS_METER, KBPS_METER] }, { kind: 'meter_features', features }];
  for (const reply of replies) assert.deepEqual(decodeMessage(encodeMessage({ type: 'multipart_reply', xid: 6, flags: 0, reply })), { type: 'multipart_reply', xid: 6, flags: 0, reply });
  // ofp_meter_features: max_meter, band_types 1 << OFPMBT_DROP, capabilities kbps|pktps|burst|stats, max_bands, max_color.
  assert.equal(encodeMessage({ type: 'multipart_reply', xid: 6, flags: 0, reply: replies[1]! }).toString('hex').slice(32), '00040000' + '00000002' + '0000000f' + '0800' + '0000');
  assert.match(errorName(12, 1), /OFPET_METER_MOD_FAILED code 1 \(OFPMMFC_METER_EXISTS\)/);
  assert.match(errorName(12, 3), /OFPMMFC_UNKNOWN_METER/);
});

/** A METER_CONFIG multipart reply (xid 6) with these entries, given in hex, decoded. */
function meterConfigReply(hexEntries: string): OfMessage {
  const body = Buffer.from('000a000000000000' + hexEntries, 'hex');
  const head = Buffer.from('0413000000000006', 'hex');
  head.writeUInt16BE(8 + body.length, 2);
  return decodeMessage(Buffer.concat([head, body]));
}

test('a meter the model cannot hold is refused with OfCodecError naming the meter', () => {
  const reply = meterConfigReply;
  // flags 0: neither kbps nor pktps.
  assert.throws(() => reply('0018' + '0000' + '00000009' + '00010010000003e80000000000000000'), /meter 9: flags 0x0 name neither or both/);
  // a dscp_remark band (type 2).
  assert.throws(() => reply('0018' + '0001' + '00000009' + '00020010000003e80000000001000000'), (e: unknown) => e instanceof OfCodecError && /meter 9: band type 2/.test(e.message));
  assert.throws(() => encodeMessage({ type: 'meter_mod', xid: 1, mod: { command: 'add', meter: { ...KBPS_METER, id: 0 } } }), OfCodecError);
});

test('a band\'s burst_size without the burst flag is left out, as OVS reports the rate there and ovs-ofctl prints none', () => {
  // ofp_meter_config of meter 8 as OVS 3.1 answers for `meter=8,kbps,bands=type=drop,rate=10000`: burst_size 10000.
  const reply = meterConfigReply('0018' + '0001' + '00000008' + '0001001000002710' + '0000271000000000');
  assert.deepEqual(reply.type === 'multipart_reply' && reply.reply, { kind: 'meter_config', meters: [KBPS_METER] });
});
