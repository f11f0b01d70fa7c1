// Bridges for tests that drive OpenFlow themselves, without an agent: netdev bridges in fail mode
// secure (nothing passes that no flow allows) speaking OpenFlow 1.0 (ovs-ofctl's plain dumps) and
// 1.3/1.4 (our backends), optionally controlled by our native backend.
import { PrivateOvs, freePort } from '../../lab/ovs.js';
import { NativeBackend } from '../../src/openflow/native/backend.js';
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

/** A private OVS and our native backend listening for the bridges it controls. */
export interface NativeControlled {
  ovs: PrivateOvs;
  backend: NativeBackend;
  /** The backend's listening port, the bridges' controller. */
  port: number;
  /** A secure bridge whose controller is the backend; returns its datapath id. */
  addBridge(name: string): Promise<bigint>;
  /** Stops the backend, then the OVS (even when the backend's stop failed). */
  stop(): Promise<void>;
}

/** Starts a private OVS and a native backend on a free loopback port; `stop()` it when done. */
export async function startNativeControlled(): Promise<NativeControlled> {
  const ovs = await PrivateOvs.start();
  try {
    const port = await freePort();
    const backend = new NativeBackend({ listenAddress: '127.0.0.1', listenPort: port, connectTimeoutSec: 20, requestTimeoutSec: 30 });
    await backend.start();
    return {
      ovs, backend, port,
      addBridge: (name) => addControlledBridge(ovs, name, port),
      stop: async () => {
        try {
          await backend.stop();
        } finally {
          await ovs.stop();
        }
      },
    };
  } catch (e) {
    await ovs.stop();
    throw e;
  }
}
