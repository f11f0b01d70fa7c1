import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  ConfigError, HelpRequested, loadConfig, reloadMutable, validateLocalIp, type AgentConfig, type LoadOptions,
} from '../../../src/config/index.js';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'cfgtest-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));
let seq = 0;

/** Writes a file under a fresh directory and returns its absolute path. */
function file(text: string, name = 'agent.ini', dir?: string): string {
  const d = dir ?? fs.mkdtempSync(path.join(root, `f${seq++}-`));
  const p = path.join(d, name);
  fs.writeFileSync(p, text);
  return p;
}

const OPTS: LoadOptions = { hostname: 'node-1', searchDirs: [] };
const load = (argv: string[], opts: LoadOptions = OPTS): AgentConfig => loadConfig(argv, opts);
const withFile = (text: string): AgentConfig => load(['--config-file', file(text)]);

function configError(f: () => unknown): ConfigError {
  try {
    f();
  } catch (e) {
    assert.ok(e instanceof ConfigError, `expected ConfigError, got ${String(e)}`);
    return e;
  }
  assert.fail('no ConfigError');
}

describe('loadConfig: files and precedence', () => {
  it('a later --config-file wins; swapping the order swaps the winner', () => {
    const a = file('[ovs]\nintegration_bridge = br-a\n');
    const b = file('[ovs]\nintegration_bridge = br-b\n');
    assert.equal(load(['--config-file', a, '--config-file', b]).ovs.integration_bridge, 'br-b');
    assert.equal(load([`--config-file=${b}`, `--config-file=${a}`]).ovs.integration_bridge, 'br-a');
    assert.deepEqual(load(['--config-file', a, '--config-file', b]).configFiles, [a, b]);
  });

  it('an option only in the earlier file survives a later file that does not set it', () => {
    const a = file('[ovs]\ntunnel_bridge = br-t1\nintegration_bridge = br-a\n');
    const b = file('[ovs]\nintegration_bridge = br-b\n');
    const c = load(['--config-file', a, '--config-file', b]);
    assert.equal(c.ovs.tunnel_bridge, 'br-t1');
    assert.equal(c.ovs.integration_bridge, 'br-b');
  });

  it('--config-dir parses DIR/*.conf sorted by name at its argv position; .ini and dotfiles are skipped', () => {
    const dir = fs.mkdtempSync(path.join(root, 'dir-'));
    file('[ovs]\nintegration_bridge = br-20\n', '20-b.conf', dir);
    file('[ovs]\nintegration_bridge = br-10\ntunnel_bridge = br-t10\n', '10-a.conf', dir);
    file('[ovs]\nintegration_bridge = br-ini\ntunnel_bridge = br-ini\n', '99-z.ini', dir);
    file('[ovs]\nintegration_bridge = br-hidden\n', '.99.conf', dir);
    const first = file('[ovs]\nintegration_bridge = br-first\nint_peer_patch_port = p-first\n');
    const last = file('[ovs]\nint_peer_patch_port = p-last\n');
    const c = load(['--config-file', first, '--config-dir', dir, '--config-file', last]);
    assert.equal(c.ovs.integration_bridge, 'br-20');
    assert.equal(c.ovs.tunnel_bridge, 'br-t10');
    assert.equal(c.ovs.int_peer_patch_port, 'p-last');
    assert.deepEqual(c.configFiles, [first, path.join(dir, '10-a.conf'), path.join(dir, '20-b.conf'), last]);
    assert.deepEqual(c.configDirs, [dir]);
    // Dir after the file: the dir now wins.
    assert.equal(load(['--config-dir', dir, '--config-file', first]).ovs.integration_bridge, 'br-first');
  });

  it('Debian packaging order: neutron.conf given last wins over the .ini', () => {
    const ini = file('[DEFAULT]\nhost = from-ini\n', 'openvswitch_agent.ini');
    const conf = file('[DEFAULT]\nhost = from-conf\n', 'neutron.conf');
    assert.equal(load([`--config-file=${ini}`, `--config-file=${conf}`]).DEFAULT.host, 'from-conf');
  });

  it('a repeated key in one file: the last occurrence wins', () => {
    assert.equal(withFile('[agent]\npolling_interval = 5\npolling_interval = 7\n').agent.polling_interval, 7);
  });

  it('section names: [OVS]/[Ovs] are [ovs]; [default] is not [DEFAULT] and is ignored', () => {
    const c = withFile('[OVS]\nlocal_ip = 192.0.2.1\n[Ovs]\ndatapath_type = netdev\n[default]\nhost = ignored\n');
    assert.equal(c.ovs.local_ip, '192.0.2.1');
    assert.equal(c.ovs.datapath_type, 'netdev');
    assert.equal(c.DEFAULT.host, 'node-1');
    assert.ok(c.unknownSettings.some((u) => u.section === 'default' && u.key === 'host'));
  });

  it('unknown options and sections are ignored but reported for a debug log', () => {
    const p = file('[ovs]\nenable_tunneling = true\n[database]\nconnection = sqlite://\n');
    const c = load(['--config-file', p]);
    assert.deepEqual(c.unknownSettings, [
      { file: p, line: 2, section: 'ovs', key: 'enable_tunneling' },
      { file: p, line: 4, section: 'database', key: 'connection' },
    ]);
  });

  it('the deprecated name ovs_integration_bridge is honoured, with a warning', () => {
    const c = withFile('[ovs]\novs_integration_bridge = br-old\n');
    assert.equal(c.ovs.integration_bridge, 'br-old');
    assert.deepEqual(c.warnings, ['Option "ovs_integration_bridge" from group "ovs" is deprecated. Use option "integration_bridge" from group "ovs".']);
    assert.equal(withFile('[ovs]\novs_integration_bridge = br-old\nintegration_bridge = br-new\n').ovs.integration_bridge, 'br-new');
    // oslo looks file by file (newest first), so a newer file's deprecated spelling wins.
    const a = file('[ovs]\nintegration_bridge = br-new\n');
    const b = file('[ovs]\novs_integration_bridge = br-old\n');
    assert.equal(load(['--config-file', a, '--config-file', b]).ovs.integration_bridge, 'br-old');
  });

  it('options with a deprecated DEFAULT group are read from [DEFAULT]', () => {
    assert.equal(withFile('[DEFAULT]\nrabbit_ha_queues = true\n').oslo_messaging_rabbit.rabbit_ha_queues, true);
  });

  it('missing config file or dir → ConfigError naming it', () => {
    const missing = path.join(root, 'nope.ini');
    const e = configError(() => load(['--config-file', missing]));
    assert.match(e.message, /Failed to find config file .*nope\.ini/);
    const d = configError(() => load(['--config-dir', path.join(root, 'nodir')]));
    assert.match(d.message, /config directory .*nodir: not found/);
  });

  it('malformed file → ConfigError with file:line', () => {
    const p = file('[DEFAULT]\nhost = a\n[ovs\n');
    const e = configError(() => load(['--config-file', p]));
    assert.equal(e.message, `${p}:3: Failed to parse config file: Invalid section (must end with ]): "[ovs"`);
    assert.equal(e.file, p);
  });
});

