#!/usr/bin/python3
# The L3 agent of a simulated host (resources/process.py L3AgentFixture): neutron's test L3 agent,
# which names its namespaces per host, on the userspace datapath. neutron's own
# fullstack/agents/l3_agent.py does this under __main__ only, so it is spelled out here.
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'harness'))
from neutron.common import eventlet_utils  # noqa: E402
eventlet_utils.monkey_patch()

import oafs_patch  # noqa: E402
oafs_patch.netdev_bridges()
from neutron.common import config  # noqa: E402
from neutron.tests.common.agents import l3_agent  # noqa: E402
config.register_common_config_options()
sys.exit(l3_agent.main())
