// The agent-side part of an ovs-ofctl flow audit without OVS: `ovs-ofctl dump-flows` output of N
// br-tun-style unicast flows (default 10 000, the text Open vSwitch prints for them), turned into
// text, parsed and compared with the bridge's desired flows, as OfctlSwitch.dumpFlows and
// auditFlows do. No process, no socket: what is left is the CPU the parsing and the comparison
// cost, repeatable enough to compare two versions of the parser. It prints CPU ms per audit.
//   node dist/bench/ofctl-dump-parse.js [--flows N] [--runs N]
// Instructions instead of (noisy) time: the difference between two runs under
//   valgrind --tool=callgrind node --predictable dist/bench/ofctl-dump-parse.js --runs R
// with R = 10 and R = 5, divided by 5, is the instruction count of one warm audit.
import { auditFlows } from '../src/agent/repair/flow-audit.js';
import { OVSBridge } from '../src/bridges/ovs-bridge.js';
import { TUN_BR_ALL_TABLES } from '../src/bridges/tables.js';
import type { OpenFlowSwitch } from '../src/openflow/backend.js';
import type { Flow } from '../src/openflow/flow.js';
import { outputText, parseDumpFlows } from '../src/openflow/ofctl/backend.js';
import { formatFlow } from '../src/openflow/text.js';
import { argInt, median, unicastFlows } from './lib.js';
import { NO_METERS } from '../test/helpers/meterless-switch.js';

/** Flows per reply part: ovs-ofctl prints a reply header before each (the switch's multipart replies). */
const FLOWS_PER_REPLY = 580;

/** The dump-flows text of `flows` with `cookie`, as Open vSwitch 3.1 prints it (header words, then the flow). */
function dumpText(flows: Flow[], cookie: bigint): string {
  const lines: string[] = [];
  flows.forEach((f, i) => {
    if (i % FLOWS_PER_REPLY === 0) lines.push(`OFPST_FLOW reply (OF1.3) (xid=0x2):${i + FLOWS_PER_REPLY < flows.length ? ' flags=[more]' : ''}`);
    // formatFlow leaves table 0 out; the dump names the table among the header words.
    lines.push(` cookie=0x${cookie.toString(16)}, duration=1.140s, table=${f.table}, n_packets=0, n_bytes=0, ${formatFlow({ ...f, table: 0 })}`);
  });
  return lines.join('\n') + '\n';
}

/** A switch that takes every batch: the registry is all this needs of it. */
function idleSwitch(bridge: string): OpenFlowSwitch {
  return { bridge, apply: async () => {}, dumpFlows: async () => [], portDesc: async () => [], retire: () => {}, ...NO_METERS };
}

async function main(): Promise<void> {
  const n = argInt('flows', 10_000);
  const runs = argInt('runs', 20);
  const br = new OVSBridge('br-tun', idleSwitch('br-tun'), 0x9950ace035467994n);
  await br.installFlows(...unicastFlows(n));
  const stdout = Buffer.from(dumpText(unicastFlows(n), br.cookie), 'latin1');
  // As it arrives from the pipe: 64 KiB chunks, joined once the process has ended.
  const chunks: Buffer[] = [];
  for (let o = 0; o < stdout.length; o += 65536) chunks.push(stdout.subarray(o, o + 65536));
  const cpu: number[] = [];
  for (let i = 0; i < runs; i++) {
    const c0 = process.cpuUsage();
    const dump = parseDumpFlows(outputText(Buffer.concat(chunks)));
    const { mods, result } = auditFlows(br, TUN_BR_ALL_TABLES, dump);
    const c = process.cpuUsage(c0);
    if (mods.length || result.dumped !== n) throw new Error(`audit of ${n} flows: ${result.dumped} dumped, ${result.readded.length} missing, ${result.removed.length} foreign`);
    cpu.push((c.user + c.system) / 1000);
  }
  const fmt = (x: number): string => x.toFixed(1);
  process.stdout.write(`ovs-ofctl dump of ${n} flows parsed and audited, ${runs} runs: agent CPU ms median ${fmt(median(cpu))} (${fmt(Math.min(...cpu))}-${fmt(Math.max(...cpu))}), first ${fmt(cpu[0] ?? 0)}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`bench ofctl-dump-parse failed: ${e instanceof Error ? e.stack : String(e)}\n`);
  process.exitCode = 1;
});
