// How a security-group rule's protocol is written in an iptables rule: as iptables-save prints it,
// so a generated rule compares equal to the kernel's. Neutron stores a name or a number as text;
// iptables-save shows most numbers by their /etc/protocols name, with a few exceptions (the
// reference found them by adding `-p N` for every N and reading iptables-save back).
import { readFileSync } from 'node:fs';

const KNOWN: Record<string, string> = {
  'ipv6-encap': 'ipv6',
  icmpv6: 'ipv6-icmp',
  pgm: '113',
  '1': 'icmp', '2': 'igmp', '3': 'ggp', '4': 'ipencap', '5': 'st', '6': 'tcp', '8': 'egp', '9': 'igp',
  '12': 'pup', '17': 'udp', '20': 'hmp', '22': 'xns-idp', '27': 'rdp', '29': 'iso-tp4', '33': 'dccp',
  '36': 'xtp', '37': 'ddp', '38': 'idpr-cmtp', '41': 'ipv6', '43': 'ipv6-route', '44': 'ipv6-frag',
  '45': 'idrp', '46': 'rsvp', '47': 'gre', '50': 'esp', '51': 'ah', '57': 'skip', '58': 'ipv6-icmp',
  '59': 'ipv6-nonxt', '60': 'ipv6-opts', '73': 'rspf', '81': 'vmtp', '88': 'eigrp', '89': 'ospf',
  '93': 'ax.25', '94': 'ipip', '97': 'etherip', '98': 'encap', '103': 'pim', '108': 'ipcomp',
  '112': 'vrrp', '115': 'l2tp', '124': 'isis', '132': 'sctp', '133': 'fc', '135': 'mobility-header',
  '136': 'udplite', '137': 'mpls-in-ip', '138': 'manet', '139': 'hip', '140': 'shim6', '141': 'wesp',
  '142': 'rohc',
};

/** Protocols whose `-p` is followed by a `-m <module>` when a port or type is matched. */
export const PROTOCOL_MATCH_MODULE: Record<string, string> = {
  dccp: 'dccp', icmp: 'icmp', 'ipv6-icmp': 'icmp6', sctp: 'sctp', tcp: 'tcp', udp: 'udp',
};

/** Protocols with ports (`--sport`/`--dport`, `-m multiport`). */
export const PORT_PROTOCOLS: ReadonlySet<string> = new Set(['dccp', 'sctp', 'tcp', 'udp', 'udplite']);
/** Protocols iptables matches ports of only through `-m multiport`. */
export const MULTIPORT_ONLY_PROTOCOLS: ReadonlySet<string> = new Set(['udplite']);

let nameMap: Map<string, string> | undefined;

/** Number → name from /etc/protocols, as getprotoent(3) reads it; later entries win, as in the reference. */
export function parseEtcProtocols(text: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of text.split('\n')) {
    const fields = line.replace(/#.*/, '').trim().split(/\s+/);
    if (fields.length >= 2 && /^\d+$/.test(fields[1]!)) m.set(fields[1]!, fields[0]!);
  }
  return m;
}

function protocolNames(): Map<string, string> {
  if (!nameMap) {
    nameMap = new Map(Object.entries(KNOWN));
    let text = '';
    try {
      text = readFileSync('/etc/protocols', 'utf8');
    } catch (e) {
      // Without it the built-in table is used, which holds every protocol iptables-save names.
      process.stderr.write(`iptables firewall: /etc/protocols unreadable (${String(e)}); using built-in protocol names\n`);
    }
    for (const [num, name] of parseEtcProtocols(text)) nameMap.set(num, name);
  }
  return nameMap;
}

/** The `-p` value for a rule's protocol, or undefined when the rule matches any protocol. */
export function iptablesProtocolName(protocol: string | undefined): string | undefined {
  if (protocol === undefined || protocol === '' || protocol === '0') return undefined;
  return protocolNames().get(protocol) ?? protocol;
}
