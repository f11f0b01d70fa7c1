// The `log` L2 agent extension (neutron's LoggingExtension with its OVS firewall driver,
// ovs_firewall_log): security-group logging. The logging plugin says which log resources log which
// ports (get_sg_log_info_for_port when a port is wired, get_sg_log_info_for_log_resources when it
// pushes a Log created, enabled or disabled, deleted); br-int gets flows sending those ports'
// accepted and/or dropped packets to the controller (src/extensions/log/flows.ts); each packet-in
// becomes one line in the reference's format. How many packets reach the agent per second is
// Open vSwitch's controller_rate_limit / controller_burst_limit ([network_log] rate_limit,
// burst_limit), as with the reference. Needs the native OpenFlow channel for the packet-ins and the
// openvswitch firewall for the tables it logs from; the configuration refuses it otherwise.
import { getLogger } from '../../util/log.js';
import type { JsonObject } from '../../util/json.js';
import type { PacketIn } from '../../openflow/backend.js';
import type { AgentExtension, ExtensionAgentApi, ExtensionPort, ExtensionStatus } from '../seam.js';
import { logResourceArg, parseLogResource, parseSgLogInfo, type SgLogInfo } from './log-info.js';
import { LogLines } from './lines.js';
import { packetText } from './packet-text.js';
import { PortLogs } from './port-logs.js';

const LOG = getLogger('extensions.log');

/** The logging plugin's RPC topic and namespace (neutron_lib.services.logapi.constants). */
const LOGGING_PLUGIN = { topic: 'logging-plugin', namespace: 'logging-plugin', version: '1.0' } as const;
/** Controller rate and burst limits below these are raised to them, as ovs_lib does. */
const MIN_RATE_LIMIT = 100;
const MIN_BURST_LIMIT = 25;

/** How long after a failed log resource change every port's logs are asked for again. */
const RETRY_MS = 5000;
/** Rule changes that come together (a group's rules edited in a row) are followed once. */
const RULES_SETTLE_MS = 300;

const pyList = (ids: readonly string[]): string => `[${ids.map((i) => `'${i}'`).join(', ')}]`;

export class LogAgentExtension implements AgentExtension {
  readonly name = 'log';
  private api!: ExtensionAgentApi;
  private logs!: PortLogs;
  private lines!: LogLines;
  private unsubscribe: (() => void) | undefined;
  /** Ports handed by the port pass, by id (the push path finds their ofport here). */
  private readonly ports = new Map<string, ExtensionPort>();
  private queue: Promise<void> = Promise.resolve();
  private readonly counts = { accept: 0, drop: 0, unknownCookie: 0 };

  async initialize(api: ExtensionAgentApi): Promise<void> {
    this.api = api;
    if (!api.intSwitch().onPacketIn) {
      throw new Error('security-group logging needs packet-ins on the agent\'s own OpenFlow channel: set [ovs] of_interface = native');
    }
    this.logs = new PortLogs(() => api.intBridge(), (sg, remote, dir, eth) => api.firewallConjId(sg, remote, dir, eth));
    this.lines = new LogLines(api.settings.networkLog);
    await this.setControllerLimits();
    this.listen();
    api.cache.on('object-updated', (type, id, _old, now) => {
      if (type === 'Log') this.serially(`log ${id} updated`, () => this.onLogUpdated(now).catch((e: unknown) => this.retryLater(e)));
      else if (type === 'SecurityGroupRule') this.rulesChanged();
    });
    api.cache.on('object-deleted', (type, id) => {
      if (type === 'Log') this.serially(`log ${id} deleted`, () => this.onLogGone(id));
      else if (type === 'SecurityGroupRule') this.rulesChanged();
    });
    LOG.info(`security-group logging to ${this.lines.where}, at most ${this.rate()} packets/s (burst ${this.burst()})`);
  }

  private rate(): number {
    return Math.max(MIN_RATE_LIMIT, this.api.settings.networkLog.rateLimit);
  }

