// JavaScript despite the name: node runs this file so that the agent's command line ends in
// ovs_agent.py as the framework expects (see ../ovs_agent.py). package.json here makes it CommonJS
// whatever the extension. OAFS_AGENT_ENTRY is the built CLI entry of the checkout under test.
'use strict';
const { pathToFileURL } = require('node:url');

const entry = process.env.OAFS_AGENT_ENTRY;
if (!entry) {
  console.error('ovs_agent.py (node): OAFS_AGENT_ENTRY is not set (dist/src/cli/neutron-openvswitch-agent.js of a built checkout)');
  process.exit(2);
}
import(pathToFileURL(entry).href).then(
  (cli) => cli.main(process.argv.slice(2)),
  (e) => {
    console.error(`ovs_agent.py (node): cannot load ${entry}: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(2);
  },
);
