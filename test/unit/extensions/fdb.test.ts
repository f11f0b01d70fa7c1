// The fdb extension's logic against a recorded FDB: which ports get an entry (device owner,
// physical network), what an update, a MAC change, a restart and a delete write, and the option's
// parsing (the reference's parse_mappings with unique_keys=False).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FdbAgentExtension, fdbWantedFor, sharedDeviceMappings } from '../../../src/extensions/fdb/extension.js';
import { macsOfFdbJson, type FdbDevices } from '../../../src/extensions/fdb/bridge-fdb.js';
import type { ExtensionAgentApi, ExtensionPort } from '../../../src/extensions/seam.js';
import type { AgentSettings } from '../../../src/agent/settings.js';

class RecordedFdb implements FdbDevices {
  readonly calls: string[] = [];
  constructor(readonly table: Map<string, string[]>) {}
  async macs(device: string): Promise<string[]> {
    const m = this.table.get(device);
    if (!m) throw new Error(`Cannot find device "${device}"`);
    return [...m];
  }
  async add(mac: string, device: string): Promise<void> {
    this.calls.push(`add ${mac} ${device}`);
    const m = this.table.get(device);
    if (!m) throw new Error(`Cannot find device "${device}"`);
    if (m.includes(mac)) throw new Error('RTNETLINK answers: File exists');
    m.push(mac);
  }
  async delete(mac: string, device: string): Promise<void> {
    this.calls.push(`del ${mac} ${device}`);
    const m = this.table.get(device) ?? [];
    if (!m.includes(mac)) throw new Error('RTNETLINK answers: No such file or directory');
    m.splice(m.indexOf(mac), 1);
  }
}

const port = (portId: string, mac: string, deviceOwner: string, physicalNetwork: string | undefined): ExtensionPort => ({
  portId, portName: `tap${portId}`, ofport: 1, mac, networkId: 'n', physicalNetwork, localVlan: 1, deviceOwner, portSecurityEnabled: true,
  interfaceType: '', qosPolicyId: undefined, networkQosPolicyId: undefined,
});

async function started(mappings: string[], fdb: RecordedFdb): Promise<FdbAgentExtension> {
  const e = new FdbAgentExtension(fdb);
  const settings = { fdbSharedPhysicalDeviceMappings: mappings } as Partial<AgentSettings> as AgentSettings;
  await e.initialize({ settings } as Partial<ExtensionAgentApi> as ExtensionAgentApi);
  return e;
}

test('device owners: compute, router interfaces and DHCP ports, by prefix', () => {
  for (const o of ['compute:nova', 'compute:', 'network:router_interface', 'network:router_interface_distributed', 'network:dhcp']) assert.ok(fdbWantedFor(o), o);
  for (const o of ['', 'network:router_gateway', 'network:floatingip', 'trunk:subport', 'baremetal:none']) assert.ok(!fdbWantedFor(o), o);
});

test('[FDB] shared_physical_device_mappings: several devices per network, errors as the reference words them', () => {
  assert.deepEqual([...sharedDeviceMappings(['physnet1:eth1', ' physnet1 : eth2', 'physnet1:eth1', 'physnet2:eth1'])], [['physnet1', ['eth1', 'eth2']], ['physnet2', ['eth1']]]);
  assert.throws(() => sharedDeviceMappings(['physnet1']), /\[FDB\] shared_physical_device_mappings: Invalid mapping: 'physnet1'/);
  assert.throws(() => sharedDeviceMappings(['physnet1:']), /Missing value in mapping: 'physnet1:'/);
  assert.throws(() => sharedDeviceMappings([]), /no physical devices/);
});

test('a port on a shared network gets its MAC on each of its devices; other ports none', async () => {
  const fdb = new RecordedFdb(new Map([['eth1', ['33:33:00:00:00:01']], ['eth2', []], ['eth3', []]]));
  const e = await started(['physnet1:eth1', 'physnet1:eth2', 'physnet2:eth3'], fdb);
  await e.handlePort(port('a', 'fa:16:3e:00:00:0a', 'compute:nova', 'physnet1'));
  await e.handlePort(port('b', 'fa:16:3e:00:00:0b', '', 'physnet1'));
  await e.handlePort(port('c', 'fa:16:3e:00:00:0c', 'compute:nova', undefined));
  await e.handlePort(port('d', 'fa:16:3e:00:00:0d', 'network:dhcp', 'physnet9'));
  assert.deepEqual(fdb.calls, ['add fa:16:3e:00:00:0a eth1', 'add fa:16:3e:00:00:0a eth2']);
  assert.deepEqual(e.status(), { ports: 1, details: { 'entries eth1': 2, 'entries eth2': 1, 'entries eth3': 0 } });
});

test('an update re-writes the entry; a new MAC replaces the old; a delete removes it from every device', async () => {
  const fdb = new RecordedFdb(new Map([['eth1', []]]));
  const e = await started(['physnet1:eth1'], fdb);
  await e.handlePort(port('a', 'FA:16:3E:00:00:0A', 'compute:nova', 'physnet1'));
  await e.handlePort(port('a', 'fa:16:3e:00:00:0a', 'compute:nova', 'physnet1'));
  await e.handlePort(port('a', 'fa:16:3e:00:00:1a', 'compute:nova', 'physnet1'));
  assert.deepEqual(fdb.table.get('eth1'), ['fa:16:3e:00:00:1a']);
  await e.deletePort('a');
  await e.deletePort('a');
  await e.deletePort('never-seen');
  assert.deepEqual(fdb.calls, [
    'add fa:16:3e:00:00:0a eth1',
    'del fa:16:3e:00:00:0a eth1', 'add fa:16:3e:00:00:0a eth1',
    'del fa:16:3e:00:00:0a eth1', 'add fa:16:3e:00:00:1a eth1',
    'del fa:16:3e:00:00:1a eth1',
  ]);
  assert.deepEqual(fdb.table.get('eth1'), []);
});

test('after a restart an entry already there is not added again; a missing device is logged, not fatal', async () => {
  const fdb = new RecordedFdb(new Map([['eth1', ['fa:16:3e:00:00:0a']]]));
  const e = await started(['physnet1:eth1', 'physnet1:gone0'], fdb);
  await e.handlePort(port('a', 'fa:16:3e:00:00:0a', 'compute:nova', 'physnet1'));
  assert.deepEqual(fdb.calls, ['add fa:16:3e:00:00:0a gone0']);
  assert.deepEqual(e.status().ports, 1);
});

test('bridge -j fdb show is read into MAC addresses', () => {
  assert.deepEqual(macsOfFdbJson('[{"mac":"33:33:00:00:00:01","ifname":"eth1","flags":["self"],"state":"permanent"},{"mac":"FA:16:3E:00:00:0A","flags":["self"],"state":"permanent"}]\n'), ['33:33:00:00:00:01', 'fa:16:3e:00:00:0a']);
  assert.deepEqual(macsOfFdbJson(''), []);
  assert.throws(() => macsOfFdbJson('{}'), /not a list/);
});
