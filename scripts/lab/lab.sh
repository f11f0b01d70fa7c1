#!/usr/bin/env bash
# A real neutron-server 21 (Zed) for end-to-end tests and the demo: MariaDB (unix socket only),
# a private RabbitMQ node and neutron-server (noauth; ML2 openvswitch + l2population; type drivers
# flat, vlan physnet1:100:199, vxlan 1:1000 as the tenant default, gre 1:1000, geneve 1:1000; the
# QoS service plugin and the ml2 qos extension driver unless LAB_QOS=0; the trunk service plugin
# unless LAB_TRUNK=0), all state under $LAB_DIR, every listener on 127.0.0.1. Debian 12, as root,
# after scripts/lab/install.sh.
#
#   lab.sh up                    start (idempotent); prints the endpoints
#   lab.sh down                  stop what this lab started (nothing else) and keep $LAB_DIR
#   lab.sh api METHOD PATH [JSON]   call the API with the headers noauth wants
#   lab.sh status                exit 0 when the API answers
#
# Environment (read by `up`; later commands read $LAB_DIR/lab.env):
#   LAB_DIR (/tmp/ovs-agent-lab)  RABBIT_PORT (5672)  API_PORT (9696)
#   RABBIT_DIST_PORT (RABBIT_PORT+20000)  EPMD_PORT (RABBIT_PORT+20001): Erlang distribution and
#   a private epmd, so nothing is shared with another RabbitMQ on the machine.
#   LAB_CACHE (/var/tmp/ovs-agent-lab): migrated database templates, one per neutron/MariaDB version.
#   LAB_QOS (1): 1 = neutron's `qos` service plugin and ml2 `qos` extension driver, as clouds with
#   QoS run; 0 = neither (the QoS API then answers 404). Recorded in lab.env.
#   LAB_LOCAL_IP (0): 1 = neutron's `local_ip` service plugin too (the /v2.0/local_ips API and
#   LocalIPAssociation pushes to the agents' local_ip extension). Recorded in lab.env.
#   LAB_TRUNK (1): 1 = neutron's `trunk` service plugin (VLAN-aware VMs, /v2.0/trunks), as clouds
#   running Kubernetes or VNFs on OpenStack do; 0 = off (/v2.0/trunks answers 404). In lab.env.
#   LAB_DVR (0): 1 = neutron's `router` service plugin too, with `router_distributed = True`
#   (new routers are distributed), for DVR tests with neutron-l3-agent. Recorded in lab.env.
#   LAB_LOG (1): 1 = neutron's `log` service plugin (security-group logging, /v2.0/log/logs and the
#   logging-plugin RPC the agents' log extension calls); 0 = without it. Recorded in lab.env.
#
# Every daemon gets OVS_AGENT_LAB_DIR=$LAB_DIR in its environment; `down` stops exactly the
# processes carrying that mark (RabbitMQ's epmd and helpers, neutron's workers included).
set -euo pipefail

L=${LAB_DIR:-/tmp/ovs-agent-lab}
CACHE=${LAB_CACHE:-/var/tmp/ovs-agent-lab}
PY=/usr/bin/python3 # the system python that has neutron (a pyenv one may come first in PATH)

