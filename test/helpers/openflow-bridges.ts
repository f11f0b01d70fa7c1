// Bridges for tests that drive OpenFlow themselves, without an agent: netdev bridges in fail mode
// secure (nothing passes that no flow allows) speaking OpenFlow 1.0 (ovs-ofctl's plain dumps) and
// 1.3/1.4 (our backends), optionally controlled by our native backend.
import { PrivateOvs } from '../../lab/ovs.js';
import { OfctlBackend } from '../../src/openflow/ofctl/backend.js';

export const addSecureBridge = (ovs: PrivateOvs, name: string): Promise<void> => ovs.addSecureBridge(name);
export const addControlledBridge = (ovs: PrivateOvs, name: string, port: number): Promise<bigint> => ovs.addControlledBridge(name, port);
export const datapathId = (ovs: PrivateOvs, name: string): Promise<bigint> => ovs.datapathId(name);

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
