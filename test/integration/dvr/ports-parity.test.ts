// DVR ports: with Debian's neutron-l3-agent creating the router ports of a distributed router, the
// flows ours leaves on br-int and br-tun (and br-phys) equal the reference's
// (test/fixtures/reference/dvr/ports-*, scripts/capture-dvr-reference.sh --ports) after each step.
// - dvr mode, two subnets with a VM port each on this host (vxlan; VLAN of physnet1; physnet1's flat
//   network and a VLAN; vxlan with the second subnet IPv6, SLAAC; GRE; Geneve; with the openvswitch
//   firewall and explicitly_egress_direct on vxlan, and on the flat and VLAN networks): both subnets
//   routed, one router interface removed, one VM removed;
// - dvr_snat mode, a router with an external gateway on physnet1's flat network and one vxlan subnet:
//   the subnet's centralized SNAT (sg-) port wired, then the gateway removed;
// - dvr mode, one vxlan network with two routed subnets: a VM port moved from one to the other.
// vxlan, VLAN and flat run with either OpenFlow interface. The others run with the native one only:
// what they add (the router advertisement drop of an IPv6 interface, a csnat port's delivery flows,
// another tunnel type's table, the firewall's table-94 flows of a DVR gateway) goes through the same
// bridge verbs and flow encoders the other cases show equal with both interfaces, and each case
// costs ~40 s in the slowest file of the suite.
// Each step is compared as soon as its flows are taken, so that a failure carries the agents' logs.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { type NeutronLab, labSkipReason } from '../../../lab/neutron.js';
import { startLab } from '../../../lab/host.js';
import { readFixture } from './startup-scenario.js';
import {
  MOVED_STEPS, movedFixtureName, type MovedStep, runMovedScenario, portsFixtureName, runPortsScenario, runSnatScenario, SNAT_STEPS, snatFixtureName, withOvsFirewall, withoutOrphanedMemberFlows, type PortsStep, type PortsVariant, type SnatStep,
} from './ports-scenario.js';

const skip = labSkipReason();

const CASES: ReadonlyArray<readonly [PortsVariant, 'native' | 'ovs-ofctl']> = [
  ['vxlan', 'native'], ['vxlan', 'ovs-ofctl'], ['vlan', 'native'], ['vlan', 'ovs-ofctl'], ['flat', 'native'], ['flat', 'ovs-ofctl'], ['ipv6', 'native'],
  ['gre', 'native'], ['geneve', 'native'], ['egress-direct', 'native'], ['egress-direct-flat', 'native'],
];

describe('DVR router and VM ports: flows equal the reference\'s', { skip }, () => {
  let lab: NeutronLab;
  before(async () => {
    // The router service plugin with router_distributed = True: a lab of its own.
    lab = await startLab({ dvr: true });
  });
  after(async () => {
    await lab?.stop();
  });

  for (const [variant, ofInterface] of CASES) {
    it(`${variant}: two subnets of a distributed router, an interface removed, a VM removed; of_interface = ${ofInterface}`, async () => {
      const steps = await runPortsScenario(lab, 'ours', `dvr-ports-${variant}-${ofInterface}`, ofInterface, variant, (step, flows) => {
        const expected = readFixture(portsFixtureName(variant, step as PortsStep));
        if (withOvsFirewall(variant) && step === 'vm-a-removed') assert.equal(withoutOrphanedMemberFlows(flows), withoutOrphanedMemberFlows(expected), `step ${step}`);
        else assert.equal(flows, expected, `step ${step}`);
      });
      assert.deepEqual([...steps.keys()], ['two-subnets', 'interface-b-removed', 'vm-a-removed']);
    });
  }

  it('dvr_snat: a distributed router\'s centralized SNAT port, then its gateway removed; of_interface = native', async () => {
    const steps = await runSnatScenario(lab, 'ours', 'dvr-snat-native', 'native', (step, flows) => assert.equal(flows, readFixture(snatFixtureName(step as SnatStep)), `step ${step}`));
    assert.deepEqual([...steps.keys()], SNAT_STEPS);
  });

  it('a VM port moved between two subnets of one network, both routed; of_interface = native', async () => {
    const steps = await runMovedScenario(lab, 'ours', 'dvr-moved-native', 'native', (step, flows) => assert.equal(flows, readFixture(movedFixtureName(step as MovedStep)), `step ${step}`));
    assert.deepEqual([...steps.keys()], MOVED_STEPS);
  });
});
