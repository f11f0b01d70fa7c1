#!/usr/bin/env node
import('../dist/src/cli/neutron-openvswitch-agent.js').then((m) => m.main(process.argv.slice(2)));
