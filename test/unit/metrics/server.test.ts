// The metrics endpoint's HTTP behaviour with a stand-in agent state (the state itself is pure
// data): /readyz follows readiness and names what is missing, only GET/HEAD, no bodies, bounded
// headers, clients that stall or send garbage are answered and dropped, never waited on.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { MetricsEndpoint } from '../../../src/metrics/server.js';
import type { AgentSnapshot } from '../../../src/agent/status/metrics.js';

let state: AgentSnapshot | undefined;
let ep: MetricsEndpoint;
const base = (): AgentSnapshot => ({
  bridgesReady: true,
  flowsChecked: true,
  ovsdb: { endpoint: 'unix:/run/openvswitch/db.sock', connected: true },
  openflow: [{ bridge: 'br-int', connected: true }],
  messageBus: undefined,
  firstSyncDone: true,
  lastFullSync: undefined,
  lastStateReportAt: undefined,
  ports: { bound: 0, isolated: 0, retrying: 0 },
  localVlans: [],
  tunnels: [],
  firewall: undefined,
  extensions: {},
  cache: {},
  repairs: { ovsdbRepairs: 0, ovsdbFlaps: 0, flowAudits: 0, flowsReadded: 0, foreignFlowsRemoved: 0, flowsRefused: 0 },
});

before(async () => {
  ep = await MetricsEndpoint.start({ bind: { host: '127.0.0.1', port: 0 }, bridges: { integration: 'br-int', tunnel: undefined, physical: [] }, snapshot: () => state });
});
after(() => ep.close());

const get = async (path: string, init: RequestInit = {}) => {
  const r = await fetch(`http://127.0.0.1:${ep.port}${path}`, { ...init, signal: AbortSignal.timeout(5000) });
  return { status: r.status, body: await r.text(), type: r.headers.get('content-type') };
};

function raw(payload: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(ep.port, '127.0.0.1');
    let got = '';
    s.on('data', (b) => (got += b.toString()));
    s.on('close', () => resolve(got));
    s.on('error', reject);
    s.setTimeout(10000, () => s.destroy(new Error('the server did not close the connection within 10 s')));
    s.write(payload);
  });
}

describe('metrics endpoint', () => {
  it('/readyz: 503 with what is missing, 200 once everything is there', async () => {
    state = undefined;
    let r = await get('/readyz');
    assert.equal(r.status, 503);
    assert.deepEqual(JSON.parse(r.body), { ready: false, missing: ['the agent has not started yet'] });
    state = { ...base(), bridgesReady: false, firstSyncDone: false, ovsdb: { endpoint: 'unix:/x', connected: false }, openflow: [{ bridge: 'br-int', connected: false }] };
    r = await get('/readyz');
    assert.equal(r.status, 503);
    assert.deepEqual(JSON.parse(r.body).missing, [
      'bridges are not set up',
      'OVSDB at unix:/x is not connected',
      'OpenFlow channel of br-int is not connected',
      'the first full sync with neutron-server is not done',
    ]);
    // The switch is back but its flows are not read yet: they may be a restarted switch's empty tables.
    state = { ...base(), flowsChecked: false };
    r = await get('/readyz');
    assert.equal(r.status, 503);
    assert.deepEqual(JSON.parse(r.body).missing, [
      'the canary flow of br-int is not checked since its OpenFlow channel reconnected (OVS may have restarted)',
    ]);
    state = base();
    r = await get('/readyz');
    assert.equal(r.status, 200);
    assert.equal(r.type, 'application/json');
  });

  it('/healthz, /metrics and /status answer; HEAD has no body; other paths 404, other methods 405', async () => {
    assert.deepEqual(await get('/healthz'), { status: 200, body: 'ok\n', type: 'text/plain' });
    const m = await get('/metrics?x=1');
    assert.equal(m.status, 200);
    assert.match(m.type ?? '', /^text\/plain; version=0\.0\.4/);
    assert.match(m.body, /^ovs_agent_ready 1$/m);
    assert.equal(JSON.parse((await get('/status')).body).ready, true);
    assert.deepEqual(await get('/metrics', { method: 'HEAD' }).then((r) => [r.status, r.body]), [200, '']);
    assert.equal((await get('/')).status, 404);
    assert.equal((await get('/metrics', { method: 'PUT' })).status, 405);
  });

  it('refuses bodies, garbage and oversized headers; drops a client that stalls', async () => {
    assert.equal((await get('/metrics', { method: 'POST', body: 'x' })).status, 413);
    assert.match(await raw('GARBAGE \x00\r\n\r\n'), /^HTTP\/1\.1 400 /);
    assert.match(await raw(`GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20000)}\r\n\r\n`), /^HTTP\/1\.1 431 /);
    const t0 = Date.now();
    assert.match(await raw('GET /metrics HTTP/1.1\r\nHost: x\r\n'), /^HTTP\/1\.1 408 /);
    assert.ok(Date.now() - t0 < 8000, `a stalled client is dropped after ${Date.now() - t0} ms`);
    assert.equal((await get('/healthz')).status, 200);
  });
});
