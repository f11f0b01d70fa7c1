// Declarative schema of every option the agent reads, with oslo.config types and
// the defaults of neutron 21 (Zed) / oslo.messaging 14 / oslo.log 5.
// Option names are the oslo `dest` names (snake_case) so operators can grep for them.
import { isIpAddress, validHostname } from './ip.js';
import { parseListenAddress } from './listen-address.js';

/** Raised by a converter; the loader wraps it into a ConfigError naming file/section/option. */
export class ValueProblem extends Error {
  override readonly name = 'ValueProblem';
}

export type OptionKind = 'str' | 'bool' | 'int' | 'float' | 'port' | 'ip' | 'hostaddress' | 'list' | 'dict';

export interface DefaultContext {
  /** Value for `[DEFAULT] host` when not configured (socket.gethostname() in the reference). */
  readonly hostname: string;
}

/** Alternative spelling accepted in files (oslo `deprecated_name` / `deprecated_group`). */
export interface DeprecatedName {
  /** Group of the old spelling; same group when omitted. */
  readonly group?: string;
  /** Old option name; same name when omitted. */
  readonly name?: string;
}

export interface CliSpec {
  /** Single-letter alias, e.g. 'd' for --debug. */
  readonly short?: string;
  /** Extra long flags (without "--"), e.g. deprecated 'logfile'. */
  readonly aliases?: readonly string[];
  readonly metavar?: string;
}

export interface OptionDef<T> {
  readonly kind: OptionKind;
  readonly default: T | ((ctx: DefaultContext) => T);
  readonly help: string;
  readonly choices?: readonly string[];
  readonly min?: number;
  readonly max?: number;
  readonly secret: boolean;
  /** Re-read on SIGHUP (oslo `mutable=True`). */
  readonly mutable: boolean;
  readonly deprecatedNames: readonly DeprecatedName[];
  /** Present when the option can also be given on the command line. */
  readonly cli?: CliSpec;
  /** Converts the (already interpolated) string from a file/CLI. Throws ValueProblem. */
  convert(raw: string): T;
}

interface Common {
  readonly help: string;
  readonly secret?: boolean;
  readonly mutable?: boolean;
  readonly deprecatedNames?: readonly DeprecatedName[];
  readonly cli?: CliSpec;
}

function base<T>(kind: OptionKind, o: Common, dflt: T | ((ctx: DefaultContext) => T), convert: (raw: string) => T,
  extra: { choices?: readonly string[]; min?: number; max?: number } = {}): OptionDef<T> {
  return {
    kind, default: dflt, help: o.help, secret: o.secret ?? false, mutable: o.mutable ?? false,
    deprecatedNames: o.deprecatedNames ?? [], ...(o.cli ? { cli: o.cli } : {}), ...extra, convert,
  };
}

// ---- converters (oslo_config.types semantics) ----

export function convertBool(raw: string): boolean {
  const s = raw.toLowerCase();
  if (s === 'true' || s === '1' || s === 'on' || s === 'yes') return true;
  if (s === 'false' || s === '0' || s === 'off' || s === 'no') return false;
  throw new ValueProblem('expected a boolean (true/false, yes/no, on/off, 1/0)');
}

function boundsText(what: string, min?: number, max?: number): string {
  if (min !== undefined && max !== undefined) return `expected ${what} between ${min} and ${max}`;
  if (min !== undefined) return `expected ${what} >= ${min}`;
  if (max !== undefined) return `expected ${what} <= ${max}`;
  return `expected ${what}`;
}

const INT_RE = /^[+-]?\d+(?:_\d+)*$/;
const DIGITS = String.raw`\d+(?:_\d+)*`;
const FLOAT_RE = new RegExp(`^[+-]?(?:${DIGITS}(?:\\.(?:${DIGITS})?)?|\\.${DIGITS})(?:[eE][+-]?${DIGITS})?$`);

