#!/usr/bin/env node
// How long node took to reach this first module is part of the start-up figures the agent logs.
const entryMs = performance.now();
import('../dist/src/cli/neutron-openvswitch-agent.js').then((m) => m.main(process.argv.slice(2), { entryMs }));
