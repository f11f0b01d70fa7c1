// The recorder's bookkeeping behind the gauges: refused flow mods are counted as errors and left
// out of the flows per table; a bridge re-created (another datapath id) or an OVS restart forgets
// the flows it held.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { PromRecorder } from '../../../src/metrics/recorder.js';
import { OpenFlowError } from '../../../src/openflow/backend.js';
import { formatFlowModLine } from '../../../src/openflow/text.js';
import type { FlowMod } from '../../../src/openflow/flow.js';
import { parsePrometheusText, sampleValue } from '../../helpers/prometheus-text.js';

const add = (table: number, inPort: number): FlowMod => ({ command: 'add', flow: { table, priority: 1, match: { inPort }, actions: [], cookie: 1n } });

async function scrape(r: PromRecorder) {
  return parsePrometheusText(await r.registry.metrics());
}

describe('PromRecorder', () => {
  it('a refusal counts the refused flow mods and leaves the refused flow out', async () => {
    const r = new PromRecorder({ integration: 'br-int', tunnel: undefined, physical: [] }, () => undefined);
    const mods = [add(0, 1), add(0, 2), add(24, 3)];
    const err = new OpenFlowError('switch refused 1 of 3 flow mods: OFPFMFC_TABLE_FULL for "..."', 'br-int', { type: 5, code: 1, flow: formatFlowModLine(mods[1]!) });
    r.flowModsApplied('br-int', mods, 0.01, err);
    const m = await scrape(r);
    assert.equal(sampleValue(m, 'ovs_agent_flow_mod_errors_total', { bridge: 'br-int' }), 1);
    assert.equal(sampleValue(m, 'ovs_agent_flows', { bridge: 'br-int', table: 'LOCAL_SWITCHING' }), 1);
    assert.equal(sampleValue(m, 'ovs_agent_flows', { bridge: 'br-int', table: 'ARP_SPOOF_TABLE' }), 1);
    assert.equal(sampleValue(m, 'ovs_agent_flow_batch_flow_mods_count', { bridge: 'br-int' }), 1);
  });

  it('another datapath id for a bridge, or an OVS restart, forgets its flows', async () => {
    const r = new PromRecorder({ integration: 'br-int', tunnel: 'br-tun', physical: [] }, () => undefined);
    r.bridgeBound('br-int', 1n);
    r.bridgeBound('br-tun', 2n);
    r.flowModsApplied('br-int', [add(0, 1)], 0.001, undefined);
    r.flowModsApplied('br-tun', [add(22, 1)], 0.001, undefined);
    r.bridgeBound('br-int', 1n);
    assert.equal(sampleValue(await scrape(r), 'ovs_agent_flows', { bridge: 'br-int' }), 1, 'same switch: flows kept');
    r.bridgeBound('br-int', 9n);
    let m = await scrape(r);
    assert.equal(sampleValue(m, 'ovs_agent_flows', { bridge: 'br-int' }), undefined, 'new switch: flows forgotten');
    assert.equal(sampleValue(m, 'ovs_agent_flows', { bridge: 'br-tun', table: 'FLOOD_TO_TUN' }), 1);
    r.ovsRestarted();
    m = await scrape(r);
    assert.equal(sampleValue(m, 'ovs_agent_flows', { bridge: 'br-tun' }), undefined);
    assert.equal(sampleValue(m, 'ovs_agent_ovs_restarts_total'), 1);
  });
});