log() { printf 'lab: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
T0=$(now_ms)
step() { log "$1 ($(( $(now_ms) - T0 )) ms)"; }

# wait_for SECONDS WHAT COMMAND...: poll every 0.1 s
wait_for() {
  local s=$1 what=$2; shift 2
  local end=$(( $(now_ms) + s * 1000 ))
  until "$@" >/dev/null 2>&1; do
    [ "$(now_ms)" -lt "$end" ] || { log "$what did not come up within ${s}s (logs in $L)"; return 1; }
    sleep 0.1
  done
}
tcp_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
# alive and not a zombie (nothing may reap daemons' zombies promptly here, and kill -0 sees them)
pid_alive() {
  local st
  [ -n "${1:-}" ] && st=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  st=${st##*) }
  [ "${st:0:1}" != Z ]
}
pid_of() { [ -s "$1" ] && cat "$1" || true; }

load_env() {
  if [ -f "$L/lab.env" ]; then
    # shellcheck source=/dev/null
    . "$L/lab.env"
  else
    RABBIT_PORT=${RABBIT_PORT:-5672}
    API_PORT=${API_PORT:-9696}
    RABBIT_DIST_PORT=${RABBIT_DIST_PORT:-$((RABBIT_PORT + 20000))}
    EPMD_PORT=${EPMD_PORT:-$((RABBIT_PORT + 20001))}
    LAB_QOS=${LAB_QOS:-1}
    LAB_LOCAL_IP=${LAB_LOCAL_IP:-0}
    LAB_TRUNK=${LAB_TRUNK:-1}
    LAB_DVR=${LAB_DVR:-0}
    LAB_LOG=${LAB_LOG:-1}
  fi
}

mariadb_start() { # DATADIR SOCKET PIDFILE ERRLOG
  # Test data: durability traded for speed; no TCP at all.
  env OVS_AGENT_LAB_DIR="$L" mariadbd --no-defaults --datadir="$1" --socket="$2" --pid-file="$3" \
    --log-error="$4" --skip-networking --user=root --skip-log-bin --innodb-buffer-pool-size=64M \
    --innodb-log-file-size=16M --innodb-flush-log-at-trx-commit=0 --innodb-doublewrite=0 \
    --innodb-flush-method=nosync --character-set-server=utf8mb3 </dev/null >/dev/null 2>&1 &
  wait_for 30 "MariaDB ($1)" test -S "$2"
}
stop_pid() { # PID WHAT: SIGTERM, wait up to 20 s, then SIGKILL
  local pid=$1
  pid_alive "$pid" || return 0
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 200); do pid_alive "$pid" || return 0; sleep 0.1; done
  log "$2 (pid $pid) ignored SIGTERM for 20 s: killing"
  kill -9 "$pid" 2>/dev/null || true
}

write_neutron_conf() { # DIR SOCKET -> neutron.conf, ml2_conf.ini in DIR
  local plugins='' extensions=port_security
  case ${LAB_QOS:-1} in
  1) plugins=qos extensions=port_security,qos ;;
  0) ;;
  *) die "LAB_QOS must be 0 or 1, not '$LAB_QOS'" ;;
  esac
  case ${LAB_LOCAL_IP:-0} in
  1) plugins=${plugins:+$plugins,}local_ip ;;
  0) ;;
  *) die "LAB_LOCAL_IP must be 0 or 1, not '$LAB_LOCAL_IP'" ;;
  esac
  case ${LAB_TRUNK:-1} in
  1) plugins=${plugins:+$plugins,}trunk ;;
  0) ;;
  *) die "LAB_TRUNK must be 0 or 1, not '$LAB_TRUNK'" ;;
  esac
  local dvr=''
  case ${LAB_DVR:-0} in
  1) plugins="router${plugins:+,$plugins}" dvr='router_distributed = True' ;;
  0) ;;
  *) die "LAB_DVR must be 0 or 1, not '$LAB_DVR'" ;;
  esac
  case ${LAB_LOG:-1} in
  1) plugins=${plugins:+$plugins,}log ;;
  0) ;;
  *) die "LAB_LOG must be 0 or 1, not '$LAB_LOG'" ;;
  esac
  cat >"$1/neutron.conf" <<CONF
[DEFAULT]
core_plugin = ml2
service_plugins = $plugins
auth_strategy = noauth
bind_host = 127.0.0.1
bind_port = ${API_PORT:-9696}
transport_url = rabbit://guest:guest@127.0.0.1:${RABBIT_PORT:-5672}/
notify_nova_on_port_status_changes = False
notify_nova_on_port_data_changes = False
api_workers = 1
rpc_workers = 1
rpc_state_report_workers = 1
host = controller
state_path = $1/state
$dvr
[database]
connection = mysql+pymysql://root@localhost/neutron?unix_socket=$2
[oslo_concurrency]
lock_path = $1/lock
[agent]
report_interval = 30
[quotas]
# A lab, not a cloud: the benchmarks create thousands of ports in one project (default: 500 ports).
quota_network = -1
quota_subnet = -1
quota_port = -1
CONF
  cat >"$1/ml2_conf.ini" <<CONF
[ml2]
type_drivers = flat,vlan,vxlan,gre,geneve
tenant_network_types = vxlan
mechanism_drivers = openvswitch,l2population
extension_drivers = $extensions
[ml2_type_flat]
flat_networks = *
[ml2_type_vlan]
network_vlan_ranges = physnet1:100:199
[ml2_type_vxlan]
vni_ranges = 1:1000
[ml2_type_gre]
tunnel_id_ranges = 1:1000
[ml2_type_geneve]
vni_ranges = 1:1000
# neutron's default (30: Geneve's header with no options): what it takes off a Geneve network's MTU.
max_header_size = 30
CONF
}

