#!/usr/bin/env bash
# A local three-node RabbitMQ cluster, for the failover tests (npm run test:cluster). Each node has
# a node name of its own (tidings-<id>-<N>@localhost), free loopback ports (AMQP, Erlang
# distribution) picked at the first start and kept, and its own configuration, enabled-plugins
# file, data and logs under .cache/cluster/rabbitmq/node<N> (TIDINGS_CLUSTER_DIR moves it).
#
#   rabbitmq.sh start        start the nodes not running and wait for the cluster (the first start joins 2 and 3 to 1)
#   rabbitmq.sh stop         stop every node (SIGTERM, SIGKILL after RABBITMQ_STOP_TIMEOUT s, default 60)
#   rabbitmq.sh status       exit 0 when all nodes run their broker and are clustered, 3 when not
#   rabbitmq.sh kill N       SIGKILL node N (1-3), as a crash; `start` brings it back on its ports
#   rabbitmq.sh reset        stop, then wipe the ports and data
#   rabbitmq.sh leader Q     the number of the node that leads quorum queue Q (vhost /)
#   rabbitmq.sh ctl ARGS...  rabbitmqctl ARGS on a running node of this cluster
#
# The nodes share an Erlang cookie of their own (.cache/cluster/rabbitmq/home/.erlang.cookie), not
# the machine's: no rabbitmqctl of this script can reach the shared broker (rabbit@localhost, 5672).
# Ready means: every node's AMQP port answers and node 1 counts three running nodes.
# The tests read .cache/cluster/rabbitmq/state.json: {"nodes":[{"node","pid","port","dist","name","dir"}]}.
set -euo pipefail
BROKER=rabbitmq
# shellcheck source=tools/cluster/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
BROKER_DIR=$CLUSTER_ROOT/rabbitmq
NODES=3
NODE_LOG=rabbit.log
# Debian's /usr/sbin wrappers switch to the rabbitmq user, whose environment would drop the nodes'
# settings: the scripts behind them are run instead.
RABBITMQ_BIN=${RABBITMQ_SBIN:-/usr/lib/rabbitmq/bin}
START_TIMEOUT=${RABBITMQ_START_TIMEOUT:-180}
STOP_TIMEOUT=${RABBITMQ_STOP_TIMEOUT:-60}
HOME_DIR=$BROKER_DIR/home

# The node names carry a hash of the cluster's folder, so that two checkouts' clusters differ in epmd.
CLUSTER_ID=$(printf '%s' "$BROKER_DIR" | cksum | cut -c1-6)
node_name() { echo "tidings-$CLUSTER_ID-$1@localhost"; }
# An init argument of the node's own, which Erlang ignores: what its beam.smp command line shows.
node_marker() { echo "-tidings_cluster_node $(node_dir "$1")"; }
# ports file: amqp dist
port_of() { local -a p; read -r -a p <"$(node_dir "$1")/ports"; echo "${p[$2]}"; }
node_ports_json() { echo "\"port\":$(port_of "$1" 0),\"dist\":$(port_of "$1" 1),\"name\":\"$(node_name "$1")\""; }
node_ports_text() { echo "$(node_name "$1"), AMQP $(port_of "$1" 0), distribution $(port_of "$1" 1)"; }

# The environment of node N's server and of every CLI call (into NODE_ENV): its own files, never
# the machine's.
node_env() {
  local n=$1 d
  d=$(node_dir "$n")
  NODE_ENV=(HOME="$HOME_DIR"
    RABBITMQ_CONF_ENV_FILE="$d/rabbitmq-env.conf"
    RABBITMQ_NODENAME="$(node_name "$n")"
    RABBITMQ_NODE_IP_ADDRESS="$HOST"
    RABBITMQ_NODE_PORT="$(port_of "$n" 0)"
    RABBITMQ_DIST_PORT="$(port_of "$n" 1)"
    RABBITMQ_MNESIA_BASE="$d/mnesia"
    RABBITMQ_LOG_BASE="$d/log"
    RABBITMQ_CONFIG_FILE="$d/rabbitmq"
    RABBITMQ_ADVANCED_CONFIG_FILE="$d/advanced.config"
    RABBITMQ_ENABLED_PLUGINS_FILE="$d/enabled_plugins"
    RABBITMQ_PID_FILE="$d/pid"
    ERL_EPMD_ADDRESS="$HOST")
}

# rabbitmqctl (or another CLI: RABBITMQ_CLI) against node N; quiet, bounded.
ctl_on() {
  local n=$1
  shift
  node_env "$n"
  env "${NODE_ENV[@]}" timeout 60 "$RABBITMQ_BIN/${RABBITMQ_CLI:-rabbitmqctl}" -q -n "$(node_name "$n")" "$@"
}

# First node whose broker runs, for questions about the whole cluster.
running_node() {
  local n
  for ((n = 1; n <= NODES; n++)); do
    node_pid "$n" >/dev/null && port_open "$(port_of "$n" 0)" && echo "$n" && return 0
  done
  return 1
}

cluster_ready() {
  local n running
  for ((n = 1; n <= NODES; n++)); do
    node_pid "$n" >/dev/null || return 1
    port_open "$(port_of "$n" 0)" || return 1
  done
  running=$(ctl_on 1 eval 'length(rabbit_nodes:all_running()).' 2>/dev/null) || return 1
  [[ $running == "$NODES" ]]
}

