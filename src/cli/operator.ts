// `ovs-agent`: what an operator asks of a host the agent runs on.
//   ovs-agent flows [--config-file F ...] [BRIDGE] [--port ID | --network ID] [--json]
//   ovs-agent trace [--config-file F ...] BRIDGE FLOW [--json]
//   ovs-agent trace [--config-file F ...] --port ID --to IP[:PORT] [--proto tcp|udp|icmp] [--json]
//   ovs-agent status [--config-file F ...] [--json]
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { ConfigError, loadConfig, ovsdbTlsSettings, type AgentConfig } from '../config/index.js';
import { OvsdbOps } from '../ovsdb/ops.js';
import { annotateLine, hostView, type HostView } from './annotate.js';
import { networkFlows, parseDump, portFlows, type DumpedFlow, type ViewFlow } from './flow-views.js';
import {
  destinationMac, parseDpifShow, parseTarget, parseTrace, portAddresses, traceFlow, verdict, type Proto,
} from './trace-port.js';

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
    --port PORT_ID        only the flows of that Neutron port (its ofport, MAC, local VLAN on
                          br-int, its firewall flows and its security groups' conjunctions)
    --network NET_ID      only the flows of that network (local VLAN, tunnel id, provider segment)
    --json                one JSON document: [{bridge, table, tableName, flow, notes, reasons}]
  trace BRIDGE FLOW     ovs-appctl ofproto/trace BRIDGE FLOW, annotated the same way
  trace --port PORT_ID --to IP[:PORT] [--proto tcp|udp|icmp] [--from IP] [--to-mac MAC]
                        the packet that port would send, traced, every step annotated, and the
                        verdict in one line (delivered to which port, or dropped by which flow)
    --json                {packet, flow, steps, datapathActions, verdict}
  status [--json]       the running agent, from its [agent] metrics_bind endpoint: connections,
                        last full sync, ports by state, local VLANs, tunnels, last errors
`;

/** The command line is wrong: exit 2. */
class UsageError extends Error {}
/** What was asked for is not on this host: exit 1. */
class NotOnHost extends Error {}

interface Options {
  positional: string[];
  port?: string;
  network?: string;
  to?: string;
  proto?: string;
  from?: string;
  toMac?: string;
  json: boolean;
}

function parseOptions(rest: readonly string[]): { cfgArgs: string[]; opts: Options } {
  const cfgArgs: string[] = [];
  const opts: Options = { positional: [], json: false };
  const valued: Record<string, 'port' | 'network' | 'to' | 'proto' | 'from' | 'toMac'> = {
    '--port': 'port', '--network': 'network', '--to': 'to', '--proto': 'proto', '--from': 'from', '--to-mac': 'toMac',
  };
  for (let i = 0; i < rest.length; i++) {
    const x = rest[i]!;
    const eq = x.indexOf('=');
    const flag = x.startsWith('--') && eq > 0 ? x.slice(0, eq) : x;
    if (flag === '--config-file' || flag === '--config-dir') {
      if (eq > 0) cfgArgs.push(x);
      else cfgArgs.push(x, rest[++i] ?? '');
    } else if (x === '--json') opts.json = true;
    else if (valued[flag]) {
      const v = eq > 0 && x.startsWith('--') ? x.slice(eq + 1) : rest[++i];
      if (v === undefined || v === '') throw new UsageError(`${flag} needs a value`);
      opts[valued[flag]!] = v;
    } else opts.positional.push(x);
  }
  return { cfgArgs, opts };
}

async function dumpAll(view: HostView, env: NodeJS.ProcessEnv = process.env): Promise<DumpedFlow[]> {
  const out: DumpedFlow[] = [];
  for (const b of view.bridges) {
    let stdout: string;
    try {
      ({ stdout } = await run('ovs-ofctl', ['-O', 'OpenFlow13', 'dump-flows', b.name], { env, maxBuffer: 512 << 20 }));
    } catch (e) {
      throw new Error(`ovs-ofctl dump-flows ${b.name}: ${(e as { stderr?: string }).stderr?.trim() || (e as Error).message}`);
    }
    out.push(...parseDump(b.name, stdout));
  }
  return out;
}

function bridgeTitle(view: HostView, bridge: string): string {
  const kind = view.bridges.find((b) => b.name === bridge)?.kind;
  return `${bridge} (${kind === 'int' ? 'integration' : kind === 'tun' ? 'tunnel' : 'provider'} bridge)`;
}

function printFlows(view: HostView, selected: readonly ViewFlow[], json: boolean, header: string | undefined): void {
  if (json) {
    const doc = selected.map(({ flow: f, reasons }) => ({
      bridge: f.bridge, table: f.table, tableName: view.tableName(f.bridge, f.table) ?? null, priority: f.priority,
      flow: f.line, notes: annotateLine(f.line, f.bridge, view), ...(reasons.length ? { reasons } : {}),
    }));
    process.stdout.write(JSON.stringify(doc, null, 2) + '\n');
    return;
  }
  if (header) process.stdout.write(`${header}\n`);
  let bridge: string | undefined;
  let table: number | undefined;
  for (const { flow: f } of selected) {
    if (f.bridge !== bridge) {
      bridge = f.bridge;
      table = undefined;
      process.stdout.write(`\n=== ${bridgeTitle(view, bridge)}\n`);
    }
    if (f.table !== table) {
      table = f.table;
      process.stdout.write(`\n  table ${table} ${view.tableName(bridge, table) ?? ''}\n`);
    }
    process.stdout.write(`    ${f.line}\n`);
    for (const n of annotateLine(f.line, f.bridge, view)) process.stdout.write(`      # ${n}\n`);
  }
  if (selected.length === 0) process.stdout.write('(no flows)\n');
}

