// The ovs-ofctl backend: flows go to the bridge as text through ovs-ofctl, one process per batch.
// A batch is written with `--bundle`, so the switch applies all of it or none of it: a pipeline
// is never half-installed, and 10 000 flows cost one process, not 10 000.
import { spawn } from 'node:child_process';
import type { FlowMod, FlowStats, PortDesc } from '../flow.js';
import { formatFlowModLine, formatFilter } from '../text.js';
import { OpenFlowError, type OpenFlowBackend, type OpenFlowSwitch, type StatsFilter } from '../backend.js';
import { getLogger } from '../../util/log.js';

const LOG = getLogger('openflow.ofctl');

export interface OfctlOptions {
  /** The ovs-ofctl binary (default: from PATH). */
  binary?: string;
  /** Seconds before an ovs-ofctl run is abandoned (ovs-ofctl --timeout). */
  timeoutSec: number;
  /** Environment for ovs-ofctl (OVS_RUNDIR decides where the bridges' .mgmt sockets are). */
  env?: NodeJS.ProcessEnv;
}

interface RunResult {
  stdout: string;
  stderr: string;
  code: number | null;
}

function runOfctl(opts: OfctlOptions, args: string[], stdin?: string): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(opts.binary ?? 'ovs-ofctl', [`--timeout=${opts.timeoutSec}`, ...args], {
      env: opts.env ?? process.env,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', reject);
    child.on('close', (code) =>
      resolve({ stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8'), code }),
    );
    child.stdin.on('error', () => {
      // EPIPE when ovs-ofctl exits early (bridge missing); its stderr says why, reported on close.
    });
    child.stdin.end(stdin ?? '');
  });
}

/** Parse one `dump-flows` line: `cookie=0x1, duration=1.2s, table=0, n_packets=0, n_bytes=0, priority=3,... actions=...`. */
export function parseDumpFlowsLine(line: string): FlowStats | undefined {
  const l = line.trim();
  if (!l || l.startsWith('OFPST_') || l.startsWith('NXST_')) return undefined;
  const field = (name: string): string | undefined => {
    const m = new RegExp(`(?:^|[ ,])${name}=([^, ]+)`).exec(l.split(' actions=')[0] ?? l);
    return m?.[1];
  };
  const cookie = field('cookie');
  const duration = field('duration');
  return {
    table: Number(field('table') ?? 0),
    priority: Number(field('priority') ?? 32768),
    cookie: cookie ? BigInt(cookie) : 0n,
    packetCount: BigInt(field('n_packets') ?? 0),
    byteCount: BigInt(field('n_bytes') ?? 0),
    durationSec: duration ? Number.parseFloat(duration) : 0,
    idleTimeout: Number(field('idle_timeout') ?? 0),
    hardTimeout: Number(field('hard_timeout') ?? 0),
  };
}

/** Parse `dump-ports-desc` output lines like ` 1(patch-tun): addr:aa:bb:cc:dd:ee:ff`. */
export function parsePortsDesc(text: string): PortDesc[] {
  const ports: PortDesc[] = [];
  const re = /^\s*(\d+|LOCAL)\(([^)]+)\): addr:([0-9a-f:]{17})/gm;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    ports.push({ portNo: m[1] === 'LOCAL' ? 0xfffffffe : Number(m[1]), name: m[2]!, hwAddr: m[3]! });
  }
  return ports;
}

class OfctlSwitch implements OpenFlowSwitch {
  constructor(readonly bridge: string, private readonly opts: OfctlOptions) {}

  async apply(mods: FlowMod[]): Promise<void> {
    if (mods.length === 0) return;
    const text = mods.map(formatFlowModLine).join('\n') + '\n';
    const r = await runOfctl(this.opts, ['-O', 'OpenFlow13', '--bundle', 'add-flows', this.bridge, '-'], text);
    if (r.code !== 0) {
      const first = r.stderr.trim().split('\n')[0] ?? '';
      throw new OpenFlowError(`ovs-ofctl --bundle add-flows (${mods.length} flow mods) failed: ${r.stderr.trim()}`, this.bridge, {
        flow: first,
      });
    }
    LOG.debug(`${this.bridge}: applied ${mods.length} flow mods in one bundle`);
  }

  async dumpFlows(filter: StatsFilter = {}): Promise<FlowStats[]> {
    const sel = formatFilter({
      ...(filter.table !== undefined ? { table: filter.table } : {}),
      ...(filter.cookie !== undefined ? { cookie: filter.cookie, cookieMask: filter.cookieMask ?? 0xffffffffffffffffn } : {}),
    });
    const args = ['-O', 'OpenFlow13', 'dump-flows', this.bridge];
    if (sel) args.push(sel);
    const r = await runOfctl(this.opts, args);
    if (r.code !== 0) throw new OpenFlowError(`ovs-ofctl dump-flows failed: ${r.stderr.trim()}`, this.bridge);
    return r.stdout.split('\n').flatMap((l) => parseDumpFlowsLine(l) ?? []);
  }

  async portDesc(): Promise<PortDesc[]> {
    const r = await runOfctl(this.opts, ['-O', 'OpenFlow13', 'dump-ports-desc', this.bridge]);
    if (r.code !== 0) throw new OpenFlowError(`ovs-ofctl dump-ports-desc failed: ${r.stderr.trim()}`, this.bridge);
    return parsePortsDesc(r.stdout);
  }
}

export class OfctlBackend implements OpenFlowBackend {
  readonly kind = 'ovs-ofctl' as const;
  constructor(private readonly opts: OfctlOptions) {}

  async start(): Promise<void> {
    const r = await runOfctl(this.opts, ['--version']).catch((e: unknown) => {
      throw new Error(`of_interface = ovs-ofctl, but ovs-ofctl cannot be run: ${e instanceof Error ? e.message : String(e)}`);
    });
    if (r.code !== 0) throw new Error(`of_interface = ovs-ofctl, but 'ovs-ofctl --version' failed: ${r.stderr.trim()}`);
  }

  bridge(name: string): OpenFlowSwitch {
    return new OfctlSwitch(name, this.opts);
  }

  async stop(): Promise<void> {
    // Nothing is held open between batches.
  }
}
