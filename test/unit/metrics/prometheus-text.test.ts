// The test helper that parses /metrics is strict: it takes what prom-client writes, and refuses
// what Prometheus would refuse (so an integration test cannot pass on malformed output).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { PromRecorder } from '../../../src/metrics/recorder.js';
import { parsePrometheusText, sampleValue } from '../../helpers/prometheus-text.js';
import type { AgentSnapshot } from '../../../src/agent/status/metrics.js';

const snapshot: AgentSnapshot = {
  bridgesReady: true,
  flowsChecked: true,
  ovsdb: { endpoint: 'unix:/run/openvswitch/db.sock', connected: true },
  openflow: [{ bridge: 'br-int', connected: true }, { bridge: 'br-tun', connected: false }],
  messageBus: { url: 'rabbit://guest:****@127.0.0.1:5672/', connected: true },
  firstSyncDone: true,
  lastFullSync: { at: Date.now() - 1000, ports: 3, seconds: 0.5 },
  lastStateReportAt: Date.now() - 2000,
  ports: { bound: 2, isolated: 1, retrying: 0 },
  localVlans: [{ vlan: 1, networkId: 'n1', networkType: 'vxlan', segmentationId: 100, ports: 2 }],
  tunnels: [{ type: 'vxlan', remoteIp: '192.0.2.2', ofport: 3 }],
  firewall: { driver: 'openvswitch', ports: 2, rules: 7, members: 4 },
  extensions: { qos: { ports: 2, details: { policies: 1, meters: 1 } }, log: { ports: 1, details: { logs: 2 }, counters: { accept: 5, drop: 3 } } },
  cache: { Port: 3, Network: 1 },
  repairs: { ovsdbRepairs: 4, ovsdbFlaps: 1, flowAudits: 12, flowsReadded: 7, foreignFlowsRemoved: 2, flowsRefused: 3 },
};

describe('parsePrometheusText', () => {
  it("reads prom-client's output with the values the recorder was given", async () => {
    const r = new PromRecorder({ integration: 'br-int', tunnel: 'br-tun', physical: [] }, () => snapshot);
    r.passCompleted({ full: true, ports: 3, seconds: 0.5, failed: 0 });
    r.rpcCall('update_device_list', 0.02, undefined);
    r.rpcCall('update_device_list', 60, Object.assign(new Error('timed out'), { name: 'MessagingTimeout' }));
    r.flowModsApplied('br-int', [{ command: 'add', flow: { table: 23, priority: 0, match: {}, actions: [] } }], 0.001, undefined);
    r.connectionUp('message_bus', true);
    r.logged('WARNING', 'ovs_agent.agent', 'a "quoted" \\ warning\nover two lines');
    const m = parsePrometheusText(await r.registry.metrics());
    assert.equal(sampleValue(m, 'ovs_agent_ports', { state: 'bound' }), 2);
    assert.equal(sampleValue(m, 'ovs_agent_ready'), 0, 'br-tun not connected: not ready');
    assert.equal(sampleValue(m, 'ovs_agent_connection_up', { connection: 'openflow' }), 0);
    assert.equal(sampleValue(m, 'ovs_agent_tunnels', { tunnel_type: 'vxlan' }), 1);
    assert.equal(sampleValue(m, 'ovs_agent_ovsdb_repairs_total'), 4);
    assert.equal(sampleValue(m, 'ovs_agent_ovsdb_repair_flaps_total'), 1);
    assert.equal(sampleValue(m, 'ovs_agent_flow_audits_total'), 12);
    assert.equal(sampleValue(m, 'ovs_agent_flow_audit_readded_total'), 7);
    assert.equal(sampleValue(m, 'ovs_agent_flow_audit_foreign_removed_total'), 2);
    assert.equal(sampleValue(m, 'ovs_agent_flow_audit_refused_flows'), 3);
    assert.equal(sampleValue(m, 'ovs_agent_flows', { bridge: 'br-int', table: 'CANARY_TABLE' }), 1);
    assert.equal(sampleValue(m, 'ovs_agent_rpc_calls_total', { method: 'update_device_list' }), 2);
    assert.equal(sampleValue(m, 'ovs_agent_rpc_call_failures_total', { method: 'update_device_list', reason: 'timeout' }), 1);
    assert.equal(sampleValue(m, 'ovs_agent_rpc_call_duration_seconds_bucket', { method: 'update_device_list', le: '0.025' }), 1);
    assert.equal(sampleValue(m, 'ovs_agent_reconnects_total', { connection: 'message_bus' }), 1);
    assert.equal(sampleValue(m, 'ovs_agent_reconnects_total', { connection: 'ovsdb' }), 0);
    assert.equal(sampleValue(m, 'ovs_agent_firewall_rules', { driver: 'openvswitch' }), 7);
    assert.equal(sampleValue(m, 'ovs_agent_extension_ports', { extension: 'qos' }), 2, 'ports with a QoS policy applied');
    assert.equal(sampleValue(m, 'ovs_agent_extension_events_total', { extension: 'log', event: 'accept' }), 5, 'log lines written, by action');
    assert.equal(sampleValue(m, 'ovs_agent_extension_events_total', { extension: 'log', event: 'drop' }), 3);
    assert.equal(sampleValue(m, 'ovs_agent_log_messages_total', { level: 'WARNING' }), 1);
    const age = sampleValue(m, 'ovs_agent_state_report_age_seconds')!;
    assert.ok(age >= 2 && age < 10, `state report age ${age}`);
    assert.equal(m.get('ovs_agent_pass_duration_seconds')?.type, 'histogram');
  });

  it('refuses malformed text', () => {
    const ok = '# TYPE a counter\na 1\n';
    assert.equal(sampleValue(parsePrometheusText(ok), 'a'), 1);
    for (const [text, why] of [
      ['a 1\n', /no declared family/],
      ['# TYPE a counter\na 1', /end with a newline/],
      ['# TYPE a counter\na one\n', /bad value/],
      ['# TYPE a counter\na{x="1} 1\n', /unterminated/],
      ['# TYPE a counter\na{x="1"} 1\na{x="1"} 2\n', /duplicate series/],
      ['# TYPE a counter\na{x="\\q"} 1\n', /bad escape/],
      ['# TYPE a counter\na{1x="1"} 1\n', /bad label name/],
      ['# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n', /not cumulative/],
      ['# TYPE h histogram\nh_bucket{le="1"} 1\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 2\n', /!= _count/],
    ] as const) {
      assert.throws(() => parsePrometheusText(text), why, JSON.stringify(text));
    }
  });
});