async function withHost<T>(cfg: AgentConfig, body: (view: HostView) => Promise<T>): Promise<T> {
  const ops = await connectOvsdb(cfg);
  try {
    return await body(hostView(cfg, ops));
  } finally {
    await ops.close();
  }
}

function findVif(view: HostView, cfg: AgentConfig, portId: string) {
  const vif = view.vifs.find((v) => v.portId === portId);
  if (!vif) throw new NotOnHost(`port ${portId} is not plugged into ${cfg.ovs.integration_bridge} on this host (no interface with external_ids:iface-id=${portId} and an ofport)`);
  return vif;
}

async function flows(cfg: AgentConfig, o: Options): Promise<number> {
  if (o.port && o.network) throw new UsageError('flows: --port and --network are exclusive');
  return withHost(cfg, async (view) => {
    const only = o.positional[0];
    const all = (await dumpAll(view)).filter((f) => !only || f.bridge === only);
    let selected: ViewFlow[];
    let header: string | undefined;
    if (o.port) {
      const vif = findVif(view, cfg, o.port);
      selected = portFlows(all, cfg.ovs.integration_bridge, vif, view.vifs);
      header = `port ${vif.portId}: ${vif.name}, ofport ${vif.ofport}, MAC ${vif.mac}` +
        (vif.localVlan !== undefined ? `, local VLAN ${vif.localVlan} = ${view.network(vif.localVlan) ?? 'network ?'}` : ', not wired (no local VLAN)');
    } else if (o.network) {
      const net = view.networks.find((n) => n.networkId === o.network);
      if (!net) throw new NotOnHost(`network ${o.network} has no local VLAN on this host (no port of it is wired on ${cfg.ovs.integration_bridge})`);
      selected = networkFlows(all, view.bridges, net, view.physnetOf);
      header = `network ${net.networkId}: ${net.networkType ?? '?'}${net.segmentationId !== undefined ? ` ${net.segmentationId}` : ''}` +
        `${net.physicalNetwork ? ` on ${net.physicalNetwork}` : ''}, local VLAN ${net.localVlan}`;
    } else {
      selected = all.map((flow) => ({ flow, reasons: [] }));
    }
    printFlows(view, selected, o.json, header);
    return 0;
  });
}

