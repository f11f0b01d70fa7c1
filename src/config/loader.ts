// Builds the typed AgentConfig from command line + INI files with oslo.config
// precedence, interpolation and (unlike the reference) eager validation.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs, usageText, type CliValue, type ParsedArgs } from './cli.js';
import {
  defaultRpHypervisors, parseBridgeMappings, parseRpBandwidths, parseRpInventoryDefaults, parseRpPpWithDirection,
  parseRpPpWithoutDirection, isTunnelType, validateBaseMac,
  type AnyDirectionRate, type DirectionalRate, type InventoryDefaults, type TunnelType,
} from './derived.js';
import { firewallDriverProblem, resolveFirewallDriver, type FirewallDriverName } from './firewall-driver.js';
import { logOptionProblems, notificationDrivers } from './log-options.js';
import { dhcpExtensionProblem, extensionsProblem, logExtensionProblem } from './extensions.js';
import { ConfigError, HelpRequested, VersionRequested, type ConfigProblem, type OptionOrigin } from './errors.js';
import { IniParseError, lookupIni, normalizeGroupName, parseIni, type IniAssignment, type IniDocument } from './ini.js';
import {
  GROUP_NAMES, groupOptions, resolveDefault, SCHEMA, ValueProblem,
  type ConfigValues, type DefaultContext, type GroupName, type OptionDef,
} from './options.js';
import { InvalidTransportUrl, parseTransportUrl, redactTransportUrl, type TransportUrl } from './transport-url.js';
import { effectiveRabbitOptions, type RabbitOptions } from './messaging.js';
import { shownOptionValue } from '../util/redact.js';

export interface LoadOptions {
  /** Default of [DEFAULT] host (default: os.hostname()). */
  readonly hostname?: string;
  /** Fallback hypervisor name for resource_provider_hypervisors (default: hostname). */
  readonly hypervisorHostname?: string;
  /** Program name for default config file names and --help (default: neutron-openvswitch-agent). */
  readonly prog?: string;
  /** Directories searched when no --config-file / --config-dir is given
   *  (default: ~/.neutron/, ~/, /etc/neutron/, /etc/). */
  readonly searchDirs?: readonly string[];
  /** Text for --version. */
  readonly version?: string;
}

/** An option/section present in a file but not known to the agent (ignored, as oslo does). */
export interface UnknownSetting {
  readonly file: string;
  readonly line: number;
  readonly section: string;
  readonly key: string;
}

export interface AgentConfig extends ConfigValues {
  /** [ovs] bridge_mappings parsed: physnet → bridge. */
  readonly bridgeMappings: ReadonlyMap<string, string>;
  readonly rpBandwidths: Readonly<Record<string, DirectionalRate>>;
  readonly rpPacketProcessingWithoutDirection: Readonly<Record<string, AnyDirectionRate>>;
  readonly rpPacketProcessingWithDirection: Readonly<Record<string, DirectionalRate>>;
  readonly rpInventoryDefaults: InventoryDefaults;
  readonly rpPacketProcessingInventoryDefaults: InventoryDefaults;
  /** Every mapped bridge → hypervisor name. */
  readonly rpHypervisors: Readonly<Record<string, string>>;
  readonly tunnelTypes: readonly TunnelType[];
  readonly tunnelingEnabled: boolean;
  /** arp_responder && l2_population, forced true with DVR + tunnelling. */
  readonly arpResponderEnabled: boolean;
  /** [securitygroup] firewall_driver, 'noop' when unset/empty. */
  readonly firewallDriver: FirewallDriverName;
  /** [agent] ovsdb_monitor_respawn_interval, 0 → 30 like the reference. */
  readonly ovsdbMonitorRespawnInterval: number;
  /** Parsed [DEFAULT] transport_url. */
  readonly transport: TransportUrl;
  /** [oslo_messaging_rabbit] with transport_url's query applied, as the rabbit driver uses it. */
  readonly messaging: RabbitOptions;
  /** Config files actually parsed, in parse order (later wins). */
  readonly configFiles: readonly string[];
  /** Config dirs scanned (given or default). */
  readonly configDirs: readonly string[];
  /** Where each option value came from, keyed "group.option". */
  readonly origins: ReadonlyMap<string, OptionOrigin>;
  readonly unknownSettings: readonly UnknownSetting[];
  /** Deprecation and adjustment notices to log at start-up. */
  readonly warnings: readonly string[];
}

