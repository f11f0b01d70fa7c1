// The metrics endpoint of a running agent (`[agent] metrics_bind`), against a real neutron-server
// and OVS: /metrics parsed as Prometheus parses it and checked against what the test did (ports
// plugged, flows on the bridges, RPC calls made), /readyz following ovs-vswitchd going away and
// coming back, /healthz, hostile clients that must not stop the agent, and `ovs-agent status`.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { promisify } from 'node:util';
import { PrivateOvs, freePort } from '../../../lab/ovs.js';
import { AgentProcess } from '../../../lab/agent-process.js';
import { labAgentFiles } from '../../../lab/agent-config.js';
import { checkoutFile } from '../../../lab/checkout.js';
import { NeutronLab, waitFor, type NeutronPort } from '../../../lab/neutron.js';
import { plugVm, ping, type Vm } from '../../../lab/vm.js';
import { tearDownTestHost } from '../../helpers/teardown.js';
import { startLabAndOvs } from '../../../lab/host.js';
import { INT_PIPELINE, TUN_PIPELINE } from '../../../src/bridges/tables.js';
import { parsePrometheusText, sampleValue, samples, type MetricFamily } from '../../helpers/prometheus-text.js';

const run = promisify(execFile);
const HOST = 'compute-metrics';
const OVS_AGENT_BIN = checkoutFile('bin/ovs-agent.js');
let lab: NeutronLab;
let ovs: PrivateOvs;
let agent: AgentProcess;
let metricsPort: number;
const sockets: Socket[] = [];

before(async () => {
  [lab, ovs] = await startLabAndOvs();
  metricsPort = await freePort();
  agent = new AgentProcess(
    labAgentFiles({
      host: HOST, transportUrl: lab.transportUrl, ovsdbConnection: ovs.unixConnection, ofListenPort: await freePort(), reportIntervalSec: 5,
      agent: [`metrics_bind = 127.0.0.1:${metricsPort}`],
    }),
    ovs.env,
  ).start();
  await agent.waitForLog(/serving \/metrics/, 30000);
  await agent.waitForLog(/bridges set up/, 60000);
}, { timeout: 180000 });

after(async () => {
  for (const s of sockets) s.destroy();
  await tearDownTestHost('metrics', { agent, ovs, lab });
}, { timeout: 60000 });

interface Answer {
  status: number;
  body: string;
  ms: number;
}

async function get(path: string, init: RequestInit = {}): Promise<Answer> {
  const t0 = Date.now();
  const res = await fetch(`http://127.0.0.1:${metricsPort}${path}`, { ...init, signal: AbortSignal.timeout(10000) });
  return { status: res.status, body: await res.text(), ms: Date.now() - t0 };
}

async function scrape(): Promise<Map<string, MetricFamily>> {
  const a = await get('/metrics');
  assert.equal(a.status, 200);
  return parsePrometheusText(a.body);
}

function logTail(): string {
  return `\nagent log (last lines):\n${agent.output.split('\n').slice(-40).join('\n')}`;
}

async function waitReady(ms: number): Promise<void> {
  await waitFor(async () => (await get('/readyz')).status === 200, ms, '/readyz 200').catch((e: unknown) => {
    throw new Error(`${String(e)}${logTail()}`);
  });
}

/** Flows of a bridge per table name, as ovs-ofctl dumps them. */
async function dumpedFlowsPerTable(bridge: string, pipeline: ReadonlyArray<{ id: number; name: string }>): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const line of await ovs.dumpFlows(bridge)) {
    const id = Number(/table=(\d+)/.exec(line)?.[1] ?? 0);
    const name = pipeline.find((t) => t.id === id)?.name ?? `table_${id}`;
    out.set(name, (out.get(name) ?? 0) + 1);
  }
  return out;
}

function exportedFlowsPerTable(m: Map<string, MetricFamily>, bridge: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const s of samples(m, 'ovs_agent_flows', { bridge })) if (s.value > 0) out.set(s.labels['table']!, s.value);
  return out;
}

test('/healthz answers at once; /readyz says what is missing until the first full sync, then 200', async () => {
  const h = await get('/healthz');
  assert.equal(h.status, 200);
  assert.equal(h.body, 'ok\n');
  const r = await get('/readyz');
  if (r.status === 503) {
    const body = JSON.parse(r.body) as { ready: boolean; missing: string[] };
    assert.equal(body.ready, false);
    assert.ok(body.missing.length > 0, `503 names what is missing: ${r.body}`);
  }
  await waitReady(60000);
  const ready = JSON.parse((await get('/readyz')).body) as { ready: boolean; missing: string[] };
  assert.deepEqual(ready, { ready: true, missing: [] });
});