# A MariaDB data directory with the neutron schema at "heads", built once per (neutron, MariaDB)
# version and copied for each lab: saves mariadb-install-db (~1 s) and neutron-db-manage (~7 s).
db_template() {
  local key tpl b
  key=$(dpkg-query -W -f='${Version} ' python3-neutron mariadb-server | md5sum | cut -c1-12)
  tpl=$CACHE/db-$key
  if [ -d "$tpl" ]; then echo "$tpl"; return 0; fi
  mkdir -p "$CACHE"
  exec 8>"$CACHE/build.lock"
  flock 8
  if [ -d "$tpl" ]; then exec 8>&-; echo "$tpl"; return 0; fi
  b=$(mktemp -d "$CACHE/build.XXXXXX")
  mariadb-install-db --no-defaults --datadir="$b/mysql" --user=root --auth-root-authentication-method=normal \
    --skip-test-db >"$b/install.log" 2>&1 || { cat "$b/install.log" >&2; die "mariadb-install-db failed"; }
  mariadb_start "$b/mysql" "$b/mysql.sock" "$b/mysql.pid" "$b/mysql.err"
  mariadb --no-defaults --socket="$b/mysql.sock" -uroot -e "CREATE DATABASE neutron CHARACTER SET utf8mb3"
  mkdir -p "$b/state" "$b/lock"
  write_neutron_conf "$b" "$b/mysql.sock"
  if ! "$PY" /usr/bin/neutron-db-manage --config-file "$b/neutron.conf" --config-file "$b/ml2_conf.ini" \
      upgrade heads >"$b/db-manage.log" 2>&1; then
    tail -20 "$b/db-manage.log" >&2
    stop_pid "$(pid_of "$b/mysql.pid")" "template MariaDB"
    die "neutron-db-manage upgrade heads failed (log kept in $b)"
  fi
  stop_pid "$(pid_of "$b/mysql.pid")" "template MariaDB" # a clean shutdown: the files are consistent
  mv -T "$b/mysql" "$tpl"
  rm -rf "$b"
  exec 8>&-
  echo "$tpl"
}

start_rabbit() {
  mkdir -p "$L/rabbit/mnesia" "$L/rabbit/log"
  cat >"$L/rabbit/rabbitmq.conf" <<CONF
listeners.tcp.1 = 127.0.0.1:$RABBIT_PORT
loopback_users.guest = true
log.file.level = info
CONF
  : >"$L/rabbit/enabled_plugins"
  # Run as root with HOME in the lab: its own Erlang cookie, no rabbitmq-user file ownership
  # games. Erlang distribution and epmd bound to loopback on ports of our own. No scheduler busy
  # waiting: on a small shared machine it only steals CPU from neutron-server and the tests.
  env OVS_AGENT_LAB_DIR="$L" HOME="$L/rabbit" \
    RABBITMQ_NODENAME="lab$RABBIT_PORT@localhost" RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 \
    RABBITMQ_NODE_PORT="$RABBIT_PORT" RABBITMQ_DIST_PORT="$RABBIT_DIST_PORT" \
    ERL_EPMD_PORT="$EPMD_PORT" ERL_EPMD_ADDRESS=127.0.0.1 \
    RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1} +sbwt none +sbwtdcpu none +sbwtdio none" \
    RABBITMQ_CONF_ENV_FILE=/dev/null RABBITMQ_CONFIG_FILE="$L/rabbit/rabbitmq.conf" \
    RABBITMQ_ADVANCED_CONFIG_FILE="$L/rabbit/advanced.config" \
    RABBITMQ_MNESIA_BASE="$L/rabbit/mnesia" RABBITMQ_LOG_BASE="$L/rabbit/log" \
    RABBITMQ_PID_FILE="$L/rabbit/pid" RABBITMQ_FEATURE_FLAGS_FILE="$L/rabbit/feature_flags" \
    RABBITMQ_ENABLED_PLUGINS_FILE="$L/rabbit/enabled_plugins" \
    setsid /usr/lib/rabbitmq/bin/rabbitmq-server </dev/null >"$L/rabbit/out.log" 2>&1 &
}