/** Python int()/float() then min/max. Empty → `empty` (oslo returns None for an empty number). */
function convertNumber(raw: string, isInt: boolean, min: number | undefined, max: number | undefined): number | null {
  const s = raw.trim();
  const what = isInt ? 'an integer' : 'a number';
  if (s === '') return null;
  let n: number;
  if (isInt) {
    if (!INT_RE.test(s)) throw new ValueProblem(boundsText(what, min, max));
    n = Number(s.replace(/_/g, ''));
    if (!Number.isSafeInteger(n)) throw new ValueProblem(boundsText(what, min, max));
  } else if (FLOAT_RE.test(s)) {
    n = Number(s.replace(/_/g, ''));
  } else if (/^[+-]?(inf|infinity)$/i.test(s)) {
    n = s.startsWith('-') ? -Infinity : Infinity;
  } else if (/^[+-]?nan$/i.test(s)) {
    n = NaN;
  } else {
    throw new ValueProblem(boundsText(what, min, max));
  }
  if ((min !== undefined && n < min) || (max !== undefined && n > max)) {
    throw new ValueProblem(boundsText(what, min, max));
  }
  return n;
}

/** oslo ListOpt: strip, drop trailing commas, split on ',', strip items; '' → []. */
export function convertList(raw: string): string[] {
  const s = raw.trim().replace(/,+$/, '');
  if (s === '') return [];
  return s.split(',').map((x) => x.trim());
}

/** oslo DictOpt: "k:v,k2:v2", split on the first ':', values are strings, duplicate/empty key is an error. */
export function convertDict(raw: string): Record<string, string> {
  const result: Record<string, string> = {};
  const s = raw.trim();
  if (s === '') return result;
  const pairs = s.split(',');
  while (pairs.length > 0) {
    let pair = pairs.shift()!;
    // Like oslo: a piece without ':' is glued to the next one ("a,b:c" → key "a,b").
    while (!pair.includes(':')) {
      if (pairs.length === 0) throw new ValueProblem("expected key:value pairs separated by ','");
      pair += ',' + pairs.shift()!;
    }
    const at = pair.indexOf(':');
    const key = pair.slice(0, at).trim();
    const value = pair.slice(at + 1).trim();
    if (key === '') throw new ValueProblem("expected key:value pairs separated by ',' (empty key)");
    if (Object.prototype.hasOwnProperty.call(result, key)) {
      throw new ValueProblem(`expected key:value pairs separated by ',' (duplicate key '${key}')`);
    }
    result[key] = value;
  }
  return result;
}

// ---- builders ----

function str(o: Common & { default: string | ((ctx: DefaultContext) => string); choices?: readonly string[]; ignoreCase?: boolean; maxLength?: number }): OptionDef<string>;
function str(o: Common & { default?: null; choices?: readonly string[]; ignoreCase?: boolean; maxLength?: number }): OptionDef<string | null>;
function str(o: Common & { default?: string | null | ((ctx: DefaultContext) => string); choices?: readonly string[]; ignoreCase?: boolean; maxLength?: number }): OptionDef<string | null> {
  const choices = o.choices;
  const convert = (raw: string): string => {
    if (o.maxLength !== undefined && raw.length > o.maxLength) {
      throw new ValueProblem(`expected at most ${o.maxLength} characters`);
    }
    if (choices) {
      const ok = o.ignoreCase ? choices.some((c) => c.toLowerCase() === raw.toLowerCase()) : choices.includes(raw);
      if (!ok) throw new ValueProblem(`expected one of: ${choices.join(', ')}`);
    }
    return raw;
  };
  return base<string | null>('str', o, o.default ?? null, convert, choices ? { choices } : {});
}

function bool(o: Common & { default: boolean }): OptionDef<boolean> {
  return base('bool', o, o.default, convertBool);
}

function int(o: Common & { default: number; min?: number; max?: number; emptyValue?: number }): OptionDef<number>;
function int(o: Common & { default?: null; min?: number; max?: number }): OptionDef<number | null>;
function int(o: Common & { default?: number | null; min?: number; max?: number; emptyValue?: number }): OptionDef<number | null> {
  return numberOpt('int', true, o);
}

function float(o: Common & { default: number; min?: number; max?: number; emptyValue?: number }): OptionDef<number> {
  return numberOpt('float', false, o) as OptionDef<number>;
}

function port(o: Common & { default: number }): OptionDef<number> {
  return numberOpt('port', true, { ...o, min: 0, max: 65535 }) as OptionDef<number>;
}

