// `ovs-agent`: what an operator asks of a host the agent runs on.
//   ovs-agent flows [--config-file F ...] [BRIDGE]   the live pipeline, tables named, flows tied to ports and networks
//   ovs-agent trace [--config-file F ...] BRIDGE FLOW  ofproto/trace of a packet, with the same annotations
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { ConfigError, loadConfig, ovsdbTlsSettings, type AgentConfig } from '../config/index.js';
import { OvsdbOps } from '../ovsdb/ops.js';
import { tableNames } from '../bridges/pipeline.js';

const run = promisify(execFile);

/** The agent's OVSDB, reached as the agent reaches it (ssl: with its certificates). */
function connectOvsdb(cfg: AgentConfig): Promise<OvsdbOps> {
  const tls = ovsdbTlsSettings(cfg.ovs);
  return OvsdbOps.connect({ endpoint: cfg.ovs.ovsdb_connection, timeoutSec: cfg.ovs.ovsdb_timeout, ...(tls ? { tls } : {}) });
}

const USAGE = `usage: ovs-agent <command> [--config-file FILE ...] [--config-dir DIR ...] [args]

commands:
  flows [BRIDGE]        the live pipeline of the agent's bridges (or one), each table named,
                        ports, local VLANs and tunnel ids tied to their names and networks
  trace BRIDGE FLOW     ovs-appctl ofproto/trace BRIDGE FLOW, annotated the same way
  status [--json]       the running agent, from its [agent] metrics_bind endpoint: connections,
                        last full sync, ports by state, local VLANs, tunnels, last errors
`;

interface Annotator {
  bridges: Array<{ name: string; kind: 'int' | 'tun' | 'phys' }>;
  portName(bridge: string, ofport: number): string | undefined;
  network(vlan: number): string | undefined;
}

function annotator(cfg: AgentConfig, ops: OvsdbOps): Annotator {
  const bridges: Annotator['bridges'] = [{ name: cfg.ovs.integration_bridge, kind: 'int' }];
  if (cfg.tunnelTypes.length) bridges.push({ name: cfg.ovs.tunnel_bridge, kind: 'tun' });
  for (const b of cfg.bridgeMappings.values()) bridges.push({ name: b, kind: 'phys' });
  const ofports = new Map<string, Map<number, string>>();
  for (const b of bridges) {
    const m = new Map<number, string>();
    for (const p of ops.replica.portsOfBridge(b.name)) {
      for (const i of ops.replica.interfacesOfPort(p)) {
        if (i.ofport !== undefined && i.ofport > 0) {
          const id = i.externalIds.get('iface-id');
          m.set(i.ofport, id ? `${i.name} (port ${id})` : i.name);
        }
      }
    }
    ofports.set(b.name, m);
  }
  const vlans = new Map<number, string>();
  for (const v of ops.vifPorts(cfg.ovs.integration_bridge)) {
    const net = v.otherConfig.get('net_uuid');
    if (v.tag !== undefined && net) {
      const seg = v.otherConfig.get('segmentation_id');
      vlans.set(v.tag, `network ${net} (${v.otherConfig.get('network_type') ?? '?'}${seg ? ` ${seg}` : ''})`);
    }
  }
  return {
    bridges,
    portName: (bridge, ofport) => ofports.get(bridge)?.get(ofport),
    network: (vlan) => vlans.get(vlan),
  };
}

/** Notes for one flow line: which port an in_port/output is, which network a VLAN or tunnel id is. */
export function annotateLine(line: string, bridge: string, a: Annotator): string[] {
  const notes: string[] = [];
  for (const m of line.matchAll(/\b(in_port|output)[=:](\d+)/g)) {
    const name = a.portName(bridge, Number(m[2]));
    if (name) notes.push(`${m[1]} ${m[2]} = ${name}`);
  }
  for (const m of line.matchAll(/\bdl_vlan=(\d+)|set_field:(\d+)->vlan_vid/g)) {
    const vlan = m[1] !== undefined ? Number(m[1]) : Number(m[2]) - 4096;
    const net = a.network(vlan);
    if (net) notes.push(`vlan ${vlan} = ${net}`);
  }
  for (const m of line.matchAll(/tun_id=(0x[0-9a-f]+)|set_field:(0x[0-9a-f]+)->tun_id/g)) {
    notes.push(`tunnel id ${Number(m[1] ?? m[2])}`);
  }
  return [...new Set(notes)];
}

