import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { outputText, parseDumpFlows, parseDumpFlowsLine } from '../../../src/openflow/ofctl/backend.js';
import { FlowTextError, parseDumpLine } from '../../../src/openflow/ofctl/dump.js';
import { formatFlow } from '../../../src/openflow/text.js';
import { configureLogging } from '../../../src/util/log.js';

// `ovs-ofctl -O OpenFlow13 dump-flows` lines of the OVS firewall as Open vSwitch 3.1 prints them
// (the reference's base flows carry reset_counts; actions hold table= and cookie= of their own).
test('firewall dump lines give table, priority, cookie and timeouts, never values from the actions', () => {
  const base = parseDumpFlowsLine(' cookie=0xa8f5fba2016423cf, duration=12.5s, table=71, n_packets=3, n_bytes=180, reset_counts priority=110,ct_state=+trk actions=ct_clear,resubmit(,71)');
  assert.deepEqual(
    { ...base, flow: undefined },
    { table: 71, priority: 110, cookie: 0xa8f5fba2016423cfn, packetCount: 3n, byteCount: 180n, durationSec: 12.5, idleTimeout: 0, hardTimeout: 0, flow: undefined },
  );
  const ct = parseDumpFlowsLine(' cookie=0x1, duration=0.1s, table=81, n_packets=0, n_bytes=0, priority=90,ct_state=-trk,ip,reg5=0x3 actions=ct(table=82,zone=NXM_NX_REG6[0..15])');
  assert.equal(ct?.table, 81);
  assert.equal(ct?.priority, 90);
  const conj = parseDumpFlowsLine(' cookie=0x2, duration=0.1s, table=82, n_packets=0, n_bytes=0, idle_timeout=30, priority=70,conj_id=17,ct_state=+new-est,ip,reg5=0x3 actions=set_field:0x11->reg7,ct(commit,zone=NXM_NX_REG6[0..15]),output:3');
  assert.deepEqual([conj?.table, conj?.priority, conj?.cookie, conj?.idleTimeout], [82, 70, 2n, 30]);
  const learn = parseDumpFlowsLine(' cookie=0x3, duration=1s, n_packets=0, n_bytes=0, priority=1 actions=learn(table=20,hard_timeout=300,priority=1,cookie=0x9,NXM_OF_VLAN_TCI[0..11]),output:1');
  assert.deepEqual([learn?.table, learn?.priority, learn?.cookie, learn?.hardTimeout], [0, 1, 3n, 0]);
});

test('conj_id and the conjunction ids in actions are decoded (what a restarted firewall numbers above)', () => {
  const accept = parseDumpFlowsLine(' cookie=0x2, duration=0.1s, table=82, n_packets=0, n_bytes=0, priority=70,conj_id=17,ct_state=+new-est,ip,reg5=0x3 actions=set_field:0x11->reg7,ct(commit,zone=NXM_NX_REG6[0..15]),output:3,resubmit(,92)');
  assert.equal(accept?.flow?.match.conjId, 17);
  assert.deepEqual(accept?.flow?.match.regs, { 5: { value: 3 } });
  assert.deepEqual(accept?.flow?.actions, [
    { type: 'set_field', field: 'reg7', value: 0x11 },
    { type: 'ct', commit: true, zone: { field: 'NXM_NX_REG6', ofs: 0, nBits: 16 } },
    { type: 'output', port: 3 },
    { type: 'resubmit', table: 92 },
  ]);
  const member = parseDumpFlowsLine(' cookie=0x2, duration=3.0s, table=82, n_packets=0, n_bytes=0, priority=73,ct_state=+est-rel-rpl,ip,reg6=0x1,nw_src=10.0.0.0/24 actions=conjunction(4104,1/2),conjunction(4112,1/2)');
  assert.equal(member?.flow?.match.conjId, undefined);
  assert.deepEqual(member?.flow?.match.ipv4Src, { value: '10.0.0.0', mask: '255.255.255.0' });
  assert.deepEqual(
    member?.flow?.actions.flatMap((a) => (a.type === 'conjunction' ? [[a.id, a.clause, a.nClauses]] : [])),
    [[4104, 1, 2], [4112, 1, 2]],
  );
});

