#!/usr/bin/env bash
# Capture what the reference agent's log extension (ovs_firewall_log) writes at each step of
# test/integration/log/scenario.ts into test/fixtures/reference/log/: br-int's logging flows and
# Controller limits per step, and the lines logged for the traffic step. Starts its own neutron lab
# (with the `log` service plugin), a private OVS and the reference neutron-openvswitch-agent with
# `[agent] extensions = log`, all in a private network namespace; stops them all.
#   usage: scripts/capture-log-reference.sh [--out DIR]
# Env: LOG_CAPTURE_KEEP=FILE keeps the reference's whole packet log; LOG_CAPTURE_AGENT_LOG=FILE its agent log.
set -euo pipefail
cd "$(dirname "$0")/.."
npm run build >/dev/null
exec scripts/netns-run.sh node dist/test/integration/log/capture.js "$@"
