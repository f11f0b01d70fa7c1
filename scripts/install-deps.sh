#!/usr/bin/env bash
# Debian packages the agent and its tests need. Idempotent; services are not left running
# (tests start private instances of everything themselves).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
APT="apt-get -o DPkg::Lock::Timeout=1200 -y -q"
# Debian's maintainer scripts would start the services; tests run their own private instances.
if [ ! -e /usr/sbin/policy-rc.d ]; then printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d; created_policy=1; fi
need=()
for p in openvswitch-switch iproute2 iputils-ping util-linux procps; do dpkg -s "$p" >/dev/null 2>&1 || need+=("$p"); done
if [ ${#need[@]} -gt 0 ]; then
  $APT update >/dev/null
  $APT install --no-install-recommends "${need[@]}" >/dev/null
fi
[ -n "${created_policy:-}" ] && rm -f /usr/sbin/policy-rc.d
echo "dependencies installed"
