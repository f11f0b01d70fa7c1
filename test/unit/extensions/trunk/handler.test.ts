// The trunk handler's decisions (what is plugged, unplugged, reported) over an in-memory OVSDB; the
// rows and flows themselves are checked against the reference in test/integration/trunk/.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TrunkHandler, type TrunkServer } from '../../../../src/extensions/trunk/handler.js';
import type { PatchEndIds, TrunkInterface, TrunkOvsdb } from '../../../../src/extensions/trunk/trunk-rows.js';
import type { PatchPair } from '../../../../src/extensions/trunk/names.js';
import type { Subport, TrunkStatus } from '../../../../src/extensions/trunk/trunk-rpc.js';
import { configureLogging } from '../../../../src/util/log.js';

configureLogging({ sink: { write: () => undefined } });

const TRUNK = 'aaaaaaaa-0000-4000-8000-000000000001';
const BR = 'tbr-aaaaaaaa-0';
const PARENT = 'pppppppp-0000-4000-8000-000000000001';

class FakeOvsdb implements TrunkOvsdb {
  /** bridge → interfaces; br-int included. */
  readonly bridges = new Map<string, TrunkInterface[]>([['br-int', []]]);
  readonly tags = new Map<string, number>();
  readonly log: string[] = [];
  addBridge(name: string, vm?: { name: string; ids: Record<string, string> }): void {
    this.bridges.set(name, vm ? [{ name: vm.name, type: '', options: new Map(), externalIds: new Map(Object.entries(vm.ids)) }] : []);
  }
  bridgeExists = (n: string) => this.bridges.has(n);
  interfacesOf = (b: string) => this.bridges.get(b) ?? [];
  intInterfaces = () => this.interfacesOf('br-int');
  interfaceExists = (n: string) => [...this.bridges.values()].some((l) => l.some((i) => i.name === n));
  parentInterface(b: string) {
    const i = this.interfacesOf(b).find((x) => !/^(tp|sp|tbr)/.test(x.name));
    return i && { name: i.name, externalIds: i.externalIds };
  }
  pairIntact = (b: string, p: PatchPair, tag?: number) => this.interfacesOf(b).some((i) => i.name === p.trunkName) && (tag === undefined || this.tags.get(p.trunkName) === tag);
  async plugPair(b: string, p: PatchPair, ids: PatchEndIds, tag?: number) {
    const end = (name: string, peer: string): TrunkInterface => ({ name, type: 'patch', options: new Map([['peer', peer]]), externalIds: new Map([['iface-id', ids.portId]]) });
    this.bridges.set('br-int', [...this.intInterfaces().filter((i) => i.name !== p.intName), end(p.intName, p.trunkName)]);
    this.bridges.set(b, [...this.interfacesOf(b).filter((i) => i.name !== p.trunkName), end(p.trunkName, p.intName)]);
    if (tag !== undefined) this.tags.set(p.trunkName, tag);
    this.log.push(`plug ${p.intName}${tag !== undefined ? ` vlan ${tag}` : ''}`);
  }
  async unplugPair(b: string, p: PatchPair) {
    this.bridges.set(b, this.interfacesOf(b).filter((i) => i.name !== p.trunkName));
    this.bridges.set('br-int', this.intInterfaces().filter((i) => i.name !== p.intName));
    this.log.push(`unplug ${p.intName}`);
  }
  async deleteTrunkBridge(b: string, intPorts: readonly string[]) {
    this.bridges.delete(b);
    this.bridges.set('br-int', this.intInterfaces().filter((i) => !intPorts.includes(i.name)));
    this.log.push(`delete ${b} ${[...intPorts].join(' ')}`);
  }
  async deleteIntPorts(names: readonly string[]) {
    this.bridges.set('br-int', this.intInterfaces().filter((i) => !names.includes(i.name)));
    this.log.push(`delete ${names.join(' ')}`);
  }
  async setParentMetadata(iface: string, kv: Record<string, string>) {
    for (const l of this.bridges.values()) {
      const i = l.find((x) => x.name === iface);
      if (i) for (const [k, v] of Object.entries(kv)) (i.externalIds as Map<string, string>).set(k, v);
    }
  }
}

const sub = (n: number, seg: number): Subport => ({ portId: `ssssssss-0000-4000-8000-00000000000${n}`, trunkId: TRUNK, segmentationId: seg, segmentationType: 'vlan', fields: {} });

function setup(subports: Subport[], bound = subports) {
  const ovsdb = new FakeOvsdb();
  const statuses: TrunkStatus[] = [];
  const server: TrunkServer = {
    trunkOfParent: async (id) => (id === PARENT ? { id: TRUNK, parentPortId: PARENT, subports } : undefined),
    updateSubportBindings: async (_t, s) => new Map(s.filter((x) => bound.includes(x)).map((x) => [x.portId, 'fa:16:3e:00:00:01'])),
    updateTrunkStatus: async (_t, st) => void statuses.push(st),
  };
  const h = new TrunkHandler({
    rows: ovsdb, rpc: server, firewallDriver: 'openvswitch', stopping: () => false,
    timings: { waitForVmMs: 50, waitBeforeDeleteMs: 10, retryMs: 10, waitForBindingMs: 10 },
    portBoundHere: async () => undefined,
    waitFor: async (probe, ms, describe) => {
      for (let t = 0; t < ms; t += 5) {
        const r = probe();
        if (r !== undefined) return r;
        await new Promise((res) => setTimeout(res, 5));
      }
      throw new Error(describe());
    },
  });
  return { ovsdb, statuses, h };
}