  private burst(): number {
    return Math.max(MIN_BURST_LIMIT, this.api.settings.networkLog.burstLimit);
  }

  /** br-int's Controller rows: how many packet-ins per second Open vSwitch lets through. */
  private async setControllerLimits(): Promise<void> {
    await this.api.ops.setControllerLimits(this.api.intBridge().name, this.rate(), this.burst());
  }

  private listen(): void {
    this.unsubscribe?.();
    this.unsubscribe = this.api.intSwitch().onPacketIn!((p) => this.onPacketIn(p));
  }

  /** One line per logged packet, in the reference's words (packet_in_handler). */
  private onPacketIn(p: PacketIn): void {
    const pkt = packetText(p.data);
    const c = this.logs.cookie(p.cookie);
    if (!c) {
      this.counts.unknownCookie++;
      this.lines.warning(`Unknown cookie=${p.cookie} packet_in pkt=${pkt}`);
      return;
    }
    this.counts[c.event === 'ACCEPT' ? 'accept' : 'drop']++;
    this.lines.info(`action=${c.event} project_id=${c.projectId} log_resource_ids=${pyList(c.logIds)} vm_port=${c.portId} pkt=${pkt}`);
  }

  handlePort(port: ExtensionPort): Promise<void> {
    this.ports.set(port.portId, port);
    return this.serially(`port ${port.portId}`, () => this.applyPort(port), true);
  }

  /** As the reference: a compute port's logs are asked for each time it is wired. */
  private async applyPort(port: ExtensionPort): Promise<void> {
    if (!port.deviceOwner.startsWith('compute:')) {
      if (this.logs.loggedPorts().has(port.portId)) await this.syncPorts([port.portId]);
      return;
    }
    const infos = await this.call('get_sg_log_info_for_port', { resource_type: 'security_group', port_id: port.portId });
    this.logs.setPortLogs(port.portId, infos);
    await this.syncPorts([port.portId]);
  }

  deletePort(portId: string): Promise<void> {
    return this.serially(`port ${portId} removed`, async () => {
      this.ports.delete(portId);
      this.logs.dropPort(portId);
      await this.syncPorts([portId]);
    });
  }

  private async onLogUpdated(now: JsonObject): Promise<void> {
    const log = parseLogResource(now);
    if (log.resourceType !== 'security_group') return;
    if (!log.enabled) return this.onLogGone(log.id);
    const infos = await this.call('get_sg_log_info_for_log_resources', { resource_type: 'security_group', log_resources: [logResourceArg(log)] });
    const touched = new Set<string>();
    for (const info of infos) for (const p of this.logs.setLog(info, (id) => this.ports.has(id))) touched.add(p);
    await this.syncPorts([...touched]);
    LOG.info(`log ${log.id} (${log.event}) logs ${this.portsOf(infos)} port(s) on this host`);
  }

  private portsOf(infos: readonly SgLogInfo[]): number {
    return infos.reduce((n, i) => n + i.ports.filter((p) => this.ports.has(p.portId)).length, 0);
  }

  private async onLogGone(logId: string): Promise<void> {
    const ports = this.logs.dropLog(logId);
    await this.syncPorts([...ports]);
    if (ports.size) LOG.info(`log ${logId} no longer logs ${ports.size} port(s) on this host`);
  }

  private rulesTimer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;

  /**
   * A pushed log resource could not be applied (the server did not answer): rather than wait for
   * the next push, every compute port's logs are asked for again in a while, until that works.
   */
  private retryLater(e: unknown): Promise<void> {
    LOG.error(`a log resource change could not be applied; asking for every port's logs again in ${RETRY_MS / 1000} s`, e);
    if (!this.retryTimer) {
      this.retryTimer = setTimeout(() => {
        this.retryTimer = undefined;
        const computePorts = (): string[] => [...this.ports.values()].filter((p) => p.deviceOwner.startsWith('compute:')).map((p) => p.portId);
        this.serially('asking for every port\'s logs again', () => this.refreshPorts(computePorts()).catch((err: unknown) => this.retryLater(err)));
      }, RETRY_MS);
    }
    return Promise.resolve();
  }

