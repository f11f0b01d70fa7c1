// What an agent costs the control plane: CPU seconds of the lab's neutron-server (its workers
// included), RabbitMQ and MariaDB read from /proc, and the RPC messages on the broker counted by
// method from a queue of our own bound beside the server's. The broker sees both agents alike, so
// the counts do not depend on either agent's own bookkeeping.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import * as amqp from 'amqplib';
import type { NeutronLab } from '../lab/neutron.js';
import { decodeEnvelope, isJsonObject, type JsonObject } from '../src/rpc/envelope.js';
import { cpuSeconds } from './lib.js';

export interface ControlPlaneCpu {
  server: number;
  rabbit: number;
  db: number;
}

function pidFile(lab: NeutronLab, file: string): number {
  const n = Number(readFileSync(join(lab.dir, file), 'utf8').trim());
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${join(lab.dir, file)} holds no pid`);
  return n;
}

/** pid and its descendants (neutron-server forks its API and RPC workers). */
function processTree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    let st: string;
    try {
      st = readFileSync(`/proc/${d}/stat`, 'utf8');
    } catch {
      continue; // gone meanwhile
    }
    const ppid = Number(st.slice(st.lastIndexOf(')') + 2).split(' ')[1]);
    children.set(ppid, [...(children.get(ppid) ?? []), Number(d)]);
  }
  const out: number[] = [];
  const todo = [root];
  while (todo.length) {
    const p = todo.pop()!;
    out.push(p);
    todo.push(...(children.get(p) ?? []));
  }
  return out;
}

/** CPU seconds used so far by the lab's daemons (neutron-server with its workers, RabbitMQ's node, MariaDB). */
export function controlPlaneCpu(lab: NeutronLab): ControlPlaneCpu {
  const tree = (file: string): number => processTree(pidFile(lab, file)).reduce((a, p) => a + cpuSeconds(p), 0);
  return { server: tree('server.pid'), rabbit: tree('rabbit/pid'), db: tree('mysql.pid') };
}

export function cpuDelta(a: ControlPlaneCpu, b: ControlPlaneCpu): ControlPlaneCpu {
  return { server: b.server - a.server, rabbit: b.rabbit - a.rabbit, db: b.db - a.db };
}

/** Topics agents call the server on (exchange `neutron`, routing key = topic). */
const SERVER_TOPICS = ['q-plugin', 'q-reports-plugin'];
/** Fanouts the server casts to every agent (l2population, legacy notifications). */
const AGENT_FANOUTS = [
  'q-agent-notifier-l2population-update',
  'q-agent-notifier-port-update',
  'q-agent-notifier-port-delete',
  'q-agent-notifier-network-update',
  'q-agent-notifier-security_group-update',
  'q-agent-notifier-tunnel-update',
];

/** Messages seen: agent → server calls by method, devices reported, objects pulled, server → agents fanouts. */
export interface RpcTally {
  /** `method` → calls on q-plugin / q-reports-plugin. */
  calls: Record<string, number>;
  /** Devices in update_device_list's devices_up / devices_down, and how many calls asked refresh_tunnels. */
  devicesUp: number;
  devicesDown: number;
  refreshTunnels: number;
  /** bulk_pull calls by resource type. */
  pulls: Record<string, number>;
  /** `<fanout topic>:<method>` → casts the server sent to every agent. */
  fanouts: Record<string, number>;
}

export function emptyTally(): RpcTally {
  return { calls: {}, devicesUp: 0, devicesDown: 0, refreshTunnels: 0, pulls: {}, fanouts: {} };
}

const bump = (r: Record<string, number>, k: string, n = 1): void => {
  r[k] = (r[k] ?? 0) + n;
};

/**
 * A queue of our own on the lab's broker, bound to the server's call topics and to the agent
 * fanouts that exist now (an exchange is made by whoever first uses it; start this once an agent
 * consumes them). Count with `tally`, restart the count with `reset`.
 */
export class BrokerTap {
  tally: RpcTally = emptyTally();
  /** Messages that could not be decoded (should stay 0: a tap that misreads counts nothing). */
  undecoded = 0;
  /** When the last message other than a state report went by (performance.now()). */
  lastWork = performance.now();

  private constructor(private readonly conn: amqp.ChannelModel) {}

  static async start(lab: NeutronLab): Promise<BrokerTap> {
    const conn = await amqp.connect(lab.transportUrl.replace(/^rabbit:/, 'amqp:'));
    const tap = new BrokerTap(conn);
    try {
      const ch = await conn.createChannel();
      const { queue } = await ch.assertQueue('', { exclusive: true, autoDelete: true });
      for (const t of SERVER_TOPICS) await ch.bindQueue(queue, 'neutron', t);
      for (const f of AGENT_FANOUTS) {
        // checkExchange closes its channel when the exchange is missing: ask on a throwaway one.
        const probe = await conn.createChannel();
        probe.on('error', () => undefined);
        const exists = await probe.checkExchange(`${f}_fanout`).then(() => true, () => false);
        if (exists) {
          await probe.close();
          await ch.bindQueue(queue, `${f}_fanout`, '');
        }
      }
      await ch.consume(queue, (m) => m && tap.count(m.fields.exchange, m.content), { noAck: true });
    } catch (e) {
      await conn.close().catch(() => undefined);
      throw new Error(`tapping the lab's broker: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
    }
    return tap;
  }

  /** Waits until nothing but state reports went by for `quietMs` (an agent done with its work), at most `timeoutMs`. */
  async quiet(quietMs: number, timeoutMs: number): Promise<void> {
    const end = performance.now() + timeoutMs;
    while (performance.now() - this.lastWork < quietMs) {
      if (performance.now() > end) throw new Error(`the broker never went quiet for ${quietMs} ms within ${timeoutMs} ms: ${JSON.stringify(this.tally)}`);
      await new Promise((r) => setTimeout(r, 500));
    }
  }

  reset(): RpcTally {
    const t = this.tally;
    this.tally = emptyTally();
    return t;
  }

  private count(exchange: string, body: Buffer): void {
    let msg: JsonObject;
    try {
      msg = decodeEnvelope(body);
    } catch {
      this.undecoded++;
      return;
    }
    const method = typeof msg['method'] === 'string' ? msg['method'] : '?';
    if (method !== 'report_state') this.lastWork = performance.now();
    const args = isJsonObject(msg['args']) ? msg['args'] : {};
    if (exchange.endsWith('_fanout')) {
      bump(this.tally.fanouts, `${exchange.slice(0, -'_fanout'.length)}:${method}`);
      return;
    }
    bump(this.tally.calls, method);
    if (method === 'update_device_list') {
      this.tally.devicesUp += Array.isArray(args['devices_up']) ? args['devices_up'].length : 0;
      this.tally.devicesDown += Array.isArray(args['devices_down']) ? args['devices_down'].length : 0;
      if (args['refresh_tunnels'] === true) this.tally.refreshTunnels++;
    } else if (method === 'bulk_pull') {
      bump(this.tally.pulls, typeof args['resource_type'] === 'string' ? args['resource_type'] : '?');
    }
  }

  async stop(): Promise<void> {
    await this.conn.close();
  }
}
