// `[ovs] of_interface` is decided here and nowhere else: the agent gets an OpenFlowBackend, and the
// backend itself says what differs (controller target, how a switch restart is noticed).
// Only the configured backend's modules are loaded.
import type { OfInterface, OpenFlowBackend } from './backend.js';

export interface OpenFlowSettings {
  ofInterface: OfInterface;
  /** native: where the controller listens and the bridges connect. */
  ofListenAddress: string;
  ofListenPort: number;
  /** native: how long a request waits for its switch to (re)connect. */
  ofConnectTimeoutSec: number;
  /** Per request (native) or per ovs-ofctl run. */
  ofRequestTimeoutSec: number;
}

export async function createOpenFlowBackend(s: OpenFlowSettings): Promise<OpenFlowBackend> {
  switch (s.ofInterface) {
    case 'native': {
      const { NativeBackend } = await import('./native/backend.js');
      return new NativeBackend({
        listenAddress: s.ofListenAddress,
        listenPort: s.ofListenPort,
        connectTimeoutSec: s.ofConnectTimeoutSec,
        requestTimeoutSec: s.ofRequestTimeoutSec,
      });
    }
    case 'ovs-ofctl': {
      const { OfctlBackend } = await import('./ofctl/backend.js');
      return new OfctlBackend({ timeoutSec: s.ofRequestTimeoutSec });
    }
  }
}
