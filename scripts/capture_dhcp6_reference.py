"""The DHCPv6 half of scripts/capture-dhcp-reference.py (run it with --v6): for client messages
built with os-ken, the replies neutron's own DHCPIPv6Responder.get_ret_packet builds (Zed, run
unchanged on Debian's python3-neutron), with the module's clock fixed at NOW so that the
DUID-LLTs it puts in are reproducible."""
import struct

from os_ken.lib import addrconv
from os_ken.lib.packet import dhcp6, ethernet, ipv6, packet, udp
from oslo_config import cfg

from neutron.agent.l2.extensions.dhcp import ipv6 as ref_ipv6

NOW = 1796601600  # 2026-12-06T00:00:00Z
ref_ipv6.time.time = lambda: NOW + 0.25  # noqa: E731  (the module's own `time`)

MAC = 'fa:16:3e:12:34:56'
LINK_LOCAL = 'fe80::f816:3eff:fe12:3456'
CLIENT_DUID = bytes.fromhex('00030001') + addrconv.mac.text_to_bin(MAC)  # DUID-LL
SERVER_DUID = bytes.fromhex('0001000100000001') + addrconv.mac.text_to_bin('fa:16:3e:00:00:00')


class Responder(ref_ipv6.DHCPIPv6Responder):
    def __init__(self):  # the OpenFlow app is not started: only the packet assembly is used
        self.version = 'v6'
        self.hw_addr = cfg.CONF.base_mac


def opt(code, data):
    return dhcp6.option(code=code, data=data, length=len(data))


def ia_na(iaid, t1, t2, addr=None, pref=0, valid=0):
    data = struct.pack('!III', iaid, t1, t2)
    if addr:
        ia = addrconv.ipv6.text_to_bin(addr) + struct.pack('!II', pref, valid)
        data += struct.pack('!HH', dhcp6.DHCPV6_OPTION_IAADDR, len(ia)) + ia
    return opt(dhcp6.DHCPV6_OPTION_IA_NA, data)


def request(msg_type, xid, options):
    p = packet.Packet()
    p.add_protocol(ethernet.ethernet(dst='33:33:00:01:00:02', src=MAC, ethertype=0x86dd))
    p.add_protocol(ipv6.ipv6(src=LINK_LOCAL, dst='ff02::1:2', nxt=17, hop_limit=1))
    p.add_protocol(udp.udp(src_port=546, dst_port=547))
    p.add_protocol(dhcp6.dhcp6(msg_type, dhcp6.options(option_list=options), transaction_id=xid))
    p.serialize()
    return bytes(p.data)


CLIENT = opt(dhcp6.DHCPV6_OPTION_CLIENTID, CLIENT_DUID)
SERVER = opt(dhcp6.DHCPV6_OPTION_SERVERID, SERVER_DUID)
ORO = opt(dhcp6.DHCPV6_OPTION_ORO, struct.pack('!HHH', 23, 24, 39))
ELAPSED = opt(dhcp6.DHCPV6_OPTION_ELAPSED_TIME, b'\x00\x00')

PORTS = {
    'gateway-dns': {'mac_address': MAC, 'mtu': 1450, 'fixed_ips': [
        {'subnet_id': 's4', 'ip_address': '198.51.100.10', 'version': 4, 'cidr': '198.51.100.0/24', 'host_routes': [], 'dns_nameservers': [], 'gateway_ip': '198.51.100.1'},
        {'subnet_id': 's6', 'ip_address': '2001:db8:6::10', 'version': 6, 'cidr': '2001:db8:6::/64', 'host_routes': [], 'dns_nameservers': [], 'gateway_ip': '2001:db8:6::1'}]},
    'dns-servers': {'mac_address': MAC, 'mtu': 1500, 'fixed_ips': [
        {'subnet_id': 's7', 'ip_address': '2001:db8:7::a:b', 'version': 6, 'cidr': '2001:db8:7::/64', 'host_routes': [],
         'dns_nameservers': [{'address': '2001:db8::53'}, {'address': '2001:db8::35'}], 'gateway_ip': '2001:db8:7::1'}]},
}

# (name, conf, port, message type, reference's req_type, options)
CASES = [
    ('solicit', {}, 'gateway-dns', dhcp6.DHCPV6_SOLICIT, 'SOLICIT', [CLIENT, ELAPSED, ia_na(0x0a0b0c0d, 0, 0), ORO]),
    ('request', {}, 'gateway-dns', dhcp6.DHCPV6_REQUEST, 'REQUEST', [CLIENT, SERVER, ELAPSED, ia_na(0x0a0b0c0d, 0, 0, '2001:db8:6::10', 0, 0), ORO]),
    ('request-times-domain', {'dns_domain': 'example.org.', 'dhcp_lease_duration': 600}, 'dns-servers', dhcp6.DHCPV6_REQUEST, 'REQUEST',
     [CLIENT, SERVER, ia_na(7, 100, 200, '2001:db8:7::a:b', 300, 400), ORO]),
    ('solicit-no-client-id-infinite', {'dhcp_lease_duration': -1, 'dns_domain': ''}, 'dns-servers', dhcp6.DHCPV6_SOLICIT, 'SOLICIT', [ia_na(0, 0, 0)]),
    ('renew', {}, 'dns-servers', dhcp6.DHCPV6_RENEW, 'RENEW', [CLIENT, SERVER, ia_na(9, 0, 0, '2001:db8:7::a:b', 50, 60)]),
    ('rebind', {}, 'gateway-dns', dhcp6.DHCPV6_REBIND, 'REBIND', [CLIENT, ia_na(9, 0, 0, '2001:db8:6::10', 0, 0)]),
    ('confirm', {}, 'gateway-dns', dhcp6.DHCPV6_CONFIRM, 'CONFIRM', [CLIENT, ia_na(9, 0, 0, '2001:db8:6::10', 0, 0)]),
    ('release', {}, 'gateway-dns', dhcp6.DHCPV6_RELEASE, 'RELEASE', [CLIENT, SERVER, ia_na(9, 0, 0, '2001:db8:6::10', 0, 0)]),
]


def capture(configure):
    out = []
    for name, conf, port, msg_type, req_type, options in CASES:
        configure(conf)
        req = request(msg_type, 0x1a2b3c, options)
        reply = Responder().get_ret_packet(packet.Packet(data=req), PORTS[port], req_type)
        reply.serialize()
        out.append({'case': name, 'conf': conf, 'port': PORTS[port], 'now': NOW + 0.25, 'request': req.hex(), 'reply': bytes(reply.data).hex()})
    return out
