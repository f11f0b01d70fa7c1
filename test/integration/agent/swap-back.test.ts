// The README's swap procedure, the way back: our agent wires a host (vxlan, VLAN and flat networks)
// against a real neutron-server, then it is stopped and the reference neutron-openvswitch-agent
// started on the same OVS. The reference must keep the ports' local VLANs, replace our flows by
// its own (the same flows, its cookie) and never interrupt traffic between the VMs.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { waitFor } from '../../../lab/neutron.js';
import { SWAP_BRIDGES, SwapHost, referenceInstalled } from '../../helpers/reference-agent.js';
import { Pinger, assertCovers, flowCookies, ranges } from '../../helpers/resilience.js';

let host: SwapHost;

before(async () => {
  host = await SwapHost.start('swap-back-host');
}, { timeout: 120000 });

after(async () => {
  await host?.stop();
}, { timeout: 90000 });

test('swapping back from ours to the reference leaves the dataplane untouched', { timeout: 900000 }, async (t) => {
  if (!referenceInstalled(t)) return;
  const { lab, ovs } = host;
  const ours = host.startOurs();
  await ours.waitForLog(/bridges set up/, 120000);
  const { ports, vms } = await host.plugScenario('swapback', 121, 'with our agent');
  const mine = await host.dataplane(vms);
  const ourCookies = new Set<string>();
  for (const b of SWAP_BRIDGES) for (const c of await flowCookies(ovs, b)) ourCookies.add(c);

  const pinger = await Pinger.startAnswered(vms[0]!, vms[1]!.ip, host.running, 'pinging before the swap');
  const tSwap = Date.now();
  assert.equal(await ours.stop(), 0, 'ours stops cleanly (SIGTERM), flows in place');
  const ref = host.startReference();
  // Done once every bridge carries the reference's cookie only: it re-added what it needs, then
  // removed our flows as stale.
  try {
    await waitFor(async () => {
      if (ref.hasExited) throw new Error('the reference agent exited');
      for (const b of SWAP_BRIDGES) {
        const c = await flowCookies(ovs, b);
        if (c.size !== 1 || ourCookies.has([...c][0]!)) return false;
      }
      return true;
    }, 480000, 'the reference\'s flows replacing ours on every bridge', 500);
  } catch (e) {
    throw new Error(`${e instanceof Error ? e.message : String(e)}\nreference log (end):\n${ref.logTail()}`);
  }
  const tReplaced = Date.now();
  await new Promise((r) => setTimeout(r, 1000));
  const { transmitted, received, lostSeqs } = await pinger.stop();
  process.stdout.write(`# swap back to the reference under a 50 ms ping: ${transmitted} sent, ${received} received\n`);
  assertCovers(pinger.replies.map((r) => r.at), { from: tSwap, to: tReplaced }, 1000, 'pings answered from before the swap until the reference\'s flows replaced ours');
  assert.equal(ranges(lostSeqs), '', 'no ping lost while the agents were swapped');

  const theirs = await host.dataplane(vms);
  for (const b of SWAP_BRIDGES) assert.deepEqual(theirs.flows.get(b), mine.flows.get(b), `${b}: the reference's flows equal ours`);
  assert.deepEqual(theirs.tags, mine.tags, 'local VLANs kept');
  for (const p of ports) assert.equal((await lab.getPort(p.id)).status, 'ACTIVE');
});