describe('loadConfig: command line', () => {
  it('CLI flags beat every file, whatever their position', () => {
    const p = file('[DEFAULT]\ndebug = false\nlog_file = /from/file\nstate_path = /from/file\nlog_dir = /d\n');
    const c = load(['--debug', '--log-file', '/from/cli', '--config-file', p, '--state_path=/cli/state']);
    assert.equal(c.DEFAULT.debug, true);
    assert.equal(c.DEFAULT.log_file, '/from/cli');
    assert.equal(c.DEFAULT.state_path, '/cli/state');
    assert.equal(c.DEFAULT.log_dir, '/d');
    assert.deepEqual(c.origins.get('DEFAULT.debug'), { kind: 'cli', flag: '--debug' });
    assert.deepEqual(c.origins.get('DEFAULT.log_dir'), { kind: 'file', file: p, line: 5, section: 'DEFAULT' });
  });

  it('-d, --nodebug (last one wins), --log-dir, --logfile', () => {
    assert.equal(load(['-d']).DEFAULT.debug, true);
    assert.equal(load(['-d', '--nodebug']).DEFAULT.debug, false);
    assert.equal(load(['--log-dir=/var/log/x']).DEFAULT.log_dir, '/var/log/x');
    assert.equal(load(['--logfile', '/l']).DEFAULT.log_file, '/l');
    assert.equal(load([]).DEFAULT.debug, false);
  });

  it('unknown arguments and missing values are ConfigErrors', () => {
    assert.equal(configError(() => load(['--bogus'])).message, 'command line: unrecognized arguments: --bogus (see --help)');
    assert.match(configError(() => load(['extra'])).message, /unrecognized arguments: extra/);
    assert.match(configError(() => load(['--config-file'])).message, /--config-file: expected one argument/);
    assert.match(configError(() => load(['--log-file', '--debug'])).message, /--log-file: expected one argument/);
  });

  it('--help / -h → HelpRequested with usage listing the options', () => {
    for (const flag of ['--help', '-h']) {
      assert.throws(() => load(['--config-file', '/does/not/matter', flag]), (e: unknown) => {
        assert.ok(e instanceof HelpRequested);
        assert.match(e.usage, /^usage: neutron-openvswitch-agent /);
        for (const s of ['--config-file PATH', '--config-dir DIR', '-d, --debug', '--log-file', '--state_path',
          '[ovs]', 'of_listen_port (port) = 6633', 'datapath_type (string, one of system|netdev) = system',
          '[agent]', 'tunnel_types (list) = ', 'transport_url (string) = <secret>', 'Deprecated spelling: [ovs] ovs_integration_bridge']) {
          assert.ok(e.usage.includes(s), `usage lacks ${s}`);
        }
        return true;
      });
    }
  });
});

