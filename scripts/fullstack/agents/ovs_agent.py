#!/usr/bin/python3
# The Open vSwitch agent of one simulated host, as the framework starts it
# (resources/process.py OVSAgentFixture):
#   ovs_agent.py --log-dir D --log-file F --config-file neutron.conf --config-file openvswitch_agent.ini
# The framework later recognises the agent by its pid and /proc/PID/cmdline:
# the same arguments after one interpreter and a file named ovs_agent.py.
# With OAFS_AGENT=ours this process becomes node running ovs-agent (exec
# keeps the pid; node/ovs_agent.py keeps the name); otherwise it runs the
# reference agent with neutron's own test patches.
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), 'harness'))

if os.environ.get('OAFS_AGENT') == 'ours':
    node = os.environ.get('OAFS_NODE', '/usr/bin/node')
    os.execv(node, [node, os.path.join(HERE, 'node', 'ovs_agent.py')]
             + sys.argv[1:])

# eventlet first, as neutron's own entry points do, before ovs_lib is imported.
from neutron.common import eventlet_utils  # noqa: E402
eventlet_utils.monkey_patch()
import oafs_patch  # noqa: E402
oafs_patch.netdev_bridges()
from neutron.tests.fullstack.agents import ovs_agent  # noqa: E402
sys.exit(ovs_agent.main())
