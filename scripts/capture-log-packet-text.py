#!/usr/bin/python3
# The reference's rendering of logged packets: str(os_ken.lib.packet.packet.Packet(frame)), as
# neutron's ovs_firewall_log prints `pkt=` in each log line, for frames a security-group log sees.
# Writes test/fixtures/reference/log/packet-text.json; run with the reference's Python (Debian's
# python3-os-ken):  scripts/capture-log-packet-text.py
import json
import os
from os_ken.lib.packet import arp, ethernet, icmp, icmpv6, ipv4, ipv6, packet, tcp, udp, vlan

MAC1, MAC2 = 'fa:16:3e:00:00:01', 'fa:16:3e:00:00:02'


def build(*protocols):
    p = packet.Packet()
    for x in protocols:
        p.add_protocol(x)
    p.serialize()
    return bytes(p.data)


def eth(t):
    return ethernet.ethernet(dst=MAC2, src=MAC1, ethertype=t)


def v4(proto, **kw):
    return ipv4.ipv4(src='192.0.2.1', dst='192.0.2.2', proto=proto, identification=7238, flags=2, ttl=64, **kw)


SYN_OPTS = [tcp.TCPOptionMaximumSegmentSize(1460), tcp.TCPOptionSACKPermitted(), tcp.TCPOptionTimestamps(ts_val=4081734437, ts_ecr=0),
            tcp.TCPOptionNoOperation(), tcp.TCPOptionWindowScale(shift_cnt=7)]
FRAMES = {
    'tcp-syn': build(eth(0x0800), v4(6), tcp.tcp(src_port=39346, dst_port=22, seq=3522421417, bits=tcp.TCP_SYN, window_size=64240, option=SYN_OPTS)),
    'tcp-rst': build(eth(0x0800), v4(6), tcp.tcp(src_port=80, dst_port=39346, ack=3522421418, bits=tcp.TCP_RST | tcp.TCP_ACK)),
    'tcp-sack-unknown-eol': build(eth(0x0800), v4(6), tcp.tcp(src_port=1, dst_port=2, bits=tcp.TCP_ACK, option=[
        tcp.TCPOptionSACK(blocks=[(1, 2), (3, 4)]), tcp.TCPOptionUnknown(kind=99, length=4, value=b'\x01\x02'), tcp.TCPOptionEndOfOptionList()])),
    'tcp-payload': build(eth(0x0800), v4(6), tcp.tcp(src_port=40000, dst_port=8080, bits=tcp.TCP_PSH | tcp.TCP_ACK), b"GET / HTTP/1.0\r\n\tx'y\"\\\x00\xff"),
    'icmp-echo': build(eth(0x0800), v4(1), icmp.icmp(type_=8, data=icmp.echo(id_=1, seq=1, data=bytes(range(16))))),
    'icmp-echo-empty': build(eth(0x0800), v4(1), icmp.icmp(type_=0, data=icmp.echo(id_=7, seq=9))),
    'icmp-unreachable': build(eth(0x0800), v4(1), icmp.icmp(type_=3, code=3, data=icmp.dest_unreach(data_len=2, data=b'E\x00\x00\x1c'))),
    'icmp-time-exceeded': build(eth(0x0800), v4(1), icmp.icmp(type_=11, code=0, data=icmp.TimeExceeded(data=b'E\x00'))),
    'icmp-timestamp': build(eth(0x0800), v4(1), icmp.icmp(type_=13, data=b'xyz')),
    'udp-dns': build(eth(0x0800), v4(17), udp.udp(src_port=54321, dst_port=53), b'hello'),
    'gre': build(eth(0x0800), v4(47), b"gre'\"\\x"),
    'ipv4-options': build(eth(0x0800), ipv4.ipv4(src='192.0.2.1', dst='198.51.100.7', proto=17, header_length=6, option=b'\x94\x04\x00\x00'), udp.udp(src_port=1, dst_port=2)),
    'arp-request': build(ethernet.ethernet(dst='ff:ff:ff:ff:ff:ff', src=MAC1, ethertype=0x0806), arp.arp(opcode=1, src_mac=MAC1, src_ip='192.0.2.1', dst_ip='192.0.2.2')),
    'vlan-tcp': build(eth(0x8100), vlan.vlan(vid=5, pcp=3, ethertype=0x0800), v4(6), tcp.tcp(src_port=1, dst_port=80, bits=tcp.TCP_SYN | tcp.TCP_ACK, seq=5, ack=6)),
    'icmpv6-echo': build(eth(0x86dd), ipv6.ipv6(src='2001:db8::1', dst='2001:db8:0:1::2', nxt=58, flow_label=0x12345, traffic_class=0x20),
                         icmpv6.icmpv6(type_=128, data=icmpv6.echo(id_=3, seq=4, data=b'ab'))),
    'ipv6-tcp': build(eth(0x86dd), ipv6.ipv6(src='fe80::f816:3eff:fe00:1', dst='2001:db8::5', nxt=6), tcp.tcp(src_port=5, dst_port=22, bits=tcp.TCP_SYN, option=SYN_OPTS)),
    'ipv6-udp': build(eth(0x86dd), ipv6.ipv6(src='2001:db8::1:0:0:1', dst='2001:db8:0:0:1::1', nxt=17), udp.udp(src_port=5, dst_port=6), b'hi'),
}
# On the wire short frames are padded to 60 bytes; truncated captures end anywhere.
FRAMES['arp-request-padded'] = FRAMES['arp-request'] + b'\x00' * (60 - len(FRAMES['arp-request']))
FRAMES['tcp-rst-padded'] = FRAMES['tcp-rst'] + b'\x00' * 6
FRAMES['tcp-truncated'] = FRAMES['tcp-syn'][:44]
FRAMES['ethernet-only'] = FRAMES['tcp-syn'][:16]

out = {name: {'frame': f.hex(), 'text': str(packet.Packet(f))} for name, f in FRAMES.items()}
path = os.path.join(os.path.dirname(__file__), '..', 'test', 'fixtures', 'reference', 'log', 'packet-text.json')
with open(path, 'w') as fh:
    json.dump(out, fh, indent=1, sort_keys=True)
    fh.write('\n')
print(f'{len(out)} frames written to {os.path.normpath(path)}')
