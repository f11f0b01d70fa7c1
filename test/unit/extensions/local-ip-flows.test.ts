// The local_ip extension's flows, printed as ovs-ofctl prints them, equal the lines the reference
// agent wrote for the same association (test/fixtures/reference/local_ip/<mode>/, step
// 02-a-associated: Local IP 198.51.100.100 on VLAN 1 associated with A, 198.51.100.10 fa:16:3e:10:00:0a;
// step 01-started: the egress path of compute ports 3 and 4). The integration parity test checks
// the same against a running agent.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkoutFile } from '../../../lab/checkout.js';
import { formatFlow } from '../../../src/openflow/text.js';
import { parseDumpLine } from '../../../src/openflow/ofctl/dump.js';
import { associationFlows, egressViaTable0, localEgressFlows } from '../../../src/extensions/local_ip/flows.js';
import { normaliseFlows } from '../../integration/firewall/compare.js';
import { INT } from '../../../src/bridges/tables.js';

const DIR = checkoutFile(join('test', 'fixtures', 'reference', 'local_ip'));
const SPEC = { vlan: 1, localIp: '198.51.100.100', destIp: '198.51.100.10', mac: 'fa:16:3e:10:00:0a' };
const lines = (mode: string, step: string): string[] => readFileSync(join(DIR, mode, `${step}.flows`), 'utf8').split('\n').filter((l) => l !== '');

for (const mode of ['conntrack', 'static-nat'] as const) {
  test(`${mode}: an association's flows are the reference's`, { skip: existsSync(join(DIR, mode, '02-a-associated.flows')) ? false : 'no fixture' }, () => {
    const before = new Set(lines(mode, '01-started'));
    const added = lines(mode, '02-a-associated').filter((l) => !before.has(l));
    const ours = normaliseFlows(associationFlows(SPEC, mode === 'static-nat', INT.LOCAL_IP_TABLE, 0x1234n).map((f) => formatFlow(f)));
    assert.deepEqual(ours, normaliseFlows(added));
  });

  test(`${mode}: compute ports without port security (noop firewall) get the table-30 flow and no table-0 flow, as in the reference`, { skip: existsSync(join(DIR, mode, '01-started.flows')) ? false : 'no fixture' }, () => {
    const want = lines(mode, '01-started').filter((l) => /in_port=[34]\b/.test(l));
    const ours = normaliseFlows([3, 4].flatMap((p) => localEgressFlows(p, 1, egressViaTable0(true, false))).map((f) => formatFlow(f)));
    assert.deepEqual(ours, want);
    assert.ok(!want.some((l) => !l.startsWith('table=')), 'the reference has no table-0 flow for them');
  });

  test(`${mode}: the compute ports' egress path is the reference's`, { skip: existsSync(join(DIR, mode, '01-started.flows')) ? false : 'no fixture' }, () => {
    const want = lines(mode, '01-started').filter((l) => l.startsWith('table=30, priority=10'));
    const ours = normaliseFlows([3, 4].flatMap((p) => localEgressFlows(p, 1)).filter((f) => f.table === 30).map((f) => formatFlow(f)));
    assert.deepEqual(ours, want);
  });
}

test('the table-0 flow to table 30 stays unless the agent does the anti-spoofing and the port has no port security (the reference\'s allow_all removes it)', () => {
  assert.equal(egressViaTable0(true, true), true, 'noop/iptables firewall, port security on');
  assert.equal(egressViaTable0(true, false), false, 'noop/iptables firewall, port security off');
  assert.equal(egressViaTable0(false, false), true, 'openvswitch firewall: the agent removes no table-0 flow');
  assert.equal(egressViaTable0(false, true), true);
  assert.deepEqual(localEgressFlows(3, 1).map((f) => formatFlow(f)).filter((l) => !l.startsWith('table=30')).map((l) => normaliseFlows([l])[0]), ['priority=8,in_port=3 actions=goto_table:30']);
});

test('the flows read back from ovs-ofctl text are the flows written (the ofctl backend and the audit compare them)', () => {
  for (const staticNat of [false, true]) {
    for (const f of associationFlows(SPEC, staticNat, INT.LOCAL_IP_TABLE, 0x1234n)) {
      const text = formatFlow({ ...f, cookie: 0x99n });
      const back = parseDumpLine(text)?.flow;
      assert.ok(back && !(back instanceof Error), `${text}: ${String(back)}`);
      assert.equal(formatFlow({ ...back, cookie: 0x99n }), text);
    }
  }
});