async function flows(cfg: AgentConfig, only: string | undefined): Promise<number> {
  const ops = await connectOvsdb(cfg);
  try {
    const a = annotator(cfg, ops);
    for (const b of a.bridges) {
      if (only && b.name !== only) continue;
      const names = tableNames(b.kind);
      const { stdout } = await run('ovs-ofctl', ['-O', 'OpenFlow13', 'dump-flows', b.name]);
      const byTable = new Map<number, string[]>();
      for (const raw of stdout.split('\n')) {
        const line = raw.trim();
        if (!line || line.startsWith('OFPST')) continue;
        const t = Number(/table=(\d+)/.exec(line)?.[1] ?? 0);
        if (!byTable.has(t)) byTable.set(t, []);
        byTable.get(t)!.push(line.replace(/duration=[^,]+, /, ''));
      }
      process.stdout.write(`\n=== ${b.name} (${b.kind === 'int' ? 'integration' : b.kind === 'tun' ? 'tunnel' : 'provider'} bridge)\n`);
      for (const t of [...byTable.keys()].sort((x, y) => x - y)) {
        process.stdout.write(`\n  table ${t} ${names.get(t) ?? ''}\n`);
        for (const line of byTable.get(t)!) {
          process.stdout.write(`    ${line}\n`);
          for (const n of annotateLine(line, b.name, a)) process.stdout.write(`      # ${n}\n`);
        }
      }
    }
    return 0;
  } finally {
    await ops.close();
  }
}

async function trace(cfg: AgentConfig, bridge: string | undefined, flow: string | undefined): Promise<number> {
  if (!bridge || !flow) {
    process.stderr.write('ovs-agent trace: BRIDGE and FLOW are required, e.g. trace br-int in_port=5,icmp,dl_src=fa:16:3e:00:00:01\n');
    return 2;
  }
  const ops = await connectOvsdb(cfg);
  try {
    const a = annotator(cfg, ops);
    const { stdout } = await run('ovs-appctl', ['ofproto/trace', bridge, flow]);
    let current = bridge;
    for (const line of stdout.split('\n')) {
      const br = /^bridge\("([^"]+)"\)/.exec(line.trim());
      if (br) current = br[1]!;
      process.stdout.write(line + '\n');
      const t = /^\s*(\d+)\. /.exec(line);
      const kind = a.bridges.find((b) => b.name === current)?.kind;
      if (t && kind) process.stdout.write(`      # table ${t[1]} ${tableNames(kind).get(Number(t[1])) ?? ''}\n`);
      for (const n of annotateLine(line, current, a)) process.stdout.write(`      # ${n}\n`);
    }
    return 0;
  } finally {
    await ops.close();
  }
}

export async function runOperatorCli(argv: string[]): Promise<number> {
  const cmd = argv[0];
  if (!cmd || cmd === '--help' || cmd === '-h') {
    process.stdout.write(USAGE);
    return 0;
  }
  const rest = argv.slice(1);
  const cfgArgs: string[] = [];
  const positional: string[] = [];
  for (let i = 0; i < rest.length; i++) {
    const x = rest[i]!;
    if (x === '--config-file' || x === '--config-dir') cfgArgs.push(x, rest[++i] ?? '');
    else if (x.startsWith('--config-file=') || x.startsWith('--config-dir=')) cfgArgs.push(x);
    else positional.push(x);
  }
  let cfg: AgentConfig;
  try {
    cfg = loadConfig(cfgArgs, { prog: 'ovs-agent' });
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`ovs-agent: ${e.message}\n`);
      return 1;
    }
    throw e;
  }
  if (cmd === 'flows') return flows(cfg, positional[0]);
  if (cmd === 'trace') return trace(cfg, positional[0], positional[1]);
  if (cmd === 'status') return (await import('./status.js')).status(cfg, positional);
  process.stderr.write(`ovs-agent: unknown command '${cmd}'\n${USAGE}`);
  return 2;
}
