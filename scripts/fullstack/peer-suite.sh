#!/usr/bin/env bash
# Run neutron's own fullstack tests (neutron.tests.fullstack, Zed) with ovs-agent in place of the
# reference Open vSwitch agent, one test at a time, in a private network namespace; print a table
# of the results and write it as markdown.
#
#   scripts/fullstack/peer-suite.sh [options] [SELECTION...]
#
# SELECTION: "MODULE [REGEX]" or a whole test id (as tests.list lines); default: tests.list.
#   --reference            also run each test with the reference agent (before ovs-agent's run)
#   --reference-only       the reference agent only
#   --of-interface NAME    [ovs] of_interface of our agents (native, ovs-ofctl)
#   --list                 print the test ids the selections expand to, run nothing
#   --dry-run              print what would run and how, start nothing
#   --timeout SECONDS      per test (default 900); the test's own timeout is 60 s less
#   --out DIR              results folder (default $OAFS_WORK/results-<UTC time>)
#   --project DIR          the built checkout whose agent runs (default: this one)
#   --no-install           do not run install.sh first
# Environment: OAFS_NETNS (oafs), OAFS_WORK (/tmp/oafs-work).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
CHECKOUT=$(cd "$HERE/../.." && pwd)
export OAFS_NETNS=${OAFS_NETNS:-oafs}
export OAFS_WORK=${OAFS_WORK:-/tmp/oafs-work}
PY=/usr/bin/python3   # neutron is the system Python's; a pyenv python3 may come first in PATH

say() { printf 'peer-suite: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }
usage() { sed -n '2,/^set -euo/p' "$0" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//' >&2; exit 2; }

agents=(ours)
of_interface=
mode=run
timeout=900
out=
project=$CHECKOUT
install=1
selections=()
while [ $# -gt 0 ]; do
  case "$1" in
    --reference) agents=(reference ours) ;;
    --reference-only) agents=(reference) ;;
    --of-interface) [ $# -ge 2 ] || usage; of_interface=$2; shift ;;
    --list) mode=list ;;
    --dry-run) mode=dry-run ;;
    --timeout) [ $# -ge 2 ] && [[ $2 =~ ^[0-9]+$ ]] && [ "$2" -ge 120 ] || die "--timeout takes seconds (120 or more)"; timeout=$2; shift ;;
    --out) [ $# -ge 2 ] || usage; out=$2; shift ;;
    --project) [ $# -ge 2 ] || usage; project=$(cd "$2" && pwd); shift ;;
    --no-install) install=0 ;;
    -h|--help) usage ;;
    -*) say "unknown option $1"; usage ;;
    *) selections+=("$1") ;;
  esac
  shift
done
case "$of_interface" in ''|native|ovs-ofctl) ;; *) die "--of-interface: native or ovs-ofctl, not '$of_interface'" ;; esac

