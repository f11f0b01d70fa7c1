// The iptables_hybrid firewall, seen from VMs plugged as os-vif plugs them for it (qbr/qvb/qvo/tap),
// configured with the class path kolla-ansible writes.
import { firewallBehaviour } from './behaviour.js';
import { plugHybridVm } from '../../../lab/hybrid-vm.js';

firewallBehaviour({
  firewallDriver: 'neutron.agent.linux.iptables_firewall.OVSHybridIptablesFirewallDriver',
  ofListenPort: 16693,
  plug: (ovs, port) => plugHybridVm(ovs, port),
});
