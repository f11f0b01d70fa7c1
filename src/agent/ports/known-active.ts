// Which ports a pass must report up to neutron-server, and which the server already has ACTIVE here.
//
// The reference reports every port up again after a restart. For each, neutron-server completes a
// provisioning block that is not there, tells l2population the port is wired (a cast to every
// other agent with entries they already hold) and, with refresh_tunnels, computes the network's
// whole fdb once per port. None of it changes anything when the server's Port already says ACTIVE
// and bound to this host: the status is DOWN whenever a binding changes (ml2 _process_port_binding),
// the other agents were told when the port turned ACTIVE, and an agent starting later reads the
// ports from the database. What this agent itself needs from that work, its own br-tun fdb entries,
// the server computes for a whole network from one port reported with refresh_tunnels.
import { isJsonObject, type JsonObject } from '../../util/json.js';
import { isTunnelType } from '../../bridges/tables.js';
import type { BoundDeviceDetails } from './device-details.js';
import type { Logger } from '../../util/log.js';

/**
 * Ports whose up report l2population handles apart (DVR interfaces, HA router ports): always
 * reported, as the reference does.
 */
const ALWAYS_REPORTED_OWNERS: ReadonlySet<string> = new Set(['network:router_interface_distributed', 'network:router_ha_interface']);

export interface UpCandidate {
  id: string;
  /** The server's Port as the resource cache holds it. */
  port: JsonObject | undefined;
  details: BoundDeviceDetails | undefined;
}

export interface UpReports {
  /** Ports to report up. */
  report: string[];
  /** Ports the server already has ACTIVE on this host: no report. */
  alreadyActive: string[];
}

/** The server has the port ACTIVE, bound (its ACTIVE binding) to `host`, not migrating. */
export function activeHere(port: JsonObject | undefined, details: BoundDeviceDetails | undefined, host: string): boolean {
  if (!port || !details || port['status'] !== 'ACTIVE') return false;
  if (details.migratingTo !== undefined || ALWAYS_REPORTED_OWNERS.has(details.deviceOwner)) return false;
  const bindings = Array.isArray(port['bindings']) ? port['bindings'].filter(isJsonObject) : [];
  return bindings.some((b) => b['status'] === 'ACTIVE' && b['host'] === host);
}

/**
 * Splits the ports a pass wired into those to report up and those the server already has ACTIVE
 * here. With `refreshTunnels` and l2population, every tunnel network keeps one reported port, so
 * that the server sends this agent the network's fdb entries.
 */
export function splitUpReports(candidates: readonly UpCandidate[], opts: { host: string; l2Population: boolean; refreshTunnels: boolean }): UpReports {
  const report: string[] = [];
  const alreadyActive: string[] = [];
  const covered = new Set<string>();
  const skipped: UpCandidate[] = [];
  for (const c of candidates) {
    if (activeHere(c.port, c.details, opts.host)) skipped.push(c);
    else {
      report.push(c.id);
      if (c.details) covered.add(c.details.networkId);
    }
  }
  for (const c of skipped) {
    const d = c.details!;
    if (opts.refreshTunnels && opts.l2Population && isTunnelType(d.networkType) && !covered.has(d.networkId)) {
      covered.add(d.networkId);
      report.push(c.id);
    } else alreadyActive.push(c.id);
  }
  return { report, alreadyActive };
}

/** A tunnel port as OVSDB has it (Interface type and options). */
export interface TunnelInterface {
  type: string;
  options: ReadonlyMap<string, string>;
}

/**
 * br-tun has tunnel ports whose local_ip is not this run's: the host's tunnel endpoint moved while
 * the agent was down, and every other host holds fdb entries naming the old one. Its ports must
 * then be reported up again, as the reference does, so that l2population sends the new endpoint.
 */
export function tunnelEndpointMoved(interfaces: Iterable<TunnelInterface>, localIp: string | undefined): boolean {
  for (const i of interfaces) {
    const previous = i.options.get('local_ip');
    if (isTunnelType(i.type) && previous !== undefined && previous !== localIp) return true;
  }
  return false;
}

/**
 * Applies splitUpReports once per port and process: the first time this process wires a port. Any
 * later up (after this process reported it down, say) is reported, as the server's Port in the
 * cache may not show that report's effect yet.
 */
export class FirstUpReports {
  /** Ports this process has had a state for (reported or found ACTIVE). */
  private readonly seen = new Set<string>();

  /** Whether this host's tunnel endpoint moved since the previous run, read once, before this run's tunnels. */
  private endpointMoved: boolean | undefined;

  constructor(
    private readonly opts: { host: string; l2Population: boolean; previousTunnels: () => Iterable<TunnelInterface>; localIp: string | undefined },
    private readonly log: Logger,
  ) {}

  /** The ports of `up` to report; `lookup` gives the server's Port and the wiring details. */
  upToReport(up: readonly string[], down: readonly string[], refreshTunnels: boolean, lookup: (id: string) => Omit<UpCandidate, 'id'>): string[] {
    if (this.endpointMoved === undefined) {
      this.endpointMoved = tunnelEndpointMoved(this.opts.previousTunnels(), this.opts.localIp);
      if (this.endpointMoved) this.log.info(`br-tun's tunnel ports have a local_ip other than ${this.opts.localIp}: every device up is reported, so that other hosts learn the new endpoint`);
    }
    const first = this.endpointMoved ? [] : up.filter((id) => !this.seen.has(id));
    const again = this.endpointMoved ? [...up] : up.filter((id) => this.seen.has(id));
    const split = splitUpReports(first.map((id) => ({ id, ...lookup(id) })), { ...this.opts, refreshTunnels });
    for (const id of [...up, ...down]) this.seen.add(id);
    if (split.alreadyActive.length) {
      this.log.info(`${split.alreadyActive.length} of the devices up are ACTIVE on this host for the server already: not reported up again`);
      this.log.debug(`devices up not reported again: ${JSON.stringify(split.alreadyActive)}`);
    }
    return [...again, ...split.report];
  }

  /** A port deleted on the server never comes back under its id. */
  forget(id: string): void {
    this.seen.delete(id);
  }
}