# The selections, expanded to test ids by the framework's own loader.
if [ ${#selections[@]} -eq 0 ]; then
  mapfile -t ids < <(PYTHONPATH="$HERE/harness" "$PY" "$HERE/harness/oafs_run.py" list <"$HERE/tests.list")
else
  mapfile -t ids < <(printf '%s\n' "${selections[@]}" | PYTHONPATH="$HERE/harness" "$PY" "$HERE/harness/oafs_run.py" list)
fi
# mapfile hides the lister's exit code: an empty list means it failed (it said why).
[ ${#ids[@]} -gt 0 ] || die "no test selected"
if [ $mode = list ]; then printf '%s\n' "${ids[@]}"; exit 0; fi

entry=$project/dist/src/cli/neutron-openvswitch-agent.js
report=$CHECKOUT/dist/scripts/fullstack/report.js
agent_opts=
[ -n "$of_interface" ] && agent_opts=ovs.of_interface=$of_interface
out=${out:-$OAFS_WORK/results-$(date -u +%Y%m%dT%H%M%SZ)}

# safe_name ID: a file name for a test id.
safe_name() { printf '%s' "${1#neutron.tests.fullstack.}" | tr -c 'A-Za-z0-9_.,()-' '_' | cut -c1-150; }

# The command that runs one test: in the namespace, in a pid namespace of its own (when it ends,
# whatever it started that is still running, a VM's ping or a dnsmasq, is killed with it) with a
# private /proc, and a private /run/netns: the VMs' namespaces are named there, so even a test killed
# before its clean-ups leaves none behind.
test_cmd() { # ID JSON: sets cmd
  cmd=(timeout --kill-after=30 "$timeout" ip netns exec "$OAFS_NETNS"
    unshare --pid --fork --mount-proc --kill-child
    sh -c 'mount -t tmpfs -o mode=0755 oafs-netns /run/netns && exec "$0" "$@"'
    "$PY" "$HERE/harness/oafs_run.py" run "$1" "$2")
}

if [ $mode = dry-run ]; then
  say "would run ${#ids[@]} tests with: ${agents[*]}; results in $out"
  say "environment: $HERE/env.sh up (netns $OAFS_NETNS, work folder $OAFS_WORK), down at the end"
  [[ " ${agents[*]} " == *" ours "* ]] && say "ovs-agent: $entry${agent_opts:+, $agent_opts}, [agent] tunnel_port_naming = local-and-remote-ip"
  for id in "${ids[@]}"; do
    for a in "${agents[@]}"; do
      test_cmd "$id" "$out/$a/$(safe_name "$id").json"
      printf '%s:' "$a"; printf ' %q' OAFS_AGENT=$a "${cmd[@]}"; echo
    done
  done
  exit 0
fi

[ "$(id -u)" = 0 ] || die "must run as root (network namespaces, Open vSwitch)"
if [[ " ${agents[*]} " == *" ours "* ]]; then
  [ -f "$entry" ] || die "$entry is missing: build the checkout first (npm run build in $project)"
fi
[ -f "$report" ] || die "$report is missing: npm run build in $CHECKOUT"
command -v node >/dev/null || die "node is not on PATH"
[ $install = 0 ] || "$HERE/install.sh"

mkdir -p "$out"
runs=$out/runs.tsv
: >"$runs"

current=
finish() {
  local rc=$?
  trap - EXIT INT TERM
  if [ -n "$current" ] && kill -0 "$current" 2>/dev/null; then
    say "stopping the running test (pid $current)"
    kill -TERM "$current" 2>/dev/null || true   # timeout passes it on; unshare's child dies with it
    wait "$current" 2>/dev/null || true
  fi
  "$HERE/env.sh" down || say "env.sh down failed: look for namespace $OAFS_NETNS and processes under $OAFS_WORK"
  if [ -s "$runs" ]; then node "$report" "$runs" "$out/results.md" || rc=1; fi
  exit $rc
}
trap finish EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

say "$(date -u +%H:%M:%S) starting the environment (netns $OAFS_NETNS, $OAFS_WORK)"
"$HERE/env.sh" up 2>>"$out/env.log" || die "env.sh up failed, see $out/env.log"

export OAFS_ROOT=$HERE OAFS_AGENT_ENTRY=$entry OAFS_AGENT_OPTS=$agent_opts OAFS_NODE=$(command -v node)
export PYTHONPATH=$HERE/harness
export PATH=$HERE/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export OS_ROOTWRAP_CMD=$HERE/bin/root-helper OS_FAIL_ON_MISSING_DEPS=1
export OS_TEST_TIMEOUT=$((timeout - 60))
export OVS_RUNDIR=$OAFS_WORK/ovs OVS_LOGDIR=$OAFS_WORK/ovs OVS_DBDIR=$OAFS_WORK/ovs

n=0
for id in "${ids[@]}"; do
  n=$((n + 1))
  for a in "${agents[@]}"; do
    name=$(safe_name "$id")
    mkdir -p "$out/$a"
    json=$out/$a/$name.json log=$out/$a/$name.log
    rm -f "$json"
    say "$(date -u +%H:%M:%S) [$n/${#ids[@]}] $a ${id#neutron.tests.fullstack.}"
    t0=$(date +%s)
    # neutron's logs of the test (server, agents) under $out/$a/dsvm-fullstack-logs/
    test_cmd "$id" "$json"
    OAFS_AGENT=$a OS_LOG_PATH=$out/$a "${cmd[@]}" >"$log" 2>&1 </dev/null &
    current=$!
    rc=0; wait "$current" || rc=$?
    current=
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$a" "$id" "$json" "$log" "$rc" "$(( $(date +%s) - t0 ))" >>"$runs"
    # A test killed on timeout skips its cleanups and may leave RabbitMQ wedged: start afresh.
    if [ $rc = 124 ] || [ $rc = 137 ] || ! "$HERE/env.sh" check; then
      say "restarting the environment after $a ${id#neutron.tests.fullstack.} (exit $rc)"
      "$HERE/env.sh" down 2>>"$out/env.log"
      "$HERE/env.sh" up 2>>"$out/env.log" || die "env.sh up failed, see $out/env.log"
    fi
  done
done
say "$(date -u +%H:%M:%S) done; results in $out"
