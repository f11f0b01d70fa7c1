import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renderStatus, type StatusDocument } from '../../../src/metrics/status-document.js';

const doc: StatusDocument = {
  pid: 42, uptimeSeconds: 75, ready: true, missing: [],
  connections: { ovsdb: { endpoint: 'unix:/run/openvswitch/db.sock', connected: true, reconnects: 0 }, openflow: [{ bridge: 'br-int', connected: true }], openflowReconnects: 0, messageBus: undefined },
  firstSyncDone: true, lastFullSync: undefined, stateReportAgeSeconds: 3,
  ports: { bound: 3, isolated: 0, retrying: 0 }, localVlans: [], tunnels: [], firewall: undefined,
  extensions: { qos: { ports: 2, details: { policies: 1, meters: 3 } } },
  lastErrors: [],
};

test('ovs-agent status shows each loaded extension with the ports it enforces something on', () => {
  const text = renderStatus(doc);
  assert.match(text, /^extension qos {6}2 ports, 1 policies, 3 meters$/m);
  const lip = renderStatus({ ...doc, extensions: { local_ip: { ports: 1, details: { associations: 1, NAT: 'conntrack' } } } });
  assert.match(lip, /^extension local_ip 1 port, 1 associations, conntrack NAT$/m);
  assert.doesNotMatch(renderStatus({ ...doc, extensions: {} }), /^extension /m, 'no extension loaded, no line');
});