  /**
   * A security-group rule came or went: the logged ports' ACCEPT flows follow their rules. The
   * server also pushes the Log objects concerned, unchanged, which the resource cache (rightly)
   * does not report as a change; so the logged ports' logs are asked for again, once per burst.
   */
  private rulesChanged(): void {
    if (this.rulesTimer) return;
    this.rulesTimer = setTimeout(() => {
      this.rulesTimer = undefined;
      this.serially('security-group rules changed', () => this.refreshLoggedPorts().catch((e: unknown) => this.retryLater(e)));
    }, RULES_SETTLE_MS);
  }

  private refreshLoggedPorts(): Promise<void> {
    return this.refreshPorts([...this.logs.loggedPorts()].filter((id) => this.ports.has(id)));
  }

  private async refreshPorts(ports: readonly string[]): Promise<void> {
    for (const id of ports) this.logs.setPortLogs(id, await this.call('get_sg_log_info_for_port', { resource_type: 'security_group', port_id: id }));
    await this.syncPorts(ports);
  }

  private async call(method: string, args: JsonObject): Promise<SgLogInfo[]> {
    const server = this.api.server();
    // Not reachable yet: the port is retried by the pass, as any port whose details could not be had.
    if (!server) throw new Error(`${method}: neutron-server is not reachable yet`);
    const res = await server.call(LOGGING_PLUGIN.topic, method, args, { version: LOGGING_PLUGIN.version, namespace: LOGGING_PLUGIN.namespace });
    return parseSgLogInfo(res, method);
  }

  /** The ports' log flows brought up to date in two batches: additions, then deletions. */
  private async syncPorts(portIds: readonly string[]): Promise<void> {
    const br = this.api.intBridge();
    const adds = br.batch();
    const deletes = br.batch();
    for (const id of portIds) this.logs.sync(adds, deletes, id, this.ports.get(id)?.ofport);
    await adds.commit();
    await deletes.commit();
    this.logs.releaseEmpty();
  }

  bridgesReset(): Promise<void> {
    return this.serially('bridges set up again', async () => {
      this.logs.forgetFlows();
      await this.setControllerLimits();
      this.listen();
    });
  }

  audit(): Promise<void> {
    // The Controller rows' limits are checked with the flows' audit; the flows are in it already.
    return this.serially('controller limits audit', () => this.setControllerLimits());
  }

  firstSyncDone(): Promise<void> {
    return Promise.resolve();
  }

  status(): ExtensionStatus {
    const sw = this.api?.intSwitch();
    const pi = sw?.packetInCounters?.();
    return {
      ports: this.logs?.loggedPorts().size ?? 0,
      details: { logs: this.logs?.logCount ?? 0, accept_lines: this.counts.accept, drop_lines: this.counts.drop, unknown_cookie_lines: this.counts.unknownCookie, packet_ins_dropped: pi?.dropped ?? 0 },
      counters: { accept: this.counts.accept, drop: this.counts.drop, unknown_cookie: this.counts.unknownCookie, packet_in_dropped: pi?.dropped ?? 0 },
    };
  }

  async stop(): Promise<void> {
    clearTimeout(this.rulesTimer);
    clearTimeout(this.retryTimer);
    this.unsubscribe?.();
    await this.queue;
    this.lines?.close();
  }

  private serially(what: string, fn: () => Promise<void>, rethrow = false): Promise<void> {
    const run = this.queue.then(fn);
    this.queue = run.catch(() => undefined);
    if (rethrow) return run;
    run.catch((e: unknown) => LOG.error(`log: ${what}`, e));
    return Promise.resolve();
  }
}
