// Payloads from neutron-server parsed where they arrive: good parts kept, malformed parts left out.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  fdbSummary,
  parseDeviceListResult,
  parseFdbIpChanges,
  parseFdbNetworks,
  parseTunnelSync,
  singleSegment,
} from '../../../src/agent/server/rpc-payloads.js';

test('fdb entries: the good entries of a message survive its malformed ones', () => {
  const nets = parseFdbNetworks(
    {
      'net-1': {
        network_type: 'vxlan',
        segment_id: 1001,
        ports: {
          '192.0.2.2': [['FA:16:3E:00:00:01', '10.0.0.1'], ['zz:zz:zz:zz:zz:zz', '10.0.0.2'], ['fa:16:3e:00:00:03', 'not-an-ip'], [1, 2], 'x'],
          '192.0.2.3': 'not a list',
          '192.0.2.4': [['00:00:00:00:00:00', '0.0.0.0']],
        },
      },
      'net-2': 'not an object',
      'net-3': { network_type: 7, segment_id: 'seven', ports: 'none' },
    },
    'add_fdb_entries',
  );
  assert.deepEqual(
    nets.map((n) => [n.networkId, n.networkType, n.segmentId, [...n.ports.keys()]]),
    [
      ['net-1', 'vxlan', 1001, ['192.0.2.2', '192.0.2.4']],
      ['net-3', undefined, undefined, []],
    ],
  );
  // A VTEP's entries are checked when used: the good ones kept, the malformed ones left out.
  assert.deepEqual(nets[0]!.ports.get('192.0.2.2')!.good('test'), [{ mac: 'fa:16:3e:00:00:01', ip: '10.0.0.1' }]);
  assert.deepEqual(nets[0]!.ports.get('192.0.2.4')!.good('test'), [{ mac: '00:00:00:00:00:00', ip: '0.0.0.0' }]);
  assert.equal(fdbSummary(nets), 'network net-1 (5 on 192.0.2.2, 1 on 192.0.2.4); network net-3 (no ports)');
  assert.deepEqual(parseFdbNetworks('a string', 'add_fdb_entries'), []);
  assert.deepEqual(parseFdbNetworks([1, 2], 'remove_fdb_entries'), []);
});

test('update_fdb_entries: chg_ip changes by network and VTEP; other actions left out', () => {
  const changes = parseFdbIpChanges({
    chg_ip: { 'net-1': { '192.0.2.2': { before: [['fa:16:3e:00:00:01', '10.0.0.1']], after: [['fa:16:3e:00:00:01', '10.0.0.9'], [1, 2]] }, '192.0.2.3': 'x' } },
    bogus_action: {},
  });
  assert.deepEqual(
    changes.map((c) => [c.networkId, c.vtep, c.before.good('test'), c.after.good('test')]),
    [['net-1', '192.0.2.2', [{ mac: 'fa:16:3e:00:00:01', ip: '10.0.0.1' }], [{ mac: 'fa:16:3e:00:00:01', ip: '10.0.0.9' }]]],
  );
  assert.deepEqual(parseFdbIpChanges(null), []);
});

test('tunnel_sync and update_device_list answers', () => {
  assert.deepEqual(parseTunnelSync({ tunnels: [{ ip_address: '192.0.2.2' }, { ip_address: 5 }, 'x', { udp_port: 1 }] }), ['192.0.2.2']);
  assert.deepEqual(parseTunnelSync(null), []);
  assert.deepEqual(parseDeviceListResult({ failed_devices_up: ['a'], failed_devices_down: 'b' }), {
    failedDevicesUp: new Set(['a']),
    failedDevicesDown: new Set(),
  });
  assert.deepEqual(parseDeviceListResult('garbage'), { failedDevicesUp: new Set(), failedDevicesDown: new Set() });
});

test('a network has a single segment only when the server lists exactly one', () => {
  assert.deepEqual(singleSegment({ segments: [{ network_type: 'vlan', segmentation_id: 100 }] }), { networkType: 'vlan', segmentationId: 100 });
  assert.equal(singleSegment({ segments: [{ network_type: 'vlan' }, { network_type: 'vxlan' }] }), undefined);
  assert.equal(singleSegment({ segments: 'garbage' }), undefined);
  assert.equal(singleSegment(undefined), undefined);
});
