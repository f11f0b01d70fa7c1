// The seam between the agent and its L2 extensions (`[agent] extensions`), shaped as neutron's L2
// agent extension API: an extension is initialised with the agent's API (the bridges it may
// program, the OVSDB connection, the resource cache of pushed objects), then told of every port
// the port pass wires (handlePort) and of every port that goes (deletePort). The agent core knows
// only this file; each extension lives in its own folder (src/extensions/<name>/).
import type { OvsdbOps } from '../ovsdb/ops.js';
import type { IntegrationBridge } from '../bridges/br-int.js';
import type { PhysicalBridge } from '../bridges/br-phys.js';
import type { TunnelBridge } from '../bridges/br-tun.js';
import type { NetworkType } from '../config/index.js';
import type { OVSBridge } from '../bridges/ovs-bridge.js';
import type { AgentSettings } from '../agent/settings.js';
import type { ResourceCache } from '../agent/server/resource-cache.js';
import type { OpenFlowSwitch } from '../openflow/backend.js';
import type { JsonObject, JsonValue } from '../util/json.js';

/**
 * A port as the port pass hands it to the extensions: neutron's device details with the VIF port
 * (`details['vif_port']`) and the port's local VLAN, once it is wired on br-int.
 */
export interface ExtensionPort {
  portId: string;
  /** OVSDB Port/Interface name on br-int (the tap or veth). */
  portName: string;
  ofport: number;
  mac: string;
  networkId: string;
  /** The network's physical network (flat and VLAN networks), as the server's device details give it. */
  physicalNetwork?: string | undefined;
  /** The network's local VLAN on br-int; undefined while the port is isolated (admin down). */
  localVlan: number | undefined;
  deviceOwner: string;
  /** The port's port_security_enabled (the reference's details['port_security_enabled'], default true). */
  portSecurityEnabled: boolean;
  /** OVSDB Interface.type ('' for a system port, 'dpdkvhostuser' ...). */
  interfaceType: string;
  /** The port's own QoS policy, and its network's (the port's wins). */
  qosPolicyId: string | undefined;
  networkQosPolicyId: string | undefined;
  /** The port's network segment as it is wired here (undefined: not handed by this agent version). */
  segment?: ExtensionSegment;
  /** The port's fixed IPs, as the server gave them. */
  fixedIps?: ReadonlyArray<{ subnetId: string; ipAddress: string }>;
}

export interface ExtensionSegment {
  networkType: NetworkType;
  segmentationId: number | undefined;
  physicalNetwork: string | undefined;
}

/** br-tun as set up now, with the patch pair's ofports. */
export interface ExtensionTunnelBridge {
  bridge: TunnelBridge;
  /** patch-int on br-tun. */
  patchIntOfport: number;
  /** patch-tun on br-int. */
  patchTunOfport: number;
}

/** A provider bridge as set up now, with its patch pair's ofports. */
export interface ExtensionPhysicalNetwork {
  bridge: PhysicalBridge;
  /** int-<bridge> on br-int. */
  intOfport: number;
  /** phy-<bridge> on the provider bridge. */
  physOfport: number;
}

/** Notifications an extension consumes on a topic of its own (fanout and this host's queue). */
export interface ExtensionRpcEndpoint {
  topic: string;
  version: string;
  /** By method name: the call's keyword arguments, unchecked (the extension parses them). */
  methods: Record<string, (args: JsonObject) => Promise<void> | void>;
}

/** Calls to neutron-server on the agent's connection (topic, method, and the endpoint's version and namespace). */
export interface ExtensionServer {
  call(topic: string, method: string, args: JsonObject, opts: { version: string; namespace?: string | null }): Promise<JsonValue>;
}

/** What an extension may use of the agent (neutron's OVSAgentExtensionAPI). */
export interface ExtensionAgentApi {
  readonly settings: AgentSettings;
  readonly ops: OvsdbOps;
  /** Objects the server pushes, and pulls on a miss (an extension's types are subscribed for it). */
  readonly cache: ResourceCache;
  /** br-int as set up now (the object is re-bound after an OVS restart): request_int_br. */
  intBridge(): IntegrationBridge;
  /** The provider bridges as set up now, with their OVSDB names: request_phy_brs. */
  physicalBridges(): OVSBridge[];
  /** br-int's switch, for what is not a flow (meters). */
  intSwitch(): OpenFlowSwitch;
  /** Ask for a port pass soon (a policy change touches ports the extension knows). */
  requestPass(): void;
  /** neutron-server, once the agent is connected to it (undefined before). */
  server(): ExtensionServer | undefined;
  /** br-tun as set up now; undefined without tunnelling. */
  tunnelBridge(): ExtensionTunnelBridge | undefined;
  /** The provider bridges set up now, by physical network. */
  physicalNetworks(): ReadonlyMap<string, ExtensionPhysicalNetwork>;
  /**
   * The security-group firewall's base conjunction id of a remote-group rule (allocated if new),
   * undefined when no openvswitch firewall runs (neutron's ConjIdMap, shared with the log driver).
   */
  firewallConjId(sgId: string, remoteId: string, direction: 'ingress' | 'egress', ethertype: 'IPv4' | 'IPv6'): number | undefined;
}

export interface AgentExtension {
  /** The name `[agent] extensions` uses. */
  readonly name: string;
  /** Called once the bridges are set up and before any port is wired. */
  initialize(api: ExtensionAgentApi): Promise<void>;
  /**
   * A port was wired (or rewired): apply what the extension enforces on it. Called after the
   * port's firewall and before its tag is written, so it holds from the port's first packet.
   */
  handlePort(port: ExtensionPort): Promise<void>;
  /** A port left br-int or was deleted on the server: remove what the extension wrote for it. */
  deletePort(portId: string): Promise<void>;
  /**
   * The bridges were set up anew (OVS restarted, a bridge re-created): flows and meters are gone,
   * OVSDB rows are not. The next pass hands every port again; the extension re-applies them all.
   */
  bridgesReset(): Promise<void>;
  /**
   * What the extension keeps on the switch besides flows (QoS: meters) is checked and put back;
   * called before each flow audit, under the pass lock.
   */
  audit(): Promise<void>;
  /** neutron-server is reachable: first connection, and again after each reconnection. */
  serverReady?(): Promise<void>;
  /** Topics to consume once the agent connects to the message bus (asked once, before it does). */
  rpcEndpoints?(): ExtensionRpcEndpoint[];
  /** Entries the agent's state report adds to its `configurations` (asked at each report). */
  agentConfigurations?(): JsonObject;
  /** The first full pass is done: every port there is has been handed; what no port needs may go. */
  firstSyncDone(): Promise<void>;
  /** What the extension holds, for the status document and metrics. */
  status(): ExtensionStatus;
  stop(): Promise<void>;
}

export interface ExtensionStatus {
  /** Ports on which the extension enforces something now. */
  ports: number;
  /** Anything else worth showing, flat. */
  details: Record<string, number | string>;
  /** Events counted since start (log: lines written by action), exported as ovs_agent_extension_events_total. */
  counters?: Record<string, number>;
}
