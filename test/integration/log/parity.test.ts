// Security-group logging against the reference: our agent with `[agent] extensions = log` runs the
// scenario the reference ran when test/fixtures/reference/log/ was captured (scripts/
// capture-log-reference.sh). After every step br-int's logging flows (tables 91-93, cookies by
// role) and Controller limits equal the reference's; the traffic step's accepted (TCP 22, ICMP)
// and dropped (TCP 80) packets each produce the reference's line in local_output_log_base (the
// distinct lines are compared: the reference writes each line twice, its two os-ken apps sharing
// one class-level list of packet-in handlers); the metrics endpoint counts them.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type NeutronLab, labSkipReason } from '../../../lab/neutron.js';
import { startLab } from '../../../lab/host.js';
import { PrivateOvs, freePort } from '../../../lab/ovs.js';
import { tearDownTestHost } from '../../helpers/teardown.js';
import { checkoutFile } from '../../../lab/checkout.js';
import { RunningAgent, until, type AgentConfig } from '../../../bench/agents.js';
import type { SettleTimes } from '../firewall/scenarios.js';
import { logAgentIni, PROBE_LINES, runLogScenario, type TrafficResults } from './scenario.js';
import { loggedLines, type LogSnapshot } from './snapshot.js';

const FIXTURES = checkoutFile(join('test', 'fixtures', 'reference', 'log'));
const SETTLE_OURS: SettleTimes = { changeMs: 6000, quietMs: 1500, maxMs: 30000, pollMs: 100 };

function fixture<T>(name: string): T {
  const path = join(FIXTURES, `${name}.json`);
  if (!existsSync(path)) throw new Error(`no reference fixture ${path} (scripts/capture-log-reference.sh writes it)`);
  return JSON.parse(readFileSync(path, 'utf8')) as T;
}

describe('security-group logging: parity with the reference, lines, metrics', { skip: labSkipReason(), timeout: 600_000 }, () => {
  let lab: NeutronLab | undefined;
  let ovs: PrivateOvs | undefined;
  let agent: RunningAgent | undefined;
  const work = mkdtempSync(join(tmpdir(), 'logpar-'));
  const packetsLog = join(work, 'packets.log');
  const steps: Array<{ step: string; snapshot: LogSnapshot }> = [];
  let traffic: TrafficResults | undefined;
  let linesText = '';
  let metrics = '';
  let ids = new Map<string, string>();

  before(async () => {
    lab = await startLab();
    ovs = await PrivateOvs.start({ tcp: true });
    await ovs.addBridge('br-phys'); // the lab's agent configuration maps physnet1 to it
    const metricsPort = await freePort();
    const host = 'logpar-native';
    const cfg: AgentConfig = { host, transportUrl: lab.transportUrl, ovs, extraIni: `${logAgentIni(ovs, packetsLog)}[agent]\nmetrics_bind = 127.0.0.1:${metricsPort}\n` };
    const a = (agent = await RunningAgent.start('ours', cfg));
    await until('bridges set up', a, 60000, async () => /bridges set up/.test(a.log(1_000_000)), 100);
    ids = await runLogScenario({
      lab, ovs, host, settle: SETTLE_OURS,
      assertAgentRunning: () => agent?.assertRunning(),
      restartAgent: async () => {
        const old = agent!;
        const from = old.log(100_000_000).length;
        await old.stop(10000);
        const again = (agent = await RunningAgent.start('ours', cfg, old.dir));
        await until('first full sync', again, 60000, async () => /first full sync done/.test(again.log(100_000_000).slice(from)), 100);
      },
      capture: async (step, snapshot) => void steps.push({ step, snapshot }),
      trafficSent: async (results) => {
        traffic = results;
        await new Promise((r) => setTimeout(r, 1000));
        linesText = readFileSync(packetsLog, 'utf8');
        metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
      },
    });
  }, { timeout: 600_000 });

  after(() => tearDownTestHost('log parity', { agent, ovs, lab, also: [[`removing ${work}`, () => rmSync(work, { recursive: true, force: true })]] }), { timeout: 120_000 });

  it('every step leaves the reference\'s logging flows (tables 91-93, cookies by role) and Controller limits', () => {
    assert.ok(steps.length >= 10, `the scenario ran ${steps.length} steps`);
    const failures: string[] = [];
    for (const { step, snapshot } of steps) {
      try {
        assert.deepEqual(snapshot, fixture<LogSnapshot>(step));
      } catch (e) {
        failures.push(`${step}: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    assert.deepEqual(failures, [], failures.join('\n\n').slice(0, 20000));
  });

  it('the connection attempts went as with the reference: TCP 22 and ping accepted, TCP 80 dropped', () => {
    assert.deepEqual(traffic, fixture<TrafficResults>('traffic'));
    assert.equal(traffic?.ssh, 'connected');
    assert.equal(traffic?.http, 'timeout');
  });

  it('each accepted and dropped attempt produced the reference\'s line in local_output_log_base', () => {
    const ours = loggedLines(linesText, ids, PROBE_LINES);
    const want = fixture<string[]>('lines');
    assert.ok(ours.some((l) => l.startsWith('action=ACCEPT')) && ours.some((l) => l.startsWith('action=DROP')), ours.join('\n'));
    assert.deepEqual([...new Set(ours)].sort(), [...new Set(want)].sort());
    // One ping, one echo request: one line here, two from the reference.
    const echo = (l: string): boolean => /icmp\(.*type=8\)/.test(l);
    assert.equal(ours.filter(echo).length, 1, 'one line per packet');
    assert.equal(want.filter(echo).length, 2, 'the reference wrote it twice');
  });

  it('the metrics endpoint counts the lines written, by action', () => {
    const count = (event: string): number => Number(new RegExp(`^ovs_agent_extension_events_total\\{extension="log",event="${event}"\\} (\\d+)`, 'm').exec(metrics)?.[1] ?? NaN);
    assert.ok(count('accept') >= 2, metrics.split('\n').filter((l) => l.includes('extension_events')).join('\n'));
    assert.ok(count('drop') >= 1);
  });

  it('no error logged by our agent', () => {
    const log = agent?.log(1_000_000) ?? '';
    assert.doesNotMatch(log, /\bERROR\b/, log.split('\n').filter((l) => /\bERROR\b/.test(l)).slice(0, 5).join('\n'));
  });
});