// An empty numeric value is None in oslo. We only accept it where it has a defined
// meaning (no default → unset; `emptyValue` → what the reference effectively does);
// elsewhere the reference would fail later, so it is rejected at load time.
function numberOpt(kind: OptionKind, isInt: boolean,
  o: Common & { default?: number | null; min?: number; max?: number; emptyValue?: number }): OptionDef<number | null> {
  const nullable = o.default === undefined || o.default === null;
  const convert = (raw: string): number | null => {
    const n = convertNumber(raw, isInt, o.min, o.max);
    if (n !== null) return n;
    if (o.emptyValue !== undefined) return o.emptyValue;
    if (nullable) return null;
    throw new ValueProblem(boundsText(isInt ? 'an integer' : 'a number', o.min, o.max));
  };
  const extra: { min?: number; max?: number } = {};
  if (o.min !== undefined) extra.min = o.min;
  if (o.max !== undefined) extra.max = o.max;
  return base(kind, o, o.default ?? null, convert, extra);
}

function ip(o: Common & { default: string }): OptionDef<string>;
function ip(o: Common & { default?: null }): OptionDef<string | null>;
function ip(o: Common & { default?: string | null }): OptionDef<string | null> {
  return base<string | null>('ip', o, o.default ?? null, (raw) => {
    if (!isIpAddress(raw)) throw new ValueProblem('expected an IPv4 or IPv6 address');
    return raw;
  });
}

function hostAddress(o: Common & { default: (ctx: DefaultContext) => string }): OptionDef<string> {
  return base<string>('hostaddress', o, o.default, (raw) => {
    if (isIpAddress(raw)) return raw;
    const h = validHostname(raw);
    if (h === null) throw new ValueProblem('expected an IP address or a valid host name');
    return h;
  });
}

/** `HOST:PORT` (IPv6 in brackets) a server of ours listens on; unset = the server is off. */
function listenAddress(o: Common): OptionDef<string | null> {
  return base<string | null>('str', o, null, (raw) => {
    if (raw.trim() === '') return null;
    try {
      parseListenAddress(raw);
    } catch (e) {
      throw new ValueProblem(e instanceof Error ? e.message : String(e));
    }
    return raw.trim();
  });
}

function list(o: Common & { default: readonly string[] }): OptionDef<readonly string[]> {
  return base<readonly string[]>('list', o, o.default, convertList);
}

function dict(o: Common & { default: Readonly<Record<string, string>> }): OptionDef<Readonly<Record<string, string>>> {
  return base<Readonly<Record<string, string>>>('dict', o, o.default, convertDict);
}

// ---- the schema ----

const OSLO_DEFAULT_LOG_LEVELS = [
  'amqp=WARN', 'amqplib=WARN', 'boto=WARN', 'qpid=WARN', 'sqlalchemy=WARN', 'suds=INFO',
  'oslo.messaging=INFO', 'oslo_messaging=INFO', 'iso8601=WARN',
  'requests.packages.urllib3.connectionpool=WARN', 'urllib3.connectionpool=WARN', 'websocket=WARN',
  'requests.packages.urllib3.util.retry=WARN', 'urllib3.util.retry=WARN', 'keystonemiddleware=WARN',
  'routes.middleware=WARN', 'stevedore=WARN', 'taskflow=WARN', 'keystoneauth=WARN', 'oslo.cache=INFO',
  'oslo_policy=INFO', 'dogpile.core.dogpile=INFO',
];
// neutron.common.config.EXTRA_LOG_LEVEL_DEFAULTS
const NEUTRON_EXTRA_LOG_LEVELS = [
  'OFPHandler=INFO', 'OfctlService=INFO', 'os_ken.base.app_manager=INFO', 'os_ken.controller.controller=INFO',
];

const INVENTORY_DEFAULTS: Readonly<Record<string, string>> = Object.freeze({
  allocation_ratio: '1.0', min_unit: '1', step_size: '1', reserved: '0',
});

