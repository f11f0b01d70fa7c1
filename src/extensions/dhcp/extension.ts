// The `dhcp` L2 agent extension (neutron.agent.l2.extensions.dhcp, Zed): the agent answers DHCPv4
// and, with [dhcp] enable_ipv6, DHCPv6 for its compute ports itself, so a VM gets its address with
// no DHCP agent. Start-up already steers broadcast UDP 68 -> 67 to DHCP_IPV4_TABLE (77) and UDP
// 546 -> 547 to ff02::1:2 to DHCP_IPV6_TABLE (78); each compute port with fixed IPs gets a flow
// there sending its requests to the controller (flows.ts); each packet-in is answered with a
// packet-out of the reference's reply (dhcpv4.ts: OFFER/ACK; dhcpv6.ts: ADVERTISE/REPLY) to the
// port it came from. Needs the native OpenFlow channel (the configuration refuses ovs-ofctl).
import { getLogger } from '../../util/log.js';
import type { PacketIn } from '../../openflow/backend.js';
import type { AgentExtension, ExtensionAgentApi, ExtensionPort, ExtensionStatus } from '../seam.js';
import { dhcpFlowFilters, dhcpV4Flow, dhcpV6Flow } from './flows.js';
import { decodeDhcpRequest, DhcpFrameError, type DhcpRequest } from './frame.js';
import { decodeDhcp6Request, type Dhcp6Request } from './frame6.js';
import { dhcpV4Reply, type DhcpPortInfo } from './dhcpv4.js';
import { dhcpV6Reply } from './dhcpv6.js';
import { dhcpPortInfo } from './port-info.js';
import { INT } from '../../bridges/tables.js';

const LOG = getLogger('extensions.dhcp');

type Request = { version: 'v4'; v4: DhcpRequest } | { version: 'v6'; v6: Dhcp6Request };
type Reply = { frame: Buffer; type: 'offer' | 'ack' | 'advertise' | 'reply' } | { skip: string };

export class DhcpAgentExtension implements AgentExtension {
  readonly name = 'dhcp';
  private api!: ExtensionAgentApi;
  private unsubscribe: (() => void) | undefined;
  /** Ports with a DHCP flow, by id (the reference's VIF_PORT_CACHE). */
  private readonly ports = new Map<string, { ofport: number; mac: string }>();
  private readonly counts = { offer: 0, ack: 0, advertise: 0, reply: 0, ignored: 0, failed: 0 };

  async initialize(api: ExtensionAgentApi): Promise<void> {
    this.api = api;
    const sw = api.intSwitch();
    if (!sw.onPacketIn || !sw.packetOut) throw new Error('the dhcp extension answers packet-ins on the agent\'s own OpenFlow channel: set [ovs] of_interface = native');
    this.listen();
    await Promise.resolve();
  }

  private listen(): void {
    this.unsubscribe?.();
    this.unsubscribe = this.api.intSwitch().onPacketIn!((p) => {
      if (p.reason !== 'action') return;
      const version = p.tableId === INT.DHCP_IPV4_TABLE ? 'v4' : p.tableId === INT.DHCP_IPV6_TABLE && this.api.settings.dhcpIpv6 ? 'v6' : undefined;
      if (!version) return;
      this.answer(p, version).catch((e: unknown) => {
        this.counts.failed++;
        LOG.error(`DHCP Controller could not answer a DHCP${version} packet on OF port ${String(p.match.inPort)}: ${e instanceof Error ? e.message : String(e)}`);
      });
    });
  }

  private portAt(ofport: number, mac: string): string | undefined {
    for (const [id, p] of this.ports) if (p.ofport === ofport && p.mac === mac) return id;
    return undefined;
  }

  /** The reply to a decoded request, or why there is none. */
  private reply(req: Request, info: DhcpPortInfo): Reply {
    if (req.version === 'v4') return dhcpV4Reply(req.v4, info, this.api.settings.dhcp);
    return dhcpV6Reply(req.v6, info, this.api.settings.dhcp, Date.now() / 1000);
  }

  private async answer(p: PacketIn, version: 'v4' | 'v6'): Promise<void> {
    const ofport = p.match.inPort;
    if (ofport === undefined) throw new Error('packet-in without in_port');
    LOG.info(`DHCP Controller packet in OF port: ${ofport}`);
    let req: Request;
    try {
      req = version === 'v4' ? { version, v4: decodeDhcpRequest(p.data) } : { version, v6: decodeDhcp6Request(p.data) };
    } catch (e) {
      if (!(e instanceof DhcpFrameError)) throw e;
      this.counts.ignored++;
      LOG.warning(`DHCP Controller received packet is not a DHCP${version} request: ${e.message}`);
      return;
    }
    const ethSrc = req.version === 'v4' ? req.v4.ethSrc : req.v6.ethSrc;
    const portId = this.portAt(ofport, ethSrc);
    const info = portId === undefined ? undefined : await dhcpPortInfo(this.api.cache, portId);
    if (!info) {
      this.counts.ignored++;
      LOG.debug(`DHCP Controller: no compute port at OF port ${ofport} with MAC ${ethSrc}`);
      return;
    }
    const r = this.reply(req, info);
    if ('skip' in r) {
      this.counts.ignored++;
      LOG.debug(`DHCP Controller: no DHCP${version} reply to port ${portId ?? ''}: ${r.skip}`);
      return;
    }
    await this.api.intSwitch().packetOut!(ofport, r.frame);
    this.counts[r.type]++;
    LOG.info(`DHCP Controller assembled DHCP${version} packet out to OF port ${ofport}`);
  }

  async handlePort(port: ExtensionPort): Promise<void> {
    if (!port.deviceOwner.startsWith('compute:') || !port.fixedIps?.length) return;
    LOG.info(`DHCP extension add DHCP related flows for port ${port.portId}`);
    const mac = port.mac.toLowerCase();
    const old = this.ports.get(port.portId);
    const b = this.api.intBridge().batch();
    if (old && (old.ofport !== port.ofport || old.mac !== mac)) for (const f of dhcpFlowFilters(old.ofport, old.mac)) b.delete(f);
    b.add(dhcpV4Flow(port.ofport, mac));
    if (this.api.settings.dhcpIpv6) b.add(dhcpV6Flow(port.ofport, mac));
    await b.commit();
    this.ports.set(port.portId, { ofport: port.ofport, mac });
  }

  async deletePort(portId: string): Promise<void> {
    const p = this.ports.get(portId);
    if (!p) return;
    LOG.info(`DHCP extension remove DHCP related flows for port ${portId}`);
    const b = this.api.intBridge().batch();
    for (const f of dhcpFlowFilters(p.ofport, p.mac)) b.delete(f);
    await b.commit();
    this.ports.delete(portId);
  }

  /** The flows went with the bridge; the next pass hands every port again. The packet-in channel is the new switch's. */
  async bridgesReset(): Promise<void> {
    this.ports.clear();
    this.listen();
    await Promise.resolve();
  }

  async audit(): Promise<void> {}

  async firstSyncDone(): Promise<void> {}

  status(): ExtensionStatus {
    return { ports: this.ports.size, details: {}, counters: { ...this.counts } };
  }

  async stop(): Promise<void> {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    await Promise.resolve();
  }
}
