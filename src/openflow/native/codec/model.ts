// The typed flow model (src/openflow/flow.ts) <-> FLOW_MOD wire bodies.
import type { FlowMod } from '../../flow.js';
import { OFPTT_ALL } from '../../flow.js';
import { flowModBody, OFPP_ANY, type FlowModBody } from './messages.js';

/**
 * Wire body for a model flow mod. add → OFPFC_ADD (cookie as given, timeouts, NO_BUFFER, flags 0);
 * modify → OFPFC_MODIFY (non-strict, cookie not filtered); delete → OFPFC_DELETE or
 * OFPFC_DELETE_STRICT with the filter's table (default OFPTT_ALL), cookie/cookie_mask, out_port.
 */
export function flowModToWire(mod: FlowMod): FlowModBody {
  if (mod.command === 'add' || mod.command === 'modify') {
    const f = mod.flow;
    const body = flowModBody({
      command: mod.command,
      cookie: f.cookie ?? 0n,
      tableId: f.table,
      priority: f.priority,
      idleTimeout: f.idleTimeout ?? 0,
      hardTimeout: f.hardTimeout ?? 0,
      match: f.match,
      actions: f.actions,
    });
    if (f.gotoTable !== undefined) body.gotoTable = f.gotoTable;
    if (f.meter !== undefined) body.meter = f.meter;
    return body;
  }
  const flt = mod.filter;
  return flowModBody({
    command: flt.strict ? 'delete_strict' : 'delete',
    tableId: flt.table ?? OFPTT_ALL,
    priority: flt.priority ?? 0,
    cookie: flt.cookie ?? 0n,
    cookieMask: flt.cookieMask ?? 0n,
    outPort: flt.outPort ?? OFPP_ANY,
    match: flt.match ?? {},
  });
}