const DEFAULT_GROUP = {
  host: hostAddress({
    default: (ctx) => ctx.hostname,
    help: 'Hostname to be used by the Neutron server, agents and services running on this machine.',
  }),
  state_path: str({ default: '/var/lib/neutron', cli: { metavar: 'STATE_PATH' }, help: 'Where to store Neutron state files.' }),
  transport_url: str({
    default: 'rabbit://', secret: true,
    help: 'Messaging backend URL: rabbit://user:pass@host:port[,user:pass@host2:port]/virtual_host?query',
  }),
  control_exchange: str({ default: 'neutron', help: 'The default exchange under which topics are scoped.' }),
  rpc_response_timeout: int({ default: 60, help: 'Seconds to wait for a response from a call.' }),
  rpc_response_max_timeout: int({ default: 600, help: 'Maximum seconds to wait for a response from an RPC call.' }),
  rpc_resources_processing_step: int({
    default: 20, min: 1, help: 'Number of resources for neutron to divide the large RPC call data sets.',
  }),
  executor_thread_pool_size: int({
    default: 64, deprecatedNames: [{ name: 'rpc_thread_pool_size' }], help: 'Size of the RPC executor thread pool.',
  }),
  rpc_ping_enabled: bool({ default: false, help: 'Add an endpoint to answer to ping calls.' }),
  agent_down_time: int({ default: 75, help: 'Seconds to regard the agent is down (server side).' }),
  base_mac: str({ default: 'fa:16:3e:00:00:00', help: 'The base MAC address Neutron will use for VIFs.' }),
  dhcp_lease_duration: int({ default: 86400, help: 'DHCP lease duration (in seconds); -1 = infinite (the dhcp extension\'s lease time).' }),
  dns_domain: str({ default: 'openstacklocal', help: 'Domain to use for building the hostnames (the dhcp extension\'s domain name option).' }),
  // oslo.log
  debug: bool({ default: false, mutable: true, cli: { short: 'd' }, help: 'Set logging level to DEBUG.' }),
  log_config_append: str({
    mutable: true, deprecatedNames: [{ name: 'log_config' }, { name: 'log-config' }],
    cli: { aliases: ['log-config', 'log_config'], metavar: 'PATH' }, help: 'Logging configuration file (Python logging format).',
  }),
  log_date_format: str({ default: '%Y-%m-%d %H:%M:%S', cli: { metavar: 'DATE_FORMAT' }, help: 'Format string for %(asctime)s.' }),
  log_file: str({
    deprecatedNames: [{ name: 'logfile' }], cli: { aliases: ['logfile'], metavar: 'PATH' },
    help: 'Name of log file to send logging output to (stderr when unset).',
  }),
  log_dir: str({
    deprecatedNames: [{ name: 'logdir' }], cli: { aliases: ['logdir'], metavar: 'LOG_DIR' },
    help: 'Base directory used for relative log_file paths.',
  }),
  watch_log_file: bool({ default: false, cli: {}, help: 'Reopen the log file when it is moved or removed.' }),
  use_syslog: bool({ default: false, cli: {}, help: 'Use syslog for logging.' }),
  use_journal: bool({ default: false, cli: {}, help: 'Enable journald for logging.' }),
  syslog_log_facility: str({ default: 'LOG_USER', cli: { metavar: 'SYSLOG_LOG_FACILITY' }, help: 'Syslog facility to receive log lines.' }),
  use_json: bool({ default: false, cli: {}, help: 'Use JSON formatting for logging.' }),
  use_stderr: bool({ default: false, help: 'Log output to standard error.' }),
  log_rotate_interval: int({ default: 1, help: 'Log rotation interval (log_rotation_type = interval).' }),
  log_rotate_interval_type: str({
    default: 'days', ignoreCase: true, choices: ['Seconds', 'Minutes', 'Hours', 'Days', 'Weekday', 'Midnight'],
    help: 'Rotation interval type.',
  }),
  max_logfile_count: int({ default: 30, help: 'Maximum number of rotated log files.' }),
  max_logfile_size_mb: int({ default: 200, help: 'Log file maximum size in MB (log_rotation_type = size).' }),
  log_rotation_type: str({ default: 'none', ignoreCase: true, choices: ['interval', 'size', 'none'], help: 'Log rotation type.' }),
  logging_context_format_string: str({
    default: '%(asctime)s.%(msecs)03d %(process)d %(levelname)s %(name)s [%(global_request_id)s %(request_id)s %(user_identity)s] %(instance)s%(message)s',
    help: 'Format string for log messages with context.',
  }),
  logging_default_format_string: str({
    default: '%(asctime)s.%(msecs)03d %(process)d %(levelname)s %(name)s [-] %(instance)s%(message)s',
    help: 'Format string for log messages without context.',
  }),
  logging_debug_format_suffix: str({ default: '%(funcName)s %(pathname)s:%(lineno)d', help: 'Appended to DEBUG messages.' }),
  logging_exception_prefix: str({
    default: '%(asctime)s.%(msecs)03d %(process)d ERROR %(name)s %(instance)s', help: 'Prefix of exception lines.',
  }),
  logging_user_identity_format: str({
    default: '%(user)s %(project)s %(domain)s %(system_scope)s %(user_domain)s %(project_domain)s',
    help: 'Format of %(user_identity)s.',
  }),
  default_log_levels: list({
    default: [...OSLO_DEFAULT_LOG_LEVELS, ...NEUTRON_EXTRA_LOG_LEVELS], help: 'List of package=LEVEL pairs.',
  }),
  publish_errors: bool({ default: false, help: 'Enables or disables publication of error events.' }),
  instance_format: str({ default: '[instance: %(uuid)s] ', help: 'Format of an instance passed with the log message.' }),
  instance_uuid_format: str({ default: '[instance: %(uuid)s] ', help: 'Format of an instance UUID passed with the log message.' }),
  rate_limit_interval: int({ default: 0, help: 'Interval, number of seconds, of log rate limiting.' }),
  rate_limit_burst: int({ default: 0, help: 'Maximum number of logged messages per rate_limit_interval.' }),
  rate_limit_except_level: str({ default: 'CRITICAL', help: 'Log level at and above which rate limiting is not applied.' }),
  fatal_deprecations: bool({ default: false, help: 'Enables or disables fatal status of deprecations.' }),
} as const;

