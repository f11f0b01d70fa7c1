// A lab host's two halves started together: the neutron-server lab and a private OVS. Started in
// parallel (each takes seconds); if one fails, the other is stopped before the error goes on, so a
// failed start leaves no daemon behind.
//
// Under `npm test` the runner (test/run.ts) starts one neutron-server lab for all test files and
// names its directory in SHARED_LAB_ENV: startLab() then borrows it, emptied of what earlier files
// left, instead of paying ~25 s for a lab of its own. Each file still has its own OVS and agents
// (those of earlier files are deleted, so a host name may recur). A file that stops or restarts
// RabbitMQ or neutron-server asks for `{ own: true }`; one that passes lab options (a directory,
// ports) gets its own lab as well.
import { NeutronLab, type NeutronLabOptions } from './neutron.js';
import { PrivateOvs, type PrivateOvsOptions } from './ovs.js';
import { deleteTrunk, listTrunks } from './trunks.js';

/** The state directory of a running lab that test files may borrow (set by test/run.ts). */
export const SHARED_LAB_ENV = 'OVS_AGENT_SHARED_LAB';

export interface LabChoice {
  /** Start a private lab even when a shared one is offered (the file breaks or restarts the control plane). */
  own?: boolean;
}

/** The shared lab, emptied, when one is offered and fits; otherwise a lab of the caller's own. */
export async function startLab(opts: NeutronLabOptions & LabChoice = {}): Promise<NeutronLab> {
  const { own, ...labOpts } = opts;
  const shared = process.env[SHARED_LAB_ENV];
  // Any lab option means a lab configured for this caller alone.
  if (!shared || own === true || Object.keys(labOpts).length > 0) return NeutronLab.start(labOpts);
  try {
    const lab = NeutronLab.attach(shared);
    await emptyLab(lab);
    return lab;
  } catch (e) {
    // A shared lab gone bad must not fail every file after it: this one starts its own.
    process.stderr.write(`startLab: the shared neutron lab is unusable, starting one of this file's own: ${e instanceof Error ? e.message : String(e)}\n`);
    return NeutronLab.start(labOpts);
  }
}

export async function startLabAndOvs(ovsOpts: PrivateOvsOptions = {}, labOpts: NeutronLabOptions & LabChoice = {}): Promise<[NeutronLab, PrivateOvs]> {
  const [lab, ovs] = await Promise.allSettled([startLab(labOpts), PrivateOvs.start(ovsOpts)]);
  if (lab.status === 'fulfilled' && ovs.status === 'fulfilled') return [lab.value, ovs.value];
  await Promise.allSettled([lab.status === 'fulfilled' ? lab.value.stop() : undefined, ovs.status === 'fulfilled' ? ovs.value.stop() : undefined]);
  throw lab.status === 'rejected' ? lab.reason : (ovs as PromiseRejectedResult).reason;
}

/**
 * Deletes what earlier users of a lab made, so it answers as a fresh one: trunks, ports, then networks
 * (provider networks exist once per VLAN id or flat physical network), security groups (the
 * project's default one is made again on first use), address groups, QoS policies, log resources and agents (a stopped agent
 * stays "alive" for 75 s and would pass a wait for a newly started one of the same host).
 * Tunnel endpoints stay: with l2population an agent builds tunnels only to ports' hosts.
 */
export async function emptyLab(lab: NeutronLab): Promise<void> {
  const list = async <T>(path: string, key: string): Promise<T[]> => (await lab.api<Record<string, T[]>>('GET', path))[key] ?? [];
  const remove = async (what: string, ids: string[]): Promise<void> => {
    // A few at a time: neutron-server has one API worker, and deleting a port also notifies.
    const queue = [...ids];
    const worker = async (): Promise<void> => {
      for (let id = queue.shift(); id !== undefined; id = queue.shift()) {
        try {
          await lab.api('DELETE', `/v2.0/${what}/${id}`);
        } catch (e) {
          throw new Error(`emptying the shared lab in ${lab.dir}: DELETE ${what}/${id}: ${e instanceof Error ? e.message : String(e)}`);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(4, ids.length) }, worker));
  };
  const ids = (rows: Array<{ id: string }>): string[] => rows.map((r) => r.id);
  // Log resources first: one an earlier file left without a target would log a later file's ports.
  // A lab without the log service plugin answers 404.
  const logs = await list<{ id: string }>('/v2.0/log/logs', 'logs').catch((e: unknown) => {
    if (/HTTP 404/.test(String(e))) return [];
    throw e;
  });
  await remove('log/logs', ids(logs));
  // Trunks first: neutron refuses to delete a trunk's parent or subports while it exists.
  if (lab.trunk) {
    for (const t of await listTrunks(lab)) {
      await deleteTrunk(lab, t.id).catch((e: unknown) => {
        throw new Error(`emptying the shared lab in ${lab.dir}: deleting trunk ${t.id}: ${e instanceof Error ? e.message : String(e)}`);
      });
    }
  }
  await remove('ports', ids(await lab.listPorts()));
  await remove('networks', ids(await lab.listNetworks()));
  await remove('security-groups', ids(await list<{ id: string }>('/v2.0/security-groups', 'security_groups')));
  await remove('address-groups', ids(await list<{ id: string }>('/v2.0/address-groups', 'address_groups')));
  // Policies last: neutron refuses to delete one a port or network still uses.
  if (lab.qos) await remove('qos/policies', ids(await lab.listQosPolicies()));
  await remove('agents', ids(await lab.listAgents()));
}
