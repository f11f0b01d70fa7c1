// Process start → every default flow of br-int, br-tun and br-phys installed, ours (both OpenFlow
// interfaces) against the reference neutron-openvswitch-agent, same config, same OVS, same run.
// Also the resident memory of each right after start-up (the reference's privsep helper apart).
//   node dist/bench/startup.js [--runs N] [--no-reference]
import { spawn, execSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { labAgentFiles } from '../lab/agent-config.js';
import { defaultFlowsReady, startOvs } from './agents.js';
import { argInt, haveReference, report, rssMiB, type Series } from './lib.js';

function privsepPids(dir: string): number[] {
  try {
    return execSync(`pgrep -f '[p]rivsep-helper.*${dir}'`, { encoding: 'utf8' }).split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

async function runOnce(kind: 'native' | 'ovs-ofctl' | 'reference'): Promise<{ ms: number; rss: number; privsepRss: number }> {
  const ovs = await startOvs();
  const dir = mkdtempSync(join(tmpdir(), 'bench-startup-'));
  let child: ChildProcess | undefined;
  try {
    // The reference reaches OVSDB over TCP only (and ovs-ofctl through /var/run/openvswitch, which
    // startOvs points at this OVS); ours takes the unix socket. No message bus: transport_url fake:/.
    const files = labAgentFiles({
      host: 'bench', transportUrl: 'fake:/', ovsdbConnection: kind === 'reference' ? ovs.tcpConnection : ovs.unixConnection, bridgeMappings: 'physnet1:br-phys',
      ...(kind !== 'reference' ? { ofInterface: kind } : {}),
    });
    for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
    const configArgs = ['--config-file', join(dir, 'neutron.conf'), '--config-file', join(dir, 'openvswitch_agent.ini'), '--log-file', join(dir, 'agent.log')];
    const env = { ...ovs.env };
    const [cmd, args] = kind === 'reference' ? ['neutron-openvswitch-agent', configArgs] : [process.execPath, [resolve('bin/neutron-openvswitch-agent.js'), ...configArgs]];
    const t0 = performance.now();
    child = spawn(cmd, args, { env, stdio: 'ignore' });
    const deadline = t0 + 180000;
    while (!(await defaultFlowsReady(ovs))) {
      if (performance.now() > deadline) throw new Error(`${kind}: default flows not installed within 180 s; log:\n${readFileSync(join(dir, 'agent.log'), 'utf8').slice(-2000)}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    const ms = performance.now() - t0;
    await new Promise((r) => setTimeout(r, 1000));
    const rss = rssMiB(child.pid!);
    const privsepRss = privsepPids(dir).reduce((a, p) => a + rssMiB(p), 0);
    return { ms, rss, privsepRss };
  } finally {
    child?.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 500));
    child?.kill('SIGKILL');
    for (const p of privsepPids(dir)) {
      try {
        process.kill(p, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    await ovs.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const runs = argInt('runs', 3);
  const ref = haveReference() && !process.argv.includes('--no-reference');
  const series: Record<string, number[]> = { native: [], 'ovs-ofctl': [], reference: [], rssNative: [], rssRef: [], privsep: [] };
  for (let i = 0; i < runs; i++) {
    const n = await runOnce('native');
    series['native']!.push(n.ms);
    series['rssNative']!.push(n.rss);
    series['ovs-ofctl']!.push((await runOnce('ovs-ofctl')).ms);
    if (ref) {
      const r = await runOnce('reference');
      series['reference']!.push(r.ms);
      series['rssRef']!.push(r.rss);
      series['privsep']!.push(r.privsepRss);
    }
  }
  const note = ref ? undefined : haveReference() ? 'skipped (--no-reference)' : 'reference agent not installed';
  const rows: Series[] = [
    { label: 'start → default flows (native)', unit: 'ms', ours: series['native']!, reference: series['reference']!, ...(note ? { referenceNote: note } : {}) },
    { label: 'start → default flows (ovs-ofctl)', unit: 'ms', ours: series['ovs-ofctl']!, reference: series['reference']!, ...(note ? { referenceNote: note } : {}) },
    { label: 'RSS after start-up (agent process)', unit: 'MiB', ours: series['rssNative']!, reference: series['rssRef']!, ...(note ? { referenceNote: note } : {}) },
    { label: 'RSS of the reference privsep helper', unit: 'MiB', ours: [0], reference: series['privsep']!, ...(note ? { referenceNote: note } : {}) },
  ];
  report('startup', 'Start-up: process start to all default flows (vxlan + physnet1, l2pop, arp_responder)', rows, { runs });
}

main().catch((e: unknown) => {
  process.stderr.write(`bench startup failed: ${e instanceof Error ? e.stack : String(e)}\n`);
  process.exit(1);
});
