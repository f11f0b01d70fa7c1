#!/usr/bin/python3
# The DHCP agent of a simulated host (resources/process.py DhcpAgentFixture): neutron's test DHCP
# agent (namespaces named per host) on the userspace datapath.
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'harness'))
import oafs_patch  # noqa: E402
oafs_patch.netdev_bridges()
from neutron.tests.fullstack.agents import dhcp_agent  # noqa: E402
sys.exit(dhcp_agent.main())
