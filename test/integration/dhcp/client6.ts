// A minimal DHCPv6 client for a namespace VM (no dhclient or odhcp6c on the lab hosts): a Python
// script run inside the VM's namespace on an AF_PACKET socket on eth0 sends SOLICIT (client id a
// DUID-LL of the MAC, IA_NA with IAID 1, elapsed time, ORO for DNS servers and domain list) from
// the MAC's EUI-64 link-local address to ff02::1:2, takes the ADVERTISE, sends REQUEST with the
// advertised server id and IA_NA, takes the REPLY, and prints both replies' frames as hex. Fixed
// transaction id, so two agents' replies can be compared. Retransmits every second, gives up
// after `timeoutSec`.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { eui64LinkLocal, formatIpv6Words } from '../../../src/util/addresses.js';

const run = promisify(execFile);

const SCRIPT = String.raw`
import json, socket, struct, sys, time
mac = bytes.fromhex(sys.argv[1].replace(':', '')); src = socket.inet_pton(socket.AF_INET6, sys.argv[2])
xid = int(sys.argv[3]); deadline = time.time() + float(sys.argv[4])
dst = socket.inet_pton(socket.AF_INET6, 'ff02::1:2')
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x86dd))
s.bind(('eth0', 0)); s.settimeout(1.0)
def csum(b):
    if len(b) % 2: b += b'\0'
    t = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    while t >> 16: t = (t & 0xffff) + (t >> 16)
    return ~t & 0xffff
def opt(code, data): return struct.pack('!HH', code, len(data)) + data
def opts(d):
    out, i = {}, 4
    while i + 4 <= len(d):
        code, n = struct.unpack('!HH', d[i:i+4]); out.setdefault(code, d[i+4:i+4+n]); i += 4 + n
    return out
def frame(msg_type, options):
    dhcp = struct.pack('!I', xid)[1:]
    dhcp = bytes([msg_type]) + dhcp + b''.join(options)
    udp = struct.pack('!HHHH', 546, 547, 8 + len(dhcp), 0) + dhcp
    c = csum(src + dst + struct.pack('!I3xB', len(udp), 17) + udp)
    udp = udp[:6] + struct.pack('!H', c) + udp[8:]
    ip = struct.pack('!IHBB', 6 << 28, len(udp), 17, 1) + src + dst
    return b'\x33\x33\x00\x01\x00\x02' + mac + b'\x86\xdd' + ip + udp
def exchange(msg_type, options, want):
    while time.time() < deadline:
        s.send(frame(msg_type, options)); t = time.time() + 1
        while time.time() < t:
            try: f = s.recv(4096)
            except socket.timeout: break
            if len(f) < 14 + 40 + 8 + 4 or f[12:14] != b'\x86\xdd' or f[20] != 17: continue
            if struct.unpack('!HH', f[54:58]) != (547, 546): continue
            d = f[62:]
            if d[0] == want and struct.unpack('!I', b'\0' + d[1:4])[0] == xid: return f, d
    sys.exit('no DHCPv6 reply of type %d' % want)
client = opt(1, b'\x00\x03\x00\x01' + mac)
elapsed = opt(8, b'\x00\x00'); oro = opt(6, struct.pack('!HH', 23, 24))
adv, d = exchange(1, [client, elapsed, opt(3, struct.pack('!III', 1, 0, 0)), oro], 2)
o = opts(d)
rep, _ = exchange(3, [client, opt(2, o[2]), elapsed, opt(3, o[3]), oro], 7)
print(json.dumps({'advertise': adv.hex(), 'reply': rep.hex()}))
`;

export interface Dhcp6Exchange {
  advertise: string;
  reply: string;
}

export async function dhcp6Exchange(netns: string, mac: string, xid: number, timeoutSec = 20): Promise<Dhcp6Exchange> {
  const { stdout } = await run('ip', ['netns', 'exec', netns, 'python3', '-c', SCRIPT, mac, eui64LinkLocal(mac), String(xid), String(timeoutSec)]);
  return JSON.parse(stdout) as Dhcp6Exchange;
}

/** A reply's options by code (the first of each), walked from its DHCPv6 message. */
function options(frameHex: string): Map<number, Buffer> {
  const d = Buffer.from(frameHex, 'hex').subarray(14 + 40 + 8);
  const out = new Map<number, Buffer>();
  for (let i = 4; i + 4 <= d.length; i += 4 + d.readUInt16BE(i + 2)) {
    if (!out.has(d.readUInt16BE(i))) out.set(d.readUInt16BE(i), d.subarray(i + 4, i + 4 + d.readUInt16BE(i + 2)));
  }
  return out;
}

function ipv6Text(b: Buffer): string {
  return formatIpv6Words(Array.from({ length: 8 }, (_, i) => b.readUInt16BE(i * 2)));
}

/** What the REPLY says: the IA_NA address, the DNS servers, the client FQDN. */
export function lease6(replyHex: string): { address: string; dns: string[]; fqdn: string | undefined } {
  const o = options(replyHex);
  const ia = o.get(3);
  if (!ia || ia.length < 12 + 4 + 24 || ia.readUInt16BE(12) !== 5) throw new Error(`the reply has no IA_NA with an address: ${replyHex}`);
  const dns = o.get(23) ?? Buffer.alloc(0);
  const fqdn = o.get(39);
  return {
    address: ipv6Text(ia.subarray(16, 32)),
    dns: Array.from({ length: dns.length / 16 }, (_, i) => ipv6Text(dns.subarray(i * 16, i * 16 + 16))),
    fqdn: fqdn ? fqdn.subarray(2, 2 + fqdn[1]!).toString() : undefined,
  };
}

/**
 * The frame with what differs between two runs of the same scenario zeroed: the server DUID-LLT's
 * time (the reference stamps it with the time of each reply) and the UDP checksum over it.
 */
export function withoutDuidTime(frameHex: string): string {
  const f = Buffer.from(frameHex, 'hex');
  f.writeUInt16BE(0, 14 + 40 + 6);
  const d = f.subarray(14 + 40 + 8);
  for (let i = 4; i + 4 <= d.length; i += 4 + d.readUInt16BE(i + 2)) {
    if (d.readUInt16BE(i) === 2 && d.readUInt16BE(i + 4) === 1) d.writeUInt32BE(0, i + 4 + 4);
  }
  return f.toString('hex');
}
