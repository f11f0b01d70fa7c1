// Traffic between VMs (network namespaces) for the demo and firewall tests: TCP/UDP listeners, probes that tell
// an accepted connection from a refused or a silently dropped one, and long-lived TCP streams that
// show when an established connection is cut. Each side is a small node process run inside the
// VM's namespace, so nothing beyond iproute2 and node is needed.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import type { Vm } from './vm.js';

const run = promisify(execFile);

/** What a VM listens on: every TCP port accepts and echoes, every UDP port echoes datagrams. */
const LISTENER = `
const net = require('node:net'), dgram = require('node:dgram');
const [tcp, udp, family] = JSON.parse(process.argv[1]);
const host = family === 6 ? '::' : '0.0.0.0';
let pending = tcp.length + udp.length;
const ready = () => { if (--pending === 0) process.stdout.write('ready\\n'); };
for (const p of tcp) net.createServer((s) => { s.on('error', () => {}); s.pipe(s); }).listen({ port: p, host, ipv6Only: family === 6 }, ready);
for (const p of udp) { const u = dgram.createSocket(family === 6 ? 'udp6' : 'udp4'); u.on('message', (m, r) => u.send(m, r.port, r.address)); u.bind(p, host, ready); }
if (pending === 0) process.stdout.write('ready\\n');
`;

const TCP_PROBE = `
const net = require('node:net');
const [host, port, ms, srcPort] = JSON.parse(process.argv[1]);
const s = net.connect({ host, port, ...(srcPort ? { localPort: srcPort } : {}) });
const done = (r) => { process.stdout.write(r); process.exit(0); };
s.setTimeout(ms, () => done('timeout'));
s.on('connect', () => { s.write('x'); });
s.on('data', () => done('connected'));
s.on('error', (e) => done(e.code === 'ECONNREFUSED' ? 'refused' : 'error:' + e.code));
`;

const UDP_PROBE = `
const dgram = require('node:dgram');
const [host, port, ms, family, srcPort] = JSON.parse(process.argv[1]);
const u = dgram.createSocket(family === 6 ? 'udp6' : 'udp4');
const done = (r) => { process.stdout.write(r); process.exit(0); };
u.on('message', () => done('reply'));
u.on('error', (e) => done('error:' + e.code));
setTimeout(() => done('timeout'), ms);
u.bind(srcPort || 0, () => u.connect(port, host, () => u.send('x')));
`;

/** A connection kept open, one line every 100 ms, counting the echoes that come back. */
const STREAM = `
const net = require('node:net');
const [host, port] = JSON.parse(process.argv[1]);
const s = net.connect({ host, port });
s.on('connect', () => { process.stdout.write('connected\\n'); setInterval(() => s.write('x'), 100); });
s.on('data', (d) => process.stdout.write('echo ' + d.length + '\\n'));
s.on('error', (e) => { process.stdout.write('error ' + e.code + '\\n'); process.exit(0); });
s.on('close', () => { process.stdout.write('closed\\n'); process.exit(0); });
`;

function nodeIn(vm: Pick<Vm, 'netns'>, script: string, arg: unknown): ChildProcess {
  return spawn('ip', ['netns', 'exec', vm.netns, process.execPath, '-e', script, JSON.stringify(arg)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** Listeners in a VM; stop() ends them. */
export class Listener {
  private constructor(private readonly child: ChildProcess) {}

  static async start(vm: Pick<Vm, 'netns'>, ports: { tcp?: number[]; udp?: number[]; family?: 4 | 6 }): Promise<Listener> {
    const child = nodeIn(vm, LISTENER, [ports.tcp ?? [], ports.udp ?? [], ports.family ?? 4]);
    let out = '';
    let err = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`listener in ${vm.netns} not ready: ${err}`)), 10000);
      child.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('ready')) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
      child.on('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`listener in ${vm.netns} exited ${String(code)}: ${err}`));
      });
    });
    return new Listener(child);
  }

  stop(): void {
    if (this.child.exitCode === null) this.child.kill('SIGKILL');
  }
}

export type TcpResult = 'connected' | 'refused' | 'timeout' | `error:${string}`;
export type UdpResult = 'reply' | 'timeout' | `error:${string}`;

async function probe(vm: Pick<Vm, 'netns'>, script: string, arg: unknown, timeoutMs: number): Promise<string> {
  const { stdout } = await run('ip', ['netns', 'exec', vm.netns, process.execPath, '-e', script, JSON.stringify(arg)], {
    timeout: timeoutMs + 5000,
  });
  return stdout.trim();
}

/** Opens a TCP connection and exchanges one byte: connected, refused (RST) or timeout (dropped). */
export async function probeTcp(from: Pick<Vm, 'netns'>, host: string, port: number, opts: { timeoutMs?: number; srcPort?: number } = {}): Promise<TcpResult> {
  const ms = opts.timeoutMs ?? 1500;
  return (await probe(from, TCP_PROBE, [host, port, ms, opts.srcPort ?? 0], ms)) as TcpResult;
}

