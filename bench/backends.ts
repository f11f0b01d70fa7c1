// Both of our OpenFlow backends on one private OVS, for the benchmarks that drive bridges directly
// (flow rate, flow audit) rather than through an agent.
import { PrivateOvs, freePort } from '../lab/ovs.js';
import { NativeBackend } from '../src/openflow/native/backend.js';
import { OfctlBackend } from '../src/openflow/ofctl/backend.js';

export interface Backends {
  ovs: PrivateOvs;
  native: NativeBackend;
  ofctl: OfctlBackend;
  /** Where the native controller listens: bridges for it are added with ovs.addControlledBridge(name, port). */
  port: number;
  stop(): Promise<void>;
}

export async function startBackends(): Promise<Backends> {
  const ovs = await PrivateOvs.start();
  // ovs-ofctl (the OfctlBackend's, and any run by the bench) must find this private OVS.
  Object.assign(process.env, ovs.env);
  const port = await freePort();
  const native = new NativeBackend({ listenAddress: '127.0.0.1', listenPort: port, connectTimeoutSec: 20, requestTimeoutSec: 120 });
  const ofctl = new OfctlBackend({ timeoutSec: 120 });
  const stop = async () => {
    await native.stop().catch((e: unknown) => process.stderr.write(`stopping the native controller: ${String(e)}\n`));
    await ovs.stop();
  };
  try {
    await native.start();
    await ofctl.start();
  } catch (e) {
    await stop();
    throw e;
  }
  return { ovs, native, ofctl, port, stop };
}
