// VMs plugged the Nova way into a private userspace OVS bridge (NORMAL action) reach each other.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { PrivateOvs, haveOvs } from '../../../lab/ovs.js';
import { cleanupAllVms, createNamespace, deleteNamespace, ping, plugVm, type VmPortInfo } from '../../../lab/vm.js';

function fakePort(ip: string): VmPortInfo {
  const b = randomBytes(3);
  return { id: randomUUID(), mac_address: `fa:16:3e:${[...b].map((x) => x.toString(16).padStart(2, '0')).join(':')}`, fixed_ips: [{ ip_address: ip }] };
}

describe('VM helper on one host', { skip: haveOvs() ? undefined : 'Open vSwitch not installed', timeout: 60_000 }, () => {
  const hostNs = `oahost${randomBytes(3).toString('hex')}`;
  const bridge = `t${randomBytes(4).toString('hex')}`;
  let ovs: PrivateOvs | undefined;
  before(async () => {
    // OVS in a namespace of its own: two userspace vswitchd cannot share one.
    await createNamespace(hostNs);
    ovs = await PrivateOvs.start({ netns: hostNs });
    await ovs.addBridge(bridge);
  });
  after(async () => {
    await cleanupAllVms();
    await ovs?.stop();
    await deleteNamespace(hostNs);
  });

  it('plugs with the os-vif external_ids and pings through the NORMAL bridge', async () => {
    const pa = fakePort('203.0.113.10');
    const pb = fakePort('203.0.113.11');
    const a = await plugVm(ovs!, pa, { bridge });
    const b = await plugVm(ovs!, pb, { bridge });
    const ids = await ovs!.vsctl('get', 'Interface', a.tap, 'external_ids');
    assert.match(ids, new RegExp(`iface-id="?${pa.id}"?`));
    assert.match(ids, new RegExp(`attached-mac="?${pa.mac_address}"?`));
    assert.match(ids, /iface-status=active/);
    assert.match(ids, new RegExp(`vm-uuid="?${a.vmUuid}"?`));
    assert.match(await a.exec('ip', ['link', 'show', 'eth0']), new RegExp(pa.mac_address));

    assert.equal(await ping(a, b.ip, { count: 3, timeoutMs: 5000 }), 3);
    // and the answer really depends on the bridge: unplugged, nothing comes back
    await b.unplug();
    assert.equal(await ping(a, pb.fixed_ips[0]!.ip_address, { count: 2, timeoutMs: 2000 }), 0);
    await a.unplug();
    assert.equal(await ovs!.vsctl('list-ports', bridge), '');
  });
});
