// Flow shapes every bridge uses (the reference's ofswitch.py install_drop/install_goto/
// install_normal), and the filter of everything matching one in_port.
import { type Flow, type FlowFilter, type Match, output } from '../openflow/flow.js';

export function dropFlow(table: number, priority: number, match: Match = {}): Flow {
  return { table, priority, match, actions: [] };
}

export function gotoFlow(table: number, priority: number, gotoTable: number, match: Match = {}): Flow {
  return { table, priority, match, actions: [], gotoTable };
}

export function normalFlow(table: number, priority: number, match: Match = {}): Flow {
  return { table, priority, match, actions: [output('NORMAL')] };
}

/** Every flow of any table that matches packets from this port. */
export function inPortFilter(ofport: number): FlowFilter {
  return { match: { inPort: ofport } };
}
