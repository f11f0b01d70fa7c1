// OvsdbOps/OvsdbClient/OvsdbReplica against a real private Open vSwitch, over unix: and tcp:.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { PrivateOvs, haveOvs } from '../../../lab/ovs.js';
import { OvsdbOps } from '../../../src/ovsdb/ops.js';
import { OvsdbClient, OvsdbTransactionError } from '../../../src/ovsdb/client.js';
import { op } from '../../../src/ovsdb/protocol.js';
import type { RowChange } from '../../../src/ovsdb/replica.js';

const run = promisify(execFile);
const uniq = (): string => `t${Math.random().toString(36).slice(2, 10)}`;
const unquote = (s: string): string => s.replace(/^"(.*)"$/, '$1');

for (const mode of ['unix', 'tcp'] as const) {
  describe(`OVSDB over ${mode}:`, { skip: !haveOvs() }, () => {
    let ovs: PrivateOvs;
    let ops: OvsdbOps;

    before(async () => {
      ovs = await PrivateOvs.start({ tcp: mode === 'tcp' });
      ops = await OvsdbOps.connect({ endpoint: mode === 'tcp' ? ovs.tcpConnection : ovs.unixConnection, timeoutSec: 10 });
    });
    after(async () => {
      await ops?.close();
      await ovs?.stop();
    });

    test('ensureBridge creates a netdev bridge with its internal port, idempotently, merging other_config', async () => {
      const br = uniq();
      assert.equal(ops.bridgeExists(br), false);
      await ops.ensureBridge(br, { datapathType: 'netdev', protocols: ['OpenFlow10', 'OpenFlow13'], otherConfig: { 'mac-table-size': '50000' }, failMode: 'secure' });
      // Visible in the replica right away and to ovs-vsctl.
      assert.equal(ops.bridgeExists(br), true);
      assert.ok(ops.listBridges().includes(br));
      assert.ok((await ovs.vsctl('list-br')).split('\n').includes(br));
      assert.equal(await ovs.vsctl('get', 'Bridge', br, 'datapath_type'), 'netdev');
      assert.equal(await ovs.vsctl('get', 'Bridge', br, 'fail_mode'), 'secure');
      assert.equal(await ovs.vsctl('get', 'Interface', br, 'type'), 'internal');
      // The bridge's local port is a Port named like the bridge, on the bridge.
      assert.ok((await ovs.vsctl('get', 'Bridge', br, 'ports')).includes(await ovs.vsctl('get', 'Port', br, '_uuid')));
      assert.equal(unquote(await ovs.vsctl('get', 'Bridge', br, 'other_config:mac-table-size')), '50000');

      // Someone else sets a key and a protocol; ours are merged, theirs survive.
      await ovs.vsctl('set', 'Bridge', br, 'other_config:foreign=keep', 'protocols=OpenFlow14');
      await ops.ensureBridge(br, { datapathType: 'netdev', protocols: ['OpenFlow10', 'OpenFlow13'], otherConfig: { 'mac-table-size': '1000', extra: 'x' } });
      assert.equal(unquote(await ovs.vsctl('get', 'Bridge', br, 'other_config:foreign')), 'keep');
      assert.equal(unquote(await ovs.vsctl('get', 'Bridge', br, 'other_config:mac-table-size')), '1000');
      assert.equal(unquote(await ovs.vsctl('get', 'Bridge', br, 'other_config:extra')), 'x');
      assert.equal(await ovs.vsctl('get', 'Bridge', br, 'protocols'), '[OpenFlow10, OpenFlow13, OpenFlow14]');
      // Still exactly one bridge of that name with one port.
      assert.equal((await ovs.vsctl('list-br')).split('\n').filter((b) => b === br).length, 1);
      assert.equal(ops.replica.portsOfBridge(br).length, 1);

      // datapath_type is set even when the bridge exists.
      await ovs.vsctl('set', 'Bridge', br, 'datapath_type=dummy-none');
      await ops.ensureBridge(br, { datapathType: 'netdev' });
      assert.equal(await ovs.vsctl('get', 'Bridge', br, 'datapath_type'), 'netdev');

      const dpid = await ops.waitDatapathId(br, 5000);
      assert.equal(dpid, BigInt(`0x${unquote(await ovs.vsctl('get', 'Bridge', br, 'datapath_id'))}`));
      await assert.rejects(ops.waitDatapathId('tnonexistent', 100), /bridge tnonexistent has no datapath_id after 100 ms \(bridge does not exist\)/);
    });

    test('controllers are replaced only when the targets differ, and configured', async () => {
      const br = uniq();
      await ops.ensureBridge(br, { datapathType: 'netdev' });
      assert.equal(await ops.setControllers(br, ['tcp:127.0.0.1:16633'], { connectionMode: 'out-of-band', inactivityProbeMs: 10000 }), true);
      assert.equal(await ovs.vsctl('get-controller', br), 'tcp:127.0.0.1:16633');
      const uuid = await ovs.vsctl('get', 'Bridge', br, 'controller');
      assert.equal(await ovs.vsctl('get', 'Controller', uuid.replace(/[[\]]/g, ''), 'connection_mode'), 'out-of-band');
      assert.equal(await ovs.vsctl('get', 'Controller', uuid.replace(/[[\]]/g, ''), 'inactivity_probe'), '10000');

      // Same target: row kept, but probe updated.
      assert.equal(await ops.setControllers(br, ['tcp:127.0.0.1:16633'], { connectionMode: 'out-of-band', inactivityProbeMs: 7000 }), false);
      assert.equal(await ovs.vsctl('get', 'Bridge', br, 'controller'), uuid);
      assert.equal(await ovs.vsctl('get', 'Controller', uuid.replace(/[[\]]/g, ''), 'inactivity_probe'), '7000');

      assert.equal(await ops.setControllers(br, ['tcp:127.0.0.1:16634'], { connectionMode: 'out-of-band', inactivityProbeMs: 7000 }), true);
      assert.equal(await ovs.vsctl('get-controller', br), 'tcp:127.0.0.1:16634');
      assert.equal(ops.replica.controllersOfBridge(br).map((c) => c.target).join(), 'tcp:127.0.0.1:16634');

      await ops.clearControllers(br);
      assert.equal(await ovs.vsctl('get-controller', br), '');
      await assert.rejects(ops.setControllers('tnonexistent', ['tcp:127.0.0.1:1'], { connectionMode: 'out-of-band', inactivityProbeMs: 1 }), /bridge tnonexistent does not exist/);
    });

    test('mcast snooping setting and other_config merge', async () => {
      const br = uniq();
      await ops.ensureBridge(br, { datapathType: 'netdev' });
      await ops.setBridgeMcastSnooping(br, true, { 'mcast-snooping-disable-flood-unregistered': 'false' });
      assert.equal(await ovs.vsctl('get', 'Bridge', br, 'mcast_snooping_enable'), 'true');
      assert.equal(unquote(await ovs.vsctl('get', 'Bridge', br, 'other_config:mcast-snooping-disable-flood-unregistered')), 'false');
      await ops.setBridgeOtherConfig(br, { 'datapath-id': '0000000000000abc' });
      assert.equal(unquote(await ovs.vsctl('get', 'Bridge', br, 'other_config:mcast-snooping-disable-flood-unregistered')), 'false');
    });

    test('patch pair gets ofports; may-exist re-add just sets the peer', async () => {
      const a = uniq();
      const b = uniq();
      await ops.ensureBridge(a, { datapathType: 'netdev' });
      await ops.ensureBridge(b, { datapathType: 'netdev' });
      const pa = `pa-${a}`.slice(0, 15);
      const pb = `pb-${b}`.slice(0, 15);
      await ops.addPatchPort(a, pa, 'nonexistent-peer');
      await ops.addPatchPort(b, pb, pa);
      assert.equal(unquote(await ovs.vsctl('get', 'Interface', pa, 'options:peer')), 'nonexistent-peer');
      await ops.setPatchPeer(pa, pb);
      assert.equal(unquote(await ovs.vsctl('get', 'Interface', pa, 'options:peer')), pb);
      assert.equal(await ovs.vsctl('get', 'Interface', pa, 'type'), 'patch');
      const ofa = await ops.waitOfport(pa, 5000);
      const ofb = await ops.waitOfport(pb, 5000);
      assert.equal(String(ofa), await ovs.vsctl('get', 'Interface', pa, 'ofport'));
      assert.equal(String(ofb), await ovs.vsctl('get', 'Interface', pb, 'ofport'));
      assert.ok(ofa > 0 && ofb > 0);

      await ops.addPatchPort(b, pb, 'other-peer');
      assert.equal(unquote(await ovs.vsctl('get', 'Interface', pb, 'options:peer')), 'other-peer');
      assert.equal((await ovs.vsctl('list-ports', b)).split('\n').filter((p) => p === pb).length, 1);
      await assert.rejects(ops.addPatchPort(a, pb, 'x'), new RegExp(`port ${pb} already exists on bridge ${b}`));
      await assert.rejects(ops.setPatchPeer('tnoiface', 'x'), /interface tnoiface does not exist/);
      await assert.rejects(ops.waitOfport('tnoiface', 50), /interface tnoiface does not exist after 50 ms/);
    });

    test('tunnel port add (may-exist) and delete', async () => {
      const br = uniq();
      await ops.ensureBridge(br, { datapathType: 'netdev' });
      const name = `vx-${br}`.slice(0, 15);
      await ops.addTunnelPort(br, name, 'vxlan', { local_ip: '192.0.2.10', remote_ip: '192.0.2.20', in_key: 'flow', out_key: 'flow', df_default: 'true' });
      assert.equal(await ovs.vsctl('get', 'Interface', name, 'type'), 'vxlan');
      assert.equal(unquote(await ovs.vsctl('get', 'Interface', name, 'options:remote_ip')), '192.0.2.20');
      assert.ok((await ops.waitOfport(name, 5000)) > 0);
      await ops.addTunnelPort(br, name, 'vxlan', { local_ip: '192.0.2.10', remote_ip: '192.0.2.20', tos: 'inherit' });
      assert.equal(unquote(await ovs.vsctl('get', 'Interface', name, 'options:tos')), 'inherit');
      assert.equal(unquote(await ovs.vsctl('get', 'Interface', name, 'options:in_key')), 'flow');

      assert.equal(await ops.deletePort(br, name), true);
      assert.ok(!(await ovs.vsctl('list-ports', br)).split('\n').includes(name));
      assert.equal(ops.replica.port(name), undefined);
      assert.equal(await ops.deletePort(br, name), false);
    });

    test('vifPorts finds a VIF added by ovs-vsctl; tags and other_config are written', async () => {
      const br = uniq();
      await ops.ensureBridge(br, { datapathType: 'netdev' });
      const tap = `tap${br}`.slice(0, 15);
      const inserted = new Promise<number>((resolve) => {
        const onUpdate = (changes: RowChange[]): void => {
          if (changes.some((c) => c.table === 'Interface' && !c.old && c.new?.name === tap)) {
            ops.replica.off('update', onUpdate);
            resolve(Date.now());
          }
        };
        ops.replica.on('update', onUpdate);
      });
      await ovs.vsctl('--no-wait', 'add-port', br, tap, '--', 'set', 'Interface', tap, 'type=internal',
        'external_ids:iface-id=11111111-2222-3333-4444-555555555555', 'external_ids:attached-mac=fa:16:3e:00:00:01');
      const returned = Date.now();
      const seen = await Promise.race([inserted, new Promise<number>((_, rej) => setTimeout(() => rej(new Error('no insert event within 2 s')), 2000))]);
      assert.ok(seen - returned <= 100, `insert event ${seen - returned} ms after ovs-vsctl returned`);

      const ofport = await ops.waitOfport(tap, 5000);
      const vifs = ops.vifPorts(br);
      assert.equal(vifs.length, 1);
      assert.equal(vifs[0].portName, tap);
      assert.equal(vifs[0].ifaceName, tap);
      assert.equal(vifs[0].ifaceId, '11111111-2222-3333-4444-555555555555');
      assert.equal(vifs[0].mac, 'fa:16:3e:00:00:01');
      assert.equal(vifs[0].ofport, ofport);
      assert.equal(vifs[0].tag, undefined);
      assert.equal(ops.replica.bridgeOfInterface(tap)?.name, br);

      await ovs.vsctl('set', 'Port', tap, 'vlan_mode=access', 'trunks=1,2');
      await ops.setPortTag(tap, 4095);
      await ops.setPortOtherConfig(tap, { net_uuid: 'n1', segmentation_id: '100' });
      assert.equal(await ovs.vsctl('get', 'Port', tap, 'tag'), '4095');
      assert.equal(ops.vifPorts(br)[0].tag, 4095);
      assert.equal(ops.vifPorts(br)[0].otherConfig.get('net_uuid'), 'n1');
      await ops.setPortTag(tap, 5, { clearVlanModeAndTrunks: true });
      assert.equal(await ovs.vsctl('get', 'Port', tap, 'tag'), '5');
      assert.equal(await ovs.vsctl('get', 'Port', tap, 'vlan_mode'), '[]');
      assert.equal(await ovs.vsctl('get', 'Port', tap, 'trunks'), '[]');

      const missing = await ops.setPortsTagAndOtherConfig([
        { port: tap, tag: 7, otherConfig: { segmentation_id: '101', network_type: 'vlan' } },
        { port: 'tnosuchport', tag: 8 },
      ]);
      assert.deepEqual(missing, ['tnosuchport']);
      assert.equal(await ovs.vsctl('get', 'Port', tap, 'tag'), '7');
      assert.equal(unquote(await ovs.vsctl('get', 'Port', tap, 'other_config:net_uuid')), 'n1');
      assert.equal(unquote(await ovs.vsctl('get', 'Port', tap, 'other_config:segmentation_id')), '101');
      await ops.setPortTag(tap, null);
      assert.equal(await ovs.vsctl('get', 'Port', tap, 'tag'), '[]');
      await assert.rejects(ops.setPortTag('tnosuchport', 1), /port tnosuchport does not exist/);
      await assert.rejects(ops.setPortOtherConfig('tnosuchport', { a: 'b' }), /port tnosuchport does not exist/);
    });

    test('concurrent writers: racing ensureBridge/addPatchPort make one row; merges from two clients both land', async () => {
      const other = await OvsdbOps.connect({ endpoint: mode === 'tcp' ? ovs.tcpConnection : ovs.unixConnection });
      try {
        const br = uniq();
        await Promise.all([
          ops.ensureBridge(br, { datapathType: 'netdev', otherConfig: { a: '1' } }),
          other.ensureBridge(br, { datapathType: 'netdev', otherConfig: { b: '2' } }),
        ]);
        assert.equal((await ovs.vsctl('list-br')).split('\n').filter((b) => b === br).length, 1);
        assert.equal(unquote(await ovs.vsctl('get', 'Bridge', br, 'other_config:a')), '1');
        assert.equal(unquote(await ovs.vsctl('get', 'Bridge', br, 'other_config:b')), '2');
        const pp = `${br}p`;
        await Promise.all([ops.addPatchPort(br, pp, 'x'), other.addPatchPort(br, pp, 'x')]);
        assert.equal((await ovs.vsctl('list-ports', br)).split('\n').filter((p) => p === pp).length, 1);
        await Promise.all([
          ops.setPortOtherConfig(pp, { k1: 'v1' }),
          other.setPortOtherConfig(pp, { k2: 'v2' }),
        ]);
        assert.equal(unquote(await ovs.vsctl('get', 'Port', pp, 'other_config:k1')), 'v1');
        assert.equal(unquote(await ovs.vsctl('get', 'Port', pp, 'other_config:k2')), 'v2');
      } finally {
        await other.close();
      }
    });

    test('transaction errors carry the OVSDB error, details and the comment', async () => {
      await assert.rejects(
        ops.client.transact([op.insert('Bridge', { no_such_column: 'x' })], { comment: 'my test txn' }),
        (err: unknown) => {
          assert.ok(err instanceof OvsdbTransactionError);
          assert.equal(err.comment, 'my test txn');
          assert.equal(err.operationIndex, 0);
          assert.match(err.error, /unknown column|syntax error/);
          assert.match(err.message, /"my test txn".*operation 0 \(insert Bridge\)/);
          return true;
        },
      );
      const info = ops.openVSwitch();
      assert.ok(info.datapathTypes.includes('netdev'));
      assert.ok(info.ifaceTypes.includes('patch'));
    });
  });
}

