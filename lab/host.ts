// A lab host's two halves started together: the neutron-server lab and a private OVS. Started in
// parallel (each takes seconds); if one fails, the other is stopped before the error goes on, so a
// failed start leaves no daemon behind.
import { NeutronLab, type NeutronLabOptions } from './neutron.js';
import { PrivateOvs, type PrivateOvsOptions } from './ovs.js';

export async function startLabAndOvs(ovsOpts: PrivateOvsOptions = {}, labOpts: NeutronLabOptions = {}): Promise<[NeutronLab, PrivateOvs]> {
  const [lab, ovs] = await Promise.allSettled([NeutronLab.start(labOpts), PrivateOvs.start(ovsOpts)]);
  if (lab.status === 'fulfilled' && ovs.status === 'fulfilled') return [lab.value, ovs.value];
  await Promise.allSettled([lab.status === 'fulfilled' ? lab.value.stop() : undefined, ovs.status === 'fulfilled' ? ovs.value.stop() : undefined]);
  throw lab.status === 'rejected' ? lab.reason : (ovs as PromiseRejectedResult).reason;
}
