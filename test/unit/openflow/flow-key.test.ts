import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Flow, Match } from '../../../src/openflow/flow.js';
import { flowKey } from '../../../src/openflow/flow-key.js';

const key = (match: Match, table = 20, priority = 2): string => flowKey({ table, priority, match });

// The key is what the desired-flow registry is indexed by and what the flow audit looks dumped
// flows up with: the registry's flows (written by the agent) and the decoded dump (native or
// ovs-ofctl, whatever order it names the fields in) must meet on the same string.
test('the key names table, priority and each match field in sorted order, whatever order the match was written in', () => {
  assert.equal(key({ vlanVid: { value: 0x1001 }, ethDst: { value: 'fa:16:3e:00:00:01' } }), '20|2|ethDst=fa:16:3e:00:00:01|vlanVid=4097');
  const fields: Match = {
    inPort: 3, ethType: 0x0800, ipProto: 6, ipv4Src: { value: '192.0.2.0', mask: '255.255.255.0' }, tcpDst: { value: 0x50, mask: 0xfff0 },
    regs: { 6: { value: 1 }, 5: { value: 3 } }, ctState: { value: 0x22, mask: 0x26 }, ctZone: 4, conjId: 17, tunId: { value: 1001n },
    metadata: { value: 7n, mask: 0xffn }, arpOp: 1, ndTarget: { value: '2001:db8::1' },
  };
  const forward = key(fields);
  const backward = key(Object.fromEntries(Object.entries(fields).reverse()) as Match);
  assert.equal(forward, backward);
  assert.equal(
    forward,
    '20|2|arpOp=1|conjId=17|ctState=34/38|ctZone=4|ethType=2048|inPort=3|ipProto=6|ipv4Src=192.0.2.0/255.255.255.0|metadata=7/255|ndTarget=2001:db8::1|regs=5:3,6:1|tcpDst=80/65520|tunId=1001',
  );
});

test('a field set to undefined is a field not there; every value, mask, table and priority changes the key', () => {
  const base: Match = { ethDst: { value: 'fa:16:3e:00:00:01' }, vlanVid: { value: 0x1001 } };
  assert.equal(key({ ...base, ipProto: undefined, regs: undefined }), key(base));
  const other: Array<[Match, number, number]> = [
    [{ ...base, ethDst: { value: 'fa:16:3e:00:00:02' } }, 20, 2],
    [{ ...base, ethDst: { value: 'fa:16:3e:00:00:01', mask: 'ff:ff:ff:ff:ff:00' } }, 20, 2],
    [{ ...base, inPort: 1 }, 20, 2],
    [base, 21, 2],
    [base, 20, 3],
  ];
  const keys = new Set([key(base), ...other.map(([m, t, p]) => key(m, t, p))]);
  assert.equal(keys.size, other.length + 1);
});

test('properties a Match does not have are not part of the key', () => {
  const flow = { table: 0, priority: 1, match: { inPort: 1, comment: 'not a field' } as unknown as Match } satisfies Pick<Flow, 'table' | 'priority' | 'match'>;
  assert.equal(flowKey(flow), '0|1|inPort=1');
});
