// Minimal DHCPv4 and DHCPv6 clients for a namespace VM (no dhclient, udhcpc or odhcp6c on the lab
// hosts): Python run inside the VM's namespace on an AF_PACKET socket on eth0. Each family does its
// two exchanges: DISCOVER → OFFER, REQUEST (the offered address, to the offering server) → ACK;
// SOLICIT (client id a DUID-LL of the MAC, IA_NA with IAID 1, elapsed time, ORO for DNS servers and
// domain list, from the MAC's EUI-64 link-local address to ff02::1:2) → ADVERTISE, REQUEST (the
// advertised server id and IA_NA) → REPLY. Two ways to run them:
// - once (the tests): a fixed transaction id, so two agents' replies can be compared byte for byte;
//   retransmits every second, gives up after the timeout; returns both replies' frames as hex.
// - timed (bench/dhcp.ts): one untimed warm-up, then `count` pairs of exchanges, each with its own
//   transaction id and no retransmission, timed from the request's send() to the reply's recv();
//   a reply not in within 2 s is lost (null).
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { eui64LinkLocal } from '../src/util/addresses.js';

const run = promisify(execFile);

// What both families and both ways share. argv: mac, transaction id, the way's own argument, and
// (DHCPv6) the source address. The family defines `s` (the socket), KEYS (its two replies' names),
// first(xid) and second(xid, message): each a (frame, accept, what) to send, where accept(frame)
// returns the reply's DHCP message or None.
const PRELUDE = String.raw`
import json, socket, struct, sys, time
mac = bytes.fromhex(sys.argv[1].replace(':', ''))
def csum(b):
    if len(b) % 2: b += b'\0'
    t = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    while t >> 16: t = (t & 0xffff) + (t >> 16)
    return ~t & 0xffff
def receive(accept, until):
    while True:
        left = until - time.perf_counter()
        if left <= 0: return None
        s.settimeout(left)
        try: f = s.recv(4096)
        except socket.timeout: return None
        d = accept(f)
        if d is not None: return f, d
def retransmitted(f, accept, what, deadline):
    while time.perf_counter() < deadline:
        s.send(f)
        r = receive(accept, min(deadline, time.perf_counter() + 1))
        if r: return r
    sys.exit('no %s' % what)
def timed(f, accept, timeout):
    t0 = time.perf_counter(); s.send(f); r = receive(accept, t0 + timeout)
    return (r[1] if r else None), (time.perf_counter() - t0) * 1000
`;

const FAMILY_V4 = String.raw`
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0800)); s.bind(('eth0', 0))
KEYS = ('offer', 'ack')
def frame(xid, opts):
    bootp = struct.pack('!BBBBIHH4s4s4s4s16s64s128s', 1, 1, 6, 0, xid, 0, 0x8000, b'\0'*4, b'\0'*4, b'\0'*4, b'\0'*4, mac, b'', b'')
    dhcp = bootp + b'\x63\x82\x53\x63' + opts + b'\xff'
    udp = struct.pack('!HHHH', 68, 67, 8 + len(dhcp), 0) + dhcp
    ip = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0, b'\0'*4, b'\xff'*4)
    ip = ip[:10] + struct.pack('!H', csum(ip)) + ip[12:]
    return b'\xff'*6 + mac + b'\x08\x00' + ip + udp
def opt(d, tag):
    i = 240
    while i < len(d) and d[i] != 255:
        if d[i] == 0: i += 1; continue
        if d[i] == tag: return d[i+2:i+2+d[i+1]]
        i += 2 + d[i+1]
def accept(xid, want):
    def reply(f):
        if len(f) < 42 + 240 or f[23] != 17: return None
        u = 14 + (f[14] & 15) * 4
        if struct.unpack('!HH', f[u:u+4]) != (67, 68): return None
        d = f[u+8:]
        if struct.unpack('!I', d[4:8])[0] == xid and opt(d, 53) == bytes([want]): return d
    return reply
param = b'\x37\x07\x01\x03\x06\x0f\x1a\x1c\x79'
def first(xid): return frame(xid, b'\x35\x01\x01' + param), accept(xid, 2), 'DHCP reply of type 2'
def second(xid, offer): return frame(xid, b'\x35\x01\x03\x32\x04' + offer[16:20] + b'\x36\x04' + opt(offer, 54) + param), accept(xid, 5), 'DHCP reply of type 5'
`;

