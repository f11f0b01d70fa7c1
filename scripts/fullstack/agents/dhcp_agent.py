#!/usr/bin/python3
# The DHCP agent of a simulated host (resources/process.py DhcpAgentFixture): neutron's test DHCP
# agent (namespaces named per host) on the userspace datapath.
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'harness'))
# eventlet first, as neutron's own entry points do, before ovs_lib is imported.
from neutron.common import eventlet_utils  # noqa: E402
eventlet_utils.monkey_patch()
import oafs_patch  # noqa: E402
oafs_patch.netdev_bridges()
from neutron.tests.fullstack.agents import dhcp_agent  # noqa: E402
sys.exit(dhcp_agent.main())
