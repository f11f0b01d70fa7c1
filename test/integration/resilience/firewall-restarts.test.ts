// The openvswitch firewall through restarts of the agent and of Open vSwitch, as a tenant sees it:
// a ping allowed by a remote-group rule (so through conjunction flows, whose ids a new run numbers
// anew) keeps going every 50 ms, an allowed TCP connection stays up, and a TCP port no rule opens
// is probed back to back the whole time and must never answer. One neutron lab for the file; the
// same tests run once per OpenFlow backend ([ovs] of_interface), each with its own OVS and agent.
import { describe, test, before, after } from 'node:test';
import { spawn, type ChildProcess } from 'node:child_process';
import assert from 'node:assert/strict';
import { PrivateOvs, freePort } from '../../../lab/ovs.js';
import type { AgentProcess } from '../../../lab/agent-process.js';
import { labAgentFiles } from '../../../lab/agent-config.js';
import { type NeutronLab, waitFor } from '../../../lab/neutron.js';
import { plugVm, ping, type Vm } from '../../../lab/vm.js';
import {
  FlowWatch, OVS_RESTART_RECOVERY_BOUND_MS, Pinger, assertCovers, flowSet, missing, note, ranges, startAgent, stopLabHost, waitAgentAlive,
  type Killable,
  labForFile,
} from '../../helpers/resilience.js';
import { Listener, TcpStream, probeTcp } from '../../../lab/traffic.js';
import { createFilteredPort, createSecurityGroup } from '../../../lab/security-groups.js';
import { OVS_FIREWALL_ALL_TABLES } from '../../../src/firewall/openvswitch/firewall.js';

const ALLOWED_PORT = 8000;
const DENIED_PORT = 8001;
/**
 * The longest a denied-port probe may wait for the next (they start every 100 ms): ten intervals,
 * so a machine busy enough to stall the prober passes, while a stall long enough to miss a
 * restart's unfiltered moment fails the test instead of passing it unwatched.
 */
const PROBE_MAX_GAP_MS = 1000;

/**
 * Opens a TCP connection to the denied port every 100 ms from one process in the VM (a probe
 * process per attempt would start too slowly on a busy machine to cover a short window); each
 * attempt is given 300 ms, and every attempt's outcome is kept with its start time.
 */
const DENIED_PROBER = `
const net = require('node:net');
const [host, port] = JSON.parse(process.argv[1]);
setInterval(() => {
  const at = Date.now();
  const s = net.connect({ host, port });
  const done = (r) => { process.stdout.write(at + ' ' + r + '\\n'); s.destroy(); };
  const t = setTimeout(() => done('timeout'), 300);
  s.on('connect', () => { clearTimeout(t); done('connected'); });
  s.on('error', (e) => { clearTimeout(t); done(e.code === 'ECONNREFUSED' ? 'refused' : 'error:' + e.code); });
}, 100);
`;

class DeniedProbe implements Killable {
  readonly results: Array<{ at: number; result: string }> = [];
  private readonly child: ChildProcess;
  private readonly exited: Promise<void>;
  private partial = '';
  constructor(from: Vm, host: string, port: number) {
    this.child = spawn('ip', ['netns', 'exec', from.netns, process.execPath, '-e', DENIED_PROBER, JSON.stringify([host, port])], { stdio: ['ignore', 'pipe', 'inherit'] });
    this.child.stdout!.on('data', (b: Buffer) => {
      const lines = (this.partial + b.toString()).split('\n');
      this.partial = lines.pop()!;
      for (const l of lines) {
        const [at, result] = l.split(' ');
        this.results.push({ at: Number(at), result: result ?? '' });
      }
    });
    this.exited = new Promise((r) => this.child.once('exit', () => r()));
  }
  /** Waits for the first attempt's outcome: probing has begun. */
  async started(): Promise<void> {
    await waitFor(async () => this.results.length > 0, 10000, 'the first probe of the denied port', 20);
  }
  /** Stops probing; the attempts that were answered. */
  async stop(): Promise<Array<{ at: number; result: string }>> {
    this.child.kill('SIGKILL');
    await this.exited;
    return this.results.filter((r) => r.result !== 'timeout');
  }
  kill(): void {
    if (this.child.exitCode === null) this.child.kill('SIGKILL');
  }
}

