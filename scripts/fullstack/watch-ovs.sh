#!/bin/bash
# Snapshots of the fullstack suite's one Open vSwitch while a test runs, to see what a failing
# ping meets: every bridge's flows with packet counts, the flows OpenFlow does not show (OVS's own,
# such as a fail-open NORMAL at priority 15790320: bridge/dump-flows), its MAC table, the Bridge
# and Controller rows (fail_mode, inactivity_probe), the Port rows the agents and the framework
# write (tag, vlan_mode, trunks, other_config), the interfaces, the datapath's flows, and
# ofproto/trace of a broadcast ARP and of a unicast frame from every VM-like port (one with
# external_ids:iface-id and attached-mac) to every other such MAC.
#
#   scripts/fullstack/watch-ovs.sh OUT_DIR [INTERVAL_S]
#
# Started before the suite, it waits (up to 10 minutes) for the environment's namespace; it ends
# when that namespace goes (or on Ctrl-C).
#
# One directory per snapshot, OUT_DIR/<UTC time>/. Uses OAFS_NETNS (default oafs) and OAFS_WORK
# (default /tmp/oafs-work) as env.sh does; ovs-appctl is given the control socket by path, as the
# tests' pid namespaces hide ovs-vswitchd's pid file owner from it.
set -u
out=${1:?usage: $0 OUT_DIR [INTERVAL_S]}
interval=${2:-5}
NETNS=${OAFS_NETNS:-oafs}
W=${OAFS_WORK:-/tmp/oafs-work}
export OVS_RUNDIR=$W/ovs OVS_LOGDIR=$W/ovs OVS_DBDIR=$W/ovs
mkdir -p "$out"

in_ns() { ip netns exec "$NETNS" "$@"; }
ctl() {
  local pid
  pid=$(cat "$W/ovs/ovs-vswitchd.pid" 2>/dev/null) || return 1
  echo "$W/ovs/ovs-vswitchd.$pid.ctl"
}

snapshot() {
  local d=$1 sock br
  sock=$(ctl) || return 1
  mkdir -p "$d"
  in_ns ovs-vsctl --timeout=5 --columns=name,tag,vlan_mode,trunks,other_config,_uuid list Port >"$d/ports.txt" 2>&1
  in_ns ovs-vsctl --timeout=5 --columns=name,fail_mode,controller,protocols list Bridge >"$d/bridges.txt" 2>&1
  in_ns ovs-vsctl --timeout=5 --columns=_uuid,target,inactivity_probe,connection_mode,is_connected list Controller >"$d/controllers.txt" 2>&1
  in_ns ovs-vsctl --timeout=5 --columns=name,ofport,type,options,external_ids,mac_in_use list Interface >"$d/interfaces.txt" 2>&1
  in_ns ovs-appctl -t "$sock" dpctl/dump-flows -m >"$d/datapath-flows.txt" 2>&1
  for br in $(in_ns ovs-vsctl --timeout=5 list-br 2>/dev/null); do
    {
      echo "### $br ports"; in_ns ovs-ofctl show "$br" | grep -E '^ [0-9]+\(|LOCAL'
      echo "### $br flows"; in_ns ovs-ofctl -O OpenFlow13 dump-flows "$br"
      echo "### $br flows OpenFlow does not show"; in_ns ovs-appctl -t "$sock" bridge/dump-flows "$br" | grep -E 'priority=([0-9]{6,})' || echo "(none)"
      echo "### $br fdb"; in_ns ovs-appctl -t "$sock" fdb/show "$br"
    } >"$d/$br.txt" 2>&1
  done
  # Traces: from each VM-like port, a broadcast ARP and a unicast IPv4 frame to each other VM MAC.
  in_ns ovs-vsctl --timeout=5 --format=csv --data=bare --no-headings --columns=name,ofport,external_ids find Interface 'external_ids:attached-mac!=""' 2>/dev/null |
    while IFS=, read -r name ofport ext; do
      mac=$(grep -o 'attached-mac=[0-9a-f:]*' <<<"$ext" | cut -d= -f2)
      [ -n "$mac" ] && echo "$name $ofport $mac"
    done >"$d/vms.txt"
  while read -r name ofport mac; do
    br=$(in_ns ovs-vsctl --timeout=5 port-to-br "$name" 2>/dev/null) || continue
    {
      echo "### $name ($br ofport $ofport, $mac): broadcast ARP"
      in_ns ovs-appctl -t "$sock" ofproto/trace "$br" "in_port=$ofport,dl_src=$mac,dl_dst=ff:ff:ff:ff:ff:ff,arp"
      while read -r _ _ other; do
        [ "$other" = "$mac" ] && continue
        echo "### $name ($br ofport $ofport, $mac): unicast to $other"
        in_ns ovs-appctl -t "$sock" ofproto/trace "$br" "in_port=$ofport,dl_src=$mac,dl_dst=$other,icmp"
      done <"$d/vms.txt"
    } >"$d/trace-$name.txt" 2>&1
  done <"$d/vms.txt"
}

ns_up() { ip netns list | grep -q "^$NETNS\b"; }
for _ in $(seq 600); do ns_up && break; sleep 1; done
while ns_up; do
  [ -f "$W/ovs/ovs-vswitchd.pid" ] && snapshot "$out/$(date -u +%H%M%S)"
  sleep "$interval"
done
