// Which flows a port's log resources give it, under which cookies, and what a change sends: the
// flows are the reference's (test/fixtures/reference/log/03-log-sg-drop.json has them as the
// reference agent wrote them for the same rules); additions go before deletions; a cookie goes
// back to the bridge with its last flow; the registry (flow audit) follows.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OVSBridge } from '../../../../src/bridges/ovs-bridge.js';
import type { OpenFlowSwitch } from '../../../../src/openflow/backend.js';
import type { FlowMod } from '../../../../src/openflow/flow.js';
import { formatFlow, formatFlowModLine } from '../../../../src/openflow/text.js';
import { PortLogs } from '../../../../src/extensions/log/port-logs.js';
import { parseSgLogInfo, type SgLogInfo } from '../../../../src/extensions/log/log-info.js';
import { NO_METERS } from '../../../helpers/meterless-switch.js';
import type { JsonObject } from '../../../../src/util/json.js';

function bridge(): { br: OVSBridge; sent: FlowMod[] } {
  const sent: FlowMod[] = [];
  const sw: OpenFlowSwitch = { bridge: 'br-int', apply: async (m) => void sent.push(...m), dumpFlows: async () => [], portDesc: async () => [], retire: () => undefined, ...NO_METERS };
  return { br: new OVSBridge('br-int', sw, 0xabn), sent };
}

const RULES: JsonObject[] = [
  { direction: 'ingress', ethertype: 'IPv4', protocol: 'tcp', port_range_min: 22, port_range_max: 22, security_group_id: 'sg' },
  { direction: 'ingress', ethertype: 'IPv4', protocol: 'icmp', security_group_id: 'sg' },
  { direction: 'ingress', ethertype: 'IPv4', protocol: 'tcp', port_range_min: 8000, port_range_max: 8001, source_ip_prefix: '198.51.100.0/24', security_group_id: 'sg' },
  { direction: 'ingress', ethertype: 'IPv4', protocol: 'udp', remote_group_id: 'sg', security_group_id: 'sg' },
  { direction: 'egress', ethertype: 'IPv4', security_group_id: 'sg' },
];

const info = (id: string, event: string, ports: Array<[string, JsonObject[]]>): SgLogInfo[] =>
  parseSgLogInfo([{ id, event, project_id: 'lab', ports_log: ports.map(([port_id, rules]) => ({ port_id, security_group_rules: rules })) }], 'test');

async function sync(logs: PortLogs, br: OVSBridge, ports: Record<string, number | undefined>): Promise<void> {
  const adds = br.batch();
  const deletes = br.batch();
  for (const [id, ofport] of Object.entries(ports)) logs.sync(adds, deletes, id, ofport);
  await adds.commit();
  await deletes.commit();
  logs.releaseEmpty();
}

test('log ALL on A and DROP on its group give the reference\'s flows, one cookie per port and event', async () => {
  const { br, sent } = bridge();
  const logs = new PortLogs(() => br, () => 16);
  logs.setPortLogs('A', info('log-a', 'ALL', [['A', RULES]]));
  logs.setLog(info('log-sg', 'DROP', [['A', RULES], ['B', RULES]])[0]!, () => true);
  await sync(logs, br, { A: 3, B: 4 });
  const text = sent.map((m) => (m.command === 'add' ? formatFlow(m.flow).replace(/cookie=0x[0-9a-f]+, /, '') : '')).sort();
  assert.deepEqual(text, [
    'table=91, priority=74,ip,reg5=0x3 actions=resubmit(,94),CONTROLLER:65535',
    'table=92, priority=70,ip,reg5=0x3,reg7=0x11 actions=CONTROLLER:65535',
    'table=92, priority=75,icmp,reg5=0x3 actions=CONTROLLER:65535',
    'table=92, priority=77,tcp,reg5=0x3,nw_src=198.51.100.0/24,tp_dst=0x1f40/0xfffe actions=CONTROLLER:65535',
    'table=92, priority=77,tcp,reg5=0x3,tp_dst=22 actions=CONTROLLER:65535',
    'table=93, priority=53,reg5=0x3 actions=CONTROLLER:65535',
    'table=93, priority=53,reg5=0x4 actions=CONTROLLER:65535',
  ]);
  const cookies = new Set(sent.map((m) => (m.command === 'add' ? m.flow.cookie : undefined)));
  assert.equal(cookies.size, 3, 'A accept, A drop, B drop');
  const dropA = sent.find((m) => m.command === 'add' && m.flow.table === 93 && m.flow.match.regs?.[5]?.value === 3);
  assert.ok(dropA?.command === 'add');
  const c = logs.cookie(dropA.flow.cookie!)!;
  assert.deepEqual({ port: c.portId, event: c.event, logs: c.logIds, project: c.projectId }, { port: 'A', event: 'DROP', logs: ['log-a', 'log-sg'], project: 'lab' });
  assert.ok(br.ownsCookie(c.cookie));
  assert.equal(br.desired.size, 7);
});

test('a rule removed deletes only its flow, strictly; the last log gone takes the flows and gives the cookie back', async () => {
  const { br, sent } = bridge();
  const logs = new PortLogs(() => br, () => 16);
  logs.setPortLogs('A', info('log-a', 'ACCEPT', [['A', RULES]]));
  await sync(logs, br, { A: 3 });
  const cookie = sent.find((m) => m.command === 'add')!;
  const value = cookie.command === 'add' ? cookie.flow.cookie! : 0n;
  sent.length = 0;
  logs.setPortLogs('A', info('log-a', 'ACCEPT', [['A', RULES.filter((r) => r.protocol !== 'icmp')]]));
  await sync(logs, br, { A: 3 });
  assert.equal(sent.length, 1, sent.map((m) => formatFlowModLine(m)).join('\n'));
  const del = sent[0]!;
  assert.ok(del.command === 'delete' && del.filter.strict && del.filter.table === 92 && del.filter.priority === 75 && del.filter.cookie === value);
  sent.length = 0;
  logs.dropLog('log-a');
  await sync(logs, br, { A: 3 });
  assert.equal(sent.length, 4, 'the four remaining accept flows deleted');
  assert.equal(br.desired.size, 0);
  assert.equal(br.ownsCookie(value), false, 'the cookie went back to the bridge');
  assert.equal(logs.cookie(value), undefined, 'a late packet-in of it is an unknown cookie');
});

test('a remote-group rule without a conjunction id gets no flow; a port gone loses all', async () => {
  const { br, sent } = bridge();
  const logs = new PortLogs(() => br, () => undefined);
  logs.setPortLogs('A', info('log-a', 'ALL', [['A', RULES]]));
  await sync(logs, br, { A: 3 });
  assert.equal(sent.filter((m) => m.command === 'add').length, 5, 'four rules accepted (not the remote-group one) and the drop');
  logs.dropPort('A');
  sent.length = 0;
  await sync(logs, br, { A: undefined });
  assert.equal(sent.length, 5);
  assert.ok(sent.every((m) => m.command === 'delete'));
});
