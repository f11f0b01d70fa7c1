#!/usr/bin/env bash
# Install what the end-to-end tests and the demo need on a fresh Debian 12 machine (run as root):
# Open vSwitch, iproute2/ping, RabbitMQ, MariaDB, neutron-server 21 (Zed) with ML2 (openvswitch,
# l2population), the reference neutron-openvswitch-agent, neutron-l3-agent for DVR, and iperf3/tcpdump for the QoS traffic
# tests; packages named as arguments are added to the list (scripts/fullstack/install.sh). Idempotent:
# exits quickly when all is there. Leaves no service running: package scripts
# would start system-wide daemons (listening on all interfaces) that the lab does not use, so a
# policy-rc.d forbids that for the duration, and any process that our apt-get started anyway (found
# by a marker in its environment) is stopped after.
set -euo pipefail

PACKAGES=(
  openvswitch-switch iproute2 iputils-ping curl procps ethtool
  systemd   # systemd-analyze verifies the packaged unit
  iptables ipset conntrack
  iperf3 tcpdump   # QoS traffic tests: measured rates, DSCP marks on the wire
  rabbitmq-server
  mariadb-server python3-pymysql
  neutron-server neutron-openvswitch-agent
  neutron-l3-agent   # DVR: the L3 agent in dvr / dvr_snat mode next to the agent (tests, demo, bench)
  "$@"
)

log() { printf 'lab-install: %s\n' "$*" >&2; }
[ "$(id -u)" = 0 ] || { log "must run as root"; exit 1; }

t0=$(date +%s%N)
ms() { echo $(( ($(date +%s%N) - t0) / 1000000 )); }

missing=()
for p in "${PACKAGES[@]}"; do
  st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [ "$st" = "install ok installed" ] || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  log "all packages present ($(ms) ms)"
  exit 0
fi
log "installing: ${missing[*]}"

# One installer at a time on this machine (our policy-rc.d swap is not safe to interleave).
exec 9>/run/lock/ovs-agent-lab-install.lock
flock 9

# Forbid service starts from maintainer scripts (invoke-rc.d asks policy-rc.d; 101 = forbidden).
# Keep an existing policy that already forbids; otherwise put ours in place and restore after.
POLICY=/usr/sbin/policy-rc.d
backup=
if [ -x "$POLICY" ] && { "$POLICY" lab-probe start >/dev/null 2>&1; [ $? -eq 101 ]; }; then
  log "existing $POLICY already forbids service starts"
else
  if [ -e "$POLICY" ]; then backup=$(mktemp /usr/sbin/policy-rc.d.lab-backup.XXXXXX); cp -p "$POLICY" "$backup"; fi
  printf '#!/bin/sh\n# ovs-agent lab install: no service starts while installing\nexit 101\n' >"$POLICY"
  chmod 755 "$POLICY"
fi

marker="OVS_AGENT_LAB_INSTALL=$$-$RANDOM"
stop_ours() {
  # Whatever apt-get started and left running still carries our marker in its environment
  # (one grep over /proc: processes come and go while it reads, -s keeps that quiet).
  local pids=() f pid
  for f in $(grep -lsxzF "$marker" /proc/[0-9]*/environ); do
    pid=${f#/proc/}; pid=${pid%/environ}
    [ "$pid" = $$ ] || pids+=("$pid")
  done
  if [ ${#pids[@]} -eq 0 ]; then return 0; fi
  for pid in "${pids[@]}"; do
    log "stopping $(tr '\0' ' ' </proc/"$pid"/cmdline 2>/dev/null | cut -c1-100) (pid $pid), started by the install"
    kill "$pid" 2>/dev/null || true
  done
  for _ in $(seq 1 50); do
    local alive=0
    for pid in "${pids[@]}"; do if kill -0 "$pid" 2>/dev/null; then alive=1; fi; done
    if [ $alive = 0 ]; then return 0; fi
    sleep 0.2
  done
  for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
}
restore() {
  local rc=$?
  stop_ours
  if [ -n "$backup" ]; then mv -f "$backup" "$POLICY"
  elif grep -q 'ovs-agent lab install' "$POLICY" 2>/dev/null; then rm -f "$POLICY"; fi
  exit $rc
}
trap restore EXIT

# Another apt may hold the lock right now: wait for it rather than fail.
apt_get() {
  env "$marker" DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=1200 -q "$@"
}
if ! apt-cache policy neutron-server 2>/dev/null | grep -q 'Candidate: [0-9]'; then
  apt_get update >/dev/null
fi
apt_get install -y --no-install-recommends "${missing[@]}" >/tmp/ovs-agent-lab-install.log 2>&1 || {
  log "apt-get failed; last lines of /tmp/ovs-agent-lab-install.log:"; tail -20 /tmp/ovs-agent-lab-install.log >&2; exit 1; }

# neutron-server must import (the system python: a pyenv one may come first in PATH)
/usr/bin/python3 -c 'import neutron.plugins.ml2.drivers.openvswitch.mech_driver.mech_openvswitch, neutron.plugins.ml2.drivers.l2pop.mech_driver, pymysql' \
  || { log "neutron ML2 openvswitch/l2population or pymysql does not import"; exit 1; }
log "installed in $(ms) ms"
