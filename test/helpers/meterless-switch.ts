// The meter methods of an OpenFlowSwitch for fakes that only take flows: a test that reaches them
// is using the wrong fake, and says so.
import type { OpenFlowSwitch } from '../../src/openflow/backend.js';

type MeterMethods = Pick<OpenFlowSwitch, 'applyMeter' | 'dumpMeters' | 'meterFeatures'>;

const unused = (what: string) => (): Promise<never> => Promise.reject(new Error(`this fake switch has no meters (${what} called)`));

export const NO_METERS: MeterMethods = {
  applyMeter: unused('applyMeter'),
  dumpMeters: unused('dumpMeters'),
  meterFeatures: unused('meterFeatures'),
};