describe('loadConfig: default config file locations', () => {
  it('without --config-file, neutron.conf then <prog>.conf from the first search dir holding each', () => {
    const d1 = fs.mkdtempSync(path.join(root, 's1-'));
    const d2 = fs.mkdtempSync(path.join(root, 's2-'));
    const a = file('[DEFAULT]\nhost = from-agent-conf\n[ovs]\ntunnel_bridge = br-x\n', 'neutron-openvswitch-agent.conf', d1);
    const n = file('[DEFAULT]\nhost = from-neutron-conf\n', 'neutron.conf', d2);
    file('[DEFAULT]\nhost = shadowed\n', 'neutron.conf', fs.mkdtempSync(path.join(root, 's3-')));
    const c = loadConfig([], { hostname: 'h', searchDirs: [d1, d2] });
    assert.deepEqual(c.configFiles, [n, a]);
    assert.equal(c.DEFAULT.host, 'from-agent-conf');
    // Any --config-file disables the default files.
    const own = file('[ovs]\nint_peer_patch_port = p\n');
    const c2 = loadConfig(['--config-file', own], { hostname: 'h', searchDirs: [d1, d2] });
    assert.deepEqual(c2.configFiles, [own]);
    assert.equal(c2.DEFAULT.host, 'h');
  });

  it('default *.conf.d dirs are read only without --config-dir', () => {
    const s = fs.mkdtempSync(path.join(root, 'sd-'));
    fs.mkdirSync(path.join(s, 'neutron.conf.d'));
    const inDir = file('[agent]\npolling_interval = 9\n', '50.conf', path.join(s, 'neutron.conf.d'));
    const own = file('[ovs]\ntunnel_bridge = t\n');
    const c = loadConfig(['--config-file', own], { hostname: 'h', searchDirs: [s] });
    assert.deepEqual(c.configFiles, [inDir, own]);
    assert.equal(c.agent.polling_interval, 9);
    const empty = fs.mkdtempSync(path.join(root, 'empty-'));
    assert.equal(loadConfig(['--config-dir', empty], { hostname: 'h', searchDirs: [s] }).agent.polling_interval, 2);
  });
});