export function originOf(cfg: AgentConfig, group: GroupName, option: string): OptionOrigin {
  return cfg.origins.get(`${group}.${option}`) ?? { kind: 'default' };
}

// ---- locating files ----

function defaultSearchDirs(): string[] {
  const home = os.homedir();
  return [path.join(home, '.neutron'), home, '/etc/neutron', '/etc'];
}

function firstExisting(dirs: readonly string[], name: string): string | undefined {
  for (const d of dirs) {
    const p = path.join(d, name);
    if (fs.existsSync(p)) return p;
  }
  return undefined;
}

function confFilesIn(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true })
    .filter((e) => !e.name.startsWith('.') && e.name.endsWith('.conf') && !e.isDirectory())
    .map((e) => path.join(dir, e.name))
    .sort();
}

function readDocument(file: string, flag: string): IniDocument {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const reason = code === 'ENOENT' ? 'Failed to find config file'
      : code === 'EACCES' ? 'Permission denied reading config file'
        : `Cannot read config file (${(e as Error).message})`;
    throw new ConfigError({ origin: { kind: 'cli', flag }, reason: `${reason} ${file}` });
  }
  try {
    return parseIni(text, file);
  } catch (e) {
    if (e instanceof IniParseError) {
      throw new ConfigError({
        origin: { kind: 'file', file, line: e.line, section: '' },
        reason: `Failed to parse config file: ${e.reason}: ${JSON.stringify(e.text)}`,
      });
    }
    throw e;
  }
}

interface FileSet { docs: IniDocument[]; files: string[]; dirs: string[] }

function collectDocuments(args: ParsedArgs, opts: LoadOptions, prog: string): FileSet {
  const docs: IniDocument[] = [];
  const dirs: string[] = [];
  const hasFile = args.sources.some((s) => s.kind === 'file');
  const hasDir = args.sources.some((s) => s.kind === 'dir');
  const search = opts.searchDirs ?? defaultSearchDirs();

  // oslo: default files only without --config-file, default dirs only without --config-dir;
  // both are parsed before the command line is processed.
  if (!hasFile) {
    for (const name of ['neutron.conf', `${prog}.conf`]) {
      const f = firstExisting(search, name);
      if (f) docs.push(readDocument(f, `(default config file ${f})`));
    }
  }
  if (!hasDir) {
    for (const name of ['neutron.conf.d', `${prog}.conf.d`]) {
      const d = firstExisting(search, name);
      if (!d) continue;
      dirs.push(d);
      for (const f of confFilesIn(d)) docs.push(readDocument(f, `(default config dir ${d})`));
    }
  }
  for (const src of args.sources) {
    const p = path.resolve(src.path.replace(/^~(?=$|\/)/, os.homedir()));
    if (src.kind === 'file') {
      docs.push(readDocument(p, `--config-file ${src.path}`));
    } else {
      if (!fs.existsSync(p)) {
        throw new ConfigError({ origin: { kind: 'cli', flag: `--config-dir ${src.path}` }, reason: `Failed to read config directory ${p}: not found` });
      }
      dirs.push(p);
      if (fs.statSync(p).isDirectory()) {
        for (const f of confFilesIn(p)) docs.push(readDocument(f, `--config-dir ${src.path}`));
      }
    }
  }
  return { docs, files: docs.map((d) => d.filename), dirs };
}

// ---- value resolution ----

interface RawValue {
  readonly raw: string | boolean;
  readonly origin: OptionOrigin;
  /** Spelling actually used when it was a deprecated one. */
  readonly deprecated?: { group: string; name: string };
}

