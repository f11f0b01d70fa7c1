// Start-up of the real CLI against a real OVS: the flows left on every bridge equal those the
// reference neutron-openvswitch-agent left for the same config (test/fixtures/reference, captured
// with scripts/capture-reference.sh), with either OpenFlow interface.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { PrivateOvs } from '../../../lab/ovs.js';
import { AgentProcess } from '../../../lab/agent-process.js';
import { flowCookies } from '../../helpers/resilience.js';

const FIXTURES = 'test/fixtures/reference';

interface Golden {
  bridges: Map<string, string[]>;
}

function readGolden(name: string): Golden {
  const bridges = new Map<string, string[]>();
  let cur: string[] | undefined;
  for (const line of readFileSync(`${FIXTURES}/${name}.flows`, 'utf8').split('\n')) {
    if (line.startsWith('== ')) bridges.set(line.slice(3), (cur = []));
    else if (line.trim() && cur) cur.push(line.trim());
  }
  return { bridges };
}

function mappedBridges(ini: string): string[] {
  const m = /^\s*bridge_mappings\s*=\s*(.*)$/m.exec(ini);
  return m ? m[1]!.split(',').map((x) => x.split(':')[1]!.trim()).filter(Boolean) : [];
}

let ovs: PrivateOvs;
before(async () => {
  ovs = await PrivateOvs.start();
});
after(async () => {
  await ovs?.stop();
});

async function freshOvs(): Promise<void> {
  for (const b of (await ovs.vsctl('list-br')).split('\n').filter(Boolean)) await ovs.vsctl('del-br', b);
}

function neutronConf(ofInterface: string): string {
  // An unreachable broker: bridge set-up must not depend on the server.
  return `[DEFAULT]\nhost = compute1\ntransport_url = rabbit://guest:secret@127.0.0.1:1/\n[ovs]\novsdb_connection = ${ovs.unixConnection}\nof_interface = ${ofInterface}\nof_listen_port = 16633\n`;
}

/**
 * Runs `body` with our agent started on these files and its bridges set up (against the
 * unreachable broker of neutronConf); the agent is killed, if still running, and its files
 * removed afterwards.
 */
async function withAgent(files: { 'neutron.conf': string; 'agent.ini': string }, body: (agent: AgentProcess) => Promise<void>): Promise<void> {
  const agent = new AgentProcess(files, ovs.env);
  try {
    agent.start();
    // Generous: other suites may be loading the machine; what is tested is the flows, not the time.
    await agent.waitForLog(/bridges set up/, 60000);
    await body(agent);
  } finally {
    agent.cleanup();
  }
}

/** Files for a start-up from the fixture `name`'s ini. */
function fixtureFiles(ofInterface: string, name: string): { 'neutron.conf': string; 'agent.ini': string } {
  return { 'neutron.conf': neutronConf(ofInterface), 'agent.ini': readFileSync(`${FIXTURES}/${name}.ini`, 'utf8') };
}

const CASES: Array<{ name: string; junk?: string }> = [
  { name: 'vxlan-physnet-l2pop' },
  { name: 'tun-gre-vxlan-geneve' },
  { name: 'two-physnets' },
  { name: 'long-bridge-igmp' },
  { name: 'drop-flows-on-start', junk: 'table=0,priority=7,cookie=0x1234,in_port=1,actions=drop' },
];

