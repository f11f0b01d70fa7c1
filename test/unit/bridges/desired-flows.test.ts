// The desired-flow registry follows the agent's own flow mods as the switch applies them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IntegrationBridge } from '../../../src/bridges/br-int.js';
import { TunnelBridge } from '../../../src/bridges/br-tun.js';
import { OVSBridge } from '../../../src/bridges/ovs-bridge.js';
import type { OpenFlowSwitch } from '../../../src/openflow/backend.js';
import type { Flow, FlowMod } from '../../../src/openflow/flow.js';
import { formatFlow } from '../../../src/openflow/text.js';
import { NO_METERS } from '../../helpers/meterless-switch.js';

/** A switch that takes every mod (the registry is what is under test). */
function bridge(): { br: OVSBridge; sent: FlowMod[] } {
  const sent: FlowMod[] = [];
  const sw: OpenFlowSwitch = { bridge: 'br-x', apply: async (m) => void sent.push(...m), dumpFlows: async () => [], portDesc: async () => [], retire: () => undefined, ...NO_METERS };
  return { br: new OVSBridge('br-x', sw, 0xabn), sent };
}
const desired = (br: OVSBridge): string[] => [...br.desired.entries()].map(([, f]) => formatFlow(f)).sort();

test('adds are recorded with the bridge cookie; an add with the same table, priority and match replaces', async () => {
  const { br } = bridge();
  await br.installFlows(...IntegrationBridge.defaultFlows());
  const n = br.desired.size;
  assert.ok(n >= 5);
  assert.ok([...br.desired.entries()].every(([, f]) => f.cookie === 0xabn));
  await br.installFlows(IntegrationBridge.dropPortFlow(5), IntegrationBridge.dropPortFlow(5));
  assert.equal(br.desired.size, n + 1);
});

test('non-strict deletes by in_port remove every flow of the port in any table, and nothing else', async () => {
  const { br } = bridge();
  const b = br.batch();
  IntegrationBridge.setAllowedMacsForPort(b, 5, ['fa:16:3e:00:00:01']);
  IntegrationBridge.installArpSpoofingProtection(b, 5, ['192.0.2.5']);
  IntegrationBridge.setAllowedMacsForPort(b, 6, ['fa:16:3e:00:00:02']);
  await b.commit();
  assert.equal(br.desired.size, 6);
  const d = br.batch();
  IntegrationBridge.deleteArpSpoofingProtection(d, 5);
  await d.commit();
  assert.deepEqual(desired(br).filter((l) => l.includes('arp')), [], 'ARP protection of port 5 gone');
  assert.equal(br.desired.size, 4);
  const e = br.batch();
  IntegrationBridge.deletePortFlows(e, 5);
  await e.commit();
  assert.ok(desired(br).every((l) => l.includes('in_port=6')), desired(br).join('\n'));
});

test('strict deletes remove only the exact flow; deletes of a foreign cookie leave the registry alone', async () => {
  const { br } = bridge();
  const b = br.batch();
  IntegrationBridge.dropPort(b, 7);
  IntegrationBridge.setAllowedMacsForPort(b, 7, ['fa:16:3e:00:00:07']);
  await b.commit();
  await br.batch().deleteCookie(0x1234n).commit();
  assert.equal(br.desired.size, 3);
  const s = br.batch();
  IntegrationBridge.stopDroppingPort(s, 7);
  await s.commit();
  assert.equal(br.desired.size, 2);
  assert.ok(!desired(br).some((l) => l.includes('priority=2,in_port=7 actions=drop')));
});

test('table-scoped deletes (br-tun unicast and flood flows of one local VLAN)', async () => {
  const { br } = bridge();
  const b = br.batch();
  TunnelBridge.installUnicastToTun(b, 3, 100, 'fa:16:3e:00:00:01', 9);
  TunnelBridge.installUnicastToTun(b, 3, 100, 'fa:16:3e:00:00:02', 9);
  TunnelBridge.installUnicastToTun(b, 4, 101, 'fa:16:3e:00:00:03', 9);
  TunnelBridge.installFloodToTun(b, 3, 100, [9]);
  await b.commit();
  const d = br.batch();
  TunnelBridge.deleteUnicastToTun(d, 3, 'fa:16:3e:00:00:01');
  await d.commit();
  assert.equal(br.desired.size, 3);
  const e = br.batch();
  TunnelBridge.deleteUnicastToTun(e, 3);
  TunnelBridge.deleteFloodToTun(e, 3);
  await e.commit();
  assert.deepEqual(desired(br).length, 1);
  assert.match(desired(br)[0]!, /dl_vlan=4/);
});

test('a delete of every flow (drop_flows_on_start) empties it', async () => {
  const { br } = bridge();
  await br.installFlows(...IntegrationBridge.defaultFlows());
  await br.deleteAllFlows();
  assert.equal(br.desired.size, 0);
});

test('a modify replaces the instructions of the flows it covers, the meter with them, as the switch does', async () => {
  const { br } = bridge();
  const metered: Flow = { table: 59, priority: 100, match: { inPort: 5 }, meter: 7, actions: [], gotoTable: 60 };
  await br.installFlows(metered, { ...metered, match: { inPort: 6 }, meter: 8 });
  // Nothing the agent writes modifies yet; a batch carries any flow mod.
  const modify = async (flow: Flow): Promise<void> => {
    const b = br.batch();
    b.mods.push({ command: 'modify', flow });
    await b.commit();
  };
  await modify({ table: 59, priority: 100, match: { inPort: 5 }, meter: 9, actions: [], gotoTable: 60 });
  assert.deepEqual(desired(br), ['cookie=0xab, table=59, priority=100,in_port=5 actions=meter:9,goto_table:60', 'cookie=0xab, table=59, priority=100,in_port=6 actions=meter:8,goto_table:60']);
  await modify({ table: 59, priority: 100, match: { inPort: 6 }, actions: [], gotoTable: 60 });
  assert.deepEqual(desired(br)[1], 'cookie=0xab, table=59, priority=100,in_port=6 actions=goto_table:60');
});
