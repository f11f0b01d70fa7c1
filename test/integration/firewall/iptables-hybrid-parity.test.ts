// Our agent (firewall_driver = iptables_hybrid) against the real neutron-server lab, for the scenarios
// captured from the reference (test/fixtures/reference/iptables/): the same API operations as the
// capture script, then iptables-save, ip6tables-save and ipset list compared with what the reference
// left. Neutron gives new ids each run, so the fixture's port and group ids are replaced by this
// run's before comparing. Run under scripts/netns-run.sh: the namespace's iptables are the test's.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { PrivateOvs, freePort } from '../../../lab/ovs.js';
import { NeutronLab, waitFor } from '../../../lab/neutron.js';
import { AgentProcess } from '../../../lab/agent-process.js';
import { labAgentFiles } from '../../../lab/agent-config.js';
import { normalizeIpsetList, resetFirewallState } from '../../helpers/iptables.js';
import { iptablesScenarios, sortMemberRuns } from '../../helpers/iptables-fixtures.js';
import { canonicalSave } from '../../../src/firewall/iptables/save.js';
import { SCENARIOS, performScenario, settledFirewallState, undoScenario, type ScenarioObjects } from './iptables-capture.js';
import { startLabAndOvs } from '../../../lab/host.js';

let lab: NeutronLab;
let ovs: PrivateOvs;

before(async () => {
  [lab, ovs] = await startLabAndOvs();
}, { timeout: 240000 });

after(async () => {
  await Promise.allSettled([lab?.stop(), ovs?.stop()]);
}, { timeout: 60000 });

/**
 * Replaces every id of `ids` (old -> new) wherever it appears whole or cut (chain names keep 10
 * characters, device names 11, ipset names 24): each occurrence of an old id's first 10 characters
 * is extended as far as it matches the old id and replaced by as many characters of the new one.
 */
function replaceIds(text: string, ids: ReadonlyMap<string, string>): string {
  let out = text;
  for (const [from, to] of ids) {
    const head = from.slice(0, 10);
    let res = '';
    let i = 0;
    for (let at = out.indexOf(head); at >= 0; at = out.indexOf(head, i)) {
      let n = head.length;
      while (n < from.length && out[at + n] === from[n]) n++;
      res += out.slice(i, at) + to.slice(0, n);
      i = at + n;
    }
    out = res + out.slice(i);
  }
  return out;
}

/**
 * Both agents list ports in the shared chains (FORWARD, INPUT, sg-chain, raw PREROUTING) by port id;
 * with this run's ids the order is not the capture's. This orders each shared chain's rules by the
 * port device they name (stably: a port's own rules keep their order, rules naming no port stay last).
 */
function orderSharedChainsByPort(canonical: string): string {
  const lines = canonical.split('\n');
  const shared = /^-A (neutron-openvswi-(?:FORWARD|INPUT|sg-chain|PREROUTING)) /;
  const device = (l: string): string => /(?:tap|qvb)([0-9a-f-]{11})/.exec(l)?.[1] ?? '\uffff';
  const out: string[] = [];
  for (let i = 0; i < lines.length; ) {
    const chain = shared.exec(lines[i]!)?.[1];
    let j = i + 1;
    if (chain !== undefined) while (j < lines.length && shared.exec(lines[j]!)?.[1] === chain) j++;
    out.push(...lines.slice(i, j).map((l, k) => ({ l, k })).sort((a, b) => (device(a.l) < device(b.l) ? -1 : device(a.l) > device(b.l) ? 1 : a.k - b.k)).map((x) => x.l));
    i = j;
  }
  return out.join('\n');
}

const comparable = (save: string): string => orderSharedChainsByPort(sortMemberRuns(canonicalSave(save)));

for (const sc of iptablesScenarios()) {
  const spec = SCENARIOS.find((s) => s.name === sc.name);
  test(`${sc.name}: our agent leaves the reference's iptables, ip6tables and ipsets`, { timeout: 240000, skip: spec ? false : 'no such capture scenario' }, async () => {
    await resetFirewallState();
    const host = `ours-${sc.name}`;
    const agent = new AgentProcess(
      labAgentFiles({
        host,
        transportUrl: lab.transportUrl,
        ovsdbConnection: ovs.unixConnection,
        ofListenPort: await freePort(),
        reportIntervalSec: 5,
        firewallDriver: 'iptables_hybrid',
        securitygroup: [`enable_ipset = ${(sc.input.enableIpset ?? true) ? 'True' : 'False'}`],
      }),
      ovs.env,
    ).start();
    const objs: ScenarioObjects = { ports: [], vms: [], created: { ports: [], groups: [] }, createdRules: [] };
    const log = (): string => `\nagent log (last lines):\n${agent.output.split('\n').slice(-30).join('\n')}`;
    try {
      await agent.waitForLog(/bridges set up/, 60000);
      await waitFor(async () => (await lab.listAgents()).some((a) => a.host === host && a.alive), 60000, `agent ${host} alive`);
      await performScenario(lab, ovs, spec!, host, objs).catch((e: unknown) => {
        throw new Error(`${String(e)}${log()}`);
      });
      const state = await settledFirewallState();
      const ids = new Map<string, string>();
      sc.input.ports.forEach((p, i) => ids.set(p.id, objs.ports[i]!.id));
      sc.input.securityGroups.forEach((g, i) => ids.set(g.id, objs.created.groups[i]!));
      assert.equal(comparable(state.iptables), comparable(replaceIds(sc.iptables, ids)), `IPv4 rules differ${log()}`);
      assert.equal(comparable(state.ip6tables), comparable(replaceIds(sc.ip6tables, ids)), 'IPv6 rules differ');
      assert.equal(state.ipset, normalizeIpsetList(replaceIds(sc.ipset, ids)), 'ipsets differ');
    } finally {
      await agent.stop().catch((e: unknown) => process.stderr.write(`stopping the agent: ${String(e)}\n`));
      agent.cleanup();
      await undoScenario(lab, objs);
    }
  });
}
