#!/usr/bin/env node
import('../dist/src/cli/ovs-agent.js').then((m) => m.main(process.argv.slice(2)));
