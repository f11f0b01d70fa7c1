import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { convertBool, convertDict, convertList, SCHEMA, ValueProblem, type OptionDef } from '../../../src/config/options.js';

function problem(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    assert.ok(e instanceof ValueProblem, `expected ValueProblem, got ${String(e)}`);
    return e.message;
  }
  assert.fail('no error');
}

const conv = <T>(d: OptionDef<T>, raw: string): T => d.convert(raw);

describe('option types', () => {
  it('bool: true/1/on/yes and false/0/off/no, case-insensitive; anything else is an error', () => {
    for (const s of ['true', 'True', 'TRUE', '1', 'on', 'On', 'yes', 'YES']) assert.equal(convertBool(s), true, s);
    for (const s of ['false', 'False', '0', 'off', 'OFF', 'no', 'No']) assert.equal(convertBool(s), false, s);
    for (const s of ['y', 'n', 't', 'f', '', 'enabled', '2']) {
      assert.match(problem(() => convertBool(s)), /expected a boolean/, s);
    }
  });

  it('list: comma separated, items stripped, trailing commas dropped, empty → []', () => {
    assert.deepEqual(convertList('physnet1:br-ex, physnet2:br-eth1 ,'), ['physnet1:br-ex', 'physnet2:br-eth1']);
    assert.deepEqual(convertList(''), []);
    assert.deepEqual(convertList(' , '), []);
    assert.deepEqual(convertList('a,b,,,'), ['a', 'b']);
    assert.deepEqual(convertList('a,,b'), ['a', '', 'b']);
    assert.deepEqual(convertList(',a'), ['', 'a']);
    assert.deepEqual(convertList('vxlan,\ngre'), ['vxlan', 'gre']);
    assert.deepEqual(convertList('[a,b]'), ['[a', 'b]'], 'no bracket syntax');
  });

  it('dict: key:value pairs, first colon splits, values stay strings', () => {
    assert.deepEqual(convertDict('allocation_ratio:1.0, min_unit:1'), { allocation_ratio: '1.0', min_unit: '1' });
    assert.deepEqual(convertDict(''), {});
    assert.deepEqual(convertDict('br-ex:host:1'), { 'br-ex': 'host:1' });
    assert.deepEqual(convertDict('a,b:c'), { 'a,b': 'c' }, 'oslo glues a piece without ":" to the next one');
    assert.match(problem(() => convertDict('a:1,a:2')), /duplicate key 'a'/);
    assert.match(problem(() => convertDict('a:1,')), /expected key:value pairs/);
    assert.match(problem(() => convertDict('novalue')), /expected key:value pairs/);
    assert.match(problem(() => convertDict(' :1')), /empty key/);
  });

  it('int: decimal only, bounds in the message, empty means unset only without a default', () => {
    const dscp = SCHEMA.agent.dscp;
    assert.equal(conv(dscp, '63'), 63);
    assert.equal(conv(dscp, '0'), 0);
    assert.equal(conv(dscp, ''), null);
    assert.equal(problem(() => conv(dscp, '64')), 'expected an integer between 0 and 63');
    assert.equal(problem(() => conv(dscp, '-1')), 'expected an integer between 0 and 63');
    const step = SCHEMA.DEFAULT.rpc_resources_processing_step;
    assert.equal(problem(() => conv(step, '0')), 'expected an integer >= 1');
    const poll = SCHEMA.agent.polling_interval;
    assert.equal(conv(poll, '1_000'), 1000);
    assert.equal(conv(poll, '+5'), 5);
    assert.equal(problem(() => conv(poll, '0x10')), 'expected an integer');
    assert.equal(problem(() => conv(poll, '1.0')), 'expected an integer');
    assert.equal(problem(() => conv(poll, '')), 'expected an integer');
    assert.equal(conv(SCHEMA.agent.ovsdb_monitor_respawn_interval, ''), 30);
  });

  it('port: 0..65535', () => {
    assert.equal(conv(SCHEMA.ovs.of_listen_port, '65535'), 65535);
    assert.equal(problem(() => conv(SCHEMA.ovs.of_listen_port, '65536')), 'expected an integer between 0 and 65535');
    assert.equal(problem(() => conv(SCHEMA.agent.vxlan_udp_port, 'abc')), 'expected an integer between 0 and 65535');
  });

  it('float: Python float syntax; empty report_interval disables heartbeats', () => {
    assert.equal(conv(SCHEMA.agent.report_interval, '2.5'), 2.5);
    assert.equal(conv(SCHEMA.agent.report_interval, '1e1'), 10);
    assert.equal(conv(SCHEMA.agent.report_interval, ''), 0);
    assert.equal(problem(() => conv(SCHEMA.agent.report_interval, '30s')), 'expected a number');
    assert.equal(problem(() => conv(SCHEMA.oslo_messaging_rabbit.kombu_reconnect_delay, '5')), 'expected a number between 0 and 4.5');
  });

  it('ip: strict IPv4/IPv6 literals', () => {
    assert.equal(conv(SCHEMA.ovs.local_ip, '192.0.2.10'), '192.0.2.10');
    assert.equal(conv(SCHEMA.ovs.local_ip, '2001:db8::1'), '2001:db8::1');
    assert.equal(conv(SCHEMA.ovs.local_ip, '::ffff:1.2.3.4'), '::ffff:1.2.3.4');
    for (const bad of ['', '1.2.3', '1.2.3.04', '256.1.1.1', 'fe80::1%eth0', 'compute1', ' 1.2.3.4']) {
      assert.equal(problem(() => conv(SCHEMA.ovs.local_ip, bad)), 'expected an IPv4 or IPv6 address', bad);
    }
  });

  it('host address: IP or RFC 1123 host name', () => {
    const host = SCHEMA.DEFAULT.host;
    assert.equal(conv(host, 'compute-1'), 'compute-1');
    assert.equal(conv(host, 'Host.Example.COM.'), 'Host.Example.COM');
    assert.equal(conv(host, '192.0.2.1'), '192.0.2.1');
    for (const bad of ['foo_bar', '-x', 'a.123', '1.2.3', '']) {
      assert.equal(problem(() => conv(host, bad)), 'expected an IP address or a valid host name', bad);
    }
  });

  it('choices', () => {
    assert.equal(conv(SCHEMA.ovs.datapath_type, 'netdev'), 'netdev');
    assert.equal(problem(() => conv(SCHEMA.ovs.datapath_type, 'kernel')), 'expected one of: system, netdev');
    assert.equal(problem(() => conv(SCHEMA.ovs.datapath_type, 'NETDEV')), 'expected one of: system, netdev');
    assert.equal(conv(SCHEMA.ovs.of_interface, 'ovs-ofctl'), 'ovs-ofctl');
    assert.equal(problem(() => conv(SCHEMA.ovs.of_interface, 'ofctl')), 'expected one of: native, ovs-ofctl');
    assert.equal(conv(SCHEMA.DEFAULT.log_rotate_interval_type, 'HOURS'), 'HOURS', 'oslo.log uses ignore_case');
    assert.equal(conv(SCHEMA.DEFAULT.log_rotation_type, 'Size'), 'Size', 'oslo.log uses ignore_case here too');
  });

  it('transport_url is the only secret option and has the rabbit:// default', () => {
    const secrets = Object.entries(SCHEMA).flatMap(([g, opts]) =>
      Object.entries(opts as Record<string, OptionDef<unknown>>).filter(([, d]) => d.secret).map(([n]) => `${g}.${n}`));
    assert.deepEqual(secrets, ['DEFAULT.transport_url']);
    assert.equal(SCHEMA.DEFAULT.transport_url.default, 'rabbit://');
  });
});