const OVS_GROUP = {
  integration_bridge: str({
    default: 'br-int', deprecatedNames: [{ name: 'ovs_integration_bridge' }], help: 'Integration bridge to use.',
  }),
  tunnel_bridge: str({ default: 'br-tun', help: 'Tunnel bridge to use.' }),
  int_peer_patch_port: str({ default: 'patch-tun', help: 'Peer patch port in integration bridge for tunnel bridge.' }),
  tun_peer_patch_port: str({ default: 'patch-int', help: 'Peer patch port in tunnel bridge for integration bridge.' }),
  local_ip: ip({ help: 'IP address of local overlay (tunnel) network endpoint.' }),
  bridge_mappings: list({ default: [], help: 'Comma-separated list of <physical_network>:<bridge> tuples.' }),
  resource_provider_bandwidths: list({ default: [], help: 'Comma-separated list of <bridge>:<egress_bw>:<ingress_bw> tuples (kbps).' }),
  resource_provider_hypervisors: dict({ default: {}, help: 'Mapping of bridges to hypervisors: <bridge>:<hypervisor>,...' }),
  resource_provider_packet_processing_without_direction: list({
    default: [], help: 'Comma-separated list of <hypervisor>:<packet_rate> tuples (kpps).',
  }),
  resource_provider_packet_processing_with_direction: list({
    default: [], help: 'Comma-separated list of <hypervisor>:<egress_pkt_rate>:<ingress_pkt_rate> tuples (kpps).',
  }),
  resource_provider_default_hypervisor: str({ help: 'The default hypervisor name used to locate the parent of the resource provider.' }),
  resource_provider_inventory_defaults: dict({
    default: INVENTORY_DEFAULTS, help: 'Key:value defaults for bandwidth inventories (allocation_ratio, min_unit, max_unit, reserved, step_size).',
  }),
  resource_provider_packet_processing_inventory_defaults: dict({
    default: INVENTORY_DEFAULTS, help: 'Key:value defaults for packet rate inventories.',
  }),
  datapath_type: str({ default: 'system', choices: ['system', 'netdev'], help: "OVS datapath to use ('system' kernel, 'netdev' userspace)." }),
  vhostuser_socket_dir: str({ default: '/var/run/openvswitch', help: 'OVS vhost-user socket directory.' }),
  of_listen_address: ip({ default: '127.0.0.1', help: 'Address to listen on for OpenFlow connections.' }),
  of_listen_port: port({ default: 6633, help: 'Port to listen on for OpenFlow connections.' }),
  of_connect_timeout: int({ default: 300, help: 'Timeout in seconds to wait for the local switch connecting the controller.' }),
  of_request_timeout: int({ default: 300, help: 'Timeout in seconds to wait for a single OpenFlow request.' }),
  of_inactivity_probe: int({ default: 10, help: 'Inactivity probe interval in seconds for the switch connection to the controller; 0 disables.' }),
  openflow_processed_per_port: bool({ default: false, help: 'Process all OpenFlow rules of a port in one transaction.' }),
  // Our extension: Zed removed of_interface (only the native controller remains).
  of_interface: str({
    default: 'native', choices: ['native', 'ovs-ofctl'],
    help: "OpenFlow interface: 'native' (built-in OpenFlow 1.3 controller) or 'ovs-ofctl' (this agent's extension; removed from the reference).",
  }),
  ovsdb_connection: str({ default: 'tcp:127.0.0.1:6640', help: 'The connection string for the OVSDB backend (unix:, tcp:, ssl:).' }),
  ssl_key_file: str({ help: 'SSL private key file for an ssl: ovsdb_connection.' }),
  ssl_cert_file: str({ help: 'SSL certificate file for an ssl: ovsdb_connection.' }),
  ssl_ca_cert_file: str({ help: 'CA certificate file for an ssl: ovsdb_connection.' }),
  ovsdb_debug: bool({ default: false, help: 'Enable OVSDB debug logs.' }),
  ovsdb_timeout: int({ default: 10, help: 'Timeout in seconds for OVSDB commands.' }),
  bridge_mac_table_size: int({ default: 50000, help: 'MAC table size of bridges managed by the agent.' }),
  igmp_snooping_enable: bool({ default: false, help: 'Enable IGMP snooping on the integration bridge.' }),
} as const;