async function appctlTrace(bridge: string, flow: string, extra: string[] = []): Promise<string> {
  try {
    return (await run('ovs-appctl', ['ofproto/trace', bridge, flow, ...extra], { maxBuffer: 64 << 20 })).stdout;
  } catch (e) {
    throw new Error(`ovs-appctl ofproto/trace ${bridge} ${flow}: ${(e as { stderr?: string }).stderr?.trim() || (e as Error).message}`);
  }
}

/** The trace, each line followed by what its table, ports, VLANs and conjunctions are. */
function annotatedTrace(view: HostView, bridge: string, text: string): Array<{ line: string; notes: string[] }> {
  const out: Array<{ line: string; notes: string[] }> = [];
  let current = bridge;
  for (const line of text.split('\n')) {
    const br = /^\s*bridge\("([^"]+)"\)/.exec(line);
    if (br) current = br[1]!;
    const notes: string[] = [];
    const t = /^\s*(\d+)\. /.exec(line);
    if (t) {
      const name = view.tableName(current, Number(t[1]));
      if (name) notes.push(`table ${t[1]} ${name}`);
    }
    notes.push(...annotateLine(line, current, view));
    out.push({ line, notes });
  }
  return out;
}

function printAnnotated(lines: ReadonlyArray<{ line: string; notes: string[] }>): void {
  for (const { line, notes } of lines) {
    process.stdout.write(line + '\n');
    for (const n of notes) process.stdout.write(`      # ${n}\n`);
  }
}

async function trace(cfg: AgentConfig, o: Options): Promise<number> {
  if (o.port) return tracePort(cfg, o);
  const [bridge, flow] = o.positional;
  if (!bridge || !flow) {
    throw new UsageError('trace: BRIDGE and FLOW, or --port PORT_ID --to IP[:PORT], are required, e.g. trace br-int in_port=5,icmp,dl_src=fa:16:3e:00:00:01');
  }
  return withHost(cfg, async (view) => {
    const text = await appctlTrace(bridge, flow);
    const lines = annotatedTrace(view, bridge, text);
    if (o.json) process.stdout.write(JSON.stringify({ bridge, flow, lines }, null, 2) + '\n');
    else printAnnotated(lines);
    return 0;
  });
}

