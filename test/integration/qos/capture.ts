// Captures what the reference agent's `qos` extension (Open vSwitch driver) writes at each step of
// scenario.ts into test/fixtures/reference/qos/<NN-step>.json (qosSnapshot's normalised form), and
// the agent's `configurations` report into agent-configurations.json.
// One lab (QoS on, its default), one private OVS with br-phys and a physical port on it (a veth end),
// and the reference with `[agent] extensions = qos`, `firewall_driver = openvswitch`, its ovs-ofctl
// calls reaching the private OVS through `root_helper = env OVS_RUNDIR=<dir>`.
//
//   scripts/capture-qos-reference.sh [--out DIR]
// Run inside scripts/netns-run.sh (the wrapper does): ovs-vswitchd, the veth and the lab need a namespace.
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { NeutronLab, type NeutronAgent } from '../../../lab/neutron.js';
import { PrivateOvs } from '../../../lab/ovs.js';
import { agentRecord, type AgentConfig } from '../../../bench/agents.js';
import { addPhysicalBridge, runQosScenario, QOS_PHYSICAL_PORT } from './scenario.js';
import { assertNoIdsLeft, captureLog, captureOutDir } from '../../helpers/capture-cli.js';
import { captureWithReference } from '../../helpers/capture-run.js';

const log = captureLog;

/** The reference's configuration beyond the lab's: the qos extension, the OVS firewall, its root commands on the private OVS. */
export function qosReferenceIni(ovs: PrivateOvs): string {
  return ['[securitygroup]', 'firewall_driver = openvswitch', '[agent]', 'extensions = qos', `root_helper = env OVS_RUNDIR=${ovs.dir}`, ''].join('\n');
}

async function main(): Promise<void> {
  const out = captureOutDir('capture-qos-reference.sh', 'test/fixtures/reference/qos');
  mkdirSync(out, { recursive: true });
  for (const f of readdirSync(out)) if (f.endsWith('.json')) rmSync(join(out, f));
  const t0 = Date.now();
  log('starting the neutron lab (QoS on) and a private OVS');
  const lab = await NeutronLab.start();
  let ovs: PrivateOvs | undefined;
  let removeVeth: (() => Promise<void>) | undefined;
  try {
    if (!lab.qos) throw new Error('the lab runs without QoS');
    ovs = await PrivateOvs.start({ tcp: true });
    removeVeth = await addPhysicalBridge(ovs);
    const host = `qoscap-${process.pid}`;
    const cfg: AgentConfig = { host, transportUrl: lab.transportUrl, ovs, extraIni: qosReferenceIni(ovs) };
    const privateOvs = ovs;
    const flowIn = (text: string) => async (): Promise<boolean> => (await privateOvs.dumpFlows('br-int')).some((f) => f.includes(text));
    const readyChecks = [
      ['firewall base flows', flowIn('table=94')],
      // The qos extension's first act: table 0's default-queue flow (proof its ovs-ofctl calls reach this OVS).
      ['qos set_queue flow', flowIn('set_queue:0')],
    ] as const;
    const ids = await captureWithReference({ lab, ovs, cfg, readyChecks, keepLogAt: process.env.QOS_CAPTURE_KEEP_LOG }, async (hooks) => {
      log(`reference agent ready after ${((Date.now() - t0) / 1000).toFixed(0)} s`);
      const record = await agentRecord(lab, host);
      if (record === undefined) throw new Error(`no agent record for ${host}`);
      writeFileSync(join(out, 'agent-configurations.json'), JSON.stringify(reportOf(record, host), null, 2) + '\n');

      let restartBefore: RowIdentity | undefined;
      return runQosScenario({
        lab,
        ovs: privateOvs,
        host,
        log,
        assertAgentRunning: hooks.assertAgentRunning,
        restartAgent: async () => {
          restartBefore = await rowIdentity(privateOvs);
          await hooks.restartAgent();
        },
        capture: async (step, snapshot) => {
          writeFileSync(join(out, `${step}.json`), JSON.stringify(snapshot, null, 2) + '\n');
          if (step.endsWith('-restarted') && restartBefore) {
            const after = await rowIdentity(privateOvs);
            const kept = (a: string[], b: string[]): string => (a.length === 0 ? 'none' : a.every((x) => b.includes(x)) ? 'kept' : b.some((x) => a.includes(x)) ? 'some replaced' : 'replaced');
            writeFileSync(
              join(out, 'restart-identity.json'),
              JSON.stringify({ qosRows: kept(restartBefore.qos, after.qos), queueRows: kept(restartBefore.queues, after.queues), meterIds: kept(restartBefore.meters, after.meters) }, null, 2) + '\n',
            );
          }
        },
      });
    });
    assertNoIdsLeft(out, ids);
    log(`captured into ${out} in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  } finally {
    await removeVeth?.().catch((e: unknown) => log(`deleting ${QOS_PHYSICAL_PORT}: ${String(e)}`));
    await ovs?.stop();
    await lab.stop();
  }
}

/** The raw uuids of the QoS and Queue rows and br-int's meter ids: whether a restart rebuilt them. */
interface RowIdentity {
  qos: string[];
  queues: string[];
  meters: string[];
}

async function rowIdentity(ovs: PrivateOvs): Promise<RowIdentity> {
  const uuids = async (table: string): Promise<string[]> => (await ovs.vsctl('--bare', '--columns=_uuid', 'list', table)).split('\n').filter((l) => l.trim() !== '');
  const meters = [...(await ovs.ofctl('-O', 'OpenFlow13', 'dump-meters', 'br-int')).matchAll(/meter=(\d+)/g)].map((m) => m[1]!);
  return { qos: await uuids('QoS'), queues: await uuids('Queue'), meters };
}

/** The agent's report as the fixture keeps it: the host name replaced, the liveness fields dropped. */
function reportOf(agent: NeutronAgent, host: string): Record<string, unknown> {
  const text = JSON.stringify({ agent_type: agent.agent_type, binary: agent.binary, topic: agent.topic, configurations: agent.configurations, resources_synced: agent['resources_synced'] ?? null });
  return JSON.parse(text.split(host).join('<host>')) as Record<string, unknown>;
}

main().catch((e: unknown) => {
  log(`capture failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  process.exitCode = 1;
});
