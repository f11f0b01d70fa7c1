// A provider (physical) bridge from bridge_mappings: local VLAN ↔ segment translation towards the
// physical network, NORMAL otherwise (flows.md §3.3, §4).
import { type Flow, type FlowFilter, output, popVlan, setVlan, vlan } from '../openflow/flow.js';
import { OVSBridge } from './ovs-bridge.js';
import { PHYS } from './tables.js';

export class PhysicalBridge extends OVSBridge {
  static defaultFlows(): Flow[] {
    return [{ table: PHYS.LOCAL_SWITCHING, priority: 0, match: {}, actions: [output('NORMAL')] }];
  }

  /** Traffic from br-int is dropped until a network of this physnet is wired. */
  static dropFromIntFlow(phyPatchOfport: number): Flow {
    return { table: PHYS.LOCAL_SWITCHING, priority: 2, match: { inPort: phyPatchOfport }, actions: [] };
  }

  /** Local VLAN from br-int → segment VID (vlan) or untagged (flat). */
  static provisionFlow(phyPatchOfport: number, lvid: number, segmentationId: number | undefined): Flow {
    return {
      table: PHYS.LOCAL_SWITCHING,
      priority: 4,
      match: { inPort: phyPatchOfport, vlanVid: vlan(lvid) },
      actions: segmentationId === undefined ? [popVlan(), output('NORMAL')] : [setVlan(segmentationId), output('NORMAL')],
    };
  }

  static reclaimFilter(phyPatchOfport: number, lvid: number): FlowFilter {
    return { match: { inPort: phyPatchOfport, vlanVid: vlan(lvid) } };
  }
}
