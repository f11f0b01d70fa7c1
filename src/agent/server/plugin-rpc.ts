// The agent's conversation with neutron-server (rpc.md §3-4): the calls it makes, and the topics
// it consumes, on one AMQP connection that reconnects by itself.
import { AmqpConnection, PING_ENDPOINT, RpcClient, RpcServer, redactTransportUrl, type ExchangeOptions, type QueueArgumentSettings, type RpcEndpoint } from '../../rpc/index.js';
import type { JsonObject, JsonValue } from '../../util/json.js';
import {
  parseDeviceListResult,
  parseFdbIpChanges,
  parseFdbNetworks,
  parseTunnelSync,
  type DeviceListResult,
  type FdbIpChange,
  type FdbNetwork,
} from './rpc-payloads.js';
import type { AgentSettings } from '../settings.js';
import { subscribedResourceVersions } from './resource-cache.js';
import { BUILTIN_EXTENSIONS } from '../../extensions/registry.js';
import type { ExtensionRpcEndpoint } from '../../extensions/seam.js';
import { getLogger } from '../../util/log.js';
import { timedRpc } from '../status/metrics.js';
import { enforceFipsMode } from '../../config/tls.js';

const LOG = getLogger('agent.rpc');

export const TOPIC = {
  PLUGIN: 'q-plugin',
  REPORTS: 'q-reports-plugin',
  TUNNEL_UPDATE: 'q-agent-notifier-tunnel-update',
  TUNNEL_DELETE: 'q-agent-notifier-tunnel-delete',
  L2POP_UPDATE: 'q-agent-notifier-l2population-update',
} as const;

export interface AgentEndpoints {
  tunnelUpdate(tunnelIp: string, tunnelType: string): Promise<void>;
  tunnelDelete(tunnelIp: string, tunnelType: string): Promise<void>;
  /** `forThisHost`: the message names no host, or this one. */
  addFdbEntries(networks: FdbNetwork[], forThisHost: boolean): Promise<void>;
  removeFdbEntries(networks: FdbNetwork[], forThisHost: boolean): Promise<void>;
  updateFdbEntries(changes: FdbIpChange[], forThisHost: boolean): Promise<void>;
  push(resourceList: JsonValue, eventType: string): void;
  /** Topics the extensions consume (DVR: q-agent-notifier-dvr-update). */
  extensionEndpoints?: readonly ExtensionRpcEndpoint[];
}

/**
 * How `[oslo_messaging_rabbit]` shapes what the agent declares, as oslo.messaging's rabbit driver
 * does: the control exchange (and topic queues) durable with amqp_durable_queues or quorum queues,
 * auto-deleted with amqp_auto_delete; queue arguments for HA or quorum queues.
 */
export function brokerLayout(r: AgentSettings['rabbit']): { exchangeOptions: ExchangeOptions; queueArguments: QueueArgumentSettings } {
  return {
    exchangeOptions: { durable: r.amqpDurableQueues || r.queueArguments.quorum !== undefined, autoDelete: r.amqpAutoDelete },
    queueArguments: r.queueArguments,
  };
}

export class PluginRpc {
  readonly connection: AmqpConnection;
  private client?: RpcClient;
  private servers: RpcServer[] = [];

  /** Throws when [oslo_messaging_rabbit] ssl_enforce_fips_mode cannot be honoured. */
  constructor(private readonly settings: AgentSettings) {
    if (settings.rabbit.enforceFipsMode) {
      enforceFipsMode();
      LOG.info('Enforcing the use of the OpenSSL FIPS mode');
    }
    this.connection = new AmqpConnection({
      transportUrl: settings.transportUrl,
      loginMethod: settings.rabbit.loginMethod,
      heartbeatTimeoutThresholdSec: settings.rabbit.heartbeatTimeoutThresholdSec,
      retryIntervalSec: settings.rabbit.retryIntervalSec,
      retryBackoffSec: settings.rabbit.retryBackoffSec,
      intervalMaxSec: settings.rabbit.intervalMaxSec,
      ...(settings.rabbit.tls ? { tls: settings.rabbit.tls } : {}),
      prefetchCount: settings.rabbit.prefetchCount,
      cancelOnHaFailover: settings.rabbit.cancelOnHaFailover,
      purpose: 'neutron-openvswitch-agent',
    });
  }

  get url(): string {
    return redactTransportUrl(this.settings.transportUrl);
  }

