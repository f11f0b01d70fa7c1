// Swap agents on a live host: the reference neutron-openvswitch-agent wires a scenario (vxlan,
// VLAN and flat networks) against a real neutron-server; it is stopped and ours started on the
// same OVS. Ours must leave exactly the reference's flows on every bridge (cookies, statistics
// aside), keep the ports' local VLANs, and never interrupt traffic between the VMs.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { waitFor } from '../../../lab/neutron.js';
import { SWAP_BRIDGES, SwapHost, referenceInstalled } from '../../helpers/reference-agent.js';
import { Pinger, assertCovers, flowCookies, ranges } from '../../helpers/resilience.js';

let host: SwapHost;

before(async () => {
  host = await SwapHost.start('parity-host');
}, { timeout: 120000 });

after(async () => {
  await host?.stop();
}, { timeout: 90000 });

test('an operator swaps the reference agent for ours without touching the dataplane', { timeout: 900000 }, async (t) => {
  if (!referenceInstalled(t)) return;
  const { lab, ovs } = host;
  const ref = host.startReference();
  await ref.waitAlive(lab, host.host);
  const { ports, vms } = await host.plugScenario('parity', 120, 'with the reference');
  // Let the reference finish its loop iteration (it polls every 2 s).
  await new Promise((r) => setTimeout(r, 4000));
  const theirs = await host.dataplane(vms);

  // Swap, with traffic flowing between the two vxlan VMs.
  const pinger = await Pinger.startAnswered(vms[0]!, vms[1]!.ip, host.running, 'pinging before the swap');
  const tSwap = Date.now();
  await ref.stop('SIGTERM');
  const ours = host.startOurs();
  await ours.waitForLog(/first full sync done: 4 ports/, 120000);
  const tSynced = Date.now();
  await new Promise((r) => setTimeout(r, 1000));
  const { transmitted, received, lostSeqs } = await pinger.stop();
  process.stdout.write(`# agent swap under a 50 ms ping: ${transmitted} sent, ${received} received\n`);
  assertCovers(pinger.replies.map((r) => r.at), { from: tSwap, to: tSynced }, 1000, 'pings answered from before the swap to after our first full sync');
  assert.equal(ranges(lostSeqs), '', 'no ping lost while the agents were swapped');

  // br-tun's stale flows go once the server has answered our first device report (its fdb entries in).
  for (const b of SWAP_BRIDGES) {
    await waitFor(async () => (await flowCookies(ovs, b)).size === 1, 30000, `${b}: the reference's flows replaced by ours, stale ones removed`, 200);
  }
  const mine = await host.dataplane(vms);
  for (const b of SWAP_BRIDGES) assert.deepEqual(mine.flows.get(b), theirs.flows.get(b), `${b}: our flows equal the reference's`);
  assert.deepEqual(mine.tags, theirs.tags, 'local VLANs kept');
  for (const p of ports) assert.equal((await lab.getPort(p.id)).status, 'ACTIVE');
});
