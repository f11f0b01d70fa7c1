// Public API of the configuration module (oslo.config semantics for the OVS agent).
import * as os from 'node:os';
import { ConfigError } from './errors.js';
import { canonicalIp } from './ip.js';
import { originOf, type AgentConfig } from './loader.js';

export { loadConfig, reloadMutable, originOf, type AgentConfig, type LoadOptions, type UnknownSetting } from './loader.js';
export { parseArgs, usageText, type ParsedArgs, type ConfigSource } from './cli.js';
export {
  ConfigError, HelpRequested, VersionRequested, formatProblem, formatOrigin,
  type ConfigProblem, type OptionOrigin,
} from './errors.js';
export { parseIni, lookupIni, normalizeGroupName, IniParseError, type IniDocument, type IniAssignment } from './ini.js';
export {
  SCHEMA, GROUP_NAMES, ValueProblem, convertBool, convertList, convertDict, groupOptions,
  type ConfigValues, type GroupName, type OptionDef, type OptionKind, type Schema,
} from './options.js';
export {
  parseMappings, parseBridgeMappings, parseRpBandwidths, parseRpPpWithDirection, parseRpPpWithoutDirection,
  parseRpInventoryDefaults, defaultRpHypervisors, validateBaseMac, TUNNEL_NETWORK_TYPES,
  type TunnelType, type NetworkType, isTunnelType, parseNetworkType, type DirectionalRate, type AnyDirectionRate, type InventoryDefaults,
} from './derived.js';
export { parseTransportUrl, redactTransportUrl, InvalidTransportUrl, type TransportUrl, type TransportHost } from './transport-url.js';
export { effectiveRabbitOptions, sslVersionRange, type RabbitOptions } from './messaging.js';
export { amqpTlsSettings, enforceFipsMode, ovsdbTlsSettings } from './tls.js';

/**
 * With tunnelling enabled, [ovs] local_ip must be one of this host's addresses
 * (the reference exits with "Tunneling can't be enabled with invalid local_ip").
 * `interfaceAddresses` are the addresses configured on local interfaces.
 */
export function validateLocalIp(cfg: AgentConfig, interfaceAddresses: readonly string[]): void {
  if (cfg.agent.tunnel_types.length === 0) return;
  const localIp = cfg.ovs.local_ip;
  const origin = originOf(cfg, 'ovs', 'local_ip');
  const tunnels = cfg.agent.tunnel_types.join(',');
  if (localIp === null) {
    throw new ConfigError({
      group: 'ovs', option: 'local_ip', origin,
      reason: `Tunneling can't be enabled with invalid local_ip 'None'. ` +
        `[ovs] local_ip must be set to an address of this host when [agent] tunnel_types = ${tunnels}`,
    });
  }
  const wanted = canonicalIp(localIp);
  const present = new Set(interfaceAddresses.map((a) => canonicalIp(a)).filter((a): a is string => a !== null));
  if (wanted === null || !present.has(wanted)) {
    throw new ConfigError({
      group: 'ovs', option: 'local_ip', value: localIp, origin,
      reason: `Tunneling can't be enabled with invalid local_ip '${localIp}'. IP couldn't be found on this host's interfaces.`,
    });
  }
}

/** Addresses of every local interface (os.networkInterfaces()). */
export function localInterfaceAddresses(): string[] {
  const out: string[] = [];
  for (const list of Object.values(os.networkInterfaces())) {
    for (const a of list ?? []) out.push(a.address);
  }
  return out;
}

/** validateLocalIp against the addresses configured on this host. */
export function validateLocalIpOnHost(cfg: AgentConfig): void {
  validateLocalIp(cfg, localInterfaceAddresses());
}
