#!/usr/bin/env bash
# Capture the reference agent's OVS-firewall flows (br-int) for the security-group scenarios of
# test/integration/firewall/scenarios.ts into test/fixtures/reference/firewall/. Starts its own
# neutron lab, and per scenario a private OVS and the reference neutron-openvswitch-agent with
# firewall_driver = openvswitch, all in a private network namespace; stops them all.
#   usage: scripts/capture-firewall-reference.sh [SCENARIO...] [--out DIR]   (no scenario: all)
# Env: FW_CAPTURE_KEEP_LOGS=DIR keeps each scenario's reference agent log there.
set -euo pipefail
cd "$(dirname "$0")/.."
npm run build >/dev/null
exec scripts/netns-run.sh node dist/test/integration/firewall/capture.js "$@"
