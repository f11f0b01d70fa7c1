// Bridges for tests that drive OpenFlow themselves, without an agent: netdev bridges in fail mode
// secure (nothing passes that no flow allows) speaking OpenFlow 1.0 (ovs-ofctl's plain dumps) and
// 1.3/1.4 (our backends), optionally controlled by our native backend.
import { PrivateOvs } from '../../lab/ovs.js';
import { OfctlBackend } from '../../src/openflow/ofctl/backend.js';

/** Adds bridge `name` in fail mode secure, speaking OpenFlow 1.0, 1.3 and 1.4. */
export async function addSecureBridge(ovs: PrivateOvs, name: string): Promise<void> {
  await ovs.addBridge(name);
  await ovs.vsctl('set', 'bridge', name, 'fail_mode=secure', 'protocols=OpenFlow10,OpenFlow13,OpenFlow14');
}

/** A secure bridge whose controller is the native backend on 127.0.0.1:`port` (out of band); its datapath id. */
export async function addControlledBridge(ovs: PrivateOvs, name: string, port: number): Promise<bigint> {
  await addSecureBridge(ovs, name);
  await ovs.vsctl('set-controller', name, `tcp:127.0.0.1:${port}`);
  await ovs.vsctl('set', 'controller', name, 'connection_mode=out-of-band');
  return datapathId(ovs, name);
}

export async function datapathId(ovs: PrivateOvs, name: string): Promise<bigint> {
  return BigInt(`0x${(await ovs.vsctl('get', 'bridge', name, 'datapath_id')).replace(/"/g, '')}`);
}

/** A private OVS with one secure bridge and an ovs-ofctl backend for it; stop the OVS when done. */
export async function startOfctlBridge(name: string): Promise<{ ovs: PrivateOvs; backend: OfctlBackend }> {
  const ovs = await PrivateOvs.start();
  try {
    await addSecureBridge(ovs, name);
    const backend = new OfctlBackend({ timeoutSec: 10, env: ovs.env });
    await backend.start();
    return { ovs, backend };
  } catch (e) {
    await ovs.stop();
    throw e;
  }
}