up() {
  command -v neutron-server >/dev/null && command -v mariadbd >/dev/null && [ -x /usr/lib/rabbitmq/bin/rabbitmq-server ] \
    || die "neutron-server, MariaDB or RabbitMQ missing: run scripts/lab/install.sh"
  [ "$(id -u)" = 0 ] || die "must run as root"
  [ ${#L} -le 80 ] || die "LAB_DIR too long for a unix socket path: $L"
  load_env
  [ "$RABBIT_DIST_PORT" -le 65535 ] && [ "$EPMD_PORT" -le 65535 ] || die "set RABBIT_DIST_PORT and EPMD_PORT (<= 65535)"
  mkdir -p "$L/state" "$L/lock"
  chmod 755 "$L"
  cat >"$L/lab.env" <<ENV
RABBIT_PORT=$RABBIT_PORT
API_PORT=$API_PORT
RABBIT_DIST_PORT=$RABBIT_DIST_PORT
EPMD_PORT=$EPMD_PORT
LAB_QOS=${LAB_QOS:-1}
LAB_LOCAL_IP=${LAB_LOCAL_IP:-0}
LAB_TRUNK=${LAB_TRUNK:-1}
LAB_DVR=${LAB_DVR:-0}
LAB_LOG=${LAB_LOG:-1}
ENV

  # RabbitMQ boots slowest and neutron-server reconnects to it by itself: start it first, in parallel.
  if ! pid_alive "$(pid_of "$L/rabbit/pid")"; then
    tcp_open "$RABBIT_PORT" && die "port $RABBIT_PORT is taken by something else"
    rm -f "$L/rabbit/pid"
    start_rabbit
    step "RabbitMQ starting on 127.0.0.1:$RABBIT_PORT"
  fi

  if ! [ -S "$L/mysql.sock" ] || ! pid_alive "$(pid_of "$L/mysql.pid")"; then
    rm -f "$L/mysql.sock"
    if ! [ -d "$L/mysql" ]; then
      local tpl
      tpl=$(db_template)
      cp -a "$tpl" "$L/mysql"
      step "database copied from $tpl"
    fi
    mariadb_start "$L/mysql" "$L/mysql.sock" "$L/mysql.pid" "$L/mysql.err"
    step "MariaDB up on $L/mysql.sock"
  fi

  write_neutron_conf "$L" "$L/mysql.sock"
  if ! pid_alive "$(pid_of "$L/server.pid")"; then
    tcp_open "$API_PORT" && die "port $API_PORT is taken by something else"
    env OVS_AGENT_LAB_DIR="$L" setsid "$PY" /usr/bin/neutron-server --config-file "$L/neutron.conf" \
      --config-file "$L/ml2_conf.ini" --log-file "$L/server.log" </dev/null >"$L/server.out" 2>&1 &
    echo $! >"$L/server.pid"
    step "neutron-server starting"
  fi
  wait_for 60 "RabbitMQ (see $L/rabbit/log)" tcp_open "$RABBIT_PORT"
  step "RabbitMQ up"
  local end=$(( $(now_ms) + 90000 ))
  until curl -sf -o /dev/null "http://127.0.0.1:$API_PORT/v2.0/networks" -H "X-Project-Id: lab" -H "X-Roles: admin"; do
    pid_alive "$(pid_of "$L/server.pid")" || { tail -20 "$L/server.log" "$L/server.out" >&2 2>/dev/null; die "neutron-server exited during start-up"; }
    [ "$(now_ms)" -lt "$end" ] || die "neutron-server did not answer within 90 s (see $L/server.log)"
    sleep 0.2
  done
  step "neutron-server up"
  echo "neutron-server http://127.0.0.1:$API_PORT (noauth)"
  echo "transport_url rabbit://guest:guest@127.0.0.1:$RABBIT_PORT/"
  echo "state $L"
}

# Pids of processes carrying this lab's mark, except this script's own.
# (one grep over all of /proc: processes come and go while it reads, -s keeps that quiet)
marked_pids() {
  local f pid
  for f in $(grep -lsxzF "OVS_AGENT_LAB_DIR=$L" /proc/[0-9]*/environ); do
    pid=${f#/proc/}; pid=${pid%/environ}
    [ "$pid" = $$ ] || echo "$pid"
  done
}

down() {
  load_env
  # The order matters: neutron-server first (it would log errors about the others going away).
  stop_pid "$(pid_of "$L/server.pid")" neutron-server
  step "neutron-server stopped"
  stop_pid "$(pid_of "$L/rabbit/pid")" RabbitMQ
  step "RabbitMQ stopped"
  stop_pid "$(pid_of "$L/mysql.pid")" MariaDB
  step "MariaDB stopped"
  local left
  left=$(marked_pids)
  if [ -n "$left" ]; then
    log "also stopping: $(for p in $left; do printf '%s ' "$(tr '\0' ' ' </proc/"$p"/cmdline 2>/dev/null | cut -c1-40)"; done)"
    # epmd, Erlang port helpers, neutron workers: ours too, by the mark
    # shellcheck disable=SC2086
    kill $left 2>/dev/null || true
    for _ in $(seq 1 50); do
      left=$(for p in $left; do if pid_alive "$p"; then echo "$p"; fi; done)
      [ -z "$left" ] && break
      sleep 0.1
    done
    # shellcheck disable=SC2086
    [ -z "$left" ] || kill -9 $left 2>/dev/null || true
  fi
  rm -f "$L/server.pid" "$L/mysql.sock"
  step "lab in $L stopped"
}

api() {
  load_env
  [ $# -ge 2 ] || die "usage: lab.sh api METHOD PATH [JSON]"
  curl -sS -X "$1" "http://127.0.0.1:$API_PORT$2" -H "X-Project-Id: lab" -H "X-Roles: admin" \
    -H "Content-Type: application/json" ${3:+-d "$3"}
  echo
}

case "${1:-}" in
up) up ;;
down) down ;;
api) shift; api "$@" ;;
status) load_env; curl -sf -o /dev/null "http://127.0.0.1:$API_PORT/" ;;
*) sed -n 2,22p "$0" >&2; exit 2 ;;
esac
