#!/usr/bin/env bash
# The private environment neutron's fullstack tests expect on the machine they run on, in a network
# namespace of its own so that nothing is shared with the host or another suite:
#   env.sh up     namespace $OAFS_NETNS with loopback; in it Open vSwitch (userspace datapath, its
#                 database also on tcp:127.0.0.1:6640 as ovs_lib's default), MariaDB on
#                 127.0.0.1:3306 with the openstack_citest user oslo.db's test fixtures log in as,
#                 and RabbitMQ on 127.0.0.1:5672 (epmd and Erlang distribution on loopback too)
#   env.sh down   ends every process of the environment by its pid, then deletes the namespace
#   env.sh check  exit 0 when RabbitMQ answers (a test killed on timeout can leave it wedged)
# State under $OAFS_WORK (default /tmp/oafs-work). Run as root.
set -euo pipefail

NETNS=${OAFS_NETNS:-oafs}
W=${OAFS_WORK:-/tmp/oafs-work}
export OVS_RUNDIR=$W/ovs OVS_LOGDIR=$W/ovs OVS_DBDIR=$W/ovs

say() { printf 'fullstack-env: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }
in_ns() { ip netns exec "$NETNS" "$@"; }

# wait_until SECONDS WHAT COMMAND...: poll until COMMAND succeeds.
wait_until() {
  local limit=$1 what=$2; shift 2
  local t=0
  until "$@" >/dev/null 2>&1; do
    t=$((t + 1)); [ "$t" -le $((limit * 2)) ] || die "$what did not come up within ${limit} s"
    sleep 0.5
  done
}

pid_from() { [ -s "$1" ] && tr -dc '0-9' <"$1" || true; }

# stop_pid PID NAME: SIGTERM, then SIGKILL after 15 s.
stop_pid() {
  local pid=$1 name=$2 i
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid"
  for i in $(seq 30); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.5; done
  say "$name (pid $pid) ignored SIGTERM for 15 s: SIGKILL"
  kill -KILL "$pid" 2>/dev/null || true
}

write_rabbit_env() {
  local r=$W/rabbit
  cat >"$W/rabbit.env" <<ENV
export HOME=$r/home
export RABBITMQ_NODENAME=oafs@localhost
export RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
export ERL_EPMD_ADDRESS=127.0.0.1
export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1} +sbwt none +sbwtdcpu none +sbwtdio none"
export RABBITMQ_CONF_ENV_FILE=/dev/null
export RABBITMQ_CONFIG_FILE=$r/rabbitmq.conf
export RABBITMQ_MNESIA_BASE=$r/mnesia
export RABBITMQ_LOG_BASE=$r/log
export RABBITMQ_PID_FILE=$r/pid
export RABBITMQ_ENABLED_PLUGINS_FILE=$r/enabled_plugins
export RABBITMQ_FEATURE_FLAGS_FILE=$r/feature_flags
ENV
}

