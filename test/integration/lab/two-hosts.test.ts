// Two simulated hosts: VMs on each host's br-int reach each other over a VXLAN tunnel through
// br-phy and the veth wire, with the userspace datapath.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { haveOvs } from '../../../lab/ovs.js';
import { ping, type VmPortInfo } from '../../../lab/vm.js';
import { TwoHosts } from '../../helpers/two-hosts.js';

function fakePort(ip: string): VmPortInfo {
  const b = randomBytes(3);
  return { id: randomUUID(), mac_address: `fa:16:3e:${[...b].map((x) => x.toString(16).padStart(2, '0')).join(':')}`, fixed_ips: [{ ip_address: ip }] };
}

describe('two simulated hosts', { skip: haveOvs() ? undefined : 'Open vSwitch not installed', timeout: 90_000 }, () => {
  let th: TwoHosts | undefined;
  before(async () => {
    th = await TwoHosts.start();
  });
  after(async () => {
    await th?.stop();
  });

  it('puts the tunnel endpoints on br-phy and reaches the other host over the wire', async () => {
    const [a, b] = th!.hosts;
    assert.equal(a.tunnelIp, '192.0.2.1');
    assert.match(await th!.exec(a, 'ip', ['-4', 'addr', 'show', 'dev', a.phyBridge]), /192\.0\.2\.1\/24/);
    assert.match(await th!.exec(b, 'ping', ['-c', '1', '-W', '2', a.tunnelIp]), /1 received/);
  });

  it('carries VM traffic between the hosts over VXLAN', async () => {
    for (const [h, o] of [[th!.hosts[0], th!.hosts[1]], [th!.hosts[1], th!.hosts[0]]] as const) {
      await h.ovs.vsctl(
        'add-br', 'br-int', '--', 'set', 'bridge', 'br-int', 'datapath_type=netdev',
        '--', 'add-port', 'br-int', 'vx', '--', 'set', 'interface', 'vx', 'type=vxlan',
        `options:remote_ip=${o.tunnelIp}`, `options:local_ip=${h.tunnelIp}`, 'options:key=100',
      );
    }
    const va = await th!.plug(th!.hosts[0], fakePort('198.51.100.1'));
    const vb = await th!.plug(th!.hosts[1], fakePort('198.51.100.2'));
    // the first packet may wait for ARP across the tunnel: allow a little slack
    const got = await ping(va, vb.ip, { count: 3, timeoutMs: 6000 });
    assert.ok(got >= 2, `only ${got}/3 pings over VXLAN`);
    // It really went through the tunnel: the datapath encapsulated (interface statistics would
    // lag by up to 5 s).
    const dp = await th!.appctl(th!.hosts[0], 'dpctl/dump-flows');
    assert.match(dp, /tnl_push\(.*dst=192\.0\.2\.2/, dp);
  });
});