const AGENT_GROUP = {
  // Ours (not in the reference): the metrics and health endpoint.
  metrics_bind: listenAddress({
    help: "HOST:PORT of the HTTP endpoint serving /metrics (Prometheus), /healthz, /readyz and /status, e.g. 127.0.0.1:9792 or [::1]:9792; unset: no endpoint (this agent's extension).",
  }),
  polling_interval: int({ default: 2, help: 'Seconds between polling for local device changes.' }),
  quitting_rpc_timeout: int({ default: 10, help: 'RPC timeout after SIGTERM; 0 leaves it unchanged.' }),
  dscp: int({ min: 0, max: 63, help: 'DSCP value for outer headers during tunnel encapsulation.' }),
  dscp_inherit: bool({ default: false, help: 'Copy the inner DSCP to the outer header of tunnel packets.' }),
  minimize_polling: bool({ default: true, help: 'Minimize polling by monitoring ovsdb for interface changes.' }),
  // The reference uses `value or 30`, so an empty value behaves as 30.
  ovsdb_monitor_respawn_interval: int({
    default: 30, emptyValue: 30, help: 'Seconds to wait before respawning the ovsdb monitor.',
  }),
  tunnel_types: list({ default: [], help: 'Network types supported by the agent (gre, vxlan and/or geneve).' }),
  vxlan_udp_port: port({ default: 4789, help: 'The UDP port to use for VXLAN tunnels.' }),
  veth_mtu: int({ default: 9000, help: 'Deprecated, no effect.' }),
  l2_population: bool({ default: false, help: 'Use the ML2 l2population mechanism driver.' }),
  arp_responder: bool({ default: false, help: 'Enable local ARP responder (requires l2_population).' }),
  dont_fragment: bool({ default: true, help: "Set the don't fragment bit on tunnel packets." }),
  enable_distributed_routing: bool({ default: false, help: 'Make the l2 agent run in DVR mode.' }),
  drop_flows_on_start: bool({ default: false, help: 'Reset flow tables on start.' }),
  tunnel_csum: bool({ default: false, help: 'Set the tunnel header checksum.' }),
  baremetal_smartnic: bool({ default: false, help: 'Process Smart NIC ports.' }),
  explicitly_egress_direct: bool({ default: false, help: 'Accepted egress unicast traffic does not use action NORMAL.' }),
  // The reference heartbeat loop is skipped when the value is falsy (None for an empty value).
  report_interval: float({ default: 30, emptyValue: 0, help: 'Seconds between state reports to the server; 0 disables.' }),
  // Our extension: the reference has no flow audit (it re-adds flows only when it resyncs).
  flow_audit_interval: int({
    default: 60, min: 0, help: "Seconds between audits of the bridges' flows against those the agent wants (missing ones re-added, foreign cookies removed); 0 disables.",
  }),
  // Our extension, for test rigs only: neutron's fullstack tests run several agents on one Open
  // vSwitch, where names by remote IP alone collide; their test agent names tunnels by both IPs.
  tunnel_port_naming: str({
    default: 'remote-ip', choices: ['remote-ip', 'local-and-remote-ip'],
    help: "Tunnel port names: 'remote-ip' (the reference's, vxlan-c0000214) or 'local-and-remote-ip' (neutron's fullstack test agent's, vxl-<local hash>-<remote hash>: for test rigs where several agents share one Open vSwitch).",
  }),
  log_agent_heartbeats: bool({ default: false, help: 'Log agent heartbeats.' }),
  extensions: list({ default: [], help: 'L2 agent extensions to use (qos, fdb, log, dhcp, local_ip).' }),
  root_helper: str({ default: 'sudo', help: 'Root helper application.' }),
  root_helper_daemon: str({ help: 'Root helper daemon application.' }),
  use_helper_for_ns_read: bool({ default: true, help: 'Use the root helper when listing namespaces.' }),
  availability_zone: str({ default: 'nova', maxLength: 255, help: 'Availability zone of this node.' }),
  comment_iptables_rules: bool({ default: true, help: 'Add comments to iptables rules.' }),
  debug_iptables_rules: bool({ default: false, help: 'Duplicate every iptables difference calculation.' }),
  use_random_fully: bool({ default: true, help: 'Use random-fully in SNAT masquerade rules.' }),
} as const;

