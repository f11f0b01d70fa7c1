// The names a trunk is made of in OVSDB, as the reference's trunk driver and os-vif spell them:
// the trunk bridge `tbr-<trunk id>` os-vif creates for the VM, and per port a pair of patch ports,
// `tpi-`/`tpt-` for the parent and `spi-`/`spt-` for each subport (`i`: the end on br-int, `t`: the
// end on the trunk bridge). Linux caps device names at 15 characters; the bridge's at 14.

const DEVICE_NAME_MAX_LEN = 15;
export const TRUNK_BRIDGE_PREFIX = 'tbr-';
const PARENT_PREFIX = 'tp';
const SUBPORT_PREFIX = 'sp';

export function trunkBridgeName(trunkId: string): string {
  return `${TRUNK_BRIDGE_PREFIX}${trunkId}`.slice(0, DEVICE_NAME_MAX_LEN - 1);
}

export interface PatchPair {
  /** The end on br-int (`tpi-…`, `spi-…`), which the agent wires as the neutron port. */
  intName: string;
  /** The end on the trunk bridge (`tpt-…`, `spt-…`). */
  trunkName: string;
}

function pair(prefix: string, portId: string): PatchPair {
  return { intName: `${prefix}i-${portId}`.slice(0, DEVICE_NAME_MAX_LEN), trunkName: `${prefix}t-${portId}`.slice(0, DEVICE_NAME_MAX_LEN) };
}

export const parentPatchPair = (parentPortId: string): PatchPair => pair(PARENT_PREFIX, parentPortId);
export const subportPatchPair = (subportId: string): PatchPair => pair(SUBPORT_PREFIX, subportId);

export const isTrunkBridge = (name: string): boolean => name.startsWith(TRUNK_BRIDGE_PREFIX);

/** A port the trunk is made of (bridge port, parent or subport patch) rather than the VM's own. */
export function isTrunkServicePort(name: string): boolean {
  const head = name.slice(0, 2);
  return isTrunkBridge(name) || head === PARENT_PREFIX || head === SUBPORT_PREFIX;
}

export const isSubportPatch = (name: string): boolean => name.startsWith(SUBPORT_PREFIX);

/** A patch end on br-int made for a trunk (`tpi-…`, `spi-…`). */
export const isTrunkIntPatch = (name: string): boolean => /^(tp|sp)i-/.test(name);

/** Either end of a trunk's patch pairs (`tpi-`, `tpt-`, `spi-`, `spt-`). */
export const isTrunkPatch = (name: string): boolean => /^(tp|sp)[it]-/.test(name);
