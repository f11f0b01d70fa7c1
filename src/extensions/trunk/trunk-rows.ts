// What the trunk handler writes to OVSDB, as the reference's trunk manager writes it (so agents can
// be swapped either way on a host with trunks): a patch pair per port between br-int and the trunk
// bridge, each end's interface carrying the neutron port's iface-id and attached-mac (br-int's end
// is then wired by the agent like any VM port), the subport's trunk-side end tagged with its VLAN;
// and the trunk's metadata on the VM's interface in the trunk bridge. Each verb is one transaction.
import { NamedUuid, Uuid, cond, type Operation } from '../../ovsdb/protocol.js';
import { BRIDGE, INTERFACE, OPEN_VSWITCH, PORT } from '../../ovsdb/schema.js';
import type { OvsdbOps } from '../../ovsdb/ops.js';
import type { InterfaceRow } from '../../ovsdb/replica.js';
import { isTrunkServicePort, type PatchPair } from './names.js';

/** The VM's own interface in a trunk bridge, with the trunk metadata the handler keeps on it. */
export interface ParentInterface {
  name: string;
  externalIds: ReadonlyMap<string, string>;
}

export interface PatchEndIds {
  portId: string;
  mac: string | undefined;
}

/** Interfaces as the handler reads them. */
export type TrunkInterface = Pick<InterfaceRow, 'name' | 'type' | 'options' | 'externalIds'>;

/** What the trunk handler reads and writes in OVSDB (TrunkRows over the replica). */
export interface TrunkOvsdb {
  bridgeExists(name: string): boolean;
  interfacesOf(bridge: string): TrunkInterface[];
  intInterfaces(): TrunkInterface[];
  interfaceExists(name: string): boolean;
  parentInterface(bridge: string): ParentInterface | undefined;
  pairIntact(trunkBridge: string, pair: PatchPair, trunkTag?: number): boolean;
  plugPair(trunkBridge: string, pair: PatchPair, ids: PatchEndIds, trunkTag?: number): Promise<void>;
  unplugPair(trunkBridge: string, pair: PatchPair): Promise<void>;
  deleteTrunkBridge(trunkBridge: string, intPorts: readonly string[]): Promise<void>;
  deleteIntPorts(names: readonly string[]): Promise<void>;
  setParentMetadata(iface: string, kv: Record<string, string>): Promise<void>;
}

export class TrunkRows implements TrunkOvsdb {
  constructor(
    private readonly ops: OvsdbOps,
    private readonly intBridge: () => string,
  ) {}

  private get replica() {
    return this.ops.replica;
  }

  bridgeExists(name: string): boolean {
    return this.replica.bridge(name) !== undefined;
  }

  /** Interfaces on a bridge but its own internal one (`ovs-vsctl list-ifaces`); none when it does not exist. */
  interfacesOf(bridge: string): InterfaceRow[] {
    if (!this.replica.bridge(bridge)) return [];
    return this.replica.portsOfBridge(bridge).flatMap((p) => this.replica.interfacesOfPort(p)).filter((i) => i.name !== bridge);
  }

  intInterfaces(): InterfaceRow[] {
    return this.interfacesOf(this.intBridge());
  }

  interfaceExists(name: string): boolean {
    return this.replica.iface(name) !== undefined;
  }

  /** The VM's interface in the trunk bridge: the first that is not one of the trunk's own ports. */
  parentInterface(bridge: string): ParentInterface | undefined {
    const i = this.interfacesOf(bridge).find((x) => !isTrunkServicePort(x.name));
    return i && { name: i.name, externalIds: i.externalIds };
  }

  /**
   * The patch pair of a parent (trunkTag undefined) or of a subport (its VLAN on the trunk
   * bridge's end), both ends in one transaction; an end that exists is brought to what it must be.
   */
  async plugPair(trunkBridge: string, pair: PatchPair, ids: PatchEndIds, trunkTag?: number): Promise<void> {
    const intBridge = this.intBridge();
    const label = `plug ${pair.intName}/${pair.trunkName} between ${intBridge} and ${trunkBridge}`;
    const externalIds: Record<string, string> = { ...(ids.mac ? { 'attached-mac': ids.mac } : {}), 'iface-id': ids.portId };
    const hasIds = (name: string) => Object.entries(externalIds).every(([k, v]) => this.replica.iface(name)?.externalIds.get(k) === v);
    await this.ops.transaction(label, () => {
      if (this.pairIntact(trunkBridge, pair, trunkTag) && hasIds(pair.intName) && hasIds(pair.trunkName)) return undefined;
      return [
        ...this.patchEndOps(label, intBridge, pair.intName, pair.trunkName, externalIds, undefined, 'int'),
        ...this.patchEndOps(label, trunkBridge, pair.trunkName, pair.intName, externalIds, trunkTag, 'trunk'),
      ];
    });
  }

