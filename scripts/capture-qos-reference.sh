#!/usr/bin/env bash
# Capture what the reference agent's qos extension (Open vSwitch driver) writes at each step of
# test/integration/qos/scenario.ts into test/fixtures/reference/qos/ (see its README.md). Starts its
# own neutron lab (QoS on), a private OVS with br-phys and a physical port, and the reference
# neutron-openvswitch-agent with `[agent] extensions = qos`, all in a private network namespace;
# stops them all. About 3.5 minutes on a 2-vCPU machine.
#   usage: scripts/capture-qos-reference.sh [--out DIR]
# Env: QOS_CAPTURE_KEEP_LOG=FILE keeps the reference agent's log there.
set -euo pipefail
cd "$(dirname "$0")/.."
npm run build >/dev/null
exec scripts/netns-run.sh node dist/test/integration/qos/capture.js "$@"