const FAMILY_V6 = String.raw`
src = socket.inet_pton(socket.AF_INET6, sys.argv[4]); dst = socket.inet_pton(socket.AF_INET6, 'ff02::1:2')
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x86dd)); s.bind(('eth0', 0))
KEYS = ('advertise', 'reply')
def opt(code, data): return struct.pack('!HH', code, len(data)) + data
def opts(d):
    out, i = {}, 4
    while i + 4 <= len(d):
        code, n = struct.unpack('!HH', d[i:i+4]); out.setdefault(code, d[i+4:i+4+n]); i += 4 + n
    return out
def frame(t, xid, options):
    dhcp = bytes([t]) + struct.pack('!I', xid)[1:] + b''.join(options)
    udp = struct.pack('!HHHH', 546, 547, 8 + len(dhcp), 0) + dhcp
    udp = udp[:6] + struct.pack('!H', csum(src + dst + struct.pack('!I3xB', len(udp), 17) + udp)) + udp[8:]
    return b'\x33\x33\x00\x01\x00\x02' + mac + b'\x86\xdd' + struct.pack('!IHBB', 6 << 28, len(udp), 17, 1) + src + dst + udp
def accept(xid, want):
    def reply(f):
        if len(f) < 66 or f[12:14] != b'\x86\xdd' or f[20] != 17 or struct.unpack('!HH', f[54:58]) != (547, 546): return None
        d = f[62:]
        if d[0] == want and struct.unpack('!I', b'\0' + d[1:4])[0] == xid: return d
    return reply
client = opt(1, b'\x00\x03\x00\x01' + mac); elapsed = opt(8, b'\x00\x00'); oro = opt(6, struct.pack('!HH', 23, 24))
def first(xid): return frame(1, xid, [client, elapsed, opt(3, struct.pack('!III', 1, 0, 0)), oro]), accept(xid, 2), 'DHCPv6 reply of type 2'
def second(xid, adv):
    o = opts(adv)
    return frame(3, xid, [client, opt(2, o[2]), elapsed, opt(3, o[3]), oro]), accept(xid, 7), 'DHCPv6 reply of type 7'
`;

// argv[3]: seconds to keep retransmitting. Prints both replies' frames as hex, by KEYS.
const ONCE = String.raw`
xid = int(sys.argv[2]); deadline = time.perf_counter() + float(sys.argv[3])
f1, d = retransmitted(*first(xid), deadline)
f2, _ = retransmitted(*second(xid, d), deadline)
print(json.dumps({KEYS[0]: f1.hex(), KEYS[1]: f2.hex()}))
`;

// argv[2]: the warm-up's transaction id, the timed ones' follow it; argv[3]: how many pairs.
// Prints each reply's milliseconds by KEYS (null: lost).
const TIMED = String.raw`
xid0 = int(sys.argv[2]); n = int(sys.argv[3])
def both(xid, timeout):
    f, accept, _ = first(xid)
    d, t1 = timed(f, accept, timeout)
    if d is None: return None, None
    f, accept, _ = second(xid, d)
    r, t2 = timed(f, accept, timeout)
    return t1, (t2 if r is not None else None)
deadline = time.perf_counter() + 30
while both(xid0, 1.0)[1] is None:
    if time.perf_counter() > deadline: sys.exit('warm-up: no %s and %s within 30 s' % KEYS)
out = {KEYS[0]: [], KEYS[1]: []}
for i in range(n):
    a, b = both(xid0 + 1 + i, 2.0); out[KEYS[0]].append(a); out[KEYS[1]].append(b); time.sleep(0.05)
print(json.dumps(out))
`;