write_config() {
  local n=$1 d
  d=$(node_dir "$n")
  mkdir -p "$d/mnesia" "$d/log"
  cat >"$d/rabbitmq.conf" <<CONF
# Written by tools/cluster/rabbitmq.sh at every start: edit the script, not this file.
listeners.tcp.local = $HOST:$(port_of "$n" 0)
# A crashed node's peers see its sockets close at once; quorum queues elect a new leader then.
cluster_partition_handling = ignore
# Three brokers on one small machine: none should refuse publishers over a shared disk's free space.
disk_free_limit.absolute = 50MB
CONF
  echo '[].' >"$d/enabled_plugins"
  echo '[].' >"$d/advanced.config"
  # An empty environment file: the machine's one (/etc/rabbitmq/rabbitmq-env.conf) names the shared node.
  : >"$d/rabbitmq-env.conf"
}

# The cluster's own Erlang cookie, made once.
make_cookie() {
  mkdir -p "$HOME_DIR"
  if [[ ! -s $HOME_DIR/.erlang.cookie ]]; then
    (umask 077 && head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' | tr 'a-f' 'A-F' >"$HOME_DIR/.erlang.cookie")
    chmod 400 "$HOME_DIR/.erlang.cookie"
  fi
}

start_node() {
  local n=$1 d
  d=$(node_dir "$n")
  write_config "$n"
  say "starting node $n ($(node_ports_text "$n"))"
  rm -f "$d/pid"
  # Distribution on loopback only, as the AMQP listener. The launcher's pid is the server script's; the broker writes its beam.smp's own pid to $d/pid,
  # the pid every later command signals.
  node_env "$n"
  launch_detached "$d/launcher.pid" "$d/$NODE_LOG" env "${NODE_ENV[@]}" \
    RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="$(node_marker "$n") -kernel inet_dist_use_interface {127,0,0,1}" \
    "$RABBITMQ_BIN/rabbitmq-server"
}

# Waits until node N's broker runs (its beam wrote the pid file and the AMQP port answers).
await_node() {
  local n=$1 deadline=$((SECONDS + START_TIMEOUT)) launcher
  launcher=$(<"$(node_dir "$n")/launcher.pid")
  until node_pid "$n" >/dev/null && port_open "$(port_of "$n" 0)"; do
    if ! kill -0 "$launcher" 2>/dev/null && ! node_pid "$n" >/dev/null; then
      show_logs
      die "node $n exited during startup"
    fi
    ((SECONDS < deadline)) || {
      show_logs
      die "node $n did not start within ${START_TIMEOUT}s"
    }
    sleep 0.25
  done
}

cmd_start() {
  local t0 n started=()
  t0=$(now_ms)
  [[ -x $RABBITMQ_BIN/rabbitmq-server ]] || die "$RABBITMQ_BIN/rabbitmq-server not found (set RABBITMQ_SBIN)"
  make_cookie
  for ((n = 1; n <= NODES; n++)); do
    mkdir -p "$(node_dir "$n")"
    [[ -s $(node_dir "$n")/ports ]] || echo "$(free_port) $(free_port)" >"$(node_dir "$n")/ports"
  done
  for ((n = 1; n <= NODES; n++)); do
    node_pid "$n" >/dev/null && continue
    local p
    for p in $(<"$(node_dir "$n")/ports"); do
      port_taken "$p" && die "port $p of node $n is taken by another process; '$0 reset' picks new ports"
    done
    start_node "$n"
    started+=("$n")
  done
  if ((${#started[@]} == 0)); then
    say "all nodes already running"
  else
    for n in "${started[@]}"; do await_node "$n"; done
  fi
  # The first start joins nodes 2 and 3 to node 1; afterwards each node knows its cluster from
  # its data, and a restarted one rejoins by itself.
  for ((n = 2; n <= NODES; n++)); do
    [[ -f $(node_dir "$n")/joined ]] && continue
    say "joining node $n to node 1"
    ctl_on "$n" stop_app >/dev/null
    ctl_on "$n" join_cluster "$(node_name 1)" >/dev/null
    ctl_on "$n" start_app >/dev/null
    touch "$(node_dir "$n")/joined"
  done
  wait_cluster "$t0"
}

# `leader Q`: which node leads quorum queue Q, as a node number.
cmd_leader() {
  local queue=${1:-} n listing leader m
  [[ -n $queue ]] || die "leader needs a queue name"
  n=$(running_node) || die "no node is running"
  listing=$(ctl_on "$n" list_queues --no-table-headers name leader) || die "list_queues failed on node $n"
  leader=$(awk -F'\t' -v q="$queue" '$1 == q { print $2 }' <<<"$listing")
  [[ -n $leader ]] || die "no quorum queue named \"$queue\" (or it has no leader)"
  for ((m = 1; m <= NODES; m++)); do
    if [[ $leader == "$(node_name "$m")" ]]; then
      echo "$m"
      return 0
    fi
  done
  die "queue \"$queue\" is led by $leader, not a node of this cluster"
}

cmd_ctl() {
  local n
  n=$(running_node) || die "no node is running"
  ctl_on "$n" "$@"
}

case ${1:-} in
  leader) cmd_leader "${2:-}" ;;
  ctl)
    shift
    cmd_ctl "$@"
    ;;
  *) main "$@" ;;
esac
