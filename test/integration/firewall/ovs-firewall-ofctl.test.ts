// The openvswitch firewall, seen from the VMs, with flows written by ovs-ofctl (kolla's class path).
import { firewallBehaviour } from './behaviour.js';

firewallBehaviour({
  firewallDriver: 'neutron.agent.linux.openvswitch_firewall:OVSFirewallDriver',
  ofInterface: 'ovs-ofctl',
  ofListenPort: 16692,
});