for (const ofInterface of ['native', 'ovs-ofctl']) {
  for (const c of CASES) {
    test(`start-up flows equal the reference's: ${c.name}, of_interface=${ofInterface}`, async () => {
      await freshOvs();
      const files = fixtureFiles(ofInterface, c.name);
      for (const b of mappedBridges(files['agent.ini'])) await ovs.addBridge(b);
      if (c.junk) {
        await ovs.addBridge('br-int');
        await ovs.ofctl('-O', 'OpenFlow13', 'add-flow', 'br-int', c.junk);
      }
      await withAgent(files, async (agent) => {
        const golden = readGolden(c.name);
        for (const [bridge, flows] of golden.bridges) {
          assert.deepEqual(await ovs.dumpFlows(bridge), [...flows].sort(), `flows of ${bridge}`);
        }
        // Every flow carries the agent's cookie for its bridge, one cookie per bridge.
        for (const bridge of golden.bridges.keys()) {
          const cookies = await flowCookies(ovs, bridge);
          assert.equal(cookies.size, 1, `${bridge} flows carry one cookie: ${[...cookies].join(' ')}`);
        }
        // Bridges are secure, speak the protocols the reference sets, and point at our controller when native.
        const intBr = JSON.parse(await ovs.vsctl('--format=json', 'list', 'Bridge', 'br-int')) as { headings: string[]; data: unknown[][] };
        const col = (n: string) => intBr.data[0]![intBr.headings.indexOf(n)];
        assert.equal(col('fail_mode'), 'secure');
        assert.deepEqual(col('protocols'), ['set', ['OpenFlow10', 'OpenFlow13', 'OpenFlow14']]);
        const ctl = await ovs.vsctl('get-controller', 'br-int');
        assert.equal(ctl, ofInterface === 'native' ? 'tcp:127.0.0.1:16633' : '');
        // SIGTERM stops the agent cleanly and leaves the flows in place.
        assert.equal(await agent.stop(), 0);
        for (const [bridge, flows] of golden.bridges) assert.deepEqual(await ovs.dumpFlows(bridge), [...flows].sort());
      });
    });
  }
}

test('of_interface = ovs-ofctl clears the controllers an earlier native run left on the bridges', async () => {
  await freshOvs();
  for (const b of ['br-int', 'br-tun']) {
    await ovs.addBridge(b);
    await ovs.vsctl('set-controller', b, 'tcp:127.0.0.1:16633');
    assert.equal(await ovs.vsctl('get-controller', b), 'tcp:127.0.0.1:16633', `${b} has the earlier run's controller`);
  }
  await withAgent(fixtureFiles('ovs-ofctl', 'tun-gre-vxlan-geneve'), async (agent) => {
    for (const b of ['br-int', 'br-tun']) assert.equal(await ovs.vsctl('get-controller', b), '', `${b} has no controller`);
    assert.equal((await ovs.vsctl('--columns=_uuid', 'list', 'Controller')).trim(), '', 'no Controller row is left');
    assert.equal(await agent.stop(), 0);
  });
});

test('SIGHUP re-reads the mutable options: debug = True turns DEBUG logging on, the flows stay as they were', async () => {
  await freshOvs();
  await withAgent(fixtureFiles('native', 'tun-gre-vxlan-geneve'), async (agent) => {
    const flowsOf = async () => Promise.all(['br-int', 'br-tun'].map((b) => ovs.dumpFlows(b, { keepCookies: true })));
    const before = await flowsOf();
    assert.doesNotMatch(agent.output, / DEBUG /, 'no DEBUG line before the reload');
    writeFileSync(agent.path('neutron.conf'), neutronConf('native').replace('[DEFAULT]\n', '[DEFAULT]\ndebug = True\n'));
    process.kill(agent.pid!, 'SIGHUP');
    await agent.waitForLog(/SIGHUP: configuration files re-read; changed: DEFAULT\.debug/);
    await agent.waitForLog(/ DEBUG ovs_agent\./);
    assert.equal(agent.exitCode, undefined, 'still running');
    assert.deepEqual(await flowsOf(), before, 'flows and cookies unchanged');
    assert.doesNotMatch(agent.output, /bridge ready[\s\S]*SIGHUP[\s\S]*bridge ready/, 'no bridge set up again');
    // Reading the same files again changes nothing.
    process.kill(agent.pid!, 'SIGHUP');
    await agent.waitForLog(/no mutable option changed/);
    assert.equal(await agent.stop(), 0);
  });
});

test('without a reachable broker the agent sets up its bridges, logs each failed attempt with the password hidden, and keeps retrying', async () => {
  await freshOvs();
  await withAgent(fixtureFiles('native', 'tun-gre-vxlan-geneve'), async (agent) => {
    await agent.waitForLog(/unreachable[^\n]*\n[\s\S]*unreachable/, 15000); // at least two attempts
    assert.ok(agent.output.includes('127.0.0.1:1'), 'the URL is named');
    assert.ok(!agent.output.includes('secret'), 'the password is never logged');
    assert.equal(agent.exitCode, undefined, 'still running');
    assert.equal(await agent.stop(), 0);
  });
});