test('a line the model cannot express keeps its stats, and says which token', () => {
  const line = ' cookie=0x5, duration=1s, table=3, n_packets=7, n_bytes=0, priority=9,ct_label=0x1 actions=drop';
  const stats = parseDumpFlowsLine(line);
  assert.deepEqual([stats?.table, stats?.priority, stats?.cookie, stats?.packetCount, stats?.flow], [3, 9, 5n, 7n, undefined]);
  const parsed = parseDumpLine(line);
  assert.ok(parsed?.flow instanceof FlowTextError);
  assert.match(parsed.flow.message, /ct_label=0x1/);
  const badAction = parseDumpLine('table=3, priority=9 actions=dec_ttl');
  assert.ok(badAction?.flow instanceof FlowTextError && /dec_ttl.*unknown action/.test(badAction.flow.message));
  assert.equal(parseDumpLine('OFPST_FLOW reply (OF1.3) (xid=0x2):'), undefined);
});

// Every flow the reference agent left on its bridges (captured with dump-flows), decoded and written
// back: the same line. That covers every match field and action the agent's pipelines and its
// OVS firewall use, in OVS's own spelling.
const FIXTURES = new URL('../../../../test/fixtures/reference/', import.meta.url).pathname;
function fixtureLines(): Array<{ file: string; line: string }> {
  const out: Array<{ file: string; line: string }> = [];
  for (const dir of [FIXTURES, join(FIXTURES, 'firewall')]) {
    for (const f of readdirSync(dir).filter((n) => n.endsWith('.flows'))) {
      for (const line of readFileSync(join(dir, f), 'utf8').split('\n')) {
        if (line.trim() && !line.startsWith('#') && !line.startsWith('==')) out.push({ file: f, line: line.trim() });
      }
    }
  }
  return out;
}

test('every captured reference flow decodes and formats back to the same line', () => {
  const lines = fixtureLines();
  assert.ok(lines.length > 1000, `fixture lines found: ${lines.length}`);
  const wrong: string[] = [];
  for (const { file, line } of lines) {
    const parsed = parseDumpLine(line);
    if (!parsed) continue;
    if (parsed.flow instanceof FlowTextError) wrong.push(`${file}: ${line}\n  ${parsed.flow.message}`);
    else if (formatFlow(parsed.flow) !== line) wrong.push(`${file}: ${line}\n  -> ${formatFlow(parsed.flow)}`);
  }
  assert.deepEqual(wrong.slice(0, 10), [], `${wrong.length} of ${lines.length} lines`);
});

// A reply as ovs-ofctl prints it: reply headers between parts, flows sharing one actions text, a
// counter beyond 2^53, a flag among the header words, a line the model cannot express, blank lines.
const REPLY = [
  'OFPST_FLOW reply (OF1.3) (xid=0x2): flags=[more]',
  ' cookie=0x9950ace035467994, duration=1.140s, table=20, n_packets=0, n_bytes=0, priority=2,dl_vlan=1,dl_dst=fa:16:3e:00:00:00 actions=pop_vlan,set_field:0x3e8->tun_id,output:2',
  ' cookie=0x9950ace035467994, duration=1.140s, table=20, n_packets=12345678901234567890, n_bytes=99, priority=2,dl_vlan=2,dl_dst=fa:16:3e:00:00:01 actions=pop_vlan,set_field:0x3e8->tun_id,output:2',
  'OFPST_FLOW reply (OF1.3) (xid=0x2):',
  ' cookie=0x5, duration=1s, table=3, n_packets=7, n_bytes=0, priority=9,ct_label=0x1 actions=drop',
  ' cookie=0x9950ace035467994, duration=2.5s, table=0, n_packets=0, n_bytes=0, reset_counts idle_timeout=30, hard_age=3, priority=1,in_port=1 actions=goto_table:60',
  '',
  ' cookie=0x9950ace035467994, duration=0.5s, table=60, n_packets=3, n_bytes=180, priority=0 actions=pop_vlan,set_field:0x3e8->tun_id,output:2',
  '',
].join('\n');