/** Sends one datagram to an echo listener: reply or timeout. */
export async function probeUdp(from: Pick<Vm, 'netns'>, host: string, port: number, opts: { timeoutMs?: number; srcPort?: number } = {}): Promise<UdpResult> {
  const ms = opts.timeoutMs ?? 1500;
  const family = host.includes(':') ? 6 : 4;
  return (await probe(from, UDP_PROBE, [host, port, ms, family, opts.srcPort ?? 0], ms)) as UdpResult;
}

/** A long-lived TCP connection: `echoes` grows while traffic passes; `lastEchoAt` tells when it stopped. */
export class TcpStream {
  echoes = 0;
  lastEchoAt = 0;
  connected = false;
  ended = false;
  private constructor(private readonly child: ChildProcess) {
    let buf = '';
    child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        if (line === 'connected') this.connected = true;
        else if (line.startsWith('echo')) {
          this.echoes++;
          this.lastEchoAt = Date.now();
        } else this.ended = true;
      }
    });
    child.on('exit', () => (this.ended = true));
  }

  static open(from: Vm, host: string, port: number): TcpStream {
    return new TcpStream(nodeIn(from, STREAM, [host, port]));
  }

  close(): void {
    if (this.child.exitCode === null) this.child.kill('SIGKILL');
  }
}

/** Pings over IPv6; resolves to the number of replies. */
export async function ping6(from: Vm, to: string, count = 3, timeoutSec = 5): Promise<number> {
  try {
    const { stdout } = await run('ip', ['netns', 'exec', from.netns, 'ping', '-6', '-n', '-q', '-c', String(count), '-i', '0.2', '-w', String(timeoutSec), to]);
    return Number(/(\d+) (?:packets )?received/.exec(stdout)?.[1] ?? 0);
  } catch (e) {
    const out = (e as { stdout?: string }).stdout ?? '';
    const m = /(\d+) (?:packets )?received/.exec(out);
    if (!m) throw new Error(`ping -6 ${to} from ${from.netns}: ${String(e)}`);
    return Number(m[1]);
  }
}

interface IperfJson {
  end: { sum_received?: { bits_per_second: number }; sum?: { packets?: number; lost_packets?: number; seconds?: number } };
}

/** An iperf3 server in a VM, on its address; stop() ends it. */
export class Iperf3Server {
  private constructor(private readonly child: ChildProcess) {}
  static async start(vm: Vm): Promise<Iperf3Server> {
    // --forceflush: iperf3 buffers its stdout into a pipe, and 'listening' would never arrive.
    const child = spawn('ip', ['netns', 'exec', vm.netns, 'iperf3', '-s', '-B', vm.ip, '--forceflush'], { stdio: ['ignore', 'pipe', 'pipe'] });
    await new Promise<void>((resolve, reject) => {
      // A server that never says it listens is ended, not left running with the test waiting on it.
      const t = setTimeout(() => {
        child.kill();
        reject(new Error(`iperf3 server in ${vm.netns} did not start within 5 s (is iperf3 installed?)`));
      }, 5000);
      child.stdout!.on('data', (b: Buffer) => {
        if (b.toString().includes('listening')) {
          clearTimeout(t);
          resolve();
        }
      });
      child.once('exit', (code) => reject(new Error(`iperf3 server in ${vm.netns} exited (${code})`)));
    });
    return new Iperf3Server(child);
  }
  stop(): void {
    if (this.child.exitCode === null) this.child.kill();
  }
}

/**
 * One iperf3 run from `from` to the Iperf3Server in `to`: Mbit/s received (TCP), or packets/s
 * received (`udpPps`: 64-byte datagrams offered at 20 Mbit/s). The first 2 s of TCP are left out
 * (-O): a token bucket lets its burst through first, and what a limit promises is the rate after
 * that. UDP counts what was lost over the whole run, so it omits nothing.
 */
export async function iperf3(from: Vm, to: Vm, opts: { reverse?: boolean; udpPps?: boolean; seconds?: number } = {}): Promise<number> {
  const omit = opts.udpPps ? [] : ['-O', '2'];
  const args = ['-c', to.ip, '-J', ...omit, '-t', String(opts.seconds ?? 3), ...(opts.reverse ? ['-R'] : []), ...(opts.udpPps ? ['-u', '-b', '20M', '-l', '64'] : [])];
  const out = await from.exec('iperf3', args);
  const r = JSON.parse(out) as IperfJson;
  if (opts.udpPps) {
    const s = r.end.sum;
    if (!s) throw new Error(`iperf3 -u from ${from.netns}: no summary in its output`);
    return ((s.packets ?? 0) - (s.lost_packets ?? 0)) / (s.seconds ?? 1);
  }
  if (!r.end.sum_received) throw new Error(`iperf3 from ${from.netns}: no summary in its output`);
  return r.end.sum_received.bits_per_second / 1e6;
}
