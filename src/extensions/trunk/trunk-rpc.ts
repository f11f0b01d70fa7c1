// The trunk's conversation with neutron-server, typed where it arrives: the trunk of a parent port
// (a resource pull), the subports' bindings moved to this host (`update_subport_bindings`) and the
// trunk's status (`update_trunk_status`), both in the `trunk` namespace on the `trunk` topic; and
// the SubPort objects the server pushes when subports are added to or removed from a live trunk.
import { isJsonObject, type JsonObject, type JsonValue } from '../../util/json.js';
import { fromPrimitive } from '../../rpc/ovo.js';
import type { ExtensionServer } from '../seam.js';
import { getLogger } from '../../util/log.js';

const LOG = getLogger('extensions.trunk.rpc');

const TRUNK_TOPIC = 'trunk';
const TRUNK_NAMESPACE = 'trunk';
const PLUGIN_TOPIC = 'q-plugin';
const TRUNK_VERSION = '1.1';

export type TrunkStatus = 'ACTIVE' | 'DEGRADED' | 'ERROR';

export interface Subport {
  portId: string;
  trunkId: string;
  segmentationId: number;
  segmentationType: string;
  /** The object's fields as the server sent them. */
  fields: JsonObject;
}

export interface TrunkDetails {
  id: string;
  parentPortId: string;
  subports: Subport[];
}

/** A SubPort primitive (push or a Trunk's sub_ports); why it is unusable otherwise. */
export function parseSubport(p: JsonValue): Subport | string {
  if (!isJsonObject(p)) return 'not an object';
  const d = fromPrimitive(p);
  if (!isJsonObject(d)) return 'not an object';
  const { port_id: portId, trunk_id: trunkId, segmentation_id: segId, segmentation_type: segType } = d;
  if (typeof portId !== 'string' || typeof trunkId !== 'string') return 'no port_id or trunk_id';
  if (typeof segId !== 'number' || !Number.isInteger(segId)) return `subport ${portId}: segmentation_id ${JSON.stringify(segId)} is not an integer`;
  return { portId, trunkId, segmentationId: segId, segmentationType: typeof segType === 'string' ? segType : 'vlan', fields: d };
}

export function parseTrunk(p: JsonValue): TrunkDetails | string {
  const d = fromPrimitive(p);
  if (!isJsonObject(d)) return 'not an object';
  const { id, port_id: parentPortId } = d;
  if (typeof id !== 'string' || typeof parentPortId !== 'string') return 'no id or port_id';
  const raw = isJsonObject(p) && isJsonObject(p['versioned_object.data']) ? p['versioned_object.data']['sub_ports'] : d['sub_ports'];
  const subports: Subport[] = [];
  for (const s of Array.isArray(raw) ? raw : []) {
    const sp = parseSubport(s);
    if (typeof sp === 'string') return `trunk ${id}: sub_ports: ${sp}`;
    subports.push(sp);
  }
  return { id, parentPortId, subports };
}

/** update_subport_bindings' answer: the MAC of each subport bound, by port id, for one trunk. */
export function parseSubportBindings(res: JsonValue, trunkId: string): Map<string, string> {
  const out = new Map<string, string>();
  const ports = isJsonObject(res) ? res[trunkId] : undefined;
  for (const p of Array.isArray(ports) ? ports : []) {
    if (isJsonObject(p) && typeof p['id'] === 'string' && typeof p['mac_address'] === 'string') out.set(p['id'], p['mac_address']);
  }
  return out;
}

/**
 * A subport as update_subport_bindings takes it: the server's trunk endpoint has no object
 * serializer, so the reference's SubPort objects reach it as plain dicts of their fields.
 */
function subportFields(s: Subport): JsonObject {
  return { ...s.fields, port_id: s.portId, trunk_id: s.trunkId, segmentation_type: s.segmentationType, segmentation_id: s.segmentationId };
}

export class TrunkRpc {
  constructor(private readonly server: () => ExtensionServer) {}

  /** The trunk whose parent is this port; undefined when the port is no trunk's parent. */
  async trunkOfParent(parentPortId: string): Promise<TrunkDetails | undefined> {
    const res = await this.server().call(PLUGIN_TOPIC, 'pull', { resource_type: 'Trunk', version: TRUNK_VERSION, resource_id: parentPortId }, { version: '1.1' });
    if (res === null) return undefined;
    LOG.debug(`Trunk of port ${parentPortId}: ${JSON.stringify(res)}`);
    const t = parseTrunk(res);
    if (typeof t === 'string') throw new Error(`the server's Trunk of port ${parentPortId} is malformed: ${t}`);
    return t;
  }

  async updateSubportBindings(trunkId: string, subports: readonly Subport[]): Promise<Map<string, string>> {
    const res = await this.server().call(TRUNK_TOPIC, 'update_subport_bindings', { subports: subports.map(subportFields) }, { version: '1.0', namespace: TRUNK_NAMESPACE });
    return parseSubportBindings(res, trunkId);
  }

  async updateTrunkStatus(trunkId: string, status: TrunkStatus): Promise<void> {
    await this.server().call(TRUNK_TOPIC, 'update_trunk_status', { trunk_id: trunkId, status }, { version: '1.0', namespace: TRUNK_NAMESPACE });
  }
}