test('a whole reply gives, line by line, what each line gives alone; one actions text is decoded once', () => {
  const flows = parseDumpFlows(REPLY);
  const alone = REPLY.split('\n').flatMap((l) => parseDumpFlowsLine(l) ?? []);
  assert.deepEqual(flows, alone);
  assert.deepEqual(
    flows.map((f) => [f.table, f.priority, f.cookie, f.packetCount, f.byteCount, f.durationSec, f.idleTimeout, f.flow !== undefined]),
    [
      [20, 2, 0x9950ace035467994n, 0n, 0n, 1.14, 0, true],
      [20, 2, 0x9950ace035467994n, 12345678901234567890n, 99n, 1.14, 0, true],
      [3, 9, 5n, 7n, 0n, 1, 0, false],
      [0, 1, 0x9950ace035467994n, 0n, 0n, 2.5, 30, true],
      [60, 0, 0x9950ace035467994n, 3n, 180n, 0.5, 0, true],
    ],
  );
  assert.deepEqual(flows[1]?.flow, {
    table: 20,
    priority: 2,
    cookie: 0x9950ace035467994n,
    match: { vlanVid: { value: 0x1002 }, ethDst: { value: 'fa:16:3e:00:00:01' } },
    actions: [{ type: 'pop_vlan' }, { type: 'set_field', field: 'tun_id', value: 0x3e8n }, { type: 'output', port: 2 }],
  });
  assert.deepEqual(flows[3]?.flow, { table: 0, priority: 1, cookie: 0x9950ace035467994n, match: { inPort: 1 }, actions: [], gotoTable: 60, idleTimeout: 30 });
  // Three flows of one reply with the same actions text: one decoding, one array (read-only for every reader).
  assert.equal(flows[0]?.flow?.actions, flows[1]?.flow?.actions);
  assert.equal(flows[0]?.flow?.actions, flows[4]?.flow?.actions);
  assert.deepEqual(parseDumpFlows(''), []);
  assert.deepEqual(parseDumpFlows('OFPST_FLOW reply (OF1.3) (xid=0x2):\n'), []);
});

test('a line of a reply that cannot be decoded is kept without its flow and logged at debug level with the reason', () => {
  const lines: string[] = [];
  configureLogging({ debug: true, sink: { write: (l) => void lines.push(l) } });
  try {
    const flows = parseDumpFlows(REPLY);
    assert.equal(flows.filter((f) => f.flow === undefined).length, 1);
    assert.equal('flow' in flows[2]!, false);
  } finally {
    configureLogging({ sink: { write: (l) => void process.stderr.write(l) } });
  }
  const kept = lines.filter((l) => l.includes('ovs_agent.openflow.ofctl'));
  assert.equal(kept.length, 1, kept.join(''));
  assert.match(
    kept[0]!,
    / DEBUG ovs_agent\.openflow\.ofctl \[-\] dump-flows line kept without its flow \(cannot decode 'ct_label=0x1': unknown match field\): cookie=0x5, duration=1s, table=3, n_packets=7, n_bytes=0, priority=9,ct_label=0x1 actions=drop\n$/,
  );
});

test('header words: flags and statistics anywhere before actions=, the last of a repeated key, no key taken for a longer one', () => {
  const parsed = parseDumpLine(' cookie=0x1, duration=2.5s, table=0, n_packets=0, n_bytes=0, reset_counts idle_timeout=30, hard_age=3, priority=1,in_port=1 actions=goto_table:60');
  assert.deepEqual([...parsed!.header], [
    ['cookie', '0x1'], ['duration', '2.5s'], ['table', '0'], ['n_packets', '0'], ['n_bytes', '0'], ['reset_counts', ''], ['idle_timeout', '30'], ['hard_age', '3'],
  ]);
  const repeated = parseDumpFlowsLine('table=1, table=2, priority=5,ip,hard_timeout=7 actions=drop');
  assert.deepEqual([repeated?.table, repeated?.priority, repeated?.hardTimeout, repeated?.flow?.table, repeated?.flow?.hardTimeout, repeated?.flow?.match], [2, 5, 7, 2, 7, { ethType: 0x0800 }]);
  // `tables=1` and a bare `n_packets` are no header words: the match has no such field or keyword.
  const longer = parseDumpLine('tables=1, priority=5 actions=drop');
  assert.ok(longer?.flow instanceof FlowTextError && /'tables=1': unknown match field/.test(longer.flow.message));
  const bare = parseDumpLine('n_packets, priority=5 actions=drop');
  assert.ok(bare?.flow instanceof FlowTextError && /'n_packets': unknown match keyword/.test(bare.flow.message));
  const noActions = parseDumpLine(' cookie=0x1, table=4, priority=5,ip');
  assert.ok(noActions?.flow instanceof FlowTextError && /no actions= part/.test(noActions.flow.message));
  assert.deepEqual([...noActions.header], [['cookie', '0x1'], ['table', '4']]);
});

test('ovs-ofctl output is the same text whether ASCII (copied as Latin-1) or not (decoded as UTF-8)', () => {
  const ascii = ' cookie=0x1, table=0, priority=1 actions=drop\n';
  assert.equal(outputText(Buffer.from(ascii)), ascii);
  const utf8 = 'ovs-ofctl: br-\u00e9: is not a bridge or a socket\n';
  assert.equal(outputText(Buffer.from(utf8, 'utf8')), utf8);
});