/** Python str() of a resolved value, as string.Template substitution produces it. */
function pyStr(v: unknown, def: OptionDef<unknown>): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'boolean') return v ? 'True' : 'False';
  if (typeof v === 'number') {
    if (def.kind === 'float') {
      if (Number.isNaN(v)) return 'nan';
      if (!Number.isFinite(v)) return v > 0 ? 'inf' : '-inf';
      return Number.isInteger(v) ? `${v}.0` : String(v);
    }
    return String(v);
  }
  if (Array.isArray(v)) return `[${v.map((x) => `'${String(x)}'`).join(', ')}]`;
  if (typeof v === 'object') {
    return `{${Object.entries(v as Record<string, unknown>).map(([k, x]) => `'${k}': '${String(x)}'`).join(', ')}}`;
  }
  return String(v);
}

class Resolver {
  readonly values = new Map<string, unknown>();
  readonly origins = new Map<string, OptionOrigin>();
  readonly problems: ConfigProblem[] = [];
  readonly warnings: string[] = [];
  private readonly resolving = new Set<string>();
  private readonly failed = new Set<string>();

  constructor(private readonly docs: readonly IniDocument[], private readonly cli: ReadonlyMap<string, CliValue>,
    private readonly ctx: DefaultContext) {}

  private def(group: GroupName, option: string): OptionDef<unknown> | undefined {
    return (SCHEMA[group] as Record<string, OptionDef<unknown>>)[option];
  }

  private findRaw(group: GroupName, option: string, def: OptionDef<unknown>): RawValue | undefined {
    if (group === 'DEFAULT' && def.cli) {
      const v = this.cli.get(option);
      if (v) return { raw: v.raw, origin: { kind: 'cli', flag: v.flag } };
    }
    const names: Array<{ group: string; name: string }> = [{ group, name: option }];
    for (const d of def.deprecatedNames) names.push({ group: d.group ?? group, name: d.name ?? option });
    // Newest file first; inside a file the current spelling before deprecated ones.
    for (let i = this.docs.length - 1; i >= 0; i--) {
      const doc = this.docs[i]!;
      for (let n = 0; n < names.length; n++) {
        const a: IniAssignment | undefined = lookupIni(doc, names[n]!.group, names[n]!.name);
        if (!a) continue;
        const origin: OptionOrigin = { kind: 'file', file: doc.filename, line: a.line, section: a.section };
        return n === 0 ? { raw: a.value, origin } : { raw: a.value, origin, deprecated: names[n]! };
      }
    }
    return undefined;
  }

  private shown(def: OptionDef<unknown>, raw: string): string {
    return shownOptionValue(def.secret, raw);
  }

  /** string.Template.safe_substitute with oslo's StrSubWrapper: $name, ${name}, ${group.name}, $$, \$. */
  private substitute(text: string, group: GroupName, def: OptionDef<unknown>): string {
    const tmpl = text.replace(/\\\$/g, '$$$$');
    return tmpl.replace(/\$(?:(\$)|([_a-z][._a-z0-9]*)|\{([_a-z][._a-z0-9]*)\}|)/gi,
      (whole, esc: string | undefined, named: string | undefined, braced: string | undefined) => {
        if (esc) return '$';
        const key = named ?? braced;
        if (!key) return whole;
        const target = this.referenceTarget(key, group);
        if (!target) {
          throw new ValueProblem(`interpolation of $${key} refers to an unknown option` +
            (def.secret ? '' : ` (in ${JSON.stringify(this.shown(def, text))})`));
        }
        const v = this.resolve(target.group, target.option);
        if (v === FAILED) throw new ValueProblem(`interpolation of $${key} refers to an invalid value`);
        return pyStr(v, this.def(target.group, target.option)!);
      });
  }

