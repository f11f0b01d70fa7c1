#!/usr/bin/env bash
# Capture what the reference neutron-openvswitch-agent (Debian package) leaves on the bridges at
# start-up for one agent ini: the flows (cookies and statistics stripped, sorted) of the bridges
# named, into OUT. Runs a private userspace OVS in a private network namespace and a neutron.conf
# with a fake transport, so no server is needed. Used to produce test/fixtures/reference/.
#   usage: scripts/netns-run.sh scripts/capture-reference.sh AGENT_INI OUT BRIDGE...
# Env: JUNK_FLOW — a flow added to br-int before the agent starts (a previous run's leftover);
#      PRE_BRIDGES — extra bridges to create first (space separated).
set -euo pipefail
ini=$(realpath "$1"); out=$2; shift 2
w=$(mktemp -d /tmp/ovs-agent-ref.XXXXXX)
export OVS_RUNDIR=$w OVS_LOGDIR=$w OVS_DBDIR=$w
cleanup() {
  # Every step may find its process already gone: none of them may end the clean-up early.
  set +e
  if [ -n "${agent:-}" ]; then kill "$agent" 2>/dev/null; sleep 0.5; kill -9 "$agent" 2>/dev/null; fi
  pkill -f "privsep-helper.*$w" 2>/dev/null
  for p in ovs-vswitchd ovsdb-server; do [ -f "$w/$p.pid" ] && kill "$(cat "$w/$p.pid")" 2>/dev/null; done
  sleep 0.3; rm -rf "$w"
}
trap cleanup EXIT
ovsdb-tool create "$w/conf.db" /usr/share/openvswitch/vswitch.ovsschema
ovsdb-server --remote=punix:"$w/db.sock" --remote=ptcp:6640:127.0.0.1 --pidfile="$w/ovsdb-server.pid" --detach --log-file="$w/ovsdb-server.log" "$w/conf.db"
V="ovs-vsctl --db=unix:$w/db.sock --timeout=10"
$V --no-wait init
ovs-vswitchd unix:"$w/db.sock" --pidfile="$w/ovs-vswitchd.pid" --detach --log-file="$w/ovs-vswitchd.log"
# The reference finds the OVS run directory (for its ovs-ofctl calls) at the compiled-in path.
mkdir -p /var/run; ln -sfn "$w" /var/run/openvswitch
for b in $(grep -oE '^[[:space:]]*bridge_mappings[[:space:]]*=.*' "$ini" | sed 's/.*=//' | tr ',' '\n' | cut -d: -f2 | tr -d ' ') ${PRE_BRIDGES:-}; do
  $V --may-exist add-br "$b" -- set bridge "$b" datapath_type=netdev
done
if [ -n "${JUNK_FLOW:-}" ]; then
  $V --may-exist add-br br-int -- set bridge br-int datapath_type=netdev
  ovs-ofctl -O OpenFlow13 add-flow br-int "$JUNK_FLOW"
fi
printf '[DEFAULT]\ntransport_url = fake:/\nhost = compute1\n' > "$w/neutron.conf"
start=$(date +%s%N)
neutron-openvswitch-agent --config-file "$w/neutron.conf" --config-file "$ini" --log-file "$w/agent.log" >"$w/out" 2>&1 &
agent=$!
for _ in $(seq 1 240); do
  sleep 0.25
  grep -q "Using RPCClient manually\|Agent initialized successfully\|Traceback\|terminated" "$w/agent.log" 2>/dev/null && break
done
end=$(date +%s%N)
sleep 1
if grep -q "Traceback\|terminated" "$w/agent.log"; then echo "reference agent failed:" >&2; grep -B2 -A8 "Traceback\|terminated" "$w/agent.log" | head -30 >&2; fi
: > "$out"
for b in "$@"; do
  echo "== $b" >> "$out"
  ovs-ofctl -O OpenFlow13 dump-flows --no-stats "$b" 2>/dev/null | sed -E 's/cookie=0x[0-9a-f]+, ?//; s/cookie=0x[0-9a-f]+,?//g; s/^ +//' | grep -v '^OFPST' | sort >> "$out" || true
done
echo "reference ready after $(( (end-start)/1000000 )) ms; flows in $out"
