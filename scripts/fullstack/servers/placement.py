#!/usr/bin/python3
# The fake placement service test_agent_bandwidth_report starts (resources/process.py
# PlacementFixture). neutron's servers/placement.py serves on every address; run its __main__ with
# the listening address pinned to 127.0.0.1.
import runpy
import sys
from wsgiref import simple_server

serve = simple_server.make_server


def loopback_only(host, port, app, *args, **kwargs):
    return serve('127.0.0.1', port, app, *args, **kwargs)


simple_server.make_server = loopback_only
sys.argv[0] = 'placement.py'
runpy.run_module('neutron.tests.fullstack.servers.placement', run_name='__main__')
