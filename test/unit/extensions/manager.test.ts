// The extension manager: one extension failing on one port neither stops the others nor the other
// ports, and the pass learns which ports to retry.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ExtensionManager } from '../../../src/extensions/manager.js';
import type { AgentExtension, ExtensionPort } from '../../../src/extensions/seam.js';

const port = (portId: string): ExtensionPort => ({
  portId, portName: `tap${portId}`, ofport: 1, mac: 'fa:16:3e:00:00:01', networkId: 'n', localVlan: 1, deviceOwner: 'compute:nova', portSecurityEnabled: true,
  interfaceType: '', qosPolicyId: undefined, networkQosPolicyId: undefined,
});

function fake(name: string, failOn: string, seen: string[]): AgentExtension {
  return {
    name,
    initialize: async () => undefined,
    handlePort: async (p) => {
      seen.push(`${name}:${p.portId}`);
      if (p.portId === failOn) throw new Error('switch says no');
    },
    deletePort: async (id) => {
      seen.push(`${name}:-${id}`);
      if (id === failOn) throw new Error('gone already');
    },
    bridgesReset: async () => undefined,
    audit: async () => undefined,
    firstSyncDone: async () => undefined,
    status: () => ({ ports: 0, details: {} }),
    stop: async () => undefined,
  };
}

test('a failure on one port of one extension: every extension still sees every port, and that port is returned for a retry with its context', async () => {
  const seen: string[] = [];
  const m = ExtensionManager.of([fake('one', 'p2', seen), fake('two', 'none', seen)]);
  const failed = await m.handlePorts([port('p1'), port('p2'), port('p3')]);
  assert.deepEqual(seen, ['one:p1', 'one:p2', 'one:p3', 'two:p1', 'two:p2', 'two:p3']);
  assert.deepEqual([...failed.keys()], ['p2']);
  assert.match(failed.get('p2')!.message, /^extension one, port p2 \(tapp2\): switch says no$/);
  await m.deletePorts(['p2', 'p3']);
  assert.deepEqual(seen.slice(6), ['one:-p2', 'one:-p3', 'two:-p2', 'two:-p3'], 'a failed removal does not stop the others');
  assert.deepEqual(m.names, ['one', 'two']);
});