/** A flow with its conjunction ids blanked out. */
const anyConj = (flow: string): string => flow.replace(/conj(unction\(|_id=)\d+/g, 'conj$1N').replace(/set_field:0x[0-9a-f]+->reg7,/, 'set_field:N->reg7,');

let lab: NeutronLab;
labForFile((l) => (lab = l));

for (const ofInterface of ['native', 'ovs-ofctl'] as const) describe(`firewall_driver = openvswitch, of_interface = ${ofInterface}`, () => {
  const HOST = ofInterface === 'native' ? 'rs-fw' : 'rs-fw-ofctl';
  const tag = `[${ofInterface}]`;
  let ovs: PrivateOvs;
  let agent: AgentProcess;
  let files: Record<string, string>;
  let client: Vm;
  let server: Vm;
  let listener: Listener | undefined;
  // Pingers, streams, probes, flow watches: ended by after() whatever a test left running.
  const running: Killable[] = [];

  /** Cookies in use on br-int, by table. */
  async function cookiesByTable(): Promise<Map<string, Set<number>>> {
    const out = new Map<string, Set<number>>();
    for (const l of await ovs.dumpFlows('br-int', { keepCookies: true })) {
      const cookie = /cookie=(0x[0-9a-f]+)/.exec(l)?.[1] ?? '0x0';
      const table = Number(/table=(\d+)/.exec(l)?.[1] ?? 0);
      if (!out.has(cookie)) out.set(cookie, new Set());
      out.get(cookie)!.add(table);
    }
    return out;
  }

  before(async () => {
    ovs = await PrivateOvs.start();
    files = labAgentFiles({
      host: HOST,
      transportUrl: lab.transportUrl,
      ovsdbConnection: ovs.unixConnection,
      ofListenPort: await freePort(),
      ofInterface,
      reportIntervalSec: 2,
      firewallDriver: 'openvswitch',
    });
    agent = await startAgent(files, ovs);
    await waitAgentAlive(lab, HOST);
    const net = await lab.createNetwork({ name: `rs-fw-${ofInterface}` });
    await lab.createSubnet(net.id, '192.0.2.0/24', { gatewayIp: null });
    const anyOut = [{ direction: 'egress' as const, ethertype: 'IPv4' as const }];
    const clients = (await createSecurityGroup(lab, `clients-${ofInterface}`, anyOut)).sg.id;
    // ICMP only from members of `clients` (a conjunction), TCP 8000 from anywhere, nothing else.
    const web = (await createSecurityGroup(lab, `web-${ofInterface}`, [
      ...anyOut,
      { direction: 'ingress', protocol: 'icmp', remote_group_id: clients },
      { direction: 'ingress', protocol: 'tcp', port_range_min: ALLOWED_PORT, port_range_max: ALLOWED_PORT },
    ])).sg.id;
    const serverPort = await createFilteredPort(lab, net.id, { name: 'server', host: HOST, securityGroups: [web], ip: '192.0.2.10' });
    const clientPort = await createFilteredPort(lab, net.id, { name: 'client', host: HOST, securityGroups: [clients], ip: '192.0.2.20' });
    server = await plugVm(ovs, serverPort);
    client = await plugVm(ovs, clientPort);
    for (const p of [serverPort, clientPort]) {
      await waitFor(async () => (await lab.getPort(p.id)).status === 'ACTIVE', 30000, `port ${p.name ?? p.id} ACTIVE`, 100);
    }
    listener = await Listener.start(server, { tcp: [ALLOWED_PORT, DENIED_PORT] });
    // Filtering in place before any fault: the baseline every test returns to.
    assert.equal(await ping(client, server.ip, { count: 2, timeoutMs: 5000 }), 2, 'client pings server (remote-group rule)');
    assert.equal(await ping(server, client.ip, { count: 1, timeoutMs: 1500 }), 0, 'server cannot ping client (no ingress rule)');
    assert.equal(await probeTcp(client, server.ip, ALLOWED_PORT), 'connected');
    assert.equal(await probeTcp(client, server.ip, DENIED_PORT), 'timeout');
  }, { timeout: 240000 });

  // The OVS stops before the next backend's starts: two userspace ovs-vswitchd cannot share the namespace.
  after(() => stopLabHost({ host: HOST, agent, ovs, running: [...running, { kill: () => listener?.stop() }] }), { timeout: 60000 });

  test('agent SIGKILLed and restarted: no allowed ping lost, the denied port never answers, old firewall flows go after the first full sync, none needed missing', async () => {
    const stream = TcpStream.open(client, server.ip, ALLOWED_PORT);
    running.push({ kill: () => stream.close() });
    await waitFor(async () => stream.echoes > 0, 5000, 'an allowed TCP connection echoing');
    const pinger = await Pinger.startAnswered(client, server.ip, running, 'pinging before the kill');
    const denied = new DeniedProbe(client, server.ip, DENIED_PORT);
    running.push(denied);
    await denied.started();

    const oldCookies = new Set((await cookiesByTable()).keys());
    const tKill = Date.now();
    await agent.stop('SIGKILL');
    agent.cleanup();
    const watch = await FlowWatch.start(ovs, ['br-int']);
    running.push(watch);

    const tStart = Date.now();
    agent = await startAgent(files, ovs);
    await agent.waitForLog(/first full sync done/, 30000);
    const tSynced = Date.now();
    const syncMs = tSynced - tStart;
    // Right after the first full sync the previous run's cookie is gone from every table, the firewall's included.
    await waitFor(async () => (await cookiesByTable()).size === 1, 10000, 'one cookie left on br-int');
    const cleanedMs = Date.now() - tStart;
    const [[newCookie, tables]] = [...(await cookiesByTable())];
    assert.equal(oldCookies.has(newCookie!), false, 'the flows left carry the new run\'s cookie');
    assert.ok([71, 72, 73, 81, 82].every((t) => (OVS_FIREWALL_ALL_TABLES as readonly number[]).includes(t) && tables!.has(t)), `firewall tables under the new cookie: ${[...tables!].sort((a, b) => a - b).join(',')}`);
    await new Promise((r) => setTimeout(r, 1000));
    // Needed: there before the kill and after the restart (conjunction ids are numbered anew, so
    // the flows that name them are replaced, not needed as they were).
    const { before: b, after: a, samples, worst } = await watch.stop();
    const [before, after] = [b.get('br-int')!, a.get('br-int')!];
    const deniedAnswers = await denied.stop();
    const echoesAtEnd = stream.echoes;
    await new Promise((r) => setTimeout(r, 500));
    const streamAlive = !stream.ended && stream.echoes > echoesAtEnd;
    stream.close();
    const summary = await pinger.stop();

    const conj = (flows: Iterable<string>) => [...flows].flatMap((l) => [...l.matchAll(/conj(?:unction\(|_id=)(\d+)/g)].map((m) => Number(m[1])));
    const [oldMax, newMin] = [Math.max(...conj(before)), Math.min(...conj(after))];

    note(`${tag} agent SIGKILL + restart: first full sync ${syncMs} ms after start, old cookie gone ${cleanedMs} ms after start; ${samples} br-int samples, ${worst.gone.length} needed flows ever missing; conj ids before <= ${oldMax}, after >= ${newMin}`);
    note(`${tag} agent SIGKILL + restart: allowed pings every 50 ms: ${summary.transmitted} sent, ${summary.lostSeqs.length} lost (${ranges(summary.lostSeqs)}), longest gap ${pinger.longestGap().ms} ms (kill at +${tKill - pinger.startedAt} ms); denied port probed ${denied.results.length} times, answered ${deniedAnswers.length}; allowed TCP connection ${streamAlive ? 'still echoing' : 'CUT'}`);
    assert.deepEqual(worst.gone, [], `${worst.gone.length} needed flows missing ${worst.at - tStart} ms after the restart`);
    assert.deepEqual(deniedAnswers, [], 'the denied port never answered');
    assertCovers(denied.results.map((r) => r.at), { from: tKill, to: tSynced }, PROBE_MAX_GAP_MS, 'the denied port probed from before the kill to after the first full sync');
    assert.deepEqual(summary.lostSeqs, [], 'no allowed ping lost');
    assert.ok(streamAlive, 'the allowed TCP connection survives the restart');
    assert.ok(newMin > oldMax, `the new run numbers its conjunction ids above the previous run's (${newMin} > ${oldMax})`);
    assert.equal(await probeTcp(client, server.ip, DENIED_PORT), 'timeout', 'still denied after the restart');
    assert.equal(await ping(server, client.ip, { count: 1, timeoutMs: 1500 }), 0, 'server still cannot ping client');
  });

  // With ovs-ofctl the bridges' own set-up takes long enough (a process per batch) that br-int's
  // NORMAL flows would pass the ports unfiltered if the firewall's flows came after them: the agent
  // puts the firewall's flows back first (agent.ts, OVS restart handling).
  test('ovs-vswitchd killed and restarted: filtering comes back with the flows (allowed passes, denied stays denied, also while recovering)', async () => {
    const bound = OVS_RESTART_RECOVERY_BOUND_MS[ofInterface];
    const pinger = await Pinger.startAnswered(client, server.ip, running, 'pinging before the kill');
    const flowsBefore = await flowSet(ovs, 'br-int');

    const tKilled = Date.now();
    await ovs.kill('ovs-vswitchd');
    await new Promise((r) => setTimeout(r, 1000));
    const denied = new DeniedProbe(client, server.ip, DENIED_PORT);
    running.push(denied);
    await denied.started();
    await ovs.startVswitchd();
    const tBack = Date.now();
    const first = await pinger.waitReplyAfter(tBack, 15000);
    const recoveryMs = first ? first.at - tBack : Infinity;
    // The same flows as before, up to conjunction ids: the switch came back empty, so the driver
    // numbers them from the start again, as the reference's new ConjIdMap does.
    const sameUpToConj = async () => {
      const now = new Set([...(await flowSet(ovs, 'br-int'))].map(anyConj));
      const was = new Set([...flowsBefore].map(anyConj));
      return { missing: missing(was, now), extra: missing(now, was) };
    };
    await waitFor(async () => { const d = await sameUpToConj(); return d.missing.length + d.extra.length === 0; }, 15000, 'br-int flows as before').catch(async (e: unknown) => {
      const d = await sameUpToConj();
      throw new Error(`${String(e)}\nmissing:\n${d.missing.join('\n')}\nextra:\n${d.extra.join('\n')}`);
    });
    const tFlows = Date.now();
    const flowsMs = tFlows - tBack;
    // Keep probing a while with everything back.
    await new Promise((r) => setTimeout(r, 1500));
    const deniedAnswers = await denied.stop();
    const summary = await pinger.stop();
    const deniedAfter = await probeTcp(client, server.ip, DENIED_PORT);
    const allowedAfter = await probeTcp(client, server.ip, ALLOWED_PORT);
    const reverseAfter = await ping(server, client.ip, { count: 1, timeoutMs: 1500 });

    note(`${tag} ovs-vswitchd SIGKILL, restarted ${tBack - tKilled} ms later: first allowed ping reply ${recoveryMs} ms after it was back, every br-int flow back within ${flowsMs} ms; ${summary.lostSeqs.length} of ${summary.transmitted} pings lost; denied port probed ${denied.results.length} times from 1 s after the kill, answered ${deniedAnswers.length}${deniedAnswers.length ? ` (at +${deniedAnswers.map((a) => a.at - tBack).join(', +')} ms from restart)` : ''}`);
    assert.deepEqual(deniedAnswers, [], 'the denied port never answered, not even while the flows were coming back');
    assertCovers(denied.results.map((r) => r.at), { from: tBack, to: tFlows }, PROBE_MAX_GAP_MS, 'the denied port probed from before ovs-vswitchd was back until every flow was');
    assert.equal(deniedAfter, 'timeout', 'denied after the restart');
    assert.equal(allowedAfter, 'connected', 'the allowed port answers after the restart');
    assert.equal(reverseAfter, 0, 'server still cannot ping client');
    assert.ok(recoveryMs <= bound, `allowed pings pass again ${recoveryMs} ms after ovs-vswitchd is back (want <= ${bound})`);
  });
});
