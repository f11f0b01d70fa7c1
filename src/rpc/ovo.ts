// oslo.versionedobjects primitives as neutron-server sends them in pushes and bulk_pull replies
// (spec rpc.md §5): parsed to plain data once, where they arrive.
import { isJsonObject, type JsonObject, type JsonValue } from '../util/json.js';

/**
 * Unwrap an oslo.versionedobjects primitive into plain data, recursively
 * (`{"versioned_object.data": {...}}` → `{...}`). Anything else passes through.
 */
export function fromPrimitive(v: JsonValue): JsonValue {
  if (Array.isArray(v)) return v.map(fromPrimitive);
  if (!isJsonObject(v)) return v;
  const data = v['versioned_object.data'];
  const src = isJsonObject(data) ? data : v;
  const out: JsonObject = {};
  for (const [k, val] of Object.entries(src)) out[k] = fromPrimitive(val);
  return out;
}