  private referenceTarget(key: string, group: GroupName): { group: GroupName; option: string } | undefined {
    const dot = key.indexOf('.');
    if (dot >= 0) {
      const g = normalizeGroupName(key.slice(0, dot));
      const gName = (g.toUpperCase() === 'DEFAULT' ? 'DEFAULT' : g) as GroupName;
      const option = key.slice(dot + 1);
      if (GROUP_NAMES.includes(gName) && this.def(gName, option)) return { group: gName, option };
      // oslo falls back to looking the whole key up as a DEFAULT option name.
    } else if (this.def(group, key)) {
      return { group, option: key };
    }
    if (this.def('DEFAULT', key)) return { group: 'DEFAULT', option: key };
    return undefined;
  }

  resolve(group: GroupName, option: string): unknown {
    const id = `${group}.${option}`;
    if (this.values.has(id)) return this.values.get(id);
    if (this.failed.has(id)) return FAILED;
    const def = this.def(group, option)!;
    if (this.resolving.has(id)) {
      throw new ValueProblem(`interpolation loop through [${group}] ${option}`);
    }
    this.resolving.add(id);
    const found = this.findRaw(group, option, def);
    const origin: OptionOrigin = found?.origin ?? { kind: 'default' };
    let rawText: string | undefined;
    try {
      let value: unknown;
      if (found) {
        if (found.deprecated) {
          this.warnings.push(`Option "${found.deprecated.name}" from group "${found.deprecated.group}" is deprecated. ` +
            `Use option "${option}" from group "${group}".`);
        }
        if (typeof found.raw === 'boolean') {
          value = found.raw;
        } else {
          rawText = found.raw;
          value = def.convert(this.substitute(found.raw, group, def));
        }
      } else {
        value = resolveDefault(def, this.ctx);
        if (typeof def.default === 'function' && typeof value === 'string') {
          rawText = value;
          value = def.convert(value); // e.g. the machine's hostname must be a valid host address
        } else if (typeof value === 'string' && value.includes('$')) {
          rawText = value;
          value = def.convert(this.substitute(value, group, def));
        }
      }
      this.values.set(id, value);
      this.origins.set(id, origin);
      return value;
    } catch (e) {
      if (!(e instanceof ValueProblem)) throw e;
      this.failed.add(id);
      this.problems.push({
        group, option, origin, reason: e.message,
        ...(rawText !== undefined ? { value: this.shown(def, rawText) } : {}),
      });
      return FAILED;
    } finally {
      this.resolving.delete(id);
    }
  }
}

const FAILED = Symbol('failed');

function unknownSettings(docs: readonly IniDocument[]): UnknownSetting[] {
  const known = new Map<string, Set<string>>();
  const add = (g: string, n: string) => {
    if (!known.has(g)) known.set(g, new Set());
    known.get(g)!.add(n);
  };
  for (const g of GROUP_NAMES) {
    for (const [name, def] of groupOptions(g)) {
      add(g, name);
      for (const d of def.deprecatedNames) add(normalizeGroupName(d.group ?? g), d.name ?? name);
    }
  }
  const out: UnknownSetting[] = [];
  for (const doc of docs) {
    for (const a of doc.assignments) {
      if (!known.get(a.group)?.has(a.key)) out.push({ file: doc.filename, line: a.line, section: a.section, key: a.key });
    }
  }
  return out;
}

/** Problems in file parse order and line order; command-line and default ones first. */
function sortProblems(problems: readonly ConfigProblem[], files: readonly string[]): ConfigProblem[] {
  const key = (p: ConfigProblem): [number, number] =>
    p.origin?.kind === 'file' ? [files.indexOf(p.origin.file) + 1, p.origin.line] : [0, 0];
  return problems
    .map((p, i) => ({ p, i, k: key(p) }))
    .sort((a, b) => a.k[0] - b.k[0] || a.k[1] - b.k[1] || a.i - b.i)
    .map((x) => x.p);
}

// ---- entry point ----

/** Collects what is wrong with the options while the derived values are computed, each naming its option. */
class Derivation {
  readonly problems: ConfigProblem[] = [];
  readonly warnings: string[];

  constructor(private readonly r: Resolver) {
    this.warnings = [...r.warnings];
  }