let vms: Array<{ port: NeutronPort; vm: Vm }> = [];
let networkId = '';

test('/metrics: ports by state, local VLANs, flows per table equal to the bridges, RPC calls and cache pulls counted', async () => {
  const before = await scrape();
  const callsBefore = sampleValue(before, 'ovs_agent_rpc_calls_total', { method: 'update_device_list' }) ?? 0;
  const net = await lab.createNetwork({ name: 'metrics-net' });
  networkId = net.id;
  await lab.createSubnet(net.id, '192.0.2.0/24', { gatewayIp: null });
  for (const name of ['m1', 'm2']) {
    const port = await lab.createPort(net.id, { name, host: HOST });
    vms.push({ port, vm: await plugVm(ovs, port) });
  }
  // A third port, admin down: plugged, isolated on the dead VLAN.
  const down = await lab.createPort(net.id, { name: 'm3', host: HOST });
  await lab.updatePort(down.id, { admin_state_up: false });
  vms.push({ port: down, vm: await plugVm(ovs, down) });
  for (const { port } of vms.slice(0, 2)) {
    await waitFor(async () => (await lab.getPort(port.id)).status === 'ACTIVE', 30000, `port ${port.id} ACTIVE`).catch((e: unknown) => {
      throw new Error(`${String(e)}${logTail()}`);
    });
  }
  assert.ok(await ping(vms[0]!.vm, vms[1]!.vm.ip), 'the two VMs ping each other');

  await waitFor(async () => sampleValue(await scrape(), 'ovs_agent_ports', { state: 'isolated' }) === 1, 20000, 'the admin-down port counted as isolated');
  const m = await scrape();
  assert.equal(sampleValue(m, 'ovs_agent_ports', { state: 'bound' }), 2, 'two ports bound');
  assert.equal(sampleValue(m, 'ovs_agent_ports', { state: 'isolated' }), 1, 'one port isolated');
  assert.equal(sampleValue(m, 'ovs_agent_ports', { state: 'retrying' }), 0);
  assert.equal(sampleValue(m, 'ovs_agent_local_vlans', { network_type: 'vxlan' }), 1, 'one local VLAN, for the vxlan network');
  assert.ok((sampleValue(m, 'ovs_agent_rpc_calls_total', { method: 'update_device_list' }) ?? 0) > callsBefore, 'update_device_list calls counted');
  assert.ok((sampleValue(m, 'ovs_agent_rpc_calls_total', { method: 'report_state' }) ?? 0) >= 1, 'report_state counted');
  assert.ok((sampleValue(m, 'ovs_agent_rpc_call_duration_seconds_count', { method: 'update_device_list' }) ?? 0) >= 1, 'update_device_list latency observed');
  // Ports reach the cache by push here (the server pushes each port it binds); pulls are counted on a miss.
  const pulls = samples(m, 'ovs_agent_resource_cache_pulls_total').reduce((a, x) => a + x.value, 0);
  assert.equal(pulls, sampleValue(m, 'ovs_agent_rpc_calls_total', { method: 'bulk_pull' }) ?? 0, 'every cache pull is a bulk_pull call');
  assert.ok((sampleValue(m, 'ovs_agent_resource_cache_objects', { type: 'Port' }) ?? 0) >= 3, 'the three ports cached');
  assert.equal(sampleValue(m, 'ovs_agent_connection_up', { connection: 'ovsdb' }), 1);
  assert.equal(sampleValue(m, 'ovs_agent_connection_up', { connection: 'message_bus' }), 1);
  assert.equal(sampleValue(m, 'ovs_agent_connection_up', { connection: 'openflow' }), 1);
  assert.equal(sampleValue(m, 'ovs_agent_ready'), 1);
  const age = sampleValue(m, 'ovs_agent_state_report_age_seconds')!;
  assert.ok(age >= 0 && age < 30, `state report age ${age} s`);
  assert.ok((sampleValue(m, 'ovs_agent_pass_duration_seconds_count', { kind: 'full' }) ?? 0) >= 1, 'the full sync pass observed');
  assert.ok((sampleValue(m, 'ovs_agent_flow_batch_flow_mods_count', { bridge: 'br-int' }) ?? 0) >= 1, 'flow batches observed');
  assert.ok((sampleValue(m, 'ovs_agent_process_resident_memory_bytes') ?? 0) > 10e6, 'process RSS exported');
  assert.ok(sampleValue(m, 'ovs_agent_process_cpu_seconds_total') !== undefined, 'process CPU exported');

  // Counted from the flow mods the agent sent, yet equal to what the bridges hold, table by table.
  for (const [bridge, pipeline] of [['br-int', INT_PIPELINE], ['br-tun', TUN_PIPELINE]] as const) {
    await waitFor(async () => {
      const dumped = await dumpedFlowsPerTable(bridge, pipeline);
      const exported = exportedFlowsPerTable(await scrape(), bridge);
      return JSON.stringify([...dumped].sort()) === JSON.stringify([...exported].sort());
    }, 10000, `flows of ${bridge} per table as exported`).catch(async (e: unknown) => {
      const dumped = await dumpedFlowsPerTable(bridge, pipeline);
      const exported = exportedFlowsPerTable(await scrape(), bridge);
      throw new Error(`${String(e)}\ndumped:   ${JSON.stringify([...dumped].sort())}\nexported: ${JSON.stringify([...exported].sort())}`);
    });
  }
  const intTotal = samples(m, 'ovs_agent_flows', { bridge: 'br-int' }).reduce((a, s) => a + s.value, 0);
  assert.ok(intTotal > 10, `br-int flows exported (${intTotal})`);
});