describe('loadConfig: validation messages', () => {
  it('names file, line, section, option, value and what was expected', () => {
    const p = file('[ovs]\n\nof_listen_port = abc\n');
    assert.equal(configError(() => load(['--config-file', p])).message,
      `${p}:3: [ovs] of_listen_port = 'abc': expected an integer between 0 and 65535`);
  });

  it('collects every bad value into ONE ConfigError', () => {
    const p = file('[agent]\narp_responder = y\ndscp = 64\n[OVS]\nlocal_ip = compute1\n');
    const e = configError(() => load(['--config-file', p]));
    assert.equal(e.problems.length, 3);
    assert.equal(e.message, [
      '3 configuration problems:',
      `  ${p}:2: [agent] arp_responder = 'y': expected a boolean (true/false, yes/no, on/off, 1/0)`,
      `  ${p}:3: [agent] dscp = '64': expected an integer between 0 and 63`,
      `  ${p}:5: [ovs] local_ip = 'compute1': expected an IPv4 or IPv6 address`,
    ].join('\n'), 'sorted by file and line');
    assert.deepEqual(e.problems.map((x) => [x.group, x.option]), [['agent', 'arp_responder'], ['agent', 'dscp'], ['ovs', 'local_ip']]);
  });

  it('an invalid machine hostname as the host default is reported as a default value', () => {
    const e = configError(() => loadConfig([], { hostname: 'bad_name', searchDirs: [] }));
    assert.equal(e.message, "default value: [DEFAULT] host = 'bad_name': expected an IP address or a valid host name");
  });

  it('a bad CLI value names the flag', () => {
    const e = configError(() => load(['--log-date-format', '%Y', '--state_path', '$nosuch']));
    assert.match(e.message, /^command line --state_path: \[DEFAULT\] state_path = '\$nosuch': interpolation of \$nosuch refers to an unknown option/);
  });

  it('secrets never appear in messages', () => {
    const p = file('[DEFAULT]\ntransport_url = rabbit://u:hunter2@h:notaport/\n');
    const e = configError(() => load(['--config-file', p]));
    assert.ok(!e.message.includes('hunter2'), e.message);
    assert.match(e.message, /\[DEFAULT\] transport_url = 'rabbit:\/\/u:\*\*\*\*@h:notaport\/': expected a transport URL \(invalid port 'notaport'\)/);
  });

  it('empty values: unset for options without default, an error for a required number, [] for lists', () => {
    const c = withFile('[agent]\ndscp =\ntunnel_types =\n[securitygroup]\nfirewall_driver =\n');
    assert.equal(c.agent.dscp, null);
    assert.deepEqual(c.agent.tunnel_types, []);
    assert.equal(c.securitygroup.firewall_driver, '');
    assert.equal(c.firewallDriver, 'noop');
    assert.match(configError(() => withFile('[agent]\npolling_interval =\n')).message, /\[agent\] polling_interval = '': expected an integer$/);
  });
});

describe('loadConfig: oslo.log options it does not implement', () => {
  it('log rate limiting (burst and interval both at least 1) stops start-up naming both, as it stops the reference', () => {
    const p = file('[DEFAULT]\nrate_limit_burst = 5\nrate_limit_interval = 10\n');
    const e = configError(() => load(['--config-file', p]));
    assert.match(e.message, new RegExp(`^${p}:2: \\[DEFAULT\\] rate_limit_burst = '5': with rate_limit_interval = 10: log rate limiting is not implemented`));
    assert.match(e.message, /set rate_limit_burst or rate_limit_interval to 0$/);
    // Either at 0 is oslo.log's "off".
    assert.equal(withFile('[DEFAULT]\nrate_limit_burst = 5\n').DEFAULT.rate_limit_burst, 5);
    assert.equal(withFile('[DEFAULT]\nrate_limit_interval = 10\nrate_limit_burst = 0\n').DEFAULT.rate_limit_interval, 10);
  });

  it('publish_errors stops start-up only where the reference would publish: a notification driver other than noop/test, and log not among them', () => {
    const e = configError(() => withFile('[DEFAULT]\npublish_errors = True\n[oslo_messaging_notifications]\ndriver = messagingv2\n'));
    assert.match(e.message, /\[DEFAULT\] publish_errors = 'True': with \[oslo_messaging_notifications\] driver = messagingv2: publishing ERROR log lines/);
    // The deprecated spelling counts, and each line of the multi-valued option does.
    assert.match(configError(() => withFile('[DEFAULT]\npublish_errors = True\nnotification_driver = messaging\n')).message, /driver = messaging:/);
    assert.match(configError(() => withFile('[DEFAULT]\npublish_errors = True\n[oslo_messaging_notifications]\ndriver = noop\ndriver = routing\n')).message, /driver = routing:/);
    for (const text of [
      '[DEFAULT]\npublish_errors = True\n',
      '[DEFAULT]\npublish_errors = True\n[oslo_messaging_notifications]\ndriver = noop\n',
      '[DEFAULT]\npublish_errors = True\n[oslo_messaging_notifications]\ndriver = messagingv2\ndriver = log\n',
      '[DEFAULT]\npublish_errors = False\n[oslo_messaging_notifications]\ndriver = messagingv2\n',
    ]) assert.equal(typeof withFile(text).DEFAULT.publish_errors, 'boolean', text);
  });
});