  private patchEndOps(label: string, bridge: string, name: string, peer: string, externalIds: Record<string, string>, tag: number | undefined, key: string): Operation[] {
    const b = this.replica.bridge(bridge);
    if (!b) throw new Error(`${label}: bridge ${bridge} does not exist`);
    const p = this.replica.port(name);
    if (!p) {
      return [
        INTERFACE.insert({ name, type: 'patch', options: { peer }, externalIds }, `iface_${key}`),
        PORT.insert({ name, interfaces: [new NamedUuid(`iface_${key}`)], ...(tag !== undefined ? { tag } : {}) }, `port_${key}`),
        BRIDGE.mutate([cond.uuid(b.uuid)], [BRIDGE.insertInto('ports', [new NamedUuid(`port_${key}`)])]),
      ];
    }
    const owner = this.replica.bridgeOfPortRow(p);
    if (owner && owner.uuid !== b.uuid) throw new Error(`${label}: port ${name} already exists on bridge ${owner.name}`);
    const iface = this.replica.interfacesOfPort(p).find((i) => i.name === name);
    if (!iface) throw new Error(`${label}: port ${name} exists without an interface named ${name}`);
    const where = [cond.uuid(iface.uuid)];
    const ops: Operation[] = [
      INTERFACE.update(where, { type: 'patch' }),
      INTERFACE.mutate(where, [...INTERFACE.mergeMap('options', { peer }), ...INTERFACE.mergeMap('externalIds', externalIds)]),
    ];
    if (tag !== undefined && p.tag !== tag) ops.push(PORT.update([cond.uuid(p.uuid)], { tag }));
    return ops;
  }

  /** Both ends are there, on their bridges, patched to each other (the trunk's end with its VLAN). */
  pairIntact(trunkBridge: string, pair: PatchPair, trunkTag?: number): boolean {
    const end = (bridge: string, name: string, peer: string, tag: number | undefined): boolean => {
      const p = this.replica.port(name);
      const i = this.replica.iface(name);
      return !!p && !!i && this.replica.bridgeOfPortRow(p)?.name === bridge && i.type === 'patch' && i.options.get('peer') === peer && (tag === undefined || p.tag === tag);
    };
    return end(this.intBridge(), pair.intName, pair.trunkName, undefined) && end(trunkBridge, pair.trunkName, pair.intName, trunkTag);
  }

  /** Both ends of a subport's pair go (those that exist). */
  async unplugPair(trunkBridge: string, pair: PatchPair): Promise<void> {
    await this.ops.transaction(`unplug ${pair.intName}/${pair.trunkName}`, () => {
      const ops = [...this.deletePortOps(trunkBridge, pair.trunkName), ...this.deletePortOps(this.intBridge(), pair.intName)];
      return ops.length ? ops : undefined;
    });
  }

  /** The trunk bridge and the given patch ends on br-int, in one transaction. */
  async deleteTrunkBridge(trunkBridge: string, intPorts: readonly string[]): Promise<void> {
    await this.ops.transaction(`delete trunk bridge ${trunkBridge} and ${intPorts.join(', ') || 'no port'} on ${this.intBridge()}`, () => {
      const ops = intPorts.flatMap((name) => this.deletePortOps(this.intBridge(), name));
      const b = this.replica.bridge(trunkBridge);
      const root = this.replica.openVSwitch();
      if (b && root) ops.push(OPEN_VSWITCH.mutate([cond.uuid(root.uuid)], [OPEN_VSWITCH.deleteFrom('bridges', [new Uuid(b.uuid)])]));
      return ops.length ? ops : undefined;
    });
  }

  /** br-int's patch ends not on br-int (`--if-exists del-port`), as one transaction. */
  async deleteIntPorts(names: readonly string[]): Promise<void> {
    await this.ops.transaction(`delete ${names.join(', ')} from ${this.intBridge()}`, () => {
      const ops = names.flatMap((name) => this.deletePortOps(this.intBridge(), name));
      return ops.length ? ops : undefined;
    });
  }

  private deletePortOps(bridge: string, name: string): Operation[] {
    const b = this.replica.bridge(bridge);
    const p = this.replica.port(name);
    if (!b || !p || !b.ports.includes(p.uuid)) return [];
    return [BRIDGE.mutate([cond.uuid(b.uuid)], [BRIDGE.deleteFrom('ports', [new Uuid(p.uuid)])])];
  }

  /** Merged into the VM interface's external_ids (bridge_name, trunk_id, subport_ids). */
  async setParentMetadata(iface: string, kv: Record<string, string>): Promise<void> {
    const label = `set the trunk metadata on interface ${iface}`;
    await this.ops.transaction(label, () => {
      const i = this.replica.iface(iface);
      if (!i) throw new Error(`${label}: interface ${iface} does not exist`);
      if (Object.entries(kv).every(([k, v]) => i.externalIds.get(k) === v)) return undefined;
      return [INTERFACE.mutate([cond.uuid(i.uuid)], INTERFACE.mergeMap('externalIds', kv))];
    });
  }
}
