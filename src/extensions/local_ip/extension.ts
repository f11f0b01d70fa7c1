// The `local_ip` L2 agent extension (neutron's LocalIPAgentExtension): a Local IP associated with a
// port on this host is reachable from the VMs on that port's network, translated to the port's
// fixed IP by br-int (conntrack NAT, or static NAT with `[local_ip] static_nat`). Associations come
// from the resource cache (LocalIPAssociation, subscribed only with this extension loaded), pulled
// per port when the port is handed and kept current by the server's pushes. Compute ports also get
// the table 0 → 30 → 31 egress path the reference's agent installs when this extension is loaded.
import { getLogger } from '../../util/log.js';
import { INT } from '../../bridges/tables.js';
import type { JsonObject } from '../../util/json.js';
import type { AgentExtension, ExtensionAgentApi, ExtensionPort, ExtensionStatus } from '../seam.js';
import { parseAssociation, type LocalIpAssociation } from './association.js';
import { associationFlows, deleteAssociationFlows, egressViaTable0, localEgressFlows, type LocalIpFlowSpec } from './flows.js';
import { agentProvidesAntiSpoofing } from '../../agent/settings.js';

const LOG = getLogger('extensions.local_ip');
const TYPE = 'LocalIPAssociation';

export class LocalIpAgentExtension implements AgentExtension {
  readonly name = 'local_ip';
  private api!: ExtensionAgentApi;
  private staticNat = false;
  private learnTable: number = INT.LOCAL_IP_TABLE;
  /** Ports as last handed. */
  private readonly ports = new Map<string, ExtensionPort>();
  /** Per port, the associations whose flows are on br-int, with what they were written for. */
  private readonly applied = new Map<string, Map<string, LocalIpFlowSpec>>();
  private queue: Promise<void> = Promise.resolve();

  async initialize(api: ExtensionAgentApi): Promise<void> {
    this.api = api;
    this.staticNat = api.settings.localIpStaticNat;
    const ovsFirewall = api.settings.enableSecurityGroup && api.settings.firewallDriver === 'openvswitch';
    if (ovsFirewall && !this.staticNat) {
      throw new Error('In order to use Local IP extension together with openvswitch firewall please set [local_ip] static_nat = True');
    }
    if (ovsFirewall) this.learnTable = INT.ACCEPTED_EGRESS_TRAFFIC_NORMAL_TABLE;
    api.cache.on('object-updated', (type, _id, _old, now) => {
      if (type === TYPE) this.serially(() => this.onPushed(now));
    });
    api.cache.on('object-deleted', (type, id, old) => {
      if (type === TYPE) this.serially(() => this.onDeleted(id, old));
    });
  }

  private async onPushed(o: JsonObject): Promise<void> {
    const a = parseAssociation(o);
    if (typeof a === 'string') {
      LOG.warning(`Local IP association push dropped: ${a}`);
      return;
    }
    LOG.info(`Local IP association ${a.id} received: ${a.localIpAddress} -> port ${a.fixedPortId} (${a.fixedIp})`);
    const port = this.ports.get(a.fixedPortId);
    if (port) await this.sync(port);
  }

  private async onDeleted(id: string, old: JsonObject | undefined): Promise<void> {
    const portId = typeof old?.['fixed_port_id'] === 'string' ? old['fixed_port_id'] : [...this.applied].find(([, m]) => m.has(id))?.[0];
    LOG.info(`Local IP association ${id} deleted`);
    const port = portId === undefined ? undefined : this.ports.get(portId);
    if (port) await this.sync(port);
  }

  handlePort(port: ExtensionPort): Promise<void> {
    this.ports.set(port.portId, port);
    return this.serially(async () => {
      if (port.deviceOwner.startsWith('compute:') && port.localVlan !== undefined) {
        const viaTable0 = egressViaTable0(agentProvidesAntiSpoofing(this.api.settings), port.portSecurityEnabled);
        await this.api.intBridge().installFlows(...localEgressFlows(port.ofport, port.localVlan, viaTable0));
      }
      await this.sync(port);
    });
  }

  /** The port's association flows made equal to what the cache holds for it now. */
  private async sync(port: ExtensionPort): Promise<void> {
    const objects = await this.api.cache.query(TYPE, { field: 'fixed_port_id', values: [port.portId] });
    const wanted = new Map<string, LocalIpFlowSpec>();
    for (const o of objects) {
      const a = parseAssociation(o);
      if (typeof a === 'string') LOG.warning(`port ${port.portId}: ${a}`);
      else if (port.localVlan !== undefined) wanted.set(a.id, this.spec(a, port.localVlan, port.mac));
    }
    const have = this.applied.get(port.portId) ?? new Map<string, LocalIpFlowSpec>();
    const br = this.api.intBridge();
    const b = br.batch();
    for (const [id, s] of have) {
      if (JSON.stringify(wanted.get(id)) === JSON.stringify(s)) continue;
      LOG.info(`Local IP deleted from port ${port.portId}: ${s.localIp}`);
      deleteAssociationFlows(b, s);
    }
    for (const [id, s] of wanted) {
      if (JSON.stringify(have.get(id)) === JSON.stringify(s)) continue;
      LOG.info(`Local IP added for port ${port.portId}: ${s.localIp}`);
      b.add(...associationFlows(s, this.staticNat, this.learnTable, br.cookie));
    }
    await b.commit();
    if (wanted.size) this.applied.set(port.portId, wanted);
    else this.applied.delete(port.portId);
  }

  private spec(a: LocalIpAssociation, vlan: number, mac: string): LocalIpFlowSpec {
    return { vlan, localIp: a.localIpAddress, destIp: a.fixedIp, mac: mac.toLowerCase() };
  }

  /** As the reference: a port gone forgets its associations; its flows stay until they are deleted on the server. */
  deletePort(portId: string): Promise<void> {
    this.ports.delete(portId);
    this.applied.delete(portId);
    return Promise.resolve();
  }

  private serially(work: () => Promise<void>): Promise<void> {
    const next = this.queue.then(work);
    this.queue = next.catch((e: unknown) => LOG.error('Local IP flows could not be written', e));
    return next;
  }

  /** The flows are gone with the bridges: the next pass hands every port again and writes them anew. */
  async bridgesReset(): Promise<void> {
    this.applied.clear();
  }

  async audit(): Promise<void> {}
  async firstSyncDone(): Promise<void> {}

  /** `ovs-agent status`: `extension local_ip  N ports, M associations, conntrack NAT` (or `static NAT`). */
  status(): ExtensionStatus {
    const associations = [...this.applied.values()].reduce((n, m) => n + m.size, 0);
    return { ports: this.applied.size, details: { associations, NAT: this.staticNat ? 'static' : 'conntrack' } };
  }

  async stop(): Promise<void> {
    await this.queue.catch(() => undefined);
  }
}
