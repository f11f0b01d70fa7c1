// DVR ports: with Debian's neutron-l3-agent in dvr mode creating the router ports of a distributed
// router (two subnets, a VM port of each on this host; vxlan, VLAN of physnet1, then physnet1's flat
// network and a VLAN), the flows ours
// leaves on br-int and br-tun (and br-phys) equal the reference's (test/fixtures/reference/dvr/ports-*,
// scripts/capture-dvr-reference.sh --ports) after each step: both subnets routed, one router interface removed, one VM removed; with
// either OpenFlow interface.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { type NeutronLab, labSkipReason } from '../../../lab/neutron.js';
import { startLab } from '../../../lab/host.js';
import { readFixture } from './startup-scenario.js';
import { portsFixtureName, runPortsScenario } from './ports-scenario.js';

const skip = labSkipReason();

describe('DVR router and VM ports: flows equal the reference\'s', { skip }, () => {
  let lab: NeutronLab;
  before(async () => {
    // The router service plugin with router_distributed = True: a lab of its own.
    lab = await startLab({ dvr: true });
  });
  after(async () => {
    await lab?.stop();
  });

  for (const variant of ['vxlan', 'vlan', 'flat'] as const) {
    for (const ofInterface of ['native', 'ovs-ofctl'] as const) {
      it(`${variant}: two subnets of a distributed router, an interface removed, a VM removed; of_interface = ${ofInterface}`, async () => {
        const steps = await runPortsScenario(lab, 'ours', `dvr-ports-${variant}-${ofInterface}`, ofInterface, variant);
        for (const [step, flows] of steps) assert.equal(flows, readFixture(portsFixtureName(variant, step)), `step ${step}`);
        assert.deepEqual([...steps.keys()], ['two-subnets', 'interface-b-removed', 'vm-a-removed']);
      });
    }
  }
});