describe('loadConfig: interpolation', () => {
  it('$name, ${name}, ${group.name}, $$ and \\$', () => {
    const c = withFile([
      '[DEFAULT]', 'state_path = /srv/neutron',
      '[ovs]', 'vhostuser_socket_dir = $state_path/vhu', 'ssl_key_file = ${state_path}/key',
      'int_peer_patch_port = p-$tunnel_bridge', 'tunnel_bridge = br-tun0',
      '[agent]', 'root_helper = sudo $$HOME \\$PATH ${ovs.integration_bridge} ${DEFAULT.state_path}',
      'root_helper_daemon = $l2_population-$polling_interval-$report_interval',
    ].join('\n'));
    assert.equal(c.ovs.vhostuser_socket_dir, '/srv/neutron/vhu');
    assert.equal(c.ovs.ssl_key_file, '/srv/neutron/key');
    assert.equal(c.ovs.int_peer_patch_port, 'p-br-tun0');
    assert.equal(c.agent.root_helper, 'sudo $HOME $PATH br-int /srv/neutron');
    assert.equal(c.agent.root_helper_daemon, 'False-2-30.0', 'values are rendered like Python str()');
  });

  it('uses the CLI value of the referenced option', () => {
    const c = load(['--config-file', file('[ovs]\nvhostuser_socket_dir = $state_path/v\n'), '--state_path', '/cli']);
    assert.equal(c.ovs.vhostuser_socket_dir, '/cli/v');
  });

  it('leaves a lone $ or an unclosed ${ alone', () => {
    assert.equal(withFile('[agent]\nroot_helper = a $ b ${ c $1\n').agent.root_helper, 'a $ b ${ c $1');
  });

  it('unknown references and loops are errors naming the option', () => {
    const p = file('[agent]\nroot_helper = $nosuch/x\n');
    assert.equal(configError(() => load(['--config-file', p])).message,
      `${p}:2: [agent] root_helper = '$nosuch/x': interpolation of $nosuch refers to an unknown option (in "$nosuch/x")`);
    const loop = configError(() => withFile('[agent]\nroot_helper = $root_helper_daemon\nroot_helper_daemon = $root_helper\n'));
    assert.ok(loop.problems.some((x) => /interpolation loop/.test(x.reason)), loop.message);
  });

  it('the interpolated value is then type-checked', () => {
    const e = configError(() => withFile('[DEFAULT]\nstate_path = x\n[agent]\npolling_interval = $state_path\n'));
    assert.match(e.message, /\[agent\] polling_interval = '\$state_path': expected an integer$/);
  });
});

