// Every default of [ovs], [agent] (and the other agent sections) must equal the
// reference's. The table below was produced by registering neutron 21's option
// lists in a fresh oslo.config ConfigOpts and reading every value with no file.
// When the reference Python is installed, the same dump is also taken live.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { loadConfig, type AgentConfig } from '../../../src/config/index.js';

const REFERENCE: Record<string, Record<string, unknown>> = {
  agent: {
    arp_responder: false, availability_zone: 'nova', baremetal_smartnic: false, comment_iptables_rules: true,
    debug_iptables_rules: false, dont_fragment: true, drop_flows_on_start: false, dscp: null, dscp_inherit: false,
    enable_distributed_routing: false, explicitly_egress_direct: false, extensions: [], l2_population: false,
    log_agent_heartbeats: false, minimize_polling: true, ovsdb_monitor_respawn_interval: 30, polling_interval: 2,
    quitting_rpc_timeout: 10, report_interval: 30.0, root_helper: 'sudo', root_helper_daemon: null, tunnel_csum: false,
    tunnel_types: [], use_helper_for_ns_read: true, use_random_fully: true, veth_mtu: 9000, vxlan_udp_port: 4789,
  },
  dhcp: { dhcp_rebinding_time: 0, dhcp_renewal_time: 0, enable_ipv6: true },
  network_log: { burst_limit: 25, local_output_log_base: null, rate_limit: 100 },
  ovs: {
    bridge_mac_table_size: 50000, bridge_mappings: [], datapath_type: 'system', igmp_snooping_enable: false,
    int_peer_patch_port: 'patch-tun', integration_bridge: 'br-int', local_ip: null, of_connect_timeout: 300,
    of_inactivity_probe: 10, of_listen_address: '127.0.0.1', of_listen_port: 6633, of_request_timeout: 300,
    openflow_processed_per_port: false, ovsdb_connection: 'tcp:127.0.0.1:6640', ovsdb_debug: false, ovsdb_timeout: 10,
    resource_provider_bandwidths: [], resource_provider_default_hypervisor: null, resource_provider_hypervisors: {},
    resource_provider_inventory_defaults: { allocation_ratio: 1.0, min_unit: 1, reserved: 0, step_size: 1 },
    resource_provider_packet_processing_inventory_defaults: { allocation_ratio: 1.0, min_unit: 1, reserved: 0, step_size: 1 },
    resource_provider_packet_processing_with_direction: [], resource_provider_packet_processing_without_direction: [],
    ssl_ca_cert_file: null, ssl_cert_file: null, ssl_key_file: null, tun_peer_patch_port: 'patch-int',
    tunnel_bridge: 'br-tun', vhostuser_socket_dir: '/var/run/openvswitch',
  },
  securitygroup: { enable_ipset: true, enable_security_group: true, firewall_driver: null, permitted_ethertypes: [] },
};

// Options we add on top of the reference (documented in options.ts).
const OUR_EXTENSIONS: Record<string, string[]> = { ovs: ['of_interface'], agent: ['metrics_bind', 'flow_audit_interval', 'tunnel_port_naming'] };

function ourValue(cfg: AgentConfig, group: string, option: string): unknown {
  // The reference holds the inventory dicts with numbers; ours keeps the raw strings and converts in derived values.
  if (group === 'ovs' && option === 'resource_provider_inventory_defaults') return cfg.rpInventoryDefaults;
  if (group === 'ovs' && option === 'resource_provider_packet_processing_inventory_defaults') return cfg.rpPacketProcessingInventoryDefaults;
  return (cfg as unknown as Record<string, Record<string, unknown>>)[group]![option];
}

function compare(reference: Record<string, Record<string, unknown>>): void {
  const cfg = loadConfig([], { hostname: 'node-1', searchDirs: [] });
  for (const [group, options] of Object.entries(reference)) {
    const ours = Object.keys((cfg as unknown as Record<string, Record<string, unknown>>)[group]!).sort();
    const expected = [...Object.keys(options), ...(OUR_EXTENSIONS[group] ?? [])].sort();
    assert.deepEqual(ours, expected, `option names of [${group}]`);
    for (const [option, value] of Object.entries(options)) {
      assert.deepEqual(ourValue(cfg, group, option), value, `[${group}] ${option}`);
    }
  }
}