  problemAt(group: GroupName, option: string, reason: string, value?: string): void {
    const origin = this.r.origins.get(`${group}.${option}`) ?? { kind: 'default' as const };
    this.problems.push({ group, option, origin, reason, ...(value !== undefined ? { value } : {}) });
  }

  /** f's value, or `fallback` with a problem recorded when f throws a ValueProblem. */
  derive<T>(group: GroupName, option: string, shown: string, fallback: T, f: () => T): T {
    try {
      return f();
    } catch (e) {
      if (!(e instanceof ValueProblem)) throw e;
      this.problemAt(group, option, e.message, shown);
      return fallback;
    }
  }
}

const listText = (l: readonly string[]): string => l.join(',');
const dictText = (d: Readonly<Record<string, string>>): string => Object.entries(d).map(([k, x]) => `${k}:${x}`).join(',');

function deriveTransport(v: ConfigValues, d: Derivation): TransportUrl {
  try {
    const transport = parseTransportUrl(v.DEFAULT.transport_url);
    // fake:// is oslo.messaging's in-process driver: the agent then talks to no server at all
    // (useful to compare start-up with the reference, which accepts it too).
    // kombu:// names the same driver as rabbit:// in oslo.messaging's entry points.
    if (transport.transport !== 'rabbit' && transport.transport !== 'kombu' && transport.transport !== 'fake') {
      // oslo.messaging has no TLS scheme: an operator writing one is told how TLS is switched on.
      const tlsHint = /^(rabbits|amqps|kombus)$/.test(transport.transport)
        ? '; TLS is switched on by [oslo_messaging_rabbit] ssl = True or ?ssl=1 in the URL' : '';
      d.problemAt('DEFAULT', 'transport_url', `expected a rabbit:// URL (unsupported driver '${transport.transport}'${tlsHint})`,
        redactTransportUrl(v.DEFAULT.transport_url));
    }
    return transport;
  } catch (e) {
    if (!(e instanceof InvalidTransportUrl)) throw e;
    d.problemAt('DEFAULT', 'transport_url', `expected a transport URL (${e.reason})`, redactTransportUrl(v.DEFAULT.transport_url));
    return parseTransportUrl('rabbit://');
  }
}

/** bridge_mappings and the placement resource-provider options that refer to its bridges. */
function deriveBridgesAndResourceProviders(v: ConfigValues, d: Derivation, defaultHypervisor: string) {
  const ovs = v.ovs;
  const bridgeMappings = d.derive('ovs', 'bridge_mappings', listText(ovs.bridge_mappings), new Map<string, string>(),
    () => parseBridgeMappings(ovs.bridge_mappings));
  const rpBandwidths = d.derive('ovs', 'resource_provider_bandwidths', listText(ovs.resource_provider_bandwidths), {},
    () => parseRpBandwidths(ovs.resource_provider_bandwidths));
  const bridges = new Set(bridgeMappings.values());
  for (const dev of Object.keys(rpBandwidths)) {
    if (!bridges.has(dev)) {
      d.problemAt('ovs', 'resource_provider_bandwidths',
        `Invalid resource_provider_bandwidths: Device name ${dev} is missing from device mappings`,
        listText(ovs.resource_provider_bandwidths));
    }
  }
  const host = v.DEFAULT.host;
  const ppWithout = d.derive('ovs', 'resource_provider_packet_processing_without_direction',
    listText(ovs.resource_provider_packet_processing_without_direction), {},
    () => parseRpPpWithoutDirection(ovs.resource_provider_packet_processing_without_direction, host));
  const ppWith = d.derive('ovs', 'resource_provider_packet_processing_with_direction',
    listText(ovs.resource_provider_packet_processing_with_direction), {},
    () => parseRpPpWithDirection(ovs.resource_provider_packet_processing_with_direction, host));
  if (Object.keys(ppWith).length && Object.keys(ppWithout).length) {
    d.problemAt('ovs', 'resource_provider_packet_processing_with_direction',
      'resource_provider_packet_processing_without_direction and resource_provider_packet_processing_with_direction ' +
      'configuration options are mutually exclusive.', listText(ovs.resource_provider_packet_processing_with_direction));
  }
  return {
    bridgeMappings,
    rpBandwidths,
    rpPacketProcessingWithoutDirection: ppWithout,
    rpPacketProcessingWithDirection: ppWith,
    rpInventoryDefaults: d.derive('ovs', 'resource_provider_inventory_defaults',
      dictText(ovs.resource_provider_inventory_defaults), {},
      () => parseRpInventoryDefaults(ovs.resource_provider_inventory_defaults)),
    rpPacketProcessingInventoryDefaults: d.derive('ovs', 'resource_provider_packet_processing_inventory_defaults',
      dictText(ovs.resource_provider_packet_processing_inventory_defaults), {},
      () => parseRpInventoryDefaults(ovs.resource_provider_packet_processing_inventory_defaults)),
    rpHypervisors: defaultRpHypervisors(ovs.resource_provider_hypervisors, bridgeMappings,
      ovs.resource_provider_default_hypervisor || defaultHypervisor),
  };
}

