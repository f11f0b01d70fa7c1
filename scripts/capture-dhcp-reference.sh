#!/usr/bin/env bash
# Capture what the reference agent's dhcp extension does in test/integration/dhcp/scenario.ts into
# test/fixtures/reference/dhcp/lab.json (its DHCP flows, the OFFER and ACK a VM gets, the ping
# after), with its own neutron lab, private OVS and reference agent in a private network namespace.
# The replies' assembly alone (no lab) is scripts/capture-dhcp-reference.py.
#   usage: scripts/capture-dhcp-reference.sh [--v6] [--out DIR]   (--v6: the DHCPv6 scenario into lab-v6.json)
set -euo pipefail
cd "$(dirname "$0")/.."
npm run build >/dev/null
exec scripts/netns-run.sh node dist/test/integration/dhcp/capture.js "$@"
