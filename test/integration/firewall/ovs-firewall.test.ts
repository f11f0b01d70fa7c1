// The openvswitch (conntrack) firewall, seen from the VMs, with the native OpenFlow backend.
import { firewallBehaviour } from './behaviour.js';

firewallBehaviour({ firewallDriver: 'openvswitch', ofListenPort: 16691 });
