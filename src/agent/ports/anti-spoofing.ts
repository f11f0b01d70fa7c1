// ARP/ND/MAC anti-spoofing of a port when no firewall driver does it (noop/iptables firewalls,
// flows.md §6.3): which MACs and addresses a port may use, from the server's view of the port.
import { isIP } from 'node:net';
import { IntegrationBridge } from '../../bridges/br-int.js';
import type { FlowBatch } from '../../bridges/ovs-bridge.js';
import type { BoundDeviceDetails } from './device-details.js';
import { eui64LinkLocal } from '../../util/addresses.js';

/** A /0 allows any address: no protection can be expressed for that family. */
const anyAddress = (cidrs: string[]): boolean => cidrs.some((c) => c.split('/')[1] === '0');

export function setupArpSpoofingProtection(b: FlowBatch, ofport: number, d: BoundDeviceDetails): void {
  if (!d.portSecurityEnabled || d.deviceOwner.startsWith('network:')) {
    IntegrationBridge.deleteArpSpoofingProtection(b, ofport);
    IntegrationBridge.allowAllMacsForPort(b, ofport);
    return;
  }
  const macs = [...new Set([d.macAddress, ...d.allowedAddressPairs.map((p) => p.macAddress).filter(Boolean)])];
  const addrs = [...d.fixedIps.map((f) => f.ipAddress), ...d.allowedAddressPairs.map((p) => p.ipAddress)];
  const v4 = addrs.filter((a) => isIP(a.split('/')[0]!) === 4);
  const v6 = addrs.filter((a) => isIP(a.split('/')[0]!) === 6);
  // Neighbour advertisements for the link-local addresses too.
  for (const mac of macs) v6.push(eui64LinkLocal(mac));
  IntegrationBridge.deleteArpSpoofingAllowRules(b, ofport);
  if (anyAddress(v4)) {
    IntegrationBridge.deleteArpSpoofingProtection(b, ofport);
    IntegrationBridge.setAllowedMacsForPort(b, ofport, macs);
    return;
  }
  IntegrationBridge.setAllowedMacsForPort(b, ofport, macs);
  if (!anyAddress(v6)) IntegrationBridge.installIcmpv6NaSpoofingProtection(b, ofport, v6);
  IntegrationBridge.installArpSpoofingProtection(b, ofport, v4);
}
