// `[agent] explicitly_egress_direct = True` when no OpenFlow firewall handles it (flows.md §7): with
// the noop or iptables_hybrid driver, or with security groups disabled whatever the driver, the
// agent itself sends a port's accepted unicast straight to its destination instead of NORMAL.
// Traffic from the patch ports and from each bound port goes through LOCAL_MAC_DIRECT (61), where
// frames to a local port's MAC are output to it; a port's own unicast leaves by its network's
// patch port from TRANSIENT_EGRESS_TABLE (62).
// When a port leaves, its flows matching in_port go with all its others; its two flows in table 61
// stay, as the reference's stay (its deletion of them fails unseen, captured in
// test/fixtures/reference/nosg/openvswitch-direct.unplugged.flows): they output to an ofport that
// is gone, are replaced when the MAC is bound again on that VLAN, and go with this run's cookie.
import { type Flow, output, popVlan, pushVlan, setReg, setVlan, resubmit, vlan } from '../../openflow/flow.js';
import type { FlowBatch } from '../../bridges/ovs-bridge.js';
import { gotoFlow } from '../../bridges/flows.js';
import { INT, isTunnelType } from '../../bridges/tables.js';
import type { Bridges } from '../bridges/bridge-setup.js';
import type { AgentSettings } from '../settings.js';
import type { BoundDeviceDetails } from './device-details.js';

/** The register the reference keeps a port's local VLAN in on its way through table 61. */
const REG_LOCAL_VLAN = 6;
const UNICAST = { value: '00:00:00:00:00:00', mask: '01:00:00:00:00:00' };

/** Whether the agent writes these flows: the reference's `direct_for_non_openflow_firewall`. */
export function agentEgressDirect(s: Pick<AgentSettings, 'explicitlyEgressDirect' | 'firewallDriver' | 'enableSecurityGroup'>): boolean {
  return s.explicitlyEgressDirect && (s.firewallDriver !== 'openvswitch' || !s.enableSecurityGroup);
}

/** At start-up and after every bridge set-up: what enters from a patch port looks in table 61 first. */
export function ingressDirectGotoFlows(b: Pick<Bridges, 'phys' | 'patchTunOfport'>): Flow[] {
  const patches = [...b.phys.values()].map((p) => p.intOfport);
  if (b.patchTunOfport !== undefined) patches.push(b.patchTunOfport);
  return [
    ...patches.map((ofport) => gotoFlow(INT.TRANSIENT_TABLE, 4, INT.LOCAL_MAC_DIRECT, { inPort: ofport })),
    gotoFlow(INT.LOCAL_MAC_DIRECT, 0, INT.TRANSIENT_EGRESS_TABLE),
  ];
}

/** What the flows of one port are made of: the port's details as bound, on its local VLAN. */
export type DirectPortDetails = Pick<BoundDeviceDetails, 'macAddress' | 'networkType' | 'physicalNetwork'>;

/** The patch port a port's network leaves br-int by: patch-tun for tunnels, int-<physbr> for vlan (none for flat or local). */
export function egressPatchOfport(b: Pick<Bridges, 'phys' | 'patchTunOfport'>, d: { networkType: string; physicalNetwork: string | undefined }): number | undefined {
  if (isTunnelType(d.networkType)) return b.patchTunOfport;
  return d.networkType === 'vlan' && d.physicalNetwork !== undefined ? b.phys.get(d.physicalNetwork)?.intOfport : undefined;
}

/** A bound port's direct flows (the reference re-adds them whenever it binds the port). */
export function installAcceptedEgressDirect(batch: FlowBatch, bridges: Pick<Bridges, 'phys' | 'patchTunOfport'>, ofport: number, d: DirectPortDetails, localVlan: number): void {
  const mac = { value: d.macAddress };
  batch.add(
    { table: INT.TRANSIENT_TABLE, priority: 9, match: { inPort: ofport, ethSrc: mac }, actions: [setReg(REG_LOCAL_VLAN, localVlan), resubmit(INT.LOCAL_MAC_DIRECT)] },
    // from a patch port, still tagged with the local VLAN
    { table: INT.LOCAL_MAC_DIRECT, priority: 12, match: { vlanVid: vlan(localVlan), ethDst: mac }, actions: [popVlan(), output(ofport)] },
    // from another port on this host
    { table: INT.LOCAL_MAC_DIRECT, priority: 12, match: { regs: { [REG_LOCAL_VLAN]: { value: localVlan } }, ethDst: mac }, actions: [output(ofport)] },
  );
  const patch = egressPatchOfport(bridges, d);
  if (patch !== undefined) {
    batch.add({
      table: INT.TRANSIENT_EGRESS_TABLE,
      priority: 10,
      match: { inPort: ofport, ethSrc: mac, ethDst: UNICAST },
      actions: [pushVlan(), setVlan(localVlan), output(patch)],
    });
  }
}
