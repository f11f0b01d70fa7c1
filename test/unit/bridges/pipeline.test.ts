// The table declarations against neutron_lib's own constants (the reference's ovs_constants.py,
// installed with the lab), and the flows and names derived from them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { IntegrationBridge } from '../../../src/bridges/br-int.js';
import { PhysicalBridge } from '../../../src/bridges/br-phys.js';
import { missFlows, tableNames } from '../../../src/bridges/pipeline.js';
import {
  INT,
  INT_BR_ALL_TABLES,
  INT_PIPELINE,
  PHYS,
  PHYS_PIPELINE,
  PHY_BR_ALL_TABLES,
  TUN,
  TUN_BR_ALL_TABLES,
  TUN_PIPELINE,
} from '../../../src/bridges/tables.js';

const referenceConstants = JSON.parse(
  execFileSync('/usr/bin/python3', [
    '-c',
    'import json; from neutron_lib.plugins.ml2 import ovs_constants as c; ' +
      'print(json.dumps({k: v for k, v in vars(c).items() if k.isupper() and isinstance(v, (int, tuple))}))',
  ]).toString(),
) as Record<string, number | number[]>;

test('every declared table has the id neutron_lib gives it', () => {
  for (const t of [...INT_PIPELINE, ...TUN_PIPELINE, ...PHYS_PIPELINE]) {
    assert.equal(referenceConstants[t.name], t.id, `table ${t.name}`);
  }
});

test('the tables scanned for stale flows are the reference INT/TUN/PHY_BR_ALL_TABLES', () => {
  const sorted = (l: readonly number[]) => [...l].sort((a, b) => a - b);
  assert.deepEqual(sorted(INT_BR_ALL_TABLES), sorted(referenceConstants['INT_BR_ALL_TABLES'] as number[]));
  assert.deepEqual(sorted(TUN_BR_ALL_TABLES), sorted(referenceConstants['TUN_BR_ALL_TABLES'] as number[]));
  assert.deepEqual(sorted(PHY_BR_ALL_TABLES), sorted(referenceConstants['PHY_BR_ALL_TABLES'] as number[]));
});

test('the id constants other code imports keep their values', () => {
  assert.equal(INT.RULES_EGRESS_TABLE, 72);
  assert.equal(INT.CANARY_TABLE, 23);
  assert.equal(TUN.FLOOD_TO_TUN, 22);
  assert.equal(PHYS.LOCAL_VLAN_TRANSLATION, 2);
});

test('the operator CLI names tables from the declarations', () => {
  assert.equal(tableNames('int').get(82), 'RULES_INGRESS_TABLE');
  assert.equal(tableNames('tun').get(4), 'VXLAN_TUN_TO_LV');
  assert.equal(tableNames('phys').get(0), 'LOCAL_SWITCHING');
});

test('miss flows follow the declarations; the DHCP tables get theirs only with the extension', () => {
  const misses = (flows: ReturnType<typeof missFlows>) => flows.filter((f) => Object.keys(f.match).length === 0).map((f) => `${f.table}/${f.priority}`);
  assert.deepEqual(misses(IntegrationBridge.defaultFlows()).sort(), ['0/0', '23/0', '24/0', '30/0', '31/0', '59/0', '60/3', '62/3']);
  assert.ok(misses(IntegrationBridge.defaultFlows({ dhcp: true })).includes('77/0'));
  assert.ok(!misses(IntegrationBridge.defaultFlows({ dhcp: true })).includes('78/0'));
  assert.ok(misses(IntegrationBridge.defaultFlows({ dhcp: true, dhcpIpv6: true })).includes('78/0'));
  assert.deepEqual(PhysicalBridge.defaultFlows(), [{ table: 0, priority: 0, match: {}, actions: [{ type: 'output', port: 'NORMAL' }] }]);
  assert.throws(() => missFlows([{ id: 0, name: 'A', miss: { kind: 'goto', priority: 0, table: 'B' } }]), /A: miss goes to B/);
});