/** tunnel_types, and what DVR requires of l2population and the ARP responder. */
function deriveTunnelling(v: ConfigValues, d: Derivation) {
  const agent = v.agent;
  const tunnelTypes: TunnelType[] = [];
  for (const t of agent.tunnel_types) {
    if (isTunnelType(t)) tunnelTypes.push(t);
    else d.problemAt('agent', 'tunnel_types', `Invalid tunnel type specified: ${t}`, listText(agent.tunnel_types));
  }
  const tunnelingEnabled = agent.tunnel_types.length > 0;
  if (agent.enable_distributed_routing && tunnelingEnabled && !agent.l2_population) {
    d.problemAt('agent', 'enable_distributed_routing',
      'DVR deployments for VXLAN/GRE/Geneve underlays require L2-pop to be enabled, in both the Agent and Server side.',
      'True');
  }
  let arpResponderEnabled = agent.arp_responder && agent.l2_population;
  if (agent.enable_distributed_routing && tunnelingEnabled && !arpResponderEnabled) {
    d.warnings.push('ARP responder was not enabled but is required since DVR and tunneling are enabled, setting to True.');
    arpResponderEnabled = true;
  }
  return { tunnelTypes, tunnelingEnabled, arpResponderEnabled };
}

/** An ssl: ovsdb_connection needs its three files. */
function checkOvsdbSsl(v: ConfigValues, d: Derivation): void {
  const ovs = v.ovs;
  if (!ovs.ovsdb_connection.startsWith('ssl:')) return;
  for (const opt of ['ssl_key_file', 'ssl_cert_file', 'ssl_ca_cert_file'] as const) {
    const file = ovs[opt];
    if (!file) {
      d.problemAt('ovs', opt, `Required 'ovs' group option ${opt} not set.  SSL configuration options are required when using SSL ovsdb_connection URI`);
    } else if (!fs.existsSync(file)) {
      d.problemAt('ovs', opt, `Specified SSL file ${file} could not be found`, file);
    }
  }
}

