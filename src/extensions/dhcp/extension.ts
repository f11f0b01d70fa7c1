// The `dhcp` L2 agent extension (neutron.agent.l2.extensions.dhcp, Zed): the agent answers DHCPv4
// for its compute ports itself, so a VM gets its address with no DHCP agent. Start-up already
// steers broadcast UDP 68 -> 67 to DHCP_IPV4_TABLE (77); each compute port with fixed IPs gets a
// flow there sending its requests to the controller (flows.ts); each packet-in is answered with a
// packet-out of the reference's OFFER or ACK (dhcpv4.ts) to the port it came from. Needs the
// native OpenFlow channel (the configuration refuses ovs-ofctl); DHCPv6 ([dhcp] enable_ipv6) is
// not implemented and refused by the configuration.
import { getLogger } from '../../util/log.js';
import type { PacketIn } from '../../openflow/backend.js';
import type { AgentExtension, ExtensionAgentApi, ExtensionPort, ExtensionStatus } from '../seam.js';
import { dhcpV4Flow, dhcpV4FlowFilter } from './flows.js';
import { decodeDhcpRequest, DhcpFrameError } from './frame.js';
import { dhcpV4Reply } from './dhcpv4.js';
import { dhcpPortInfo } from './port-info.js';
import { INT } from '../../bridges/tables.js';

const LOG = getLogger('extensions.dhcp');

export class DhcpAgentExtension implements AgentExtension {
  readonly name = 'dhcp';
  private api!: ExtensionAgentApi;
  private unsubscribe: (() => void) | undefined;
  /** Ports with a DHCP flow, by id (the reference's VIF_PORT_CACHE). */
  private readonly ports = new Map<string, { ofport: number; mac: string }>();
  private readonly counts = { offer: 0, ack: 0, ignored: 0, failed: 0 };

  async initialize(api: ExtensionAgentApi): Promise<void> {
    this.api = api;
    const sw = api.intSwitch();
    if (!sw.onPacketIn || !sw.packetOut) throw new Error('the dhcp extension answers packet-ins on the agent\'s own OpenFlow channel: set [ovs] of_interface = native');
    if (api.settings.dhcpIpv6) throw new Error('the dhcp extension does not answer DHCPv6 here: set [dhcp] enable_ipv6 = False');
    this.listen();
    await Promise.resolve();
  }

  private listen(): void {
    this.unsubscribe?.();
    this.unsubscribe = this.api.intSwitch().onPacketIn!((p) => {
      if (p.tableId !== INT.DHCP_IPV4_TABLE || p.reason !== 'action') return;
      this.answer(p).catch((e: unknown) => {
        this.counts.failed++;
        LOG.error(`DHCP Controller could not answer a DHCPv4 packet on OF port ${String(p.match.inPort)}: ${e instanceof Error ? e.message : String(e)}`);
      });
    });
  }

  private portAt(ofport: number, mac: string): string | undefined {
    for (const [id, p] of this.ports) if (p.ofport === ofport && p.mac === mac) return id;
    return undefined;
  }

  private async answer(p: PacketIn): Promise<void> {
    const ofport = p.match.inPort;
    if (ofport === undefined) throw new Error('packet-in without in_port');
    LOG.info(`DHCP Controller packet in OF port: ${ofport}`);
    let req;
    try {
      req = decodeDhcpRequest(p.data);
    } catch (e) {
      if (!(e instanceof DhcpFrameError)) throw e;
      this.counts.ignored++;
      LOG.warning(`DHCP Controller received packet is not a DHCPv4 request: ${e.message}`);
      return;
    }
    const portId = this.portAt(ofport, req.ethSrc);
    const info = portId === undefined ? undefined : await dhcpPortInfo(this.api.cache, portId);
    if (!info) {
      this.counts.ignored++;
      LOG.debug(`DHCP Controller: no compute port at OF port ${ofport} with MAC ${req.ethSrc}`);
      return;
    }
    const r = dhcpV4Reply(req, info, this.api.settings.dhcp);
    if ('skip' in r) {
      this.counts.ignored++;
      LOG.debug(`DHCP Controller: no reply to port ${portId ?? ''}: ${r.skip}`);
      return;
    }
    await this.api.intSwitch().packetOut!(ofport, r.frame);
    this.counts[r.type]++;
    LOG.info(`DHCP Controller assembled DHCPv4 packet out to OF port ${ofport}`);
  }

  async handlePort(port: ExtensionPort): Promise<void> {
    if (!port.deviceOwner.startsWith('compute:') || !port.fixedIps?.length) return;
    LOG.info(`DHCP extension add DHCP related flows for port ${port.portId}`);
    const mac = port.mac.toLowerCase();
    const old = this.ports.get(port.portId);
    const b = this.api.intBridge().batch();
    if (old && (old.ofport !== port.ofport || old.mac !== mac)) b.delete(dhcpV4FlowFilter(old.ofport, old.mac));
    b.add(dhcpV4Flow(port.ofport, mac));
    await b.commit();
    this.ports.set(port.portId, { ofport: port.ofport, mac });
  }

  async deletePort(portId: string): Promise<void> {
    const p = this.ports.get(portId);
    if (!p) return;
    LOG.info(`DHCP extension remove DHCP related flows for port ${portId}`);
    await this.api.intBridge().batch().delete(dhcpV4FlowFilter(p.ofport, p.mac)).commit();
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
