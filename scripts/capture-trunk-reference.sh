#!/usr/bin/env bash
# Capture what the reference agent's trunk handler (Open vSwitch trunk driver) leaves at each step of
# test/integration/trunk/scenario.ts into test/fixtures/reference/trunk/ (see its README.md): a trunk
# VM with its parent on a vxlan network and subports on VLANs 101 and 102, a subport removed and
# added again, the VM deleted. Starts its own neutron lab (trunk service on), a private OVS with
# br-phys and the reference neutron-openvswitch-agent (firewall_driver = openvswitch), all in a
# private network namespace; stops them all. About 3 minutes on a 2-vCPU machine.
#   usage: scripts/capture-trunk-reference.sh [--out DIR]
# Env: TRUNK_CAPTURE_KEEP_LOG=FILE keeps the reference agent's log there.
set -euo pipefail
cd "$(dirname "$0")/.."
npm run build >/dev/null
exec scripts/netns-run.sh node dist/test/integration/trunk/capture.js "$@"
