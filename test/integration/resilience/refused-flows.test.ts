// A flow the agent wants that the switch refuses, on a real switch: br-int's table 60 is made full
// (an OVSDB Flow_Table with flow_limit=0 and overflow_policy=refuse, as an operator capping a table
// would) and emptied by hand. The flow audit (every second here) finds the flows missing and the
// switch refuses them (OFPFMFC_TABLE_FULL): logged once as ERROR with bridge, flow and error,
// counted, and tried again with back-off (after 1, 2, 4 ... audits), not at every audit. Once the
// cap is lifted, the next try is taken, said once, and the VMs ping again. Both backends, one OVS
// (the bridges go between the runs) and one neutron lab for the file.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { freePort, type PrivateOvs } from '../../../lab/ovs.js';
import { startLabAndOvs } from '../../../lab/host.js';
import type { AgentProcess } from '../../../lab/agent-process.js';
import { waitFor, type NeutronLab, type NeutronNetwork } from '../../../lab/neutron.js';
import { plugVm, ping, type Vm } from '../../../lab/vm.js';
import { parsePrometheusText, sampleValue } from '../../helpers/prometheus-text.js';
import { agentConfig, startAgent, stopAgentHost, note } from '../../helpers/resilience.js';

const AUDIT_SEC = 1;
/** How long the table stays full: audits 0, 1, 3 and 7 after the first try it in this time. */
const FULL_FOR_MS = 9000;
const TABLE = 60;

let lab: NeutronLab;
let ovs: PrivateOvs;
before(async () => {
  [lab, ovs] = await startLabAndOvs();
}, { timeout: 240000 });
after(async () => {
  await lab?.stop();
  await ovs?.stop();
}, { timeout: 60000 });

for (const ofInterface of ['native', 'ovs-ofctl'] as const) describe(`of_interface = ${ofInterface}`, () => {
  const HOST = ofInterface === 'native' ? 'rs-refused' : 'rs-refused-ofctl';
  let agent: AgentProcess;
  let metricsPort: number;
  let net: NeutronNetwork;
  let v1: Vm;
  let v2: Vm;

  async function scrape(): Promise<{ errors: number; refused: number }> {
    const res = await fetch(`http://127.0.0.1:${metricsPort}/metrics`, { signal: AbortSignal.timeout(10000) });
    const m = parsePrometheusText(await res.text());
    return {
      errors: sampleValue(m, 'ovs_agent_flow_mod_errors_total', { bridge: 'br-int' }) ?? 0,
      refused: sampleValue(m, 'ovs_agent_flow_audit_refused_flows') ?? NaN,
    };
  }
  const lines = (re: RegExp): string[] => agent.output.split('\n').filter((l) => re.test(l));

  before(async () => {
    for (const br of ['br-int', 'br-tun']) await ovs.vsctl('--if-exists', 'del-br', br);
    metricsPort = await freePort();
    const files = agentConfig(lab, ovs, {
      host: HOST, ofListenPort: await freePort(), ofInterface,
      agent: [`flow_audit_interval = ${AUDIT_SEC}`, `metrics_bind = 127.0.0.1:${metricsPort}`],
    });
    agent = await startAgent(files, ovs);
    await waitFor(async () => (await lab.listAgents()).find((a) => a.host === HOST && a.alive), 60000, 'the agent alive in the API');
    net = await lab.createNetwork({ name: `rs-refused-${ofInterface}` });
    await lab.createSubnet(net.id, '192.0.2.0/25', { gatewayIp: null });
    v1 = await plugVm(ovs, await lab.createPort(net.id, { name: 'rf1', host: HOST }));
    v2 = await plugVm(ovs, await lab.createPort(net.id, { name: 'rf2', host: HOST }));
    await waitFor(async () => (await ping(v1, v2.ip, { count: 1, timeoutMs: 2000 })) === 1, 60000, 'v1 reaches v2');
    await agent.waitForLog(/first full sync done/, 30000);
  }, { timeout: 240000 });

  after(async () => {
    await stopAgentHost({ host: HOST, agent });
    await ovs.vsctl('--if-exists', 'clear', 'Bridge', 'br-int', 'flow_tables').catch(() => undefined);
    for (const br of ['br-int', 'br-tun']) await ovs.vsctl('--if-exists', 'del-br', br).catch(() => undefined);
  }, { timeout: 60000 });

  test(`flows of a full table: one ERROR each, retried with back-off, taken once there is room; the VMs ping again`, async () => {
    const wanted = (await ovs.dumpFlows('br-int')).filter((l) => l.startsWith(`table=${TABLE},`));
    assert.ok(wanted.length > 0, 'table 60 has flows to lose');
    const before = await scrape();
    await ovs.vsctl('--', '--id=@ft', 'create', 'Flow_Table', 'flow_limit=0', 'overflow_policy=refuse', '--', 'set', 'Bridge', 'br-int', `flow_tables:${TABLE}=@ft`);
    await ovs.ofctl('-O', 'OpenFlow13', 'del-flows', 'br-int', `table=${TABLE}`);
    const tDeleted = Date.now();
    await agent.waitForLog(/ERROR .*br-int: the switch refuses a flow the agent wants/, 10000);
    await new Promise((r) => setTimeout(r, FULL_FOR_MS - (Date.now() - tDeleted)));

    const full = await scrape();
    const errors = lines(/ ERROR .*the switch refuses a flow the agent wants/);
    assert.equal(errors.length, wanted.length, `one ERROR per refused flow, not one per audit:\n${errors.join('\n')}`);
    for (const e of errors) assert.match(e, new RegExp(`br-int: .*OFPFMFC_TABLE_FULL.*table=${TABLE}, `), 'bridge, switch error and flow');
    assert.equal(lines(/flow audit failed/).length, 0, 'a refusal is not an audit failure');
    assert.equal(full.refused, wanted.length, 'flow_audit_refused_flows counts the refused flows');
    const tries = (full.errors - before.errors) / wanted.length;
    // Audits every second for ~9 s: tries after 0, 1, 3 and 7 audits (a slow audit may shift one).
    assert.ok(tries >= 3 && tries <= 5, `each refused flow tried ${tries} times in ${FULL_FOR_MS} ms with an audit every ${AUDIT_SEC} s (want 3-5, not one per audit)`);
    assert.equal(await ping(v1, v2.ip, { count: 1, timeoutMs: 1000 }), 0, 'table 60 empty: no traffic, as the switch has it');

    // The operator lifts the cap: the next try (8 audits after the previous one at most) is taken.
    await ovs.vsctl('clear', 'Bridge', 'br-int', 'flow_tables');
    const tCleared = Date.now();
    await waitFor(async () => (await ping(v1, v2.ip, { count: 1, timeoutMs: 1000 })) === 1, 30000, 'v1 reaches v2 once table 60 takes flows again');
    const backMs = Date.now() - tCleared;
    await waitFor(async () => (await scrape()).refused === 0, 10000, 'no refused flow left');
    assert.equal(lines(/the switch took the flow it refused/).length, wanted.length, 'said once per flow');
    assert.equal(lines(/ ERROR .*the switch refuses a flow the agent wants/).length, wanted.length, 'no new ERROR');
    assert.deepEqual((await ovs.dumpFlows('br-int')).filter((l) => l.startsWith(`table=${TABLE},`)), wanted, 'table 60 as before');
    note(`[${ofInterface}] table ${TABLE} full and emptied: ${wanted.length} flows refused, each tried ${tries} times in ${FULL_FOR_MS} ms (audit every ${AUDIT_SEC} s); VMs ping again ${backMs} ms after the cap was lifted`);
  });
});