type Family = 'DHCPv4' | 'DHCPv6';

/** Runs the client script in `netns` and parses what it prints; a failure names the family, the VM and the script's complaint. */
async function runClient(family: Family, way: 'once' | 'timed', netns: string, mac: string, xid: number, arg: number, timeoutMs?: number): Promise<unknown> {
  const script = PRELUDE + (family === 'DHCPv4' ? FAMILY_V4 : FAMILY_V6) + (way === 'once' ? ONCE : TIMED);
  const argv = [mac, String(xid), String(arg), ...(family === 'DHCPv6' ? [eui64LinkLocal(mac)] : [])];
  let stdout: string;
  try {
    ({ stdout } = await run('ip', ['netns', 'exec', netns, 'python3', '-c', script, ...argv], timeoutMs === undefined ? {} : { timeout: timeoutMs }));
  } catch (e) {
    // The command line carries the whole script: name what ran instead, and what it said.
    const stderr = (e as { stderr?: string }).stderr?.trim();
    throw new Error(`${family} client (${way}) in ${netns} for ${mac}, xid ${xid}: ${stderr || (e instanceof Error ? e.message : String(e))}`);
  }
  return JSON.parse(stdout);
}

/** The OFFER and the ACK as received, whole frames in hex. */
export interface DhcpExchange {
  offer: string;
  ack: string;
}

/** The ADVERTISE and the REPLY as received, whole frames in hex. */
export interface Dhcp6Exchange {
  advertise: string;
  reply: string;
}

/** DISCOVER → OFFER, REQUEST → ACK with transaction id `xid`, retransmitting for up to `timeoutSec`. */
export async function dhcpExchange(netns: string, mac: string, xid: number, timeoutSec = 20): Promise<DhcpExchange> {
  return (await runClient('DHCPv4', 'once', netns, mac, xid, timeoutSec)) as DhcpExchange;
}

/** SOLICIT → ADVERTISE, REQUEST → REPLY with transaction id `xid` (24 bits), retransmitting for up to `timeoutSec`. */
export async function dhcp6Exchange(netns: string, mac: string, xid: number, timeoutSec = 20): Promise<Dhcp6Exchange> {
  return (await runClient('DHCPv6', 'once', netns, mac, xid, timeoutSec)) as Dhcp6Exchange;
}

/** Milliseconds from each DISCOVER's and REQUEST's send() to its reply's recv(); null: not in within 2 s. */
export interface TimedDhcpExchanges {
  offer: (number | null)[];
  ack: (number | null)[];
}

/** Milliseconds from each SOLICIT's and REQUEST's send() to its reply's recv(); null: not in within 2 s. */
export interface TimedDhcp6Exchanges {
  advertise: (number | null)[];
  reply: (number | null)[];
}

// The warm-up may take up to 30 s, each timed pair up to 4 s.
const timedLimitMs = (count: number): number => 30000 + count * 5000;

/** A warm-up with transaction id `firstXid`, then `count` timed DHCPv4 pairs with the ids after it. */
export async function timedDhcpExchanges(netns: string, mac: string, firstXid: number, count: number): Promise<TimedDhcpExchanges> {
  return (await runClient('DHCPv4', 'timed', netns, mac, firstXid, count, timedLimitMs(count))) as TimedDhcpExchanges;
}

/** A warm-up with transaction id `firstXid` (24 bits), then `count` timed DHCPv6 pairs with the ids after it. */
export async function timedDhcp6Exchanges(netns: string, mac: string, firstXid: number, count: number): Promise<TimedDhcp6Exchanges> {
  return (await runClient('DHCPv6', 'timed', netns, mac, firstXid, count, timedLimitMs(count))) as TimedDhcp6Exchanges;
}
