#!/usr/bin/env bash
# A local three-node NATS cluster with JetStream, for the failover tests (npm run test:cluster).
# Each node has free loopback ports (client, cluster route, monitoring) picked at the first start
# and kept, and its own store under .cache/cluster/nats/node<N> (TIDINGS_CLUSTER_DIR moves it).
#
#   nats.sh start     start the nodes not running (all, or one killed before) and wait for the cluster
#   nats.sh stop      stop every node (SIGTERM, SIGKILL after NATS_STOP_TIMEOUT s, default 15)
#   nats.sh status    exit 0 when all nodes run and JetStream has a meta leader, 3 when not
#   nats.sh kill N    SIGKILL node N (1-3), as a crash; `start` brings it back on its ports
#   nats.sh reset     stop, then wipe the ports and stores
#
# Ready means: every node's /healthz is ok and its /jsz names a meta leader of a 3-node cluster.
# The tests read .cache/cluster/nats/state.json: {"nodes":[{"node","pid","port","cluster","monitor","dir"}]}.
set -euo pipefail
BROKER=nats
# shellcheck source=tools/cluster/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
BROKER_DIR=$CLUSTER_ROOT/nats
NODES=3
NODE_LOG=nats.log
NATS_SERVER=${NATS_SERVER_BIN:-$(command -v nats-server || echo /usr/sbin/nats-server)}
START_TIMEOUT=${NATS_START_TIMEOUT:-60}
STOP_TIMEOUT=${NATS_STOP_TIMEOUT:-15}

node_marker() { echo "-c $(node_dir "$1")/nats.conf"; }
# ports file: client cluster monitor
port_of() { local -a p; read -r -a p <"$(node_dir "$1")/ports"; echo "${p[$2]}"; }
node_ports_json() { echo "\"port\":$(port_of "$1" 0),\"cluster\":$(port_of "$1" 1),\"monitor\":$(port_of "$1" 2)"; }
node_ports_text() { echo "client $(port_of "$1" 0), cluster $(port_of "$1" 1), monitoring $(port_of "$1" 2)"; }

http_get() { curl -fsS --max-time 2 "http://$HOST:$1$2" 2>/dev/null; }

node_ready() {
  local m jsz
  m=$(port_of "$1" 2)
  http_get "$m" /healthz | grep -q '"ok"' || return 1
  jsz=$(http_get "$m" /jsz) || return 1
  # "meta_cluster": {"name": ..., "leader": "n2", "cluster_size": 3, ...}
  grep -Eq '"leader": *"[^"]+"' <<<"$jsz" && grep -Eq '"cluster_size": *3' <<<"$jsz"
}

cluster_ready() {
  local n
  for ((n = 1; n <= NODES; n++)); do node_ready "$n" || return 1; done
}

write_config() {
  local n=$1 d routes="" m
  d=$(node_dir "$n")
  for ((m = 1; m <= NODES; m++)); do
    ((m == n)) && continue
    routes+="    nats-route://$HOST:$(port_of "$m" 1)"$'\n'
  done
  cat >"$d/nats.conf" <<CONF
# Written by tools/cluster/nats.sh at every start: edit the script, not this file.
server_name: n$n
listen: $HOST:$(port_of "$n" 0)
http: $HOST:$(port_of "$n" 2)
pid_file: "$d/nats-server.pid"
jetstream {
  store_dir: "$d/store"
  max_memory_store: 256MB
  max_file_store: 4GB
}
cluster {
  name: tidings-cluster
  listen: $HOST:$(port_of "$n" 1)
  routes: [
$routes  ]
}
CONF
}

cmd_start() {
  local t0 n started=0
  t0=$(now_ms)
  [[ -x $NATS_SERVER ]] || die "nats-server not found (set NATS_SERVER_BIN)"
  command -v curl >/dev/null || die "curl is needed to ask the nodes' monitoring ports"
  for ((n = 1; n <= NODES; n++)); do
    mkdir -p "$(node_dir "$n")/store"
    [[ -s $(node_dir "$n")/ports ]] || echo "$(free_port) $(free_port) $(free_port)" >"$(node_dir "$n")/ports"
  done
  for ((n = 1; n <= NODES; n++)); do
    node_pid "$n" >/dev/null && continue
    local p
    for p in $(<"$(node_dir "$n")/ports"); do
      port_taken "$p" && die "port $p of node $n is taken by another process; '$0 reset' picks new ports"
    done
    write_config "$n"
    say "starting node $n ($(node_ports_text "$n"))"
    launch_detached "$(node_dir "$n")/pid" "$(node_dir "$n")/$NODE_LOG" "$NATS_SERVER" -c "$(node_dir "$n")/nats.conf"
    started=$((started + 1))
  done
  ((started > 0)) || say "all nodes already running"
  wait_cluster "$t0"
}

main "$@"
