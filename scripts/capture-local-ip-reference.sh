#!/usr/bin/env bash
# Capture br-int's flows as the reference agent's local_ip extension leaves them at each step of
# test/integration/local-ip/scenario.ts, for `[local_ip] static_nat` False and True, into
# test/fixtures/reference/local_ip/<mode>/. Starts its own neutron lab (local_ip service plugin on),
# per mode a private OVS with br-phys and the reference neutron-openvswitch-agent with
# `[agent] extensions = local_ip`, all in a private network namespace; stops them all.
#   usage: scripts/capture-local-ip-reference.sh [--out DIR]
# Env: LOCAL_IP_CAPTURE_KEEP_LOG=FILE keeps the reference agent's logs (FILE.<mode>).
set -euo pipefail
cd "$(dirname "$0")/.."
npm run build >/dev/null
exec scripts/netns-run.sh node dist/test/integration/local-ip/capture.js "$@"