test('ovs-agent status shows the live host; --json carries the same; a clear error without an endpoint', async (t) => {
  const args = ['status', '--config-file', agent.path('neutron.conf'), '--config-file', agent.path('openvswitch_agent.ini')];
  const text = (await run(process.execPath, [OVS_AGENT_BIN, ...args], { env: ovs.env })).stdout;
  t.diagnostic(`ovs-agent status:\n${text}`);
  assert.match(text, /READY/);
  assert.match(text, /ports +2 bound, 1 isolated \(VLAN 4095\), 0 retrying/);
  assert.match(text, new RegExp(`network ${networkId} \\(vxlan \\d+\\), 2 ports`));
  assert.match(text, /ovsdb .*: connected/);
  assert.match(text, /openflow +br-int: connected/);
  assert.match(text, /message bus .*: connected/);
  assert.match(text, /last full sync +\d{4}-\d\d-\d\dT/);
  const doc = JSON.parse((await run(process.execPath, [OVS_AGENT_BIN, ...args, '--json'], { env: ovs.env })).stdout) as {
    ready: boolean; ports: { bound: number }; localVlans: Array<{ networkId: string }>;
  };
  assert.equal(doc.ready, true);
  assert.equal(doc.ports.bound, 2);
  assert.deepEqual(doc.localVlans.map((v) => v.networkId), [networkId]);

  // The same files without metrics_bind, then pointing at a port nobody listens on.
  const { writeFileSync } = await import('node:fs');
  const ini = agent.path('openvswitch_agent.ini');
  const original = (await import('node:fs')).readFileSync(ini, 'utf8');
  try {
    writeFileSync(ini, original.replace(/^metrics_bind = .*$/m, ''));
    const off = await run(process.execPath, [OVS_AGENT_BIN, ...args]).then(() => undefined, (e: { code: number; stderr: string }) => e);
    assert.equal(off?.code, 1);
    assert.match(off!.stderr, /\[agent\] metrics_bind is not set/);
    writeFileSync(ini, original.replace(/^metrics_bind = .*$/m, `metrics_bind = 127.0.0.1:${await freePort()}`));
    const dead = await run(process.execPath, [OVS_AGENT_BIN, ...args]).then(() => undefined, (e: { code: number; stderr: string }) => e);
    assert.equal(dead?.code, 1);
    assert.match(dead!.stderr, /no agent answering at http:\/\/127\.0\.0\.1:\d+\/status: .*ECONNREFUSED/);
  } finally {
    writeFileSync(ini, original);
  }
});

