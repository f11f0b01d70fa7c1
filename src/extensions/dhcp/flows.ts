// The dhcp extension's flows for a compute port, as the reference's br_int.add_dhcp_ipv4_flow and
// add_dhcp_ipv6_flow write them: in DHCP_IPV4_TABLE (77, where TRANSIENT_TABLE sends broadcast
// UDP 68 -> 67) and, with [dhcp] enable_ipv6, DHCP_IPV6_TABLE (78, where it sends UDP 546 -> 547
// to ff02::1:2), the port's requests (its ofport and MAC) go to the controller (max_len 0, as
// os-ken's OFPActionOutput(OFPP_CONTROLLER, 0)); anything else there is dropped by the table's miss flow.
import type { Flow, FlowFilter, Match } from '../../openflow/flow.js';
import { ETH_TYPE, exact, IP_PROTO } from '../../openflow/flow.js';
import { INT } from '../../bridges/tables.js';

export const DHCP_FLOW_PRIORITY = 100;

function dhcpV4Match(ofport: number, mac: string): Match {
  return { ethType: ETH_TYPE.IPV4, ipProto: IP_PROTO.UDP, inPort: ofport, ethSrc: exact(mac), udpSrc: 68, udpDst: 67 };
}

function dhcpV6Match(ofport: number, mac: string): Match {
  return { ethType: ETH_TYPE.IPV6, ipProto: IP_PROTO.UDP, inPort: ofport, ethSrc: exact(mac), udpSrc: 546, udpDst: 547 };
}

export function dhcpV4Flow(ofport: number, mac: string): Flow {
  return { table: INT.DHCP_IPV4_TABLE, priority: DHCP_FLOW_PRIORITY, match: dhcpV4Match(ofport, mac), actions: [{ type: 'output', port: 'CONTROLLER', maxLen: 0 }] };
}

export function dhcpV6Flow(ofport: number, mac: string): Flow {
  return { table: INT.DHCP_IPV6_TABLE, priority: DHCP_FLOW_PRIORITY, match: dhcpV6Match(ofport, mac), actions: [{ type: 'output', port: 'CONTROLLER', maxLen: 0 }] };
}

/** del_dhcp_flow: the port's flows in tables 77 and 78, whatever their priority (both, as the reference, whether or not IPv6 is on). */
export function dhcpFlowFilters(ofport: number, mac: string): FlowFilter[] {
  return [{ table: INT.DHCP_IPV4_TABLE, match: dhcpV4Match(ofport, mac) }, { table: INT.DHCP_IPV6_TABLE, match: dhcpV6Match(ofport, mac) }];
}
