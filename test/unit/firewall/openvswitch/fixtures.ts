// The spec's firewall scenario (shared/spec/firewall.md header) and fakes for pure driver tests:
// an OpenFlow switch that records flow mods, and a security-group source serving fixed data.
import type { OpenFlowSwitch } from '../../../../src/openflow/backend.js';
import type { FlowMod, FlowStats } from '../../../../src/openflow/flow.js';
import { formatFlowModLine } from '../../../../src/openflow/text.js';
import type {
  FirewallPort,
  MemberIps,
  SecurityGroup,
  SecurityGroupChange,
  SecurityGroupInfo,
  SecurityGroupRule,
  SecurityGroupSource,
} from '../../../../src/firewall/types.js';
import { NO_METERS } from '../../../helpers/meterless-switch.js';

export class RecordingSwitch implements OpenFlowSwitch {
  readonly bridge = 'br-int';
  /** One entry per apply() call: the mods as ovs-ofctl lines. */
  readonly batches: string[][] = [];
  existing: FlowStats[] = [];
  async apply(mods: FlowMod[]): Promise<void> {
    this.batches.push(mods.map(formatFlowModLine));
  }
  async dumpFlows(): Promise<FlowStats[]> {
    return this.existing;
  }
  async portDesc() {
    return [];
  }
  retire(): void {
    // Nothing waits for a recording switch.
  }
  readonly applyMeter = NO_METERS.applyMeter;
  readonly dumpMeters = NO_METERS.dumpMeters;
  readonly meterFeatures = NO_METERS.meterFeatures;
  last(): string[] {
    return this.batches[this.batches.length - 1] ?? [];
  }
}

export class FakeSource implements SecurityGroupSource {
  groups = new Map<string, SecurityGroup>();
  members = new Map<string, MemberIps>();
  addressGroups = new Map<string, { IPv4: string[]; IPv6: string[] }>();
  private listeners: Array<(c: SecurityGroupChange) => void> = [];
  async infoFor(ports: readonly FirewallPort[]): Promise<SecurityGroupInfo> {
    const securityGroups = new Map<string, SecurityGroup>();
    const members = new Map<string, MemberIps>();
    const addressGroups = new Map<string, { IPv4: string[]; IPv6: string[] }>();
    for (const p of ports) {
      for (const id of p.securityGroupIds) {
        const sg = this.groups.get(id);
        if (!sg) continue;
        securityGroups.set(id, sg);
        for (const r of sg.rules) {
          if (r.remoteGroupId) members.set(r.remoteGroupId, this.members.get(r.remoteGroupId) ?? { IPv4: [], IPv6: [] });
          if (r.remoteAddressGroupId) addressGroups.set(r.remoteAddressGroupId, this.addressGroups.get(r.remoteAddressGroupId) ?? { IPv4: [], IPv6: [] });
        }
      }
    }
    return { securityGroups, members, addressGroups };
  }
  onChange(listener: (c: SecurityGroupChange) => void): void {
    this.listeners.push(listener);
  }
  emit(c: Partial<SecurityGroupChange>): void {
    for (const l of this.listeners) l({ rulesChanged: new Set(), membersChanged: new Set(), addressGroupsChanged: new Set(), ...c });
  }
}

let ruleSeq = 0;
export function rule(sg: string, r: Omit<SecurityGroupRule, 'id' | 'securityGroupId'>): SecurityGroupRule {
  return { id: `rule-${++ruleSeq}`, securityGroupId: sg, ...r };
}

/** sg1 = egress any v4/v6, ingress v4/v6 from remote group sg1, ingress tcp/22 from 0.0.0.0/0, ingress icmp from 192.168.0.0/16. */
export function scenarioSource(): FakeSource {
  const s = new FakeSource();
  s.groups.set('sg1', {
    id: 'sg1',
    stateful: true,
    rules: [
      rule('sg1', { direction: 'egress', ethertype: 'IPv4' }),
      rule('sg1', { direction: 'egress', ethertype: 'IPv6' }),
      rule('sg1', { direction: 'ingress', ethertype: 'IPv4', remoteGroupId: 'sg1' }),
      rule('sg1', { direction: 'ingress', ethertype: 'IPv6', remoteGroupId: 'sg1' }),
      rule('sg1', { direction: 'ingress', ethertype: 'IPv4', protocol: 'tcp', portRangeMin: 22, portRangeMax: 22, remoteIpPrefix: '0.0.0.0/0' }),
      rule('sg1', { direction: 'ingress', ethertype: 'IPv4', protocol: 'icmp', remoteIpPrefix: '192.168.0.0/16' }),
    ],
  });
  s.members.set('sg1', { IPv4: [['10.0.0.5', 'fa:16:3e:00:00:01'], ['10.0.0.7', 'fa:16:3e:00:00:07']], IPv6: [] });
  return s;
}

export function port(ofport: number, x: Partial<FirewallPort> = {}): FirewallPort {
  return {
    id: `port-${ofport}`,
    mac: `fa:16:3e:00:00:0${ofport - 2}`,
    fixedIps: [`10.0.${ofport - 3}.5`],
    allowedAddressPairs: [],
    securityGroupIds: ['sg1'],
    portSecurityEnabled: true,
    deviceOwner: 'compute:nova',
    networkId: `net-${ofport}`,
    ofport,
    vifName: `tap${ofport}`,
    localVlan: ofport - 2,
    networkType: 'vxlan',
    physicalNetwork: undefined,
    segmentationId: undefined,
    ...x,
  };
}

/** Ports 3-6 of the scenario: vxlan (with an allowed pair), vlan 100, flat, local. */
export function scenarioPorts(): FirewallPort[] {
  return [
    port(3, { allowedAddressPairs: [{ mac: 'fa:16:3e:00:00:99', ip: '10.0.0.99' }], networkId: 'net-vx', segmentationId: 1001 }),
    port(4, { networkType: 'vlan', physicalNetwork: 'physnet1', segmentationId: 100 }),
    port(5, { networkType: 'flat', physicalNetwork: 'physnet2' }),
    port(6, { networkType: 'local' }),
  ];
}

/**
 * One flow line, made comparable between OVS's dump spelling and ovs-ofctl input: match fields
 * sorted, `strip_vlan` = `pop_vlan`, `ct_mark=0x0` = `ct_mark=0`, cookie and counters dropped.
 */
export function normalizeFlow(line: string): string {
  const text = line.replace(/\s+#.*$/, '').trim().replace(/^(add|delete_strict|delete) /, '');
  const m = /^(.*?)[ ,]actions=(.*)$/.exec(text);
  const [head, actions] = m ? [m[1]!, m[2]!] : [text, ''];
  const fields = head
    .split(',')
    .map((t) => t.trim())
    .filter((t) => t && !/^(cookie|duration|n_packets|n_bytes|idle_age|hard_age|reset_counts)\b/.test(t))
    .map((t) => (t === 'ct_mark=0x0' ? 'ct_mark=0' : t))
    .sort();
  const acts = actions.replace(/strip_vlan/g, 'pop_vlan').replace(/\bnormal\b/g, 'NORMAL');
  return `${fields.join(',')}${m ? ` actions=${acts}` : ''}`;
}