test('a trunk bridge with its VM is wired: parent, then each subport on its VLAN, ACTIVE, metadata on the VM interface', async () => {
  const { ovsdb, statuses, h } = setup([sub(1, 101), sub(2, 102)]);
  ovsdb.addBridge(BR, { name: 'tappppppppp-00', ids: { 'iface-id': PARENT, 'attached-mac': 'fa:16:3e:00:00:01' } });
  await h.trunkBridgeAdded(BR);
  assert.deepEqual(ovsdb.log, ['plug tpi-pppppppp-00', 'plug spi-ssssssss-00 vlan 101', 'plug spi-ssssssss-00 vlan 102']);
  assert.deepEqual(statuses, ['ACTIVE']);
  const md = ovsdb.parentInterface(BR)!.externalIds;
  assert.equal(md.get('trunk_id'), TRUNK);
  assert.equal(md.get('subport_ids'), `["${sub(1, 0).portId}", "${sub(2, 0).portId}"]`);
});

test('a subport the server does not bind here leaves the trunk DEGRADED, the others wired', async () => {
  const s1 = sub(1, 101);
  const s2 = sub(2, 102);
  const { ovsdb, statuses, h } = setup([s1, s2], [s1]);
  ovsdb.addBridge(BR, { name: 'tappppppppp-00', ids: { 'iface-id': PARENT } });
  await h.trunkBridgeAdded(BR);
  assert.equal(ovsdb.log.length, 2);
  assert.deepEqual(statuses, ['DEGRADED']);
});

test('a trunk bridge no VM comes to is removed with its patch ends; a port that is no trunk parent is left alone', async () => {
  const { ovsdb, statuses, h } = setup([]);
  ovsdb.addBridge(BR);
  await h.trunkBridgeAdded(BR);
  assert.deepEqual(ovsdb.log, [`delete ${BR} `]);
  ovsdb.addBridge(BR, { name: 'tapother', ids: { 'iface-id': 'not-a-parent' } });
  await h.trunkBridgeAdded(BR);
  assert.deepEqual(statuses, []);
  assert.ok(ovsdb.bridgeExists(BR));
});

test('re-wiring after a restart removes only the subports the trunk no longer has', async () => {
  const { ovsdb, h } = setup([sub(1, 101)]);
  ovsdb.addBridge(BR, { name: 'tappppppppp-00', ids: { 'iface-id': PARENT } });
  await ovsdb.plugPair(BR, { intName: 'spi-gone', trunkName: 'spt-gone' }, { portId: 'gone', mac: undefined }, 300);
  ovsdb.log.length = 0;
  await h.trunkBridgeAdded(BR);
  assert.deepEqual(ovsdb.log, ['plug tpi-pppppppp-00', 'unplug spi-gone', 'plug spi-ssssssss-00 vlan 101']);
});

test('the VM leaving takes the trunk with it after the wait, unless it came back', async () => {
  const { ovsdb, h } = setup([sub(1, 101)]);
  ovsdb.addBridge(BR, { name: 'tappppppppp-00', ids: { 'iface-id': PARENT } });
  await h.trunkBridgeAdded(BR);
  const md = ovsdb.parentInterface(BR)!.externalIds;
  // Back within the wait: kept.
  const back = h.vmInterfaceRemoved(BR, md);
  await back;
  assert.ok(ovsdb.bridgeExists(BR));
  ovsdb.bridges.set(BR, ovsdb.interfacesOf(BR).filter((i) => i.name !== 'tappppppppp-00'));
  await h.vmInterfaceRemoved(BR, md);
  assert.equal(ovsdb.bridgeExists(BR), false);
  assert.deepEqual(ovsdb.intInterfaces(), []);
});

test('br-int ends whose trunk bridge is gone are removed; a deleted subport patch is put back', async () => {
  const { ovsdb, h } = setup([sub(1, 101)]);
  ovsdb.addBridge(BR, { name: 'tappppppppp-00', ids: { 'iface-id': PARENT } });
  await h.trunkBridgeAdded(BR);
  await ovsdb.unplugPair(BR, { intName: 'spi-ssssssss-00', trunkName: 'spt-ssssssss-00' });
  ovsdb.log.length = 0;
  await h.repairPatches();
  assert.deepEqual(ovsdb.log, ['plug spi-ssssssss-00 vlan 101']);
  ovsdb.bridges.delete(BR);
  await h.trunkBridgeDeleted(BR);
  assert.deepEqual(ovsdb.intInterfaces(), []);
});