describe('loadConfig: derived values', () => {
  it('bridge_mappings → Map, with trailing comma and blanks', () => {
    const c = withFile('[ovs]\nbridge_mappings = physnet1:br-ex, physnet2:br-eth1 ,\n');
    assert.deepEqual([...c.bridgeMappings], [['physnet1', 'br-ex'], ['physnet2', 'br-eth1']]);
    assert.deepEqual(c.ovs.bridge_mappings, ['physnet1:br-ex', 'physnet2:br-eth1']);
  });

  it('bridge_mappings errors carry the reference texts', () => {
    const cases: Array<[string, string]> = [
      ['physnet1', "Invalid mapping: 'physnet1'"],
      ['a:b:c', "Invalid mapping: 'a:b:c'"],
      [':br-ex', "Missing key in mapping: ':br-ex'"],
      ['physnet1: ', "Missing value in mapping: 'physnet1:'"],
      ['p1:br-a,p1:br-b', "Key p1 in mapping: 'p1:br-b' not unique"],
      ['p1:br-a,p2:br-a', "Value br-a in mapping: 'p2:br-a' not unique"],
    ];
    for (const [text, msg] of cases) {
      const p = file(`[ovs]\nbridge_mappings = ${text}\n`);
      const e = configError(() => load(['--config-file', p]));
      const shown = text.split(',').map((s) => s.trim()).join(',');
      assert.equal(e.message, `${p}:2: [ovs] bridge_mappings = '${shown}': Parsing bridge_mappings failed: ${msg}.`);
    }
  });

  it('resource provider options', () => {
    const c = withFile([
      '[DEFAULT]', 'host = compute-7',
      '[ovs]', 'bridge_mappings = physnet0:br-ex,physnet1:br-eth1',
      'resource_provider_bandwidths = br-ex:1000:2000,br-eth1::3000',
      'resource_provider_hypervisors = br-ex:hv-ex',
      'resource_provider_packet_processing_without_direction = :500',
      'resource_provider_inventory_defaults = allocation_ratio:2.5,max_unit:7',
    ].join('\n'));
    assert.deepEqual(c.rpBandwidths, { 'br-ex': { egress: 1000, ingress: 2000 }, 'br-eth1': { egress: null, ingress: 3000 } });
    assert.deepEqual(c.rpHypervisors, { 'br-ex': 'hv-ex', 'br-eth1': 'node-1' });
    assert.deepEqual(c.rpPacketProcessingWithoutDirection, { 'compute-7': { any: 500 } });
    assert.deepEqual(c.rpPacketProcessingWithDirection, {});
    assert.deepEqual(c.rpInventoryDefaults, { allocation_ratio: 2.5, max_unit: 7 });
    assert.deepEqual(c.rpPacketProcessingInventoryDefaults, { allocation_ratio: 1, min_unit: 1, step_size: 1, reserved: 0 });
    const d = withFile('[ovs]\nbridge_mappings = p:br-ex\nresource_provider_default_hypervisor = hv0\n');
    assert.deepEqual(d.rpHypervisors, { 'br-ex': 'hv0' });
  });

  it('resource provider errors', () => {
    assert.match(configError(() => withFile('[ovs]\nbridge_mappings = p:br-ex\nresource_provider_bandwidths = br-x:1:1\n')).message,
      /\[ovs\] resource_provider_bandwidths = 'br-x:1:1': Invalid resource_provider_bandwidths: Device name br-x is missing from device mappings$/);
    assert.match(configError(() => withFile('[ovs]\nbridge_mappings = p:br-ex\nresource_provider_bandwidths = br-ex:-1:1\n')).message,
      /Cannot parse resource_provider_bandwidths\. Cannot parse string value to an integer\. Expected: non-negative integer value, got: -1$/);
    assert.match(configError(() => withFile('[ovs]\nresource_provider_bandwidths = br-ex:1\n')).message,
      /Cannot parse resource_provider_bandwidths\. Expected a tuple with 3 values, got: br-ex:1$/);
    assert.match(configError(() => withFile('[ovs]\nresource_provider_packet_processing_without_direction = h:1\nresource_provider_packet_processing_with_direction = h:1:1\n')).message,
      /are mutually exclusive\.$/);
    assert.match(configError(() => withFile('[ovs]\nresource_provider_inventory_defaults = foo:1\n')).message,
      /\[ovs\] resource_provider_inventory_defaults = 'foo:1': Cannot parse inventory_defaults\. Unexpected options: foo$/);
    assert.match(configError(() => withFile('[ovs]\nresource_provider_inventory_defaults = min_unit:1.5\n')).message,
      /Cannot parse inventory_defaults\.min_unit\. Expected: non-negative int, got: 1\.5$/);
    assert.match(configError(() => withFile('[DEFAULT]\nhost = h\n[ovs]\nresource_provider_packet_processing_with_direction = h:1:1,:2:2\n')).message,
      /Found configuration for "h" hypervisor and one without hypervisor name specified that would override it\.$/);
  });

  it('tunnel_types must be gre, vxlan or geneve', () => {
    assert.deepEqual(withFile('[agent]\ntunnel_types = vxlan, geneve,gre\n').tunnelTypes, ['vxlan', 'geneve', 'gre']);
    const p = file('[agent]\ntunnel_types = vxlan,stt\n');
    assert.equal(configError(() => load(['--config-file', p])).message,
      `${p}:2: [agent] tunnel_types = 'vxlan,stt': Invalid tunnel type specified: stt`);
  });

  it('arpResponderEnabled = arp_responder && l2_population', () => {
    assert.equal(withFile('[agent]\narp_responder = true\n').arpResponderEnabled, false);
    assert.equal(withFile('[agent]\narp_responder = true\nl2_population = true\n').arpResponderEnabled, true);
  });

  it('enable_distributed_routing = True is accepted, with the openvswitch firewall and explicitly_egress_direct too', () => {
    assert.equal(withFile('[agent]\nl2_population = true\nenable_distributed_routing = true\n').agent.enable_distributed_routing, true);
    assert.equal(withFile('[agent]\nenable_distributed_routing = true\nexplicitly_egress_direct = true\n[securitygroup]\nfirewall_driver = iptables_hybrid\n').agent.enable_distributed_routing, true);
    const c = withFile('[agent]\nenable_distributed_routing = true\nexplicitly_egress_direct = true\n[securitygroup]\nfirewall_driver = openvswitch\n');
    assert.equal(c.agent.enable_distributed_routing, true);
    assert.equal(c.agent.explicitly_egress_direct, true);
    assert.equal(c.firewallDriver, 'openvswitch');
    assert.equal(withFile('[agent]\nenable_distributed_routing = false\n').agent.enable_distributed_routing, false);
  });

  it('DVR with tunnelling but without l2_population names that too', () => {
    const p = file('[agent]\ntunnel_types = vxlan\nenable_distributed_routing = true\n');
    const problems = configError(() => load(['--config-file', p])).problems.map((x) => x.reason);
    assert.ok(problems.includes('DVR deployments for VXLAN/GRE/Geneve underlays require L2-pop to be enabled, in both the Agent and Server side.'), problems.join('\n'));
  });

  it('[agent] extensions: qos and fdb are accepted; an unknown extension stops the agent naming it', () => {
    assert.deepEqual(withFile('[agent]\nextensions = qos\n').agent.extensions, ['qos']);
    assert.deepEqual(withFile('[agent]\nextensions = fdb\n[FDB]\nshared_physical_device_mappings = physnet1:eth1, physnet1:eth2\n').fdb.shared_physical_device_mappings, ['physnet1:eth1', 'physnet1:eth2']);
    assert.match(configError(() => withFile('[agent]\nextensions = qos, bogus\n')).message,
      /\[agent\] extensions = 'qos,bogus': unknown extension 'bogus' \(the reference's are qos, fdb, log, local_ip, dhcp; this agent implements[a-z_:, ]*\)$/);
  });

  it('[agent] extensions = dhcp: accepted with the native interface, with DHCPv6 (the default) or without; refused with ovs-ofctl', () => {
    assert.deepEqual(withFile('[agent]\nextensions = dhcp\n').agent.extensions, ['dhcp']);
    assert.equal(withFile('[agent]\nextensions = dhcp\n').dhcp.enable_ipv6, true);
    assert.equal(withFile('[agent]\nextensions = dhcp\n[dhcp]\nenable_ipv6 = False\n').dhcp.enable_ipv6, false);
    assert.match(configError(() => withFile('[agent]\nextensions = dhcp\n[ovs]\nof_interface = ovs-ofctl\n')).message,
      /\[ovs\] of_interface = 'ovs-ofctl': \[agent\] extensions = dhcp needs the native OpenFlow interface: with ovs-ofctl the agent has no OpenFlow channel/);
  });

  it('[agent] extensions = log is refused where it would log nothing: ovs-ofctl, or no openvswitch firewall', () => {
    const ovsfw = '[securitygroup]\nfirewall_driver = openvswitch\n';
    assert.deepEqual(withFile(`[agent]\nextensions = log\n${ovsfw}`).agent.extensions, ['log']);
    assert.match(configError(() => withFile(`[agent]\nextensions = log\n${ovsfw}[ovs]\nof_interface = ovs-ofctl\n`)).message,
      /\[ovs\] of_interface = 'ovs-ofctl': \[agent\] extensions = log needs the native OpenFlow interface: with ovs-ofctl the agent has no OpenFlow channel/);
    assert.match(configError(() => withFile('[agent]\nextensions = log\n')).message,
      /\[securitygroup\] firewall_driver = 'noop': \[agent\] extensions = log logs what the openvswitch firewall accepts and drops/);
    assert.match(configError(() => withFile(`[agent]\nextensions = qos,log\n[securitygroup]\nfirewall_driver = iptables_hybrid\n`)).message,
      /firewall_driver = 'iptables_hybrid': \[agent\] extensions = log logs what the openvswitch firewall/);
    assert.match(configError(() => withFile(`[agent]\nextensions = log\n${ovsfw}enable_security_group = False\n`)).message,
      /\[securitygroup\] enable_security_group = 'False': \[agent\] extensions = log/);
  });

  it('base_mac is validated', () => {
    assert.match(configError(() => withFile('[DEFAULT]\nbase_mac = fb:16:3e:00:00:00\n')).message,
      /\[DEFAULT\] base_mac = 'fb:16:3e:00:00:00': Base MAC: 'fb:16:3e:00:00:00' is not a valid input$/);
    assert.equal(withFile('[DEFAULT]\nbase_mac = FA:16:3E:01:00:00\n').DEFAULT.base_mac, 'FA:16:3E:01:00:00');
  });

  it('an ssl: ovsdb_connection requires the three SSL files to exist', () => {
    const e = configError(() => withFile('[ovs]\novsdb_connection = ssl:127.0.0.1:6640\nssl_key_file = /nonexistent/key\n'));
    assert.deepEqual(e.problems.map((x) => x.reason), [
      "Required 'ovs' group option ssl_cert_file not set.  SSL configuration options are required when using SSL ovsdb_connection URI",
      "Required 'ovs' group option ssl_ca_cert_file not set.  SSL configuration options are required when using SSL ovsdb_connection URI",
      'Specified SSL file /nonexistent/key could not be found',
    ]);
    assert.match(e.message, /^3 configuration problems:\n  default value: \[ovs\] ssl_cert_file: Required/);
  });

  it('transport_url must use the rabbit driver', () => {
    assert.match(configError(() => withFile('[DEFAULT]\ntransport_url = kafka://u:pw@h:9092/\n')).message,
      /\[DEFAULT\] transport_url = 'kafka:\/\/u:\*\*\*\*@h:9092\/': expected a rabbit:\/\/ URL \(unsupported driver 'kafka'\)$/);
  });

  it('transport_url is parsed; ovsdb_monitor_respawn_interval 0 → 30', () => {
    const c = withFile('[DEFAULT]\ntransport_url = rabbit://openstack:secret@192.0.2.1:5672/\n[agent]\novsdb_monitor_respawn_interval = 0\n');
    assert.deepEqual(c.transport.hosts, [{ host: '192.0.2.1', port: 5672, username: 'openstack', password: 'secret' }]);
    assert.equal(c.ovsdbMonitorRespawnInterval, 30);
    assert.equal(c.agent.ovsdb_monitor_respawn_interval, 0);
  });

  it('of_interface (our extension) defaults to native', () => {
    assert.equal(load([]).ovs.of_interface, 'native');
    assert.equal(withFile('[ovs]\nof_interface = ovs-ofctl\n').ovs.of_interface, 'ovs-ofctl');
  });
});

describe('validateLocalIp', () => {
  it('does nothing without tunnel_types', () => {
    validateLocalIp(load([]), []);
  });

  it('accepts an address of the host, in any IPv6 notation', () => {
    validateLocalIp(withFile('[ovs]\nlocal_ip = 192.0.2.10\n[agent]\ntunnel_types = vxlan\n'), ['127.0.0.1', '192.0.2.10']);
    validateLocalIp(withFile('[ovs]\nlocal_ip = 2001:db8:0:0::10\n[agent]\ntunnel_types = geneve\n'), ['2001:db8::10']);
  });

  it('rejects an address not on this host, naming [ovs] local_ip and its file', () => {
    const p = file('[agent]\ntunnel_types = vxlan\n[ovs]\nlocal_ip = 192.0.2.99\n');
    const c = load(['--config-file', p]);
    assert.throws(() => validateLocalIp(c, ['127.0.0.1', '192.0.2.10']), (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      assert.equal(e.message, `${p}:4: [ovs] local_ip = '192.0.2.99': Tunneling can't be enabled with invalid local_ip '192.0.2.99'. IP couldn't be found on this host's interfaces.`);
      return true;
    });
  });

  it('rejects a missing local_ip when tunnelling', () => {
    const c = withFile('[agent]\ntunnel_types = gre\n');
    assert.throws(() => validateLocalIp(c, ['127.0.0.1']),
      /^ConfigError: default value: \[ovs\] local_ip: Tunneling can't be enabled with invalid local_ip 'None'/);
  });
});

describe('reloadMutable (SIGHUP)', () => {
  it('only mutable options (debug) change; others keep their start-up value', () => {
    const p = file('[DEFAULT]\ndebug = false\n[agent]\npolling_interval = 2\n');
    const argv = ['--config-file', p];
    const start = load(argv);
    fs.writeFileSync(p, '[DEFAULT]\ndebug = true\n[agent]\npolling_interval = 9\n');
    const { config, changed } = reloadMutable(start, argv, OPTS);
    assert.deepEqual(changed, ['DEFAULT.debug']);
    assert.equal(config.DEFAULT.debug, true);
    assert.equal(config.agent.polling_interval, 2);
    assert.deepEqual(reloadMutable(config, argv, OPTS).changed, []);
  });
});
