#!/usr/bin/env bash
# Capture what the reference agent's fdb extension leaves in a shared NIC's FDB at each step of
# test/integration/fdb/scenario.ts into test/fixtures/reference/fdb/. Starts its own neutron lab, a
# private OVS with br-phys, the NIC (a veth end) and the reference neutron-openvswitch-agent with
# `[agent] extensions = fdb`, all in a private network namespace; stops them all. About 3 minutes.
#   usage: scripts/capture-fdb-reference.sh [--out DIR]
# Env: FDB_CAPTURE_KEEP_LOG=FILE keeps the reference agent's log there.
set -euo pipefail
cd "$(dirname "$0")/.."
npm run build >/dev/null
exec scripts/netns-run.sh node dist/test/integration/fdb/capture.js "$@"
