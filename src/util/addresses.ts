// Address helpers for flow matches: prefix lengths as dotted/colon masks, IPv6 link-local from a MAC.

/** 255.255.255.0 for 24. */
export function ipv4Netmask(prefixLen: number): string {
  const m = prefixLen === 0 ? 0 : (0xffffffff << (32 - prefixLen)) >>> 0;
  return [24, 16, 8, 0].map((s) => (m >>> s) & 0xff).join('.');
}

/** ffff:ffff:ffff:ffff:0:0:0:0 for 64. */
export function ipv6Netmask(prefixLen: number): string {
  const groups: string[] = [];
  for (let i = 0; i < 8; i++) {
    const bits = Math.max(0, Math.min(16, prefixLen - i * 16));
    groups.push((bits === 0 ? 0 : (0xffff << (16 - bits)) & 0xffff).toString(16));
  }
  return groups.join(':');
}

/** Eight 16-bit words as RFC 5952 text: lower case, the longest run of two or more zero words as `::`. */
export function formatIpv6Words(words: readonly number[]): string {
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = words.map((w) => w.toString(16));
  if (best < 0) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}

/** The fe80::/64 link-local address IPv6 SLAAC derives from a MAC (modified EUI-64). */
export function eui64LinkLocal(mac: string): string {
  const b = mac.split(':').map((x) => parseInt(x, 16));
  if (b.length !== 6 || b.some((x) => !Number.isInteger(x) || x < 0 || x > 255)) throw new Error(`invalid MAC address '${mac}'`);
  const eui = [b[0]! ^ 0x02, b[1]!, b[2]!, 0xff, 0xfe, b[3]!, b[4]!, b[5]!];
  return formatIpv6Words([0xfe80, 0, 0, 0, (eui[0]! << 8) | eui[1]!, (eui[2]! << 8) | eui[3]!, (eui[4]! << 8) | eui[5]!, (eui[6]! << 8) | eui[7]!]);
}