up() {
  [ "$(id -u)" = 0 ] || die "must run as root"
  ! ip netns list | grep -qx "$NETNS\( (id: [0-9]*)\)\?" || die "network namespace $NETNS exists already (another suite, or a run that did not end: $0 down)"
  for c in ovsdb-server ovs-vswitchd mariadbd mariadb-install-db; do command -v $c >/dev/null || die "$c is missing: scripts/fullstack/install.sh"; done
  [ -x /usr/lib/rabbitmq/bin/rabbitmq-server ] || die "rabbitmq-server is missing: scripts/fullstack/install.sh"
  mkdir -p "$W"
  # A half-started environment is torn down at once rather than left for the caller to find.
  trap 'rc=$?; if [ $rc != 0 ]; then say "up failed: stopping what it started"; down; fi' EXIT
  ip netns add "$NETNS"
  in_ns ip link set lo up

  rm -rf "$W/ovs"; mkdir -p "$W/ovs"
  ovsdb-tool create "$W/ovs/conf.db" /usr/share/openvswitch/vswitch.ovsschema
  in_ns ovsdb-server "$W/ovs/conf.db" --remote="punix:$W/ovs/db.sock" --remote=ptcp:6640:127.0.0.1 \
    --pidfile="$W/ovs/ovsdb-server.pid" --log-file="$W/ovs/ovsdb-server.log" -vconsole:off --detach
  in_ns ovs-vsctl --no-wait init
  in_ns ovs-vswitchd "unix:$W/ovs/db.sock" --pidfile="$W/ovs/ovs-vswitchd.pid" \
    --log-file="$W/ovs/ovs-vswitchd.log" -vconsole:off --detach
  say "Open vSwitch up ($W/ovs)"

  rm -rf "$W/mysql"; mkdir -p "$W/mysql"
  mariadb-install-db --no-defaults --datadir="$W/mysql/data" --user=root --skip-test-db >"$W/mysql/install.log" 2>&1 \
    || die "mariadb-install-db failed, see $W/mysql/install.log"
  in_ns setsid mariadbd --no-defaults --datadir="$W/mysql/data" --user=root --socket="$W/mysql/sock" \
    --bind-address=127.0.0.1 --port=3306 --pid-file="$W/mysql/pid" --log-error="$W/mysql/err.log" \
    --skip-log-bin </dev/null >/dev/null 2>&1 &
  wait_until 60 "MariaDB (see $W/mysql/err.log)" mariadb-admin --no-defaults --socket="$W/mysql/sock" -uroot ping
  # oslo.db's opportunistic MySQL fixture logs in as openstack_citest and creates a database per test.
  mariadb --no-defaults --socket="$W/mysql/sock" -uroot -e "
    CREATE USER 'openstack_citest'@'localhost' IDENTIFIED BY 'openstack_citest';
    CREATE USER 'openstack_citest'@'127.0.0.1' IDENTIFIED BY 'openstack_citest';
    GRANT ALL ON *.* TO 'openstack_citest'@'localhost' WITH GRANT OPTION;
    GRANT ALL ON *.* TO 'openstack_citest'@'127.0.0.1' WITH GRANT OPTION;
    CREATE DATABASE openstack_citest;"
  say "MariaDB up (127.0.0.1:3306 in $NETNS)"

  local r=$W/rabbit
  rm -rf "$r"; mkdir -p "$r/home" "$r/mnesia" "$r/log"
  head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$r/home/.erlang.cookie"
  chmod 400 "$r/home/.erlang.cookie"
  printf 'listeners.tcp.default = 127.0.0.1:5672\n' >"$r/rabbitmq.conf"
  printf '[].\n' >"$r/enabled_plugins"
  write_rabbit_env
  (. "$W/rabbit.env"; cd "$r"; in_ns setsid /usr/lib/rabbitmq/bin/rabbitmq-server </dev/null >"$r/out.log" 2>&1 &)
  wait_until 90 "RabbitMQ (see $r/log)" check
  say "RabbitMQ up (127.0.0.1:5672 in $NETNS)"
  trap - EXIT
}

check() {
  (. "$W/rabbit.env"; in_ns /usr/lib/rabbitmq/bin/rabbitmqctl -q status) >/dev/null 2>&1
}

down() {
  ip netns list | grep -qx "$NETNS\( (id: [0-9]*)\)\?" || { say "no namespace $NETNS: nothing to stop"; return 0; }
  stop_pid "$(pid_from "$W/rabbit/pid")" RabbitMQ
  stop_pid "$(pid_from "$W/mysql/pid")" MariaDB
  stop_pid "$(pid_from "$W/ovs/ovs-vswitchd.pid")" ovs-vswitchd
  stop_pid "$(pid_from "$W/ovs/ovsdb-server.pid")" ovsdb-server
  # What is left in the namespace is ours too: epmd, RabbitMQ's helpers, anything a test left.
  local pid
  for pid in $(ip netns pids "$NETNS"); do
    say "stopping leftover pid $pid: $(tr '\0' ' ' </proc/"$pid"/cmdline 2>/dev/null | cut -c1-120)"
    stop_pid "$pid" "leftover"
  done
  ip netns del "$NETNS"
  say "namespace $NETNS deleted"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  check) check ;;
  *) echo "usage: $0 up|down|check" >&2; exit 2 ;;
esac
