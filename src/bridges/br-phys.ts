// A provider (physical) bridge from bridge_mappings: local VLAN ↔ segment translation towards the
// physical network, NORMAL otherwise (flows.md §3.3, §4).
import { type Flow, type Match, output, popVlan, setVlan, vlan } from '../openflow/flow.js';
import { type FlowBatch, OVSBridge } from './ovs-bridge.js';
import { dropFlow } from './flows.js';
import { missFlows } from './pipeline.js';
import { PHYS, PHYS_PIPELINE } from './tables.js';

const localVlanMatch = (phyPatchOfport: number, lvid: number): Match => ({ inPort: phyPatchOfport, vlanVid: vlan(lvid) });

export class PhysicalBridge extends OVSBridge {
  static defaultFlows(): Flow[] {
    return missFlows(PHYS_PIPELINE);
  }

  /** Traffic from br-int is dropped until a network of this physnet is wired. */
  static dropFromIntFlow(phyPatchOfport: number): Flow {
    return dropFlow(PHYS.LOCAL_SWITCHING, 2, { inPort: phyPatchOfport });
  }

  /**
   * Local VLAN from br-int → segment VID (vlan) or untagged (flat); with DVR (`distributed`) in
   * LOCAL_VLAN_TRANSLATION, after DVR_PROCESS_PHYSICAL.
   */
  static provisionLocalVlan(b: FlowBatch, phyPatchOfport: number, lvid: number, segmentationId: number | undefined, distributed = false): void {
    b.add({
      table: distributed ? PHYS.LOCAL_VLAN_TRANSLATION : PHYS.LOCAL_SWITCHING,
      priority: 4,
      match: localVlanMatch(phyPatchOfport, lvid),
      actions: segmentationId === undefined ? [popVlan(), output('NORMAL')] : [setVlan(segmentationId), output('NORMAL')],
    });
  }

  static reclaimLocalVlan(b: FlowBatch, phyPatchOfport: number, lvid: number): void {
    b.delete({ match: localVlanMatch(phyPatchOfport, lvid) });
  }
}