test('hostile clients: malformed, slow, too many, wrong method, a body, a huge header; the agent keeps serving', async () => {
  const raw = (payload: string): Promise<string> =>
    new Promise((resolve, reject) => {
      const s = connect(metricsPort, '127.0.0.1');
      let got = '';
      s.on('data', (b) => (got += b.toString()));
      s.on('close', () => resolve(got));
      s.on('error', reject);
      s.setTimeout(15000, () => s.destroy(new Error('no close within 15 s')));
      s.write(payload);
    });
  assert.match(await raw('GARBAGE \x00\x01\r\n\r\n'), /^HTTP\/1\.1 400/);
  // 40 clients that send half a request line and stay: the server keeps answering others.
  for (let i = 0; i < 40; i++) {
    const s = connect(metricsPort, '127.0.0.1');
    s.on('error', () => undefined);
    s.resume(); // reads, so it sees the server close it
    s.write('GET /metrics HTTP/1.1\r\nHost: x\r\n');
    sockets.push(s);
  }
  const h = await get('/healthz');
  assert.equal(h.status, 200);
  assert.ok(h.ms < 2000, `/healthz answered in ${h.ms} ms with slow clients connected`);
  // A client that never finishes its headers gets 408 and is dropped once the headers timeout passes.
  const t0 = Date.now();
  assert.match(await raw('GET /metrics HTTP/1.1\r\n'), /^HTTP\/1\.1 408/);
  assert.ok(Date.now() - t0 < 15000, `dropped after ${Date.now() - t0} ms`);

  assert.equal((await get('/metrics', { method: 'POST', body: 'x' })).status, 413);
  assert.equal((await get('/metrics', { method: 'DELETE' })).status, 405);
  assert.equal((await get('/nothing-here')).status, 404);
  assert.match(await raw(`GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20000)}\r\n\r\n`), /^HTTP\/1\.1 431/);
  assert.equal((await get('/readyz')).status, 200);
  assert.equal(agent.exitCode, undefined, 'the agent is still running');
  assert.ok(await ping(vms[0]!.vm, vms[1]!.vm.ip), 'and still wiring: the VMs ping');
});

test('a second agent configured with an address in use stops at once with exit 1, naming the option and address', async () => {
  const second = new AgentProcess(agent.files, ovs.env).start();
  try {
    assert.equal(await second.waitExit(30000), 1, second.output);
    assert.match(second.output, new RegExp(`metrics endpoint \\[agent\\] metrics_bind = 127\\.0\\.0\\.1:${metricsPort}: .*EADDRINUSE`));
  } finally {
    second.cleanup();
  }
  assert.equal((await get('/healthz')).status, 200, 'the first agent still serves');
});

test('/readyz turns 503 when ovs-vswitchd is killed, naming the OpenFlow channels, and 200 once it is back', async () => {
  const restartsBefore = sampleValue(await scrape(), 'ovs_agent_ovs_restarts_total') ?? 0;
  await ovs.kill('ovs-vswitchd');
  try {
    await waitFor(async () => (await get('/readyz')).status === 503, 20000, '/readyz 503 with ovs-vswitchd down');
    const body = JSON.parse((await get('/readyz')).body) as { ready: boolean; missing: string[] };
    assert.equal(body.ready, false);
    assert.ok(body.missing.some((x) => /OpenFlow channel of br-int is not connected/.test(x)), `missing: ${JSON.stringify(body.missing)}`);
    assert.equal(sampleValue(await scrape(), 'ovs_agent_connection_up', { connection: 'openflow' }), 0);
    assert.equal((await get('/healthz')).status, 200, 'alive all the same');
  } finally {
    await ovs.startVswitchd();
  }
  await waitReady(60000);
  await waitFor(async () => (sampleValue(await scrape(), 'ovs_agent_ovs_restarts_total') ?? 0) === restartsBefore + 1, 30000, 'the restart counted');
  const m = await scrape();
  assert.equal(sampleValue(m, 'ovs_agent_connection_up', { connection: 'openflow' }), 1);
  assert.ok((sampleValue(m, 'ovs_agent_reconnects_total', { connection: 'openflow' }) ?? 0) >= 1, 'switch reconnects counted');
  // The flows put back are counted again, not added to the lost ones.
  await waitFor(async () => {
    const dumped = await dumpedFlowsPerTable('br-int', INT_PIPELINE);
    const exported = exportedFlowsPerTable(await scrape(), 'br-int');
    return JSON.stringify([...dumped].sort()) === JSON.stringify([...exported].sort());
  }, 20000, 'br-int flows per table as exported after the restart');
  await waitFor(() => ping(vms[0]!.vm, vms[1]!.vm.ip), 20000, 'VMs ping again');
});