  /** Connect (retrying forever, in the background) and set up the client and the consumers. */
  async start(endpoints: AgentEndpoints): Promise<void> {
    LOG.info(`connecting to the message bus at ${this.url}`);
    const layout = brokerLayout(this.settings.rabbit);
    this.client = await RpcClient.create({
      connection: this.connection,
      exchange: this.settings.controlExchange,
      exchangeOptions: layout.exchangeOptions,
      rpcResponseTimeoutSec: this.settings.rpcResponseTimeoutSec,
      rpcResponseMaxTimeoutSec: this.settings.rpcResponseMaxTimeoutSec,
      transientQueuesTtlSec: this.settings.rabbit.transientQueuesTtlSec,
      queueArguments: layout.queueArguments,
    });
    const str = (v: JsonValue | undefined): string => (typeof v === 'string' ? v : '');
    const forThisHost = (host: JsonValue | undefined) => host === undefined || host === null || host === this.settings.host;
    const pushEndpoint: RpcEndpoint = {
      version: '1.1',
      methods: {
        push: (_ctx, args) => endpoints.push(args['resource_list'] ?? null, str(args['event_type'])),
      },
    };
    const agentEndpoint: RpcEndpoint = {
      version: '1.7',
      methods: {
        tunnel_update: (_ctx, a) => endpoints.tunnelUpdate(str(a['tunnel_ip']), str(a['tunnel_type'])),
        tunnel_delete: (_ctx, a) => endpoints.tunnelDelete(str(a['tunnel_ip']), str(a['tunnel_type'])),
        add_fdb_entries: (_ctx, a) => endpoints.addFdbEntries(parseFdbNetworks(a['fdb_entries'] ?? null, 'add_fdb_entries'), forThisHost(a['host'])),
        remove_fdb_entries: (_ctx, a) => endpoints.removeFdbEntries(parseFdbNetworks(a['fdb_entries'] ?? null, 'remove_fdb_entries'), forThisHost(a['host'])),
        update_fdb_entries: (_ctx, a) => endpoints.updateFdbEntries(parseFdbIpChanges(a['fdb_entries'] ?? null), forThisHost(a['host'])),
      },
    };
    const ping = this.settings.rpcPingEnabled ? [PING_ENDPOINT] : [];
    const common = {
      connection: this.connection,
      server: this.settings.host,
      exchange: this.settings.controlExchange,
      exchangeOptions: layout.exchangeOptions,
      transientQueuesTtlSec: this.settings.rabbit.transientQueuesTtlSec,
      queueArguments: layout.queueArguments,
    };
    // The cache's push topics first: objects pushed while we set up the rest are not missed.
    for (const [type, version] of subscribedResourceVersions([...BUILTIN_EXTENSIONS, ...this.settings.extensions])) {
      this.servers.push(await RpcServer.start({ ...common, topic: `neutron-vo-${type}-${version}`, endpoints: [pushEndpoint, ...ping] }));
    }
    const agentTopics: string[] = [TOPIC.TUNNEL_UPDATE, TOPIC.TUNNEL_DELETE];
    if (this.settings.l2Population) agentTopics.push(TOPIC.L2POP_UPDATE);
    for (const topic of agentTopics) {
      this.servers.push(await RpcServer.start({ ...common, topic, endpoints: [agentEndpoint, ...ping] }));
    }
    for (const e of endpoints.extensionEndpoints ?? []) {
      const methods = Object.fromEntries(Object.entries(e.methods).map(([name, fn]) => [name, (_ctx: unknown, args: JsonObject) => fn(args)]));
      this.servers.push(await RpcServer.start({ ...common, topic: e.topic, endpoints: [{ version: e.version, methods }, ...ping] }));
    }
    await this.connection.start();
  }

  private rpc(): RpcClient {
    if (!this.client) throw new Error('RPC used before start()');
    return this.client;
  }

  async reportState(state: JsonObject, timeoutSec: number): Promise<JsonValue> {
    return timedRpc('report_state', () =>
      this.rpc().call(TOPIC.REPORTS, 'report_state', { agent_state: { agent_state: state }, time: pyUtcNow() }, { version: '1.2', timeoutSec }),
    );
  }

  /** The tunnel endpoints the server knows (their IPs). */
  async tunnelSync(tunnelIp: string, tunnelType: string): Promise<string[]> {
    const res = await timedRpc('tunnel_sync', () =>
      this.rpc().call(TOPIC.PLUGIN, 'tunnel_sync', { tunnel_ip: tunnelIp, tunnel_type: tunnelType, host: this.settings.host }, { version: '1.4' }),
    );
    return parseTunnelSync(res);
  }

  async updateDeviceList(up: string[], down: string[], refreshTunnels: boolean): Promise<DeviceListResult> {
    const res = await timedRpc('update_device_list', () =>
      this.rpc().call(
        TOPIC.PLUGIN,
        'update_device_list',
        { devices_up: up, devices_down: down, agent_id: `ovs-agent-${this.settings.host}`, host: this.settings.host, refresh_tunnels: refreshTunnels },
        { version: '1.9' },
      ),
    );
    return parseDeviceListResult(res);
  }

  /** A call an extension makes (its own topic and namespace), timed under the method's name. */
  async call(topic: string, method: string, args: JsonObject, opts: { version: string; namespace?: string | null }): Promise<JsonValue> {
    return timedRpc(method, () => this.rpc().call(topic, method, args, { version: opts.version, namespace: opts.namespace ?? null }));
  }

  async bulkPull(resourceType: string, version: string, filter: JsonObject): Promise<JsonValue> {
    return timedRpc('bulk_pull', () =>
      this.rpc().call(TOPIC.PLUGIN, 'bulk_pull', { resource_type: resourceType, version, filter_kwargs: filter }, { version: '1.1' }),
    );
  }

  capTimeouts(sec: number): void {
    this.client?.capTimeouts(sec);
  }

  async stop(): Promise<void> {
    for (const s of this.servers) await s.stop().catch((e: unknown) => LOG.debug(`stopping RPC server ${s.topic}: ${String(e)}`));
    await this.client?.close();
    await this.connection.close();
  }
}

/** `%Y-%m-%dT%H:%M:%S.%f` in UTC, the format the server parses report times with. */
export function pyUtcNow(d: Date = new Date()): string {
  return d.toISOString().replace('Z', '').replace(/\.(\d{3})$/, '.$1000');
}
