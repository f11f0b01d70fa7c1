// A minimal DHCPv4 client for a namespace VM (no dhclient or udhcpc on the lab hosts): a Python
// script run inside the VM's namespace on an AF_PACKET socket on eth0 sends DISCOVER, takes the
// OFFER, sends REQUEST for the offered address to the offering server, takes the ACK, and prints
// both replies' frames as hex. Fixed xid, so two agents' replies can be compared byte for byte.
// Retransmits every second, gives up after `timeoutSec`.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

const SCRIPT = String.raw`
import json, socket, struct, sys, time
mac = bytes.fromhex(sys.argv[1].replace(':', ''))
xid = int(sys.argv[2]); deadline = time.time() + float(sys.argv[3])
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0800))
s.bind(('eth0', 0)); s.settimeout(1.0)
def csum(b):
    if len(b) % 2: b += b'\0'
    t = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    while t >> 16: t = (t & 0xffff) + (t >> 16)
    return ~t & 0xffff
def frame(opts):
    bootp = struct.pack('!BBBBIHH4s4s4s4s16s64s128s', 1, 1, 6, 0, xid, 0, 0x8000, b'\0'*4, b'\0'*4, b'\0'*4, b'\0'*4, mac, b'', b'')
    dhcp = bootp + b'\x63\x82\x53\x63' + opts + b'\xff'
    udp = struct.pack('!HHHH', 68, 67, 8 + len(dhcp), 0) + dhcp
    ip = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0, b'\0'*4, b'\xff'*4)
    ip = ip[:10] + struct.pack('!H', csum(ip)) + ip[12:]
    return b'\xff'*6 + mac + b'\x08\x00' + ip + udp
def opt(data, tag):
    i = 240
    while i < len(data) and data[i] != 255:
        if data[i] == 0: i += 1; continue
        if data[i] == tag: return data[i+2:i+2+data[i+1]]
        i += 2 + data[i+1]
def exchange(opts, want):
    while time.time() < deadline:
        s.send(frame(opts)); t = time.time() + 1
        while time.time() < t:
            try: f = s.recv(4096)
            except socket.timeout: break
            if len(f) < 42 + 240 or f[23] != 17: continue
            ihl = (f[14] & 15) * 4; u = 14 + ihl
            if struct.unpack('!HH', f[u:u+4]) != (67, 68): continue
            d = f[u+8:]
            if struct.unpack('!I', d[4:8])[0] == xid and opt(d, 53) == bytes([want]): return f, d
    sys.exit('no DHCP reply of type %d' % want)
param = b'\x37\x07\x01\x03\x06\x0f\x1a\x1c\x79'
offer, d = exchange(b'\x35\x01\x01' + param, 2)
yiaddr = d[16:20]
ack, _ = exchange(b'\x35\x01\x03\x32\x04' + yiaddr + b'\x36\x04' + opt(d, 54) + param, 5)
print(json.dumps({'offer': offer.hex(), 'ack': ack.hex()}))
`;

export interface DhcpExchange {
  offer: string;
  ack: string;
}

export async function dhcpExchange(netns: string, mac: string, xid: number, timeoutSec = 20): Promise<DhcpExchange> {
  const { stdout } = await run('ip', ['netns', 'exec', netns, 'python3', '-c', SCRIPT, mac, String(xid), String(timeoutSec)]);
  return JSON.parse(stdout) as DhcpExchange;
}

/** What the ACK says, for configuring the VM: the address, the prefix length, the MTU. */
export function lease(ackHex: string): { address: string; prefixLen: number; mtu: number | undefined; hostName: string | undefined } {
  const f = Buffer.from(ackHex, 'hex');
  const d = f.subarray(14 + (f[14]! & 15) * 4 + 8);
  const opts = new Map<number, Buffer>();
  for (let i = 240; i < d.length && d[i] !== 255; ) {
    if (d[i] === 0) { i++; continue; }
    opts.set(d[i]!, d.subarray(i + 2, i + 2 + d[i + 1]!));
    i += 2 + d[i + 1]!;
  }
  const mask = opts.get(1);
  const prefixLen = mask ? [...mask].reduce((n, b) => n + b.toString(2).replace(/0/g, '').length, 0) : 32;
  const mtu = opts.get(26);
  return { address: [...d.subarray(16, 20)].join('.'), prefixLen, mtu: mtu ? mtu.readUInt16BE(0) : undefined, hostName: opts.get(12)?.toString() };
}
