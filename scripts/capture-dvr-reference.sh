#!/usr/bin/env bash
# Capture what the reference neutron-openvswitch-agent writes with `[agent] enable_distributed_routing
# = True` (test/integration/dvr/capture.ts) into test/fixtures/reference/dvr/. Starts its own neutron
# lab and private OVS in a private network namespace and stops them.
#   usage: scripts/capture-dvr-reference.sh                   start-up flows
#          scripts/capture-dvr-reference.sh --ports [--only=vxlan|vlan|flat|ipv6|gre|geneve|egress-direct|egress-direct-flat|snat|moved ...]   router and VM ports
set -euo pipefail
cd "$(dirname "$0")/.."
npx tsc -p tsconfig.json
exec scripts/netns-run.sh node dist/test/integration/dvr/capture.js "$@"