describe('defaults equal the reference agent', () => {
  it('matches the recorded neutron 21 defaults', () => {
    compare(REFERENCE);
  });

  it('[DEFAULT] and [oslo_messaging_rabbit] defaults used by the agent', () => {
    const c = loadConfig([], { hostname: 'node-1', searchDirs: [] });
    assert.equal(c.DEFAULT.host, 'node-1');
    assert.equal(c.DEFAULT.state_path, '/var/lib/neutron');
    assert.equal(c.DEFAULT.transport_url, 'rabbit://');
    assert.equal(c.DEFAULT.control_exchange, 'neutron');
    assert.equal(c.DEFAULT.rpc_response_timeout, 60);
    assert.equal(c.DEFAULT.rpc_response_max_timeout, 600);
    assert.equal(c.DEFAULT.rpc_resources_processing_step, 20);
    assert.equal(c.DEFAULT.executor_thread_pool_size, 64);
    assert.equal(c.DEFAULT.debug, false);
    assert.equal(c.DEFAULT.log_file, null);
    assert.equal(c.DEFAULT.log_dir, null);
    assert.equal(c.DEFAULT.use_stderr, false);
    assert.equal(c.DEFAULT.base_mac, 'fa:16:3e:00:00:00');
    assert.ok(c.DEFAULT.default_log_levels.includes('os_ken.controller.controller=INFO'));
    const r = c.oslo_messaging_rabbit;
    assert.deepEqual(
      [r.amqp_durable_queues, r.amqp_auto_delete, r.rabbit_ha_queues, r.rabbit_quorum_queue, r.rabbit_transient_queues_ttl,
        r.rabbit_qos_prefetch_count, r.heartbeat_timeout_threshold, r.heartbeat_rate, r.rabbit_retry_interval,
        r.rabbit_retry_backoff, r.rabbit_interval_max, r.kombu_reconnect_delay, r.kombu_missing_consumer_retry_timeout,
        r.kombu_failover_strategy, r.rabbit_login_method, r.ssl, r.enable_cancel_on_failover, r.direct_mandatory_flag,
        r.rpc_conn_pool_size, r.conn_pool_min_size, r.conn_pool_ttl],
      [false, false, false, false, 1800, 0, 60, 2, 1, 2, 30, 1.0, 60, 'round-robin', 'AMQPLAIN', false, false, true, 30, 2, 1200]);
    assert.equal(c.local_ip.static_nat, false);
    assert.deepEqual(c.fdb.shared_physical_device_mappings, []);
    assert.equal(c.firewallDriver, 'noop');
    assert.equal(c.tunnelingEnabled, false);
    assert.equal(c.arpResponderEnabled, false);
    assert.deepEqual(c.transport.hosts, [{ host: 'localhost', port: 5672, username: 'guest', password: 'guest' }]);
  });

  const PY = '/usr/bin/python3';
  const haveNeutron = fs.existsSync(PY) && fs.existsSync('/usr/lib/python3/dist-packages/neutron/conf/plugins/ml2/drivers/ovs_conf.py');
  it('matches the installed reference (live dump)', { skip: haveNeutron ? false : 'reference neutron not installed' }, () => {
    const script = `
import json
from oslo_config import cfg
from neutron.conf.plugins.ml2.drivers import ovs_conf, agent as drv_agent
from neutron.conf.agent import common, ovs_conf as aovs, ovsdb_api, securitygroups_rpc, agent_extensions_manager
from neutron.conf.services import logging as log_conf
c = cfg.ConfigOpts()
ovs_conf.register_ovs_agent_opts(c); drv_agent.register_agent_opts(c); aovs.register_ovs_agent_opts(c)
ovsdb_api.register_ovsdb_api_opts(c); common.register_agent_state_opts_helper(c); common.register_root_helper(c)
common.register_iptables_opts(c); common.register_availability_zone_opts_helper(c)
agent_extensions_manager.register_agent_ext_manager_opts(c); securitygroups_rpc.register_securitygroups_opts(c)
log_conf.register_log_driver_opts(c)
c([], default_config_files=[], default_config_dirs=[])
out = {}
for g, name in (('ovs','OVS'),('agent','AGENT'),('securitygroup','SECURITYGROUP'),('dhcp','DHCP'),('network_log','network_log')):
    out[g] = {k: getattr(getattr(c, name), k) for k in c._groups[name]._opts}
out['agent']['extensions'] = c.agent.extensions
print(json.dumps(out))
`;
    const res = spawnSync(PY, ['-c', script], { encoding: 'utf8', cwd: '/tmp' });
    assert.equal(res.status, 0, res.stderr);
    const live = JSON.parse(res.stdout) as Record<string, Record<string, unknown>>;
    assert.deepEqual(live, REFERENCE, 'recorded table is stale');
    compare(live);
  });
});
