import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TrunkBridgeWatch } from '../../../src/agent/bridges/trunk-bridges.js';
import type { RowChange } from '../../../src/ovsdb/replica.js';
import type { RowOf } from '../../../src/ovsdb/schema.js';
import { configureLogging } from '../../../src/util/log.js';

const bridge = (name: string): RowOf<'Bridge'> => ({
  uuid: `u-${name}`, name, datapathId: undefined, datapathType: 'netdev', protocols: [], controller: [], ports: [],
  externalIds: new Map(), otherConfig: new Map(), failMode: undefined, mcastSnoopingEnable: false,
});

test('a trunk bridge appearing is an ERROR naming it, once; one gone and back is named again; other bridges are not', (t) => {
  const lines: string[] = [];
  configureLogging({ sink: { write: (l) => void lines.push(l) } });
  t.after(() => configureLogging({ sink: { write: (l) => void process.stderr.write(l) } }));
  const w = new TrunkBridgeWatch();
  const add = (name: string): RowChange => ({ table: 'Bridge', uuid: `u-${name}`, new: bridge(name) });
  w.onUpdate([add('br-int'), add('tbr-0123abcd-ef')]);
  w.onUpdate([{ table: 'Bridge', uuid: 'u-tbr-0123abcd-ef', old: bridge('tbr-0123abcd-ef'), new: { ...bridge('tbr-0123abcd-ef'), ports: ['p'] } }]);
  assert.deepEqual(w.bridges, ['tbr-0123abcd-ef']);
  const errors = () => lines.filter((l) => / ERROR .*trunk bridge tbr-0123abcd-ef appeared: trunk ports \(VLAN-aware VMs\) are not implemented/.test(l));
  assert.equal(errors().length, 1, lines.join(''));
  w.onUpdate([{ table: 'Bridge', uuid: 'u-tbr-0123abcd-ef', old: bridge('tbr-0123abcd-ef') }]);
  assert.deepEqual(w.bridges, []);
  w.onUpdate([add('tbr-0123abcd-ef')]);
  assert.equal(errors().length, 2, 'named again once it came back');
});
