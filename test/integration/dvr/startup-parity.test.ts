// DVR start-up: with `[agent] enable_distributed_routing = True` against a real neutron-server that
// knows another host's DVR MAC, the flows ours leaves on br-int, br-tun and br-phys equal those the
// reference left (test/fixtures/reference/dvr, scripts/capture-dvr-reference.sh), with either
// OpenFlow interface; vxlan alone, and vxlan with the VLAN provider bridge.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { type NeutronLab, labSkipReason } from '../../../lab/neutron.js';
import { startLab } from '../../../lab/host.js';
import { DVR_STARTUP_CASES, readFixture, startupFlows } from './startup-scenario.js';

const skip = labSkipReason();

describe('DVR start-up flows equal the reference\'s', { skip }, () => {
  let lab: NeutronLab;
  before(async () => {
    // A lab of its own: no other file's DVR hosts in get_dvr_mac_address_list.
    lab = await startLab({ own: true });
  });
  after(async () => {
    await lab?.stop();
  });

  for (const ofInterface of ['native', 'ovs-ofctl'] as const) {
    for (const c of DVR_STARTUP_CASES) {
      it(`${c.name}, of_interface = ${ofInterface}`, async () => {
        const ours = await startupFlows(lab, 'ours', c, `dvr-${ofInterface}-${c.name}`, ofInterface);
        assert.equal(ours, readFixture(c.name));
      });
    }
  }
});