const SECURITYGROUP_GROUP = {
  firewall_driver: str({ help: "Driver for security groups firewall in the L2 agent (unset means 'noop')." }),
  enable_security_group: bool({ default: true, help: 'Enable security group filtering.' }),
  enable_ipset: bool({ default: true, help: 'Use ipset to speed up iptables based security groups.' }),
  permitted_ethertypes: list({ default: [], help: 'Ethertypes to be permitted, in hexadecimal (e.g. 0x4008).' }),
} as const;

const RABBIT_GROUP = {
  amqp_durable_queues: bool({ default: false, help: 'Use durable queues in AMQP.' }),
  amqp_auto_delete: bool({ default: false, deprecatedNames: [{ group: 'DEFAULT' }], help: 'Auto-delete queues in AMQP.' }),
  rpc_conn_pool_size: int({ default: 30, min: 1, deprecatedNames: [{ group: 'DEFAULT' }], help: 'Size of RPC connection pool.' }),
  conn_pool_min_size: int({ default: 2, help: 'The pool size limit for connections expiration policy.' }),
  conn_pool_ttl: int({ default: 1200, help: 'The time-to-live in sec of idle connections in the pool.' }),
  ssl: bool({ default: false, deprecatedNames: [{ name: 'rabbit_use_ssl' }], help: 'Connect over SSL.' }),
  ssl_version: str({ default: '', deprecatedNames: [{ name: 'kombu_ssl_version' }], help: 'SSL version to use.' }),
  ssl_key_file: str({ default: '', deprecatedNames: [{ name: 'kombu_ssl_keyfile' }], help: 'SSL key file.' }),
  ssl_cert_file: str({ default: '', deprecatedNames: [{ name: 'kombu_ssl_certfile' }], help: 'SSL cert file.' }),
  ssl_ca_file: str({ default: '', deprecatedNames: [{ name: 'kombu_ssl_ca_certs' }], help: 'SSL certification authority file.' }),
  ssl_enforce_hostname_verification: bool({ default: false, help: 'Verify the broker host name against its certificate.' }),
  ssl_enforce_fips_mode: bool({ default: false, help: 'Enforce OpenSSL FIPS mode.' }),
  heartbeat_in_pthread: bool({ default: false, help: 'Run the health check heartbeat thread through a native python thread.' }),
  kombu_reconnect_delay: float({
    default: 1.0, min: 0.0, max: 4.5, deprecatedNames: [{ group: 'DEFAULT' }],
    help: 'Seconds to wait before reconnecting in response to an AMQP consumer cancel notification.',
  }),
  kombu_compression: str({ help: 'Compression codec (experimental).' }),
  kombu_missing_consumer_retry_timeout: int({
    default: 60, deprecatedNames: [{ name: 'kombu_reconnect_timeout' }],
    help: 'How long to wait for a missing client before abandoning sending it its replies.',
  }),
  kombu_failover_strategy: str({ default: 'round-robin', choices: ['round-robin', 'shuffle'], help: 'Failover strategy between several brokers.' }),
  rabbit_login_method: str({
    default: 'AMQPLAIN', choices: ['PLAIN', 'AMQPLAIN', 'EXTERNAL', 'RABBIT-CR-DEMO'], deprecatedNames: [{ group: 'DEFAULT' }],
    help: 'The RabbitMQ login method.',
  }),
  rabbit_retry_interval: int({ default: 1, help: 'How frequently to retry connecting with RabbitMQ.' }),
  rabbit_retry_backoff: int({ default: 2, deprecatedNames: [{ group: 'DEFAULT' }], help: 'How long to backoff for between retries.' }),
  rabbit_interval_max: int({ default: 30, help: 'Maximum interval of RabbitMQ connection retries.' }),
  rabbit_ha_queues: bool({ default: false, deprecatedNames: [{ group: 'DEFAULT' }], help: 'Declare queues with x-ha-policy: all.' }),
  rabbit_quorum_queue: bool({ default: false, help: 'Use quorum queues.' }),
  rabbit_quorum_delivery_limit: int({ default: 0, help: 'Quorum queue delivery limit (0 = unlimited).' }),
  rabbit_quroum_max_memory_length: int({ default: 0, help: 'Quorum queue max message count in memory (sic).' }),
  rabbit_quroum_max_memory_bytes: int({ default: 0, help: 'Quorum queue max bytes in memory (sic).' }),
  rabbit_transient_queues_ttl: int({ default: 1800, min: 1, help: 'TTL (x-expires) in seconds of reply and fanout queues.' }),
  rabbit_qos_prefetch_count: int({ default: 0, help: 'Number of messages to prefetch (0 = unlimited).' }),
  heartbeat_timeout_threshold: int({ default: 60, help: 'AMQP heartbeat timeout in seconds (0 disables).' }),
  heartbeat_rate: int({ default: 2, help: 'How often times during the heartbeat_timeout_threshold we check the heartbeat.' }),
  direct_mandatory_flag: bool({ default: true, help: 'Publish replies with the mandatory flag.' }),
  enable_cancel_on_failover: bool({ default: false, help: 'Consumer argument x-cancel-on-ha-failover.' }),
} as const;

