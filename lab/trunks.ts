// Trunks (VLAN-aware VMs) through the neutron API of a NeutronLab: neutron's `trunk` service plugin,
// on in the lab unless started with `trunk: false`. The calls are those Nova and an operator make:
// a trunk on an unbound parent port, subports added and removed by segmentation (VLAN) id, the
// trunk's status, its deletion.
//
// Neutron's rules, which the helpers follow rather than hide: a parent port must not be bound to a
// host when its trunk is created (Nova binds it afterwards, at boot), a subport must have no
// device_id, and a trunk whose parent is bound cannot be deleted (TrunkInUse): deleteTrunk()
// unbinds the parent first, as the VM's deletion would.
import { LAB_PROJECT, waitFor, type NeutronLab, type NeutronPort } from './neutron.js';

/** A subport as the API takes and returns it: a port carried on the trunk with a VLAN id. */
export interface TrunkSubport {
  port_id: string;
  segmentation_type: 'vlan';
  segmentation_id: number;
}

/** DOWN (not wired yet), BUILD (being wired), ACTIVE, DEGRADED (a subport failed), ERROR. */
export type TrunkStatus = 'DOWN' | 'BUILD' | 'ACTIVE' | 'DEGRADED' | 'ERROR';

export interface NeutronTrunk {
  id: string;
  name: string;
  /** The parent port. */
  port_id: string;
  status: TrunkStatus;
  admin_state_up: boolean;
  sub_ports: TrunkSubport[];
  [k: string]: unknown;
}

/** A subport by port and VLAN id (segmentation_type vlan, the only one the Open vSwitch driver takes). */
export function vlanSubport(portId: string, vlanId: number): TrunkSubport {
  return { port_id: portId, segmentation_type: 'vlan', segmentation_id: vlanId };
}

function refuseWithoutTrunks(lab: NeutronLab, method: string, path: string): void {
  if (!lab.trunk) throw new Error(`neutron API ${method} ${path}: the lab in ${lab.dir} runs without the trunk service plugin (started with trunk: false)`);
}

/** POST /v2.0/trunks: a trunk on `parentPortId` (which must not be bound yet), with these subports. */
export async function createTrunk(lab: NeutronLab, parentPortId: string, opts: { name?: string; subports?: TrunkSubport[] } = {}): Promise<NeutronTrunk> {
  refuseWithoutTrunks(lab, 'POST', '/v2.0/trunks');
  const trunk = { port_id: parentPortId, name: opts.name ?? '', tenant_id: LAB_PROJECT, sub_ports: opts.subports ?? [] };
  return (await lab.api<{ trunk: NeutronTrunk }>('POST', '/v2.0/trunks', { trunk })).trunk;
}

export async function getTrunk(lab: NeutronLab, trunkId: string): Promise<NeutronTrunk> {
  refuseWithoutTrunks(lab, 'GET', `/v2.0/trunks/${trunkId}`);
  return (await lab.api<{ trunk: NeutronTrunk }>('GET', `/v2.0/trunks/${trunkId}`)).trunk;
}

export async function listTrunks(lab: NeutronLab): Promise<NeutronTrunk[]> {
  refuseWithoutTrunks(lab, 'GET', '/v2.0/trunks');
  return (await lab.api<{ trunks: NeutronTrunk[] }>('GET', '/v2.0/trunks')).trunks;
}

/** PUT /v2.0/trunks/{id}/add_subports; the answer is the trunk with all its subports. */
export async function addSubports(lab: NeutronLab, trunkId: string, subports: TrunkSubport[]): Promise<NeutronTrunk> {
  const path = `/v2.0/trunks/${trunkId}/add_subports`;
  refuseWithoutTrunks(lab, 'PUT', path);
  return lab.api<NeutronTrunk>('PUT', path, { sub_ports: subports });
}

/** PUT /v2.0/trunks/{id}/remove_subports: the ports leave the trunk (they stay as ports). */
export async function removeSubports(lab: NeutronLab, trunkId: string, portIds: string[]): Promise<NeutronTrunk> {
  const path = `/v2.0/trunks/${trunkId}/remove_subports`;
  refuseWithoutTrunks(lab, 'PUT', path);
  return lab.api<NeutronTrunk>('PUT', path, { sub_ports: portIds.map((port_id) => ({ port_id })) });
}

/** Deletes the trunk, unbinding its parent port first when it is bound (neutron refuses otherwise). */
export async function deleteTrunk(lab: NeutronLab, trunkId: string): Promise<void> {
  const path = `/v2.0/trunks/${trunkId}`;
  refuseWithoutTrunks(lab, 'DELETE', path);
  const trunk = await getTrunk(lab, trunkId);
  const parent = await lab.getPort(trunk.port_id);
  if (parent['binding:host_id']) await lab.updatePort(parent.id, { 'binding:host_id': '' });
  await lab.api('DELETE', path);
}

/**
 * Binds the parent port to `host` as Nova does when the VM boots there (device_owner compute:nova,
 * a device_id): the server then names the trunk bridge in the port's binding:vif_details.
 */
export async function bindTrunkParent(lab: NeutronLab, parentPortId: string, host: string, deviceId: string): Promise<NeutronPort> {
  return lab.updatePort(parentPortId, { 'binding:host_id': host, device_owner: 'compute:nova', device_id: deviceId });
}

/** Waits until the server shows the trunk in `status`; the error names the last status seen. */
export async function waitTrunkStatus(lab: NeutronLab, trunkId: string, status: TrunkStatus, timeoutMs = 120000): Promise<NeutronTrunk> {
  let last = '(not read)';
  try {
    return await waitFor(
      async () => {
        const t = await getTrunk(lab, trunkId);
        last = t.status;
        return t.status === status ? t : undefined;
      },
      timeoutMs,
      `trunk ${trunkId} ${status}`,
      250,
    );
  } catch (e) {
    throw new Error(`${e instanceof Error ? e.message : String(e)} (last status ${last})`);
  }
}

/** The trunk bridge os-vif plugs the VM into: `tbr-` and the trunk id, cut to 14 characters (neutron's gen_trunk_br_name). */
export function trunkBridgeName(trunkId: string): string {
  return `tbr-${trunkId}`.slice(0, 14);
}