async function tracePort(cfg: AgentConfig, o: Options): Promise<number> {
  if (!o.to) throw new UsageError('trace --port needs --to IP[:PORT]');
  const target = parseTarget(o.to);
  if (!target) throw new UsageError(`trace: --to ${o.to}: expected IP, IP:PORT or [IPv6]:PORT`);
  const proto = (o.proto ?? (target.port !== undefined ? 'tcp' : 'icmp')) as Proto;
  if (!['tcp', 'udp', 'icmp'].includes(proto)) throw new UsageError(`trace: --proto ${o.proto}: expected tcp, udp or icmp`);
  if (proto === 'icmp' && target.port !== undefined) throw new UsageError('trace: a port in --to makes no sense with --proto icmp');
  const intBr = cfg.ovs.integration_bridge;
  return withHost(cfg, async (view) => {
    const vif = findVif(view, cfg, o.port!);
    const all = await dumpAll(view);
    const v6 = target.ip.includes(':');
    const sources = portAddresses(all, intBr, vif.ofport).filter((a) => a.includes(':') === v6);
    const srcIp = o.from ?? sources[0];
    if (!srcIp) {
      throw new NotOnHost(`trace: no IPv${v6 ? 6 : 4} address of port ${vif.portId} found in ${intBr}'s flows (port security off, or no firewall): give it with --from IP`);
    }
    const tunBr = view.bridges.find((b) => b.kind === 'tun')?.name;
    const found = o.toMac ? { mac: o.toMac.toLowerCase(), source: '--to-mac' } : destinationMac(all, intBr, tunBr, view.vifs, target.ip);
    const dst = found ?? { mac: 'ff:ff:ff:ff:ff:ff', source: `no port with ${target.ip} known on this host: broadcast, the way a VM's ARP request for it goes` };
    const packet = { ofport: vif.ofport, srcMac: vif.mac, dstMac: dst.mac, srcIp, dstIp: target.ip, proto, dstPort: target.port };
    const flow = traceFlow(packet);
    const text = await appctlTrace(intBr, flow, ['--ct-next', 'trk,new']);
    const sections = parseTrace(text, intBr);
    const { stdout: dpif } = await run('ovs-appctl', ['dpif/show']);
    const portIdOf = (name: string) => view.vifs.find((v) => v.name === name)?.portId;
    const v = verdict(sections, parseDpifShow(dpif), portIdOf, view.tableName);
    const lines = annotatedTrace(view, intBr, text);
    if (o.json) {
      const steps = sections.flatMap((s, i) => s.steps.map((st) => ({ recirculation: i, ...st, tableName: view.tableName(st.bridge, st.table) ?? null, notes: annotateLine(`${st.rule} ${st.actions.join(',')}`, st.bridge, view) })));
      process.stdout.write(JSON.stringify({
        port: vif.portId, packet: { ...packet, srcIpFrom: o.from ? '--from' : `${intBr} flows of ofport ${vif.ofport}`, dstMacFrom: dst.source },
        flow, steps, datapathActions: sections.map((s) => s.datapathActions), verdict: v, trace: text,
      }, null, 2) + '\n');
      return 0;
    }
    process.stdout.write(`packet from port ${vif.portId} (${vif.name}, ofport ${vif.ofport}): ${proto} ${srcIp} -> ${target.ip}${target.port !== undefined ? ` port ${target.port}` : ''}\n`);
    process.stdout.write(`  source MAC ${vif.mac}; source IP ${o.from ? 'from --from' : `from ${intBr}'s anti-spoofing flows`}\n`);
    process.stdout.write(`  destination MAC ${dst.mac}: ${dst.source}\n`);
    process.stdout.write(`  ofproto/trace ${intBr} ${flow} --ct-next trk,new\n\n`);
    printAnnotated(lines);
    process.stdout.write(`verdict: ${v.line}\n`);
    return 0;
  });
}

export async function runOperatorCli(argv: string[]): Promise<number> {
  const cmd = argv[0];
  if (!cmd || cmd === '--help' || cmd === '-h') {
    process.stdout.write(USAGE);
    return 0;
  }
  let parsed: ReturnType<typeof parseOptions>;
  try {
    parsed = parseOptions(argv.slice(1));
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    process.stderr.write(`ovs-agent: ${e.message}\n`);
    return 2;
  }
  let cfg: AgentConfig;
  try {
    cfg = loadConfig(parsed.cfgArgs, { prog: 'ovs-agent' });
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`ovs-agent: ${e.message}\n`);
      return 1;
    }
    throw e;
  }
  try {
    if (cmd === 'flows') return await flows(cfg, parsed.opts);
    if (cmd === 'trace') return await trace(cfg, parsed.opts);
    if (cmd === 'status') return await (await import('./status.js')).status(cfg, [...parsed.opts.positional, ...(parsed.opts.json ? ['--json'] : [])]);
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`ovs-agent ${cmd}: ${e.message}\n`);
      return 2;
    }
    // What failed (an ovs-ofctl run, the agent's endpoint) is in the message: one line, no stack.
    process.stderr.write(`ovs-agent ${cmd}: ${e instanceof Error ? e.message : String(e)}\n`);
    return 1;
  }
  process.stderr.write(`ovs-agent: unknown command '${cmd}'\n${USAGE}`);
  return 2;
}
