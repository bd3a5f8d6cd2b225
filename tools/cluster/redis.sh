#!/usr/bin/env bash
# A local Redis Cluster of three primaries and three replicas (six redis-server --cluster-enabled
# yes, joined by redis-cli --cluster create --cluster-replicas 1), for the cluster tests. Each node
# has a free loopback port (and port+10000 free for the cluster bus) picked at the first start and
# kept, its own folder (nodes.conf, append-only file) under .cache/cluster/redis/node<N>
# (TIDINGS_CLUSTER_DIR moves it).
#
#   redis.sh start     start the nodes not running (all, or one killed before) and wait for the cluster
#   redis.sh stop      stop every node (SIGTERM, SIGKILL after REDIS_STOP_TIMEOUT s, default 15)
#   redis.sh status    exit 0 when every node says cluster_state:ok, 3 when not
#   redis.sh kill N    SIGKILL node N (1-6), as a crash; `start` brings it back (it rejoins as a replica
#                      when its replica took over meanwhile)
#   redis.sh reset     stop, then wipe the ports and data
#
# The tests read .cache/cluster/redis/state.json: {"nodes":[{"node","pid","port","dir"}]}.
set -euo pipefail
BROKER=redis-cluster
# shellcheck source=tools/cluster/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
BROKER_DIR=$CLUSTER_ROOT/redis
NODES=6
NODE_LOG=redis.log
REDIS_SERVER=${REDIS_SERVER_BIN:-$(command -v redis-server || echo /usr/bin/redis-server)}
REDIS_CLI=${REDIS_CLI_BIN:-$(command -v redis-cli || echo /usr/bin/redis-cli)}
START_TIMEOUT=${REDIS_START_TIMEOUT:-60}
STOP_TIMEOUT=${REDIS_STOP_TIMEOUT:-15}

# redis-server sets its process title to "<binary> 127.0.0.1:<port> [cluster]": the port is ours.
node_marker() { echo "$HOST:$(port_of "$1") [cluster]"; }
port_of() { cat "$(node_dir "$1")/ports"; }
node_ports_json() { echo "\"port\":$(port_of "$1")"; }
node_ports_text() { echo "port $(port_of "$1"), bus $(($(port_of "$1") + 10000))"; }

cli() { timeout 5 "$REDIS_CLI" -h "$HOST" -p "$1" "${@:2}" 2>/dev/null; }

cluster_ready() {
  local n info
  [[ -f $BROKER_DIR/created ]] || return 1
  for ((n = 1; n <= NODES; n++)); do
    info=$(cli "$(port_of "$n")" CLUSTER INFO) || return 1
    grep -q '^cluster_state:ok' <<<"$info" || return 1
    grep -q "^cluster_known_nodes:$NODES" <<<"$info" || return 1
  done
}

write_config() {
  local n=$1 d
  d=$(node_dir "$n")
  cat >"$d/redis.conf" <<CONF
# Written by tools/cluster/redis.sh at every start: edit the script, not this file.
bind $HOST
port $(port_of "$n")
dir $d
cluster-enabled yes
cluster-config-file $d/nodes.conf
# A primary silent this long is failed over to its replica.
cluster-node-timeout 5000
appendonly yes
appendfsync everysec
save ""
daemonize no
logfile ""
CONF
}

cmd_start() {
  local t0 n started=0 p addrs=() deadline
  t0=$(now_ms)
  [[ -x $REDIS_SERVER && -x $REDIS_CLI ]] || die "redis-server and redis-cli are needed (REDIS_SERVER_BIN, REDIS_CLI_BIN)"
  mkdir -p "$BROKER_DIR"
  for ((n = 1; n <= NODES; n++)); do
    mkdir -p "$(node_dir "$n")"
    [[ -s $(node_dir "$n")/ports ]] || free_port 10000 >"$(node_dir "$n")/ports"
  done
  for ((n = 1; n <= NODES; n++)); do
    node_pid "$n" >/dev/null && continue
    p=$(port_of "$n")
    for p in "$p" "$((p + 10000))"; do
      port_taken "$p" && die "port $p of node $n is taken by another process; '$0 reset' picks new ports"
    done
    write_config "$n"
    say "starting node $n ($(node_ports_text "$n"))"
    launch_detached "$(node_dir "$n")/pid" "$(node_dir "$n")/$NODE_LOG" "$REDIS_SERVER" "$(node_dir "$n")/redis.conf"
    started=$((started + 1))
  done
  ((started > 0)) || say "all nodes already running"
  if [[ ! -f $BROKER_DIR/created ]]; then
    deadline=$((SECONDS + START_TIMEOUT))
    for ((n = 1; n <= NODES; n++)); do
      until [[ $(cli "$(port_of "$n")" PING) == PONG ]]; do
        ((SECONDS < deadline)) || {
          show_logs
          die "node $n does not answer PING"
        }
        sleep 0.1
      done
      addrs+=("$HOST:$(port_of "$n")")
    done
    say "joining the nodes: 3 primaries, 3 replicas"
    "$REDIS_CLI" --cluster create "${addrs[@]}" --cluster-replicas 1 --cluster-yes >"$BROKER_DIR/create.log" 2>&1 || {
      cat "$BROKER_DIR/create.log" >&2
      die "redis-cli --cluster create failed"
    }
    touch "$BROKER_DIR/created"
  fi
  wait_cluster "$t0"
}

main "$@"
