#!/usr/bin/python3
"""DHCPv4 replies as the reference's dhcp extension builds them (neutron Zed,
neutron.agent.l2.extensions.dhcp.ipv4.DHCPIPv4Responder.get_ret_packet, run unchanged on
Debian's python3-neutron and os-ken), for requests built with os-ken, printed as JSON fixtures
(test/fixtures/reference/dhcp/ipv4-replies.json); with --v6, the DHCPv6 replies of
neutron.agent.l2.extensions.dhcp.ipv6.DHCPIPv6Responder.get_ret_packet
(test/fixtures/reference/dhcp/ipv6-replies.json), its clock fixed at NOW for the DUIDs. The responder's own code is called; only its OpenFlow
app is not started (no switch is needed to assemble a packet)."""
import json
import sys

from oslo_config import cfg
from os_ken.lib.packet import dhcp, ethernet, ipv4, packet, udp

from neutron.common import config as common_config
from neutron.conf.plugins.ml2.drivers import ovs_conf
from neutron.agent.l2.extensions.dhcp import ipv4 as ref_ipv4

common_config.register_common_config_options()
ovs_conf.register_ovs_agent_opts()
cfg.CONF([], project='neutron')

MAC = 'fa:16:3e:12:34:56'


def request(msg_type, xid):
    opts = dhcp.options(option_list=[dhcp.option(tag=dhcp.DHCP_MESSAGE_TYPE_OPT, value=bytes([msg_type]))])
    p = packet.Packet()
    p.add_protocol(ethernet.ethernet(dst='ff:ff:ff:ff:ff:ff', src=MAC, ethertype=0x0800))
    p.add_protocol(ipv4.ipv4(src='0.0.0.0', dst='255.255.255.255', proto=17))
    p.add_protocol(udp.udp(src_port=68, dst_port=67))
    p.add_protocol(dhcp.dhcp(op=dhcp.DHCP_BOOT_REQUEST, chaddr=MAC, xid=xid, options=opts))
    p.serialize()
    return bytes(p.data)


class Responder(ref_ipv4.DHCPIPv4Responder):
    def __init__(self):  # the OpenFlow app is not started: only the packet assembly is used
        self.version = 'v4'
        self.hw_addr = cfg.CONF.base_mac


CASES = [
    {'name': 'defaults', 'conf': {}, 'port': {
        'mtu': 1450, 'fixed_ips': [{'subnet_id': 's1', 'ip_address': '192.0.2.10', 'version': 4, 'cidr': '192.0.2.0/24',
                                    'host_routes': [], 'dns_nameservers': [], 'gateway_ip': '192.0.2.1'}]}},
    {'name': 'dns-routes-times', 'conf': {'dhcp_lease_duration': 600, 'dns_domain': 'example.org.', 'DHCP': {'dhcp_renewal_time': 300, 'dhcp_rebinding_time': 500}},
     'port': {'mtu': 1500, 'fixed_ips': [{'subnet_id': 's2', 'ip_address': '198.51.100.77', 'version': 4, 'cidr': '198.51.100.64/26',
                                          'host_routes': [{'destination': '203.0.113.0/24', 'nexthop': '198.51.100.65'}, {'destination': '10.0.0.0/8', 'nexthop': '198.51.100.66'}],
                                          'dns_nameservers': [{'address': '198.51.100.2'}, {'address': '203.0.113.53'}], 'gateway_ip': '198.51.100.65'}]}},
    {'name': 'infinite-lease-no-domain', 'conf': {'dhcp_lease_duration': -1, 'dns_domain': ''}, 'port': {
        'mtu': 0, 'fixed_ips': [{'subnet_id': 's3', 'ip_address': '203.0.113.5', 'version': 4, 'cidr': '203.0.113.0/25',
                                 'host_routes': [], 'dns_nameservers': [{'address': '203.0.113.1'}], 'gateway_ip': '203.0.113.1'}]}},
]

def configure(conf):
    cfg.CONF.reset()
    for k, v in conf.items():
        if isinstance(v, dict):
            for k2, v2 in v.items():
                cfg.CONF.set_override(k2, v2, group=k)
        else:
            cfg.CONF.set_override(k, v)


if '--v6' in sys.argv:
    import capture_dhcp6_reference  # noqa: E402  (scripts/capture_dhcp6_reference.py)
    json.dump(capture_dhcp6_reference.capture(configure), sys.stdout, indent=1)
    sys.stdout.write('\n')
    sys.exit(0)

out = []
for case in CASES:
    cfg.CONF.reset()
    for k, v in case['conf'].items():
        if isinstance(v, dict):
            for k2, v2 in v.items():
                cfg.CONF.set_override(k2, v2, group=k)
        else:
            cfg.CONF.set_override(k, v)
    r = Responder()
    for msg_type, is_ack in ((dhcp.DHCP_DISCOVER, False), (dhcp.DHCP_REQUEST, True)):
        req = request(msg_type, 0x1a2b3c4d)
        reply = r.get_ret_packet(packet.Packet(data=req), case['port'], is_ack=is_ack)
        reply.serialize()
        out.append({'case': case['name'], 'conf': case['conf'], 'port': case['port'], 'request': req.hex(), 'reply': bytes(reply.data).hex()})
json.dump(out, sys.stdout, indent=1)
sys.stdout.write('\n')
