// A real neutron-server 21 (Zed) for the demo, benchmarks and end-to-end tests: scripts/lab/lab.sh (MariaDB, a private
// RabbitMQ, neutron-server with noauth and ML2 openvswitch + l2population, and the QoS and trunk
// service plugins unless turned off)
// on free loopback ports, state in a temporary directory, plus a small REST client for the calls they make.
// Bringing a lab up costs ~15-20 s, mostly RabbitMQ: `npm test` starts one for every test file
// (test/run.ts), which files borrow through lab/host.ts; a file run alone starts its own.
import { execFile, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { randomUUID } from 'node:crypto';
import { connect } from 'node:net';
import { freePort } from './ovs.js';
import { checkoutFile } from './checkout.js';

const run = promisify(execFile);

/** The project noauth requests act for; every created resource belongs to it. */
export const LAB_PROJECT = 'lab';

/** Subnets in tests must come from these (RFC 5737 documentation ranges). */
export const DOCUMENTATION_NETS = ['192.0.2.0/24', '198.51.100.0/24', '203.0.113.0/24'] as const;

function findLabScript(): string {
  return checkoutFile(join('scripts', 'lab', 'lab.sh'));
}

/** Whether neutron-server, MariaDB and RabbitMQ are installed (scripts/lab/install.sh). */
export function haveNeutronLab(): boolean {
  return (
    existsSync('/usr/bin/neutron-server') &&
    existsSync('/usr/sbin/mariadbd') &&
    existsSync('/usr/lib/rabbitmq/bin/rabbitmq-server') &&
    spawnSync('/usr/bin/python3', ['-c', 'import neutron.plugins.ml2.plugin'], { stdio: 'ignore' }).status === 0
  );
}

/**
 * A reason to skip lab tests, or undefined to run them. Skipping is allowed only with
 * OVS_AGENT_ALLOW_SKIP=1: in CI the lab is installed, and a missing one must fail loudly
 * (NeutronLab.start then throws) rather than hide behind a skip.
 */
export function labSkipReason(): string | undefined {
  if (haveNeutronLab()) return undefined;
  if (process.env.OVS_AGENT_ALLOW_SKIP === '1') {
    return 'neutron-server/MariaDB/RabbitMQ not installed (scripts/lab/install.sh); OVS_AGENT_ALLOW_SKIP=1';
  }
  return undefined;
}

export interface NeutronNetwork {
  id: string;
  name: string;
  status: string;
  mtu: number;
  subnets: string[];
  'provider:network_type': string;
  'provider:physical_network': string | null;
  'provider:segmentation_id': number | null;
  /** Present when the lab runs QoS. */
  qos_policy_id?: string | null;
  [k: string]: unknown;
}
export interface NeutronSubnet {
  id: string;
  network_id: string;
  cidr: string;
  gateway_ip: string | null;
  ip_version: number;
  [k: string]: unknown;
}
export interface NeutronFixedIp {
  subnet_id: string;
  ip_address: string;
}
export interface NeutronPort {
  id: string;
  name: string;
  network_id: string;
  mac_address: string;
  fixed_ips: NeutronFixedIp[];
  status: string;
  admin_state_up: boolean;
  device_owner: string;
  device_id: string;
  'binding:host_id': string;
  'binding:vif_type': string;
  'binding:vif_details': Record<string, unknown>;
  /** Present when the lab runs QoS: the port's own policy, and its network's (read only). */
  qos_policy_id?: string | null;
  qos_network_policy_id?: string | null;
  [k: string]: unknown;
}
export interface NeutronAgent {
  id: string;
  agent_type: string;
  binary: string;
  host: string;
  topic: string;
  alive: boolean;
  admin_state_up: boolean;
  configurations: Record<string, unknown>;
  [k: string]: unknown;
}

export interface ProviderSpec {
  network_type: 'flat' | 'vlan' | 'vxlan' | 'gre' | 'geneve';
  physical_network?: string;
  segmentation_id?: number;
}

/** Direction of a rule that limits or guarantees one way of a port's traffic (egress: from the VM). */
export type QosDirection = 'egress' | 'ingress';

/** What a client sets for each QoS rule type (neutron's API names), by type. */
export interface QosRuleFields {
  bandwidth_limit: { max_kbps: number; max_burst_kbps?: number; direction?: QosDirection };
  dscp_marking: { dscp_mark: number };
  minimum_bandwidth: { min_kbps: number; direction?: QosDirection };
  packet_rate_limit: { max_kpps: number; max_burst_kpps?: number; direction?: QosDirection };
  /** `any`: one guarantee for both directions together (placement only; no dataplane effect in OVS). */
  minimum_packet_rate: { min_kpps: number; direction?: QosDirection | 'any' };
}
export type QosRuleType = keyof QosRuleFields;

/** A rule as the API returns it: its fields with neutron's defaults filled in, its id and type. */
export type NeutronQosRule<T extends QosRuleType = QosRuleType> = Required<QosRuleFields[T]> & {
  id: string;
  type?: T;
  [k: string]: unknown;
};

export interface NeutronQosPolicy {
  id: string;
  name: string;
  shared: boolean;
  is_default: boolean;
  /** Every rule of the policy, each with its `type`. */
  rules: Array<NeutronQosRule & { type: QosRuleType }>;
  [k: string]: unknown;
}

export class NeutronApiError extends Error {
  constructor(
    readonly method: string,
    readonly path: string,
    readonly status: number,
    readonly body: string,
  ) {
    super(`neutron API ${method} ${path}: HTTP ${status}: ${body.slice(0, 500)}`);
  }
}

export interface NeutronLabOptions {
  /** State directory; default a fresh temporary one, removed by stop(). A given one is kept. */
  dir?: string;
  rabbitPort?: number;
  apiPort?: number;
  /** neutron's `qos` service plugin and ml2 `qos` extension driver (default true, as clouds with QoS). */
  qos?: boolean;
  /** neutron's `local_ip` service plugin (default false): the Local IP API and its pushes. */
  localIp?: boolean;
  /** neutron's `trunk` service plugin, VLAN-aware VMs (default true; lab/trunks.ts drives its API). */
  trunk?: boolean;
  /** neutron's `router` service plugin with `router_distributed = True` (default false): DVR tests. */
  dvr?: boolean;
  /** neutron's `log` service plugin: security-group logging, /v2.0/log/logs (default true). */
  log?: boolean;
}

export class NeutronLab {
  private stopping: Promise<void> | undefined;
  private constructor(
    readonly dir: string,
    private readonly ownDir: boolean,
    readonly rabbitPort: number,
    readonly apiPort: number,
    private readonly env: NodeJS.ProcessEnv,
    /** What `lab.sh up` printed on stderr: per-step timings. */
    readonly startLog: string,
    /** Whether neutron-server runs the QoS service plugin (the /v2.0/qos API and ports' qos_policy_id). */
    readonly qos: boolean,
    /** Whether neutron-server runs the trunk service plugin (/v2.0/trunks). */
    readonly trunk: boolean,
    /** Started by someone else (the test runner) for many users: stop() leaves it running, faults are refused. */
    readonly borrowed = false,
  ) {}

  /** oslo.messaging transport_url of the lab's RabbitMQ (guest, loopback only). */
  get transportUrl(): string {
    return `rabbit://guest:guest@127.0.0.1:${this.rabbitPort}/`;
  }
  get apiUrl(): string {
    return `http://127.0.0.1:${this.apiPort}`;
  }

  static async start(opts: NeutronLabOptions = {}): Promise<NeutronLab> {
    if (!haveNeutronLab()) {
      throw new Error('neutron lab not installed: run `sudo scripts/lab/install.sh` (Debian 12)');
    }
    const script = findLabScript();
    // Short path: MariaDB's unix socket lives in it (108-byte limit).
    const ownDir = opts.dir === undefined;
    const dir = opts.dir ?? mkdtempSync('/tmp/oal-');
    const rabbitPort = opts.rabbitPort ?? (await freePort());
    const apiPort = opts.apiPort ?? (await freePort());
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      LAB_DIR: dir,
      RABBIT_PORT: String(rabbitPort),
      API_PORT: String(apiPort),
      RABBIT_DIST_PORT: String(await freePort()),
      EPMD_PORT: String(await freePort()),
      LAB_QOS: opts.qos === false ? '0' : '1',
      LAB_LOCAL_IP: opts.localIp === true ? '1' : '0',
      LAB_TRUNK: opts.trunk === false ? '0' : '1',
      LAB_DVR: opts.dvr === true ? '1' : '0',
      LAB_LOG: opts.log === false ? '0' : '1',
    };
    try {
      const { stderr } = await run('bash', [script, 'up'], { env, maxBuffer: 1 << 20 });
      const lab = new NeutronLab(dir, ownDir, rabbitPort, apiPort, env, stderr, opts.qos !== false, opts.trunk !== false);
      await lab.waitRpcConsumers();
      return lab;
    } catch (e) {
      const why = e instanceof Error ? e.message : String(e);
      const tail = tailOf(join(dir, 'server.log'), 30);
      await run('bash', [script, 'down'], { env }).catch((d: unknown) => {
        process.stderr.write(`neutron lab: cleanup after failed start failed too: ${String(d)}\n`);
      });
      if (ownDir) rmSync(dir, { recursive: true, force: true });
      throw new Error(`neutron lab did not start in ${dir}: ${why}\n--- server.log tail ---\n${tail}`);
    }
  }

  /**
   * A lab already running in `dir` (its lab.env gives the ports), started by someone else who also
   * stops it: stop() only lets go of it, and stopping or restarting its daemons is refused, since
   * others use it too.
   */
  static attach(dir: string): NeutronLab {
    const envFile = join(dir, 'lab.env');
    let text: string;
    try {
      text = readFileSync(envFile, 'utf8');
    } catch (e) {
      throw new Error(`no neutron lab to attach to in ${dir}: ${e instanceof Error ? e.message : String(e)}`);
    }
    const vars = new Map(text.split('\n').map((l) => l.split('=', 2) as [string, string | undefined]).filter((kv): kv is [string, string] => kv[1] !== undefined));
    const port = (name: string): number => {
      const n = Number(vars.get(name));
      if (!Number.isInteger(n) || n <= 0 || n > 65535) throw new Error(`${envFile}: ${name} is ${String(vars.get(name))}, not a port`);
      return n;
    };
    const env: NodeJS.ProcessEnv = { ...process.env, LAB_DIR: dir };
    // lab.sh records LAB_QOS and LAB_TRUNK; their default (1) stands when it does not.
    const qos = vars.get('LAB_QOS') !== '0';
    const trunk = vars.get('LAB_TRUNK') !== '0';
    return new NeutronLab(dir, false, port('RABBIT_PORT'), port('API_PORT'), env, `(lab in ${dir}, started by another process)`, qos, trunk, true);
  }

  /**
   * The API answering does not mean the server's RPC workers consume yet: on a small machine they
   * finish starting many seconds later, and agent calls (update_device_list) would wait in the
   * queue meanwhile. Ready = q-plugin and q-reports-plugin have consumers.
   */
  async waitRpcConsumers(timeoutMs = 120000): Promise<void> {
    const amqp = await import('amqplib');
    await waitFor(
      async () => {
        const conn = await amqp.connect(this.transportUrl.replace(/^rabbit:/, 'amqp:'));
        try {
          const ch = await conn.createChannel();
          ch.on('error', () => undefined);
          for (const q of ['q-plugin', 'q-reports-plugin']) {
            const { consumerCount } = await ch.checkQueue(q);
            if (consumerCount === 0) return false;
          }
          return true;
        } finally {
          await conn.close().catch(() => undefined);
        }
      },
      timeoutMs,
      "neutron-server's RPC workers consuming q-plugin and q-reports-plugin",
      250,
    );
  }

  /**
   * Stops everything the lab started, once; a second caller (a signal's cleanup racing the run's own `finally`) waits for
   * the same stop, so nobody exits the process while RabbitMQ and MariaDB are still being stopped.
   */
  stop(): Promise<void> {
    this.stopping ??= this.stopOnce();
    return this.stopping;
  }

  private async stopOnce(): Promise<void> {
    if (this.borrowed) return;
    try {
      await run('bash', [findLabScript(), 'down'], { env: this.env });
    } finally {
      if (this.ownDir) rmSync(this.dir, { recursive: true, force: true });
    }
  }

  // ---- faults: stopping and starting the lab's daemons one at a time (resilience tests) ----

  private pidFrom(file: string): number | undefined {
    try {
      const n = Number(readFileSync(join(this.dir, file), 'utf8').trim());
      return Number.isInteger(n) && n > 0 ? n : undefined;
    } catch {
      return undefined;
    }
  }

  private refuseFaultOnBorrowed(what: string): void {
    if (this.borrowed) {
      throw new Error(`${what}: the lab in ${this.dir} is shared with other test files; a file that stops or restarts RabbitMQ or neutron-server must own its lab (startLab({ own: true }) in lab/host.ts)`);
    }
  }

  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. */
  private async stopPid(pid: number | undefined, what: string, graceMs = 20000): Promise<void> {
    this.refuseFaultOnBorrowed(`stopping ${what}`);
    if (pid === undefined) throw new Error(`${what}: no pid file in ${this.dir}`);
    const alive = () => {
      try {
        const st = readFileSync(`/proc/${pid}/stat`, 'utf8');
        return st.slice(st.lastIndexOf(')') + 2)[0] !== 'Z';
      } catch {
        return false;
      }
    };
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      return;
    }
    const end = Date.now() + graceMs;
    while (alive()) {
      if (Date.now() > end) {
        process.kill(pid, 'SIGKILL');
        await new Promise((r) => setTimeout(r, 200));
        break;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  private async portClosed(port: number, timeoutMs: number, what: string): Promise<void> {
    await waitFor(
      () =>
        new Promise<boolean>((resolve) => {
          const s = connect(port, '127.0.0.1');
          s.once('connect', () => (s.destroy(), resolve(false)));
          s.once('error', () => resolve(true));
        }),
      timeoutMs,
      `${what} to release 127.0.0.1:${port}`,
      100,
    );
  }

  /** Stops the lab's RabbitMQ (SIGTERM: the node shuts down and drops every connection). */
  async stopRabbit(): Promise<void> {
    await this.stopPid(this.pidFrom('rabbit/pid'), 'RabbitMQ');
    await this.portClosed(this.rabbitPort, 20000, 'RabbitMQ');
  }

  /** Starts the lab's daemons that are not running (`lab.sh up`); resolves when RabbitMQ and the API answer. */
  async startMissing(): Promise<void> {
    this.refuseFaultOnBorrowed('starting its daemons again');
    await run('bash', [findLabScript(), 'up'], { env: this.env, maxBuffer: 1 << 20 });
  }

  /** Starts RabbitMQ again after stopRabbit(); same port, same state directory. */
  async startRabbit(): Promise<void> {
    await this.startMissing();
  }

  async restartRabbit(): Promise<void> {
    await this.stopRabbit();
    await this.startRabbit();
  }

  /** Stops neutron-server (and its API/RPC workers). */
  async stopServer(): Promise<void> {
    await this.stopPid(this.pidFrom('server.pid'), 'neutron-server');
    await this.portClosed(this.apiPort, 20000, 'neutron-server');
  }

  /** Stops and starts neutron-server; resolves once the API answers again. */
  async restartServer(): Promise<void> {
    await this.stopServer();
    await this.startMissing();
  }

  /** neutron-server's log so far (for assertion messages). */
  serverLog(lines = 50): string {
    return tailOf(join(this.dir, 'server.log'), lines);
  }

  /** One API call with the headers noauth needs; throws NeutronApiError on a non-2xx answer. */
  async api<T = unknown>(method: string, path: string, body?: unknown): Promise<T> {
    let res: Response;
    try {
      res = await fetch(`${this.apiUrl}${path}`, {
        method,
        headers: {
          'X-Project-Id': LAB_PROJECT,
          'X-Roles': 'admin',
          'Content-Type': 'application/json',
          Accept: 'application/json',
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (e) {
      // fetch says only "fetch failed"; the cause (refused, reset, headers timeout after 300 s) is what helps.
      const cause = e instanceof Error && e.cause !== undefined ? `: ${e.cause instanceof Error ? e.cause.message : String(e.cause)}` : '';
      throw new Error(`neutron API ${method} ${path}: ${e instanceof Error ? e.message : String(e)}${cause}`, { cause: e });
    }
    const text = await res.text();
    if (!res.ok) throw new NeutronApiError(method, path, res.status, text);
    return (text ? JSON.parse(text) : undefined) as T;
  }

  /** `external`: `router:external`, a network routers can have their gateway on (needs the router service plugin). */
  async createNetwork(opts: { name: string; provider?: ProviderSpec; shared?: boolean; external?: boolean }): Promise<NeutronNetwork> {
    const network: Record<string, unknown> = { name: opts.name, tenant_id: LAB_PROJECT };
    if (opts.shared !== undefined) network.shared = opts.shared;
    if (opts.external !== undefined) network['router:external'] = opts.external;
    if (opts.provider) {
      network['provider:network_type'] = opts.provider.network_type;
      if (opts.provider.physical_network !== undefined) {
        network['provider:physical_network'] = opts.provider.physical_network;
      }
      if (opts.provider.segmentation_id !== undefined) {
        network['provider:segmentation_id'] = opts.provider.segmentation_id;
      }
    }
    return (await this.api<{ network: NeutronNetwork }>('POST', '/v2.0/networks', { network })).network;
  }

  async createSubnet(networkId: string, cidr: string, opts: { gatewayIp?: string | null; dhcp?: boolean } = {}): Promise<NeutronSubnet> {
    if (!inDocumentationRange(cidr)) {
      throw new Error(`subnet ${cidr} for network ${networkId}: tests use only ${DOCUMENTATION_NETS.join(', ')}`);
    }
    const subnet: Record<string, unknown> = {
      network_id: networkId,
      cidr,
      ip_version: 4,
      tenant_id: LAB_PROJECT,
      enable_dhcp: opts.dhcp ?? false,
    };
    if (opts.gatewayIp !== undefined) subnet.gateway_ip = opts.gatewayIp;
    return (await this.api<{ subnet: NeutronSubnet }>('POST', '/v2.0/subnets', { subnet })).subnet;
  }

  /** A router of the lab's project (`distributed: true` for DVR; `external_gateway_info` for a gateway). */
  async createRouter(fields: Record<string, unknown> = {}): Promise<{ id: string }> {
    return (await this.api<{ router: { id: string } }>('POST', '/v2.0/routers', { router: { name: 'lab-router', tenant_id: LAB_PROJECT, ...fields } })).router;
  }
  /** The router's interface on the subnet; returns the interface's port id. */
  async addRouterInterface(routerId: string, subnetId: string): Promise<{ port_id: string }> {
    return this.api<{ port_id: string }>('PUT', `/v2.0/routers/${routerId}/add_router_interface`, { subnet_id: subnetId });
  }

  /** A port as Nova would create it for an instance (device_owner compute:nova). */
  async createPort(
    networkId: string,
    opts: { name?: string; host?: string; deviceOwner?: string; deviceId?: string; portSecurity?: boolean } = {},
  ): Promise<NeutronPort> {
    const port: Record<string, unknown> = {
      network_id: networkId,
      tenant_id: LAB_PROJECT,
      name: opts.name ?? '',
      device_owner: opts.deviceOwner ?? 'compute:nova',
      device_id: opts.deviceId ?? randomUUID(),
    };
    if (opts.host !== undefined) port['binding:host_id'] = opts.host;
    if (opts.portSecurity !== undefined) port.port_security_enabled = opts.portSecurity;
    return (await this.api<{ port: NeutronPort }>('POST', '/v2.0/ports', { port })).port;
  }

  async updatePort(id: string, fields: Record<string, unknown>): Promise<NeutronPort> {
    return (await this.api<{ port: NeutronPort }>('PUT', `/v2.0/ports/${id}`, { port: fields })).port;
  }
  async getPort(id: string): Promise<NeutronPort> {
    return (await this.api<{ port: NeutronPort }>('GET', `/v2.0/ports/${id}`)).port;
  }
  async deletePort(id: string): Promise<void> {
    await this.api('DELETE', `/v2.0/ports/${id}`);
  }
  async listPorts(query = ''): Promise<NeutronPort[]> {
    return (await this.api<{ ports: NeutronPort[] }>('GET', `/v2.0/ports${query ? `?${query}` : ''}`)).ports;
  }
  async listNetworks(): Promise<NeutronNetwork[]> {
    return (await this.api<{ networks: NeutronNetwork[] }>('GET', '/v2.0/networks')).networks;
  }
  async listSubnets(): Promise<NeutronSubnet[]> {
    return (await this.api<{ subnets: NeutronSubnet[] }>('GET', '/v2.0/subnets')).subnets;
  }
  async deleteNetwork(id: string): Promise<void> {
    await this.api('DELETE', `/v2.0/networks/${id}`);
  }
  async listAgents(): Promise<NeutronAgent[]> {
    return (await this.api<{ agents: NeutronAgent[] }>('GET', '/v2.0/agents')).agents;
  }

  // ---- QoS (the lab's default; refused with a clear error on a lab started with qos: false) ----

  private qosApi(method: string, path: string): void {
    if (!this.qos) throw new Error(`neutron API ${method} ${path}: the lab in ${this.dir} runs without the QoS service plugin (started with qos: false)`);
  }

  async createQosPolicy(name: string, opts: { shared?: boolean; description?: string } = {}): Promise<NeutronQosPolicy> {
    this.qosApi('POST', '/v2.0/qos/policies');
    const policy: Record<string, unknown> = { name, tenant_id: LAB_PROJECT };
    if (opts.shared !== undefined) policy.shared = opts.shared;
    if (opts.description !== undefined) policy.description = opts.description;
    return (await this.api<{ policy: NeutronQosPolicy }>('POST', '/v2.0/qos/policies', { policy })).policy;
  }
  async getQosPolicy(id: string): Promise<NeutronQosPolicy> {
    this.qosApi('GET', `/v2.0/qos/policies/${id}`);
    return (await this.api<{ policy: NeutronQosPolicy }>('GET', `/v2.0/qos/policies/${id}`)).policy;
  }
  async listQosPolicies(): Promise<NeutronQosPolicy[]> {
    this.qosApi('GET', '/v2.0/qos/policies');
    return (await this.api<{ policies: NeutronQosPolicy[] }>('GET', '/v2.0/qos/policies')).policies;
  }
  /** Refused by neutron (HTTP 409) while a port or network uses the policy. */
  async deleteQosPolicy(id: string): Promise<void> {
    this.qosApi('DELETE', `/v2.0/qos/policies/${id}`);
    await this.api('DELETE', `/v2.0/qos/policies/${id}`);
  }

  /** POST /v2.0/qos/policies/{policy}/{type}_rules; the answer has neutron's defaults filled in. */
  async createQosRule<T extends QosRuleType>(policyId: string, type: T, fields: QosRuleFields[T]): Promise<NeutronQosRule<T>> {
    const path = `/v2.0/qos/policies/${policyId}/${type}_rules`;
    this.qosApi('POST', path);
    // noauth wants the project on every create, rules included.
    const answer = await this.api<Record<string, NeutronQosRule<T> | undefined>>('POST', path, { [`${type}_rule`]: { ...fields, tenant_id: LAB_PROJECT } });
    return ruleOf(answer, type, 'POST', path);
  }
  async updateQosRule<T extends QosRuleType>(policyId: string, type: T, ruleId: string, fields: Partial<QosRuleFields[T]>): Promise<NeutronQosRule<T>> {
    const path = `/v2.0/qos/policies/${policyId}/${type}_rules/${ruleId}`;
    this.qosApi('PUT', path);
    const answer = await this.api<Record<string, NeutronQosRule<T> | undefined>>('PUT', path, { [`${type}_rule`]: fields });
    return ruleOf(answer, type, 'PUT', path);
  }
  async deleteQosRule(policyId: string, type: QosRuleType, ruleId: string): Promise<void> {
    const path = `/v2.0/qos/policies/${policyId}/${type}_rules/${ruleId}`;
    this.qosApi('DELETE', path);
    await this.api('DELETE', path);
  }

  /** The port's own policy (null: none; the network's policy then applies to it). */
  async setPortQosPolicy(portId: string, policyId: string | null): Promise<NeutronPort> {
    this.qosApi('PUT', `/v2.0/ports/${portId}`);
    return this.updatePort(portId, { qos_policy_id: policyId });
  }
  /** The network's policy: applies to its ports without a policy of their own (except network-owned ports). */
  async setNetworkQosPolicy(networkId: string, policyId: string | null): Promise<NeutronNetwork> {
    const path = `/v2.0/networks/${networkId}`;
    this.qosApi('PUT', path);
    return (await this.api<{ network: NeutronNetwork }>('PUT', path, { network: { qos_policy_id: policyId } })).network;
  }

  /** Polls `check` until it returns a value other than false/undefined/null. */
  async waitFor<T>(
    check: () => Promise<T | false | undefined | null> | T | false | undefined | null,
    timeoutMs: number,
    what = 'condition',
    intervalMs = 200,
  ): Promise<T> {
    return waitFor(check, timeoutMs, what, intervalMs);
  }
}

function ruleOf<T extends QosRuleType>(answer: Record<string, NeutronQosRule<T> | undefined>, type: T, method: string, path: string): NeutronQosRule<T> {
  const rule = answer[`${type}_rule`];
  if (rule === undefined) throw new Error(`neutron API ${method} ${path}: the answer has no ${type}_rule: ${JSON.stringify(answer).slice(0, 300)}`);
  return rule;
}

/** Polls `check` until it returns a value other than false/undefined/null, or throws after timeoutMs. */
export async function waitFor<T>(
  check: () => Promise<T | false | undefined | null> | T | false | undefined | null,
  timeoutMs: number,
  what = 'condition',
  intervalMs = 200,
): Promise<T> {
  const end = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== false && v !== undefined && v !== null) return v;
      lastError = undefined;
    } catch (e) {
      lastError = e; // e.g. the API not answering yet; report it if time runs out
    }
    if (Date.now() >= end) {
      const cause = lastError instanceof Error ? `: last error: ${lastError.message}` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${cause}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** Polls `probe` until it gives `want`; the failure names the last value seen (and `detail()`, if given). */
export async function waitForValue<T>(
  what: string,
  probe: () => Promise<T>,
  want: T,
  timeoutMs: number,
  detail: () => string = () => '',
  intervalMs = 200,
): Promise<void> {
  let last: T | undefined;
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    last = await probe();
    if (last === want) return;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(`${what}: expected ${String(want)}, still ${String(last)} after ${timeoutMs} ms${detail()}`);
}

function ipv4ToInt(ip: string): number {
  const p = ip.split('.').map(Number);
  if (p.length !== 4 || p.some((x) => !Number.isInteger(x) || x < 0 || x > 255)) throw new Error(`bad IPv4 address ${ip}`);
  return ((p[0]! << 24) | (p[1]! << 16) | (p[2]! << 8) | p[3]!) >>> 0;
}

/** True when `cidr` lies inside one of the RFC 5737 documentation /24s. */
export function inDocumentationRange(cidr: string): boolean {
  const [addr, lenText] = cidr.split('/');
  const len = Number(lenText);
  if (!addr || !Number.isInteger(len) || len < 24 || len > 32) return false;
  const a = ipv4ToInt(addr);
  return DOCUMENTATION_NETS.some((n) => (ipv4ToInt(n.split('/')[0]!) >>> 8) === a >>> 8);
}

function tailOf(file: string, lines: number): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return `(no ${file})`;
  }
}