const NETWORK_LOG_GROUP = {
  rate_limit: int({ default: 100, min: 100, help: 'Maximum packets logging per second.' }),
  burst_limit: int({ default: 25, min: 25, help: 'Maximum number of packets per rate_limit.' }),
  local_output_log_base: str({ help: 'Output logfile path on agent side, default syslog file.' }),
} as const;

const DHCP_GROUP = {
  enable_ipv6: bool({ default: true, help: 'The DHCP extension also answers DHCPv6.' }),
  dhcp_renewal_time: int({ default: 0, help: 'DHCP renewal time T1 in seconds (0 = half of the lease).' }),
  dhcp_rebinding_time: int({ default: 0, help: 'DHCP rebinding time T2 in seconds (0 = 7/8 of the lease).' }),
} as const;

const LOCAL_IP_GROUP = {
  static_nat: bool({ default: false, help: 'The local_ip extension uses static NAT rules instead of conntrack.' }),
} as const;

const FDB_GROUP = {
  shared_physical_device_mappings: list({ default: [], help: 'Comma-separated list of <physical_network>:<network_device> tuples.' }),
} as const;

export const SCHEMA = {
  DEFAULT: DEFAULT_GROUP,
  ovs: OVS_GROUP,
  agent: AGENT_GROUP,
  securitygroup: SECURITYGROUP_GROUP,
  oslo_messaging_rabbit: RABBIT_GROUP,
  network_log: NETWORK_LOG_GROUP,
  dhcp: DHCP_GROUP,
  local_ip: LOCAL_IP_GROUP,
  fdb: FDB_GROUP,
} as const;

export type Schema = typeof SCHEMA;
export type GroupName = keyof Schema;
export type ValueOf<D> = D extends OptionDef<infer T> ? T : never;
export type GroupValues<G> = { readonly [K in keyof G]: ValueOf<G[K]> };
/** The typed option values, one object per section. */
export type ConfigValues = { readonly [G in GroupName]: GroupValues<Schema[G]> };

export const GROUP_NAMES = Object.keys(SCHEMA) as GroupName[];

/** Untyped view used by the loader and the help text. */
export function groupOptions(group: GroupName): ReadonlyArray<[string, OptionDef<unknown>]> {
  return Object.entries(SCHEMA[group] as Record<string, OptionDef<unknown>>);
}

export function resolveDefault<T>(def: OptionDef<T>, ctx: DefaultContext): T {
  return typeof def.default === 'function' ? (def.default as (c: DefaultContext) => T)(ctx) : def.default;
}

/** Options that may also be given on the command line (oslo CLI opts), all in [DEFAULT]. */
export function cliOptions(): ReadonlyArray<[string, OptionDef<unknown>]> {
  return groupOptions('DEFAULT').filter(([, d]) => d.cli !== undefined);
}