describe('OVSDB connection loss', { skip: !haveOvs() }, () => {
  test('connect() to a missing server names the endpoint', async () => {
    await assert.rejects(OvsdbOps.connect({ endpoint: 'unix:/nonexistent/ovs-agent-test.sock', timeoutSec: 2 }),
      /cannot connect to OVSDB at unix:\/nonexistent\/ovs-agent-test\.sock/);
    await assert.rejects(new OvsdbClient({ endpoint: 'tcp:127.0.0.1:1', timeoutSec: 2 }).connect(), /cannot connect to OVSDB at tcp:127\.0\.0\.1:1/);
  });

  test('after ovsdb-server restarts, the client reconnects and resyncs the replica', async () => {
    const ovs = await PrivateOvs.start({ tcp: true });
    let ops: OvsdbOps | undefined;
    try {
      ops = await OvsdbOps.connect({ endpoint: ovs.tcpConnection, timeoutSec: 10, backoffInitialMs: 200, backoffMaxMs: 1000 });
      const br = uniq();
      await ops.ensureBridge(br, { datapathType: 'netdev' });
      await ops.addPatchPort(br, `${br}a`, 'nonexistent-peer');
      const gone = ops.replica.port(`${br}a`);
      assert.ok(gone);
      const client = ops.client;
      const disconnected = new Promise<string>((resolve) => client.once('disconnected', resolve));
      const resynced = new Promise<void>((resolve) => client.once('resynced', resolve));
      const changes: RowChange[] = [];
      ops.replica.on('update', (c) => changes.push(...c));

      await ovs.kill('ovsdb-server');
      assert.match(await disconnected, /closed|ECONNRESET|EPIPE/);
      assert.equal(client.isConnected, false);
      // Change the database file while no server runs: the client cannot have seen this.
      await run('ovsdb-tool', ['transact', join(ovs.dir, 'conf.db'), JSON.stringify([
        'Open_vSwitch',
        { op: 'mutate', table: 'Bridge', where: [['name', '==', br]], mutations: [['ports', 'delete', ['set', [['uuid', gone.uuid]]]]] },
        { op: 'insert', table: 'Interface', row: { name: `${br}b`, type: 'patch', options: ['map', [['peer', 'x']]] }, 'uuid-name': 'i' },
        { op: 'insert', table: 'Port', row: { name: `${br}b`, interfaces: ['named-uuid', 'i'] }, 'uuid-name': 'p' },
        { op: 'mutate', table: 'Bridge', where: [['name', '==', br]], mutations: [['ports', 'insert', ['set', [['named-uuid', 'p']]]]] },
      ])]);
      assert.equal(ops.replica.port(`${br}a`)?.uuid, gone.uuid, 'no change seen while disconnected');
      await ovs.startDb(false);

      await resynced;
      assert.equal(client.isConnected, true);
      const nameOf = (c: RowChange): string => {
        const r = c.new ?? c.old;
        return r && 'name' in r ? r.name : '';
      };
      const summary = changes.map((c) => `${c.table}:${c.old ? (c.new ? 'modify' : 'delete') : 'insert'}:${nameOf(c)}`);
      assert.ok(summary.includes(`Port:delete:${br}a`), summary.join(' '));
      assert.ok(summary.includes(`Interface:delete:${br}a`), summary.join(' '));
      assert.ok(summary.includes(`Port:insert:${br}b`), summary.join(' '));
      assert.ok(summary.includes(`Bridge:modify:${br}`), summary.join(' '));
      assert.equal(ops.replica.port(`${br}a`), undefined);
      assert.equal(ops.replica.bridgeOfPortRow(`${br}b`)?.name, br);

      // Writes work again on the new connection.
      await ops.setPortOtherConfig(`${br}b`, { after: 'restart' });
      assert.equal(unquote(await ovs.vsctl('get', 'Port', `${br}b`, 'other_config:after')), 'restart');
    } finally {
      await ops?.close();
      await ovs.stop();
    }
  });

  test('requests made while disconnected wait for the reconnection', async () => {
    const ovs = await PrivateOvs.start();
    let ops: OvsdbOps | undefined;
    try {
      ops = await OvsdbOps.connect({ endpoint: ovs.unixConnection, timeoutSec: 10, backoffInitialMs: 200 });
      const br = uniq();
      const disconnected = new Promise<string>((resolve) => ops!.client.once('disconnected', resolve));
      await ovs.kill('ovsdb-server');
      await disconnected;
      const pending = ops.ensureBridge(br, { datapathType: 'netdev' });
      await new Promise((r) => setTimeout(r, 300));
      await ovs.startDb(false);
      await pending;
      assert.ok((await ovs.vsctl('list-br')).split('\n').includes(br));
    } finally {
      await ops?.close();
      await ovs.stop();
    }
  });
});