export function loadConfig(argv: readonly string[], opts: LoadOptions = {}): AgentConfig {
  const prog = opts.prog ?? 'neutron-openvswitch-agent';
  const args = parseArgs(argv);
  if (args.help) throw new HelpRequested(usageText(prog));
  if (args.version) throw new VersionRequested(opts.version ?? '0.1.0');

  const files = collectDocuments(args, opts, prog);
  const hostname = opts.hostname ?? os.hostname();
  const r = new Resolver(files.docs, args.values, { hostname });

  const values: Record<string, Record<string, unknown>> = {};
  for (const g of GROUP_NAMES) {
    values[g] = {};
    for (const [name] of groupOptions(g)) values[g]![name] = r.resolve(g, name);
  }
  if (r.problems.length) throw new ConfigError(sortProblems(r.problems, files.files));
  const v = values as unknown as ConfigValues;

  // Derived values; every failure names the option it comes from.
  const d = new Derivation(r);
  d.derive('DEFAULT', 'base_mac', v.DEFAULT.base_mac, undefined, () => validateBaseMac(v.DEFAULT.base_mac));
  const transport = deriveTransport(v, d);
  const messaging = effectiveRabbitOptions(v.oslo_messaging_rabbit, transport);
  for (const p of messaging.problems) {
    d.problemAt(p.group, p.option, p.reason, p.value ?? (p.option === 'transport_url' ? redactTransportUrl(v.DEFAULT.transport_url) : undefined));
  }
  const firewallProblem = firewallDriverProblem(v.securitygroup.firewall_driver);
  if (firewallProblem) d.problemAt('securitygroup', 'firewall_driver', firewallProblem, v.securitygroup.firewall_driver ?? '');
  const bridgesAndRps = deriveBridgesAndResourceProviders(v, d, opts.hypervisorHostname || hostname);
  const tunnelling = deriveTunnelling(v, d);
  checkOvsdbSsl(v, d);
  const extensionProblem = extensionsProblem(v.agent.extensions);
  if (extensionProblem) d.problemAt('agent', 'extensions', extensionProblem, listText(v.agent.extensions));
  const firewallDriver = resolveFirewallDriver(v.securitygroup.firewall_driver) ?? 'noop';
  const logProblem = logExtensionProblem(v.agent.extensions, {
    ofInterface: v.ovs.of_interface, firewallDriver: resolveFirewallDriver(v.securitygroup.firewall_driver), enableSecurityGroup: v.securitygroup.enable_security_group,
  });
  if (logProblem) d.problemAt(logProblem.group, logProblem.option, logProblem.text, logProblem.value);
  const dhcpProblem = dhcpExtensionProblem(v.agent.extensions, { ofInterface: v.ovs.of_interface });
  if (dhcpProblem) d.problemAt(dhcpProblem.group, dhcpProblem.option, dhcpProblem.text, dhcpProblem.value);
  const logProblems = logOptionProblems({
    rateLimitBurst: v.DEFAULT.rate_limit_burst, rateLimitInterval: v.DEFAULT.rate_limit_interval,
    publishErrors: v.DEFAULT.publish_errors, notificationDrivers: notificationDrivers(files.docs),
  });
  for (const p of logProblems) d.problemAt('DEFAULT', p.option, p.reason, p.value);
  if (d.problems.length) throw new ConfigError(sortProblems(d.problems, files.files));

  return {
    ...v,
    ...bridgesAndRps,
    ...tunnelling,
    firewallDriver,
    ovsdbMonitorRespawnInterval: v.agent.ovsdb_monitor_respawn_interval || 30,
    transport,
    messaging: messaging.options,
    configFiles: files.files,
    configDirs: files.dirs,
    origins: r.origins,
    unknownSettings: unknownSettings(files.docs),
    warnings: d.warnings,
  };
}

/**
 * SIGHUP: re-read the same command line and files (oslo mutate_config_files) and
 * return the current config with only the *mutable* options (debug,
 * log_config_append) replaced. Throws ConfigError if the files became invalid.
 */
export function reloadMutable(current: AgentConfig, argv: readonly string[], opts: LoadOptions = {}):
  { config: AgentConfig; changed: string[] } {
  const fresh = loadConfig(argv, opts);
  const changed: string[] = [];
  const groups: Record<string, Record<string, unknown>> = {};
  const origins = new Map(current.origins);
  for (const g of GROUP_NAMES) {
    const cur = (current as unknown as Record<string, Record<string, unknown>>)[g]!;
    const next = (fresh as unknown as Record<string, Record<string, unknown>>)[g]!;
    const merged = { ...cur };
    for (const [name, def] of groupOptions(g)) {
      if (!def.mutable || JSON.stringify(cur[name]) === JSON.stringify(next[name])) continue;
      merged[name] = next[name];
      changed.push(`${g}.${name}`);
      const o = fresh.origins.get(`${g}.${name}`);
      if (o) origins.set(`${g}.${name}`, o);
    }
    groups[g] = merged;
  }
  return { config: { ...current, ...(groups as unknown as ConfigValues), origins }, changed };
}
