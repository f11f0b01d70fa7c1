#!/usr/bin/env bash
# What neutron's fullstack tests need on top of the lab's packages (scripts/lab/install.sh, which
# installs them the same idempotent way and starts no service): the test framework's Python
# dependencies, ncat (its netcat checks), the L3 and DHCP agents some tests start with the helpers
# those run (keepalived, dnsmasq, haproxy, arping, radvd), and dhclient, which the VMs of
# test_ovs_dhcp_extension run to get their addresses (without it that test times out in set-up).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
exec "$here/../lab/install.sh" \
  python3-oslotest python3-stestr ncat \
  neutron-l3-agent neutron-dhcp-agent keepalived dnsmasq haproxy iputils-arping radvd isc-dhcp-client
