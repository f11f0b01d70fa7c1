// The dhcp extension's flow for a compute port, as the reference's br_int.add_dhcp_ipv4_flow
// writes it: in DHCP_IPV4_TABLE (77, where TRANSIENT_TABLE sends broadcast UDP 68 -> 67), the
// port's requests (its ofport and MAC) go to the controller (max_len 0, as os-ken's
// OFPActionOutput(OFPP_CONTROLLER, 0)); anything else there is dropped by the table's miss flow.
import type { Flow, FlowFilter, Match } from '../../openflow/flow.js';
import { ETH_TYPE, exact, IP_PROTO } from '../../openflow/flow.js';
import { INT } from '../../bridges/tables.js';

export const DHCP_FLOW_PRIORITY = 100;

function dhcpV4Match(ofport: number, mac: string): Match {
  return { ethType: ETH_TYPE.IPV4, ipProto: IP_PROTO.UDP, inPort: ofport, ethSrc: exact(mac), udpSrc: 68, udpDst: 67 };
}

export function dhcpV4Flow(ofport: number, mac: string): Flow {
  return { table: INT.DHCP_IPV4_TABLE, priority: DHCP_FLOW_PRIORITY, match: dhcpV4Match(ofport, mac), actions: [{ type: 'output', port: 'CONTROLLER', maxLen: 0 }] };
}

/** del_dhcp_flow's IPv4 half: the port's flow in table 77, whatever its priority. */
export function dhcpV4FlowFilter(ofport: number, mac: string): FlowFilter {
  return { table: INT.DHCP_IPV4_TABLE, match: dhcpV4Match(ofport, mac) };
}
