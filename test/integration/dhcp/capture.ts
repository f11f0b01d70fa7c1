// Captures what the reference agent's `dhcp` extension does in scenario.ts into
// test/fixtures/reference/dhcp/lab.json: br-int's DHCP flows with A wired and after A is gone,
// the OFFER and ACK frames VM A received, and how many pings B answered. One lab, a private OVS,
// the reference with `[agent] extensions = dhcp` and `[dhcp] enable_ipv6 = False`. With --v6, the
// DHCPv6 scenario (scenario6.ts, enable_ipv6 at its default True) into lab-v6.json instead.
//
//   scripts/capture-dhcp-reference.sh [--v6] [--out DIR]
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { NeutronLab } from '../../../lab/neutron.js';
import { PrivateOvs } from '../../../lab/ovs.js';
import { captureLog as log, captureOutDir } from '../../helpers/capture-cli.js';
import { captureWithReference } from '../../helpers/capture-run.js';
import { dhcpAgentIni, runDhcpScenario, type DhcpScenarioResult } from './scenario.js';
import { dhcp6AgentIni, runDhcp6Scenario, type Dhcp6ScenarioResult } from './scenario6.js';

async function main(): Promise<void> {
  const v6 = process.argv.includes('--v6');
  if (v6) process.argv.splice(process.argv.indexOf('--v6'), 1);
  const out = captureOutDir('capture-dhcp-reference.sh [--v6]', 'test/fixtures/reference/dhcp');
  mkdirSync(out, { recursive: true });
  const t0 = Date.now();
  const lab = await NeutronLab.start();
  let ovs: PrivateOvs | undefined;
  try {
    ovs = await PrivateOvs.start({ tcp: true });
    await ovs.addBridge('br-phys');
    const host = `dhcpcap-${process.pid}`;
    const o = ovs;
    const cfg = { host, transportUrl: lab.transportUrl, ovs, extraIni: v6 ? dhcp6AgentIni(ovs) : dhcpAgentIni(ovs) };
    const readyChecks = [['table 77', async () => (await o.dumpFlows('br-int')).some((f) => f.includes('table=77'))]] as const;
    const result = await captureWithReference<DhcpScenarioResult | Dhcp6ScenarioResult>({ lab, ovs, cfg, readyChecks, keepLogAt: process.env.DHCP_CAPTURE_AGENT_LOG }, (hooks) => {
      log(`reference agent ready after ${((Date.now() - t0) / 1000).toFixed(0)} s`);
      const ctx = { lab, ovs: o, host, log, assertAgentRunning: hooks.assertAgentRunning };
      return v6 ? runDhcp6Scenario(ctx) : runDhcpScenario(ctx);
    });
    writeFileSync(join(out, v6 ? 'lab-v6.json' : 'lab.json'), JSON.stringify(result, null, 2) + '\n');
    log(`captured into ${out} in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  } finally {
    await ovs?.stop();
    await lab.stop();
  }
}

main().catch((e: unknown) => {
  log(`capture failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  process.exitCode = 1;
});
