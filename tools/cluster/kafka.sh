#!/usr/bin/env bash
# A local three-node Kafka cluster (KRaft, each node broker and controller) for the failover tests
# (npm run test:cluster), from the jars tools/kafka/kafka.sh installs into .cache/kafka. Each node
# has free loopback ports (client, controller) picked at the first start and kept, its own data
# under .cache/cluster/kafka/node<N> (TIDINGS_CLUSTER_DIR moves it) and a heap of
# KAFKA_CLUSTER_HEAP (default -Xmx384m -Xms384m). Topics default to 3 replicas and
# min.insync.replicas=2, so one node may die without losing an acknowledged (acks=all) record.
#
#   kafka.sh start     start the nodes not running (all, or one killed before) and wait for the cluster
#   kafka.sh stop      stop every node (SIGTERM to all at once, SIGKILL after KAFKA_STOP_TIMEOUT s, default 30)
#   kafka.sh status    exit 0 when every node answers a metadata request with 3 brokers, 3 when not
#   kafka.sh kill N    SIGKILL node N (1-3), as a crash; `start` brings it back on its ports
#   kafka.sh reset     stop, then wipe the ports and data
#
# The tests read .cache/cluster/kafka/state.json: {"nodes":[{"node","pid","port","controller","dir"}]}.
set -euo pipefail
BROKER=kafka-cluster
# shellcheck source=tools/cluster/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
BROKER_DIR=$CLUSTER_ROOT/kafka
NODES=3
NODE_LOG=kafka.out
LIBS_DIR=$REPO_ROOT/.cache/kafka/libs
START_TIMEOUT=${KAFKA_START_TIMEOUT:-120}
STOP_TIMEOUT=${KAFKA_STOP_TIMEOUT:-30}
HEAP_OPTS=${KAFKA_CLUSTER_HEAP:--Xmx384m -Xms384m}
JAVA=${JAVA_HOME:+$JAVA_HOME/bin/}java

node_marker() { echo " kafka.Kafka $(node_dir "$1")/server.properties"; }
# ports file: client controller; "?" for a node never started (no ports file yet)
port_of() {
  local -a p
  local file
  file="$(node_dir "$1")/ports"
  [ -f "$file" ] || { echo '?'; return; }
  read -r -a p <"$file"
  echo "${p[$2]:-?}"
}
node_ports_json() { echo "\"port\":$(port_of "$1" 0),\"controller\":$(port_of "$1" 1)"; }
node_ports_text() { echo "client $(port_of "$1" 0), controller $(port_of "$1" 1)"; }

# Brokers a node reports in a Metadata v0 request (no topics: only the broker list matters); empty
# when it does not answer. Request: api key 3, version 0, correlation id 1, client id "kafka.sh",
# an empty topic array. Response: size, correlation id, then the broker count.
metadata_brokers() {
  local hex
  hex=$(timeout 3 bash -c '
    exec 3<>"/dev/tcp/$0/$1" || exit 1
    printf "\000\000\000\026\000\003\000\000\000\000\000\001\000\010kafka.sh\000\000\000\000" >&3
    head -c 12 <&3 | od -An -tx1' "$HOST" "$1" 2>/dev/null | tr -d ' \n') || return 1
  [[ ${#hex} -eq 24 && ${hex:8:8} == 00000001 ]] || return 1
  echo $((16#${hex:16:8}))
}

cluster_ready() {
  local n count
  for ((n = 1; n <= NODES; n++)); do
    count=$(metadata_brokers "$(port_of "$n" 0)") || return 1
    [[ $count == "$NODES" ]] || return 1
  done
}

write_config() {
  local n=$1 d voters="" m
  d=$(node_dir "$n")
  for ((m = 1; m <= NODES; m++)); do
    voters+="${voters:+,}$m@$HOST:$(port_of "$m" 1)"
  done
  cat >"$d/server.properties" <<CONF
# Written by tools/cluster/kafka.sh at every start: edit the script, not this file.
process.roles=broker,controller
node.id=$n
controller.quorum.voters=$voters
controller.listener.names=CONTROLLER
listeners=PLAINTEXT://$HOST:$(port_of "$n" 0),CONTROLLER://$HOST:$(port_of "$n" 1)
advertised.listeners=PLAINTEXT://$HOST:$(port_of "$n" 0)
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$d/data

# Three replicas, two of them in sync for an acks=all write: one node may die without losing an
# acknowledged record, and writes go on while it is down.
default.replication.factor=3
min.insync.replicas=2
offsets.topic.replication.factor=3
transaction.state.log.replication.factor=3
transaction.state.log.min.isr=2
offsets.topic.num.partitions=10
transaction.state.log.num.partitions=10
# A replica that falls behind is never elected leader: it would lose what the others acknowledged.
unclean.leader.election.enable=false

group.initial.rebalance.delay.ms=0
num.partitions=3
auto.create.topics.enable=true
delete.topic.enable=true
log.retention.hours=4
log.segment.bytes=67108864

num.network.threads=2
num.io.threads=2
num.recovery.threads.per.data.dir=1
num.replica.fetchers=1
CONF
}

format_node() {
  local n=$1 d
  d=$(node_dir "$n")
  [[ -f $d/data/meta.properties ]] && return 0
  "$JAVA" -Xmx256m -cp "$LIBS_DIR/*" -Dlog4j.configuration="file:$REPO_ROOT/tools/kafka/log4j.properties" \
    -Dkafka.logs.dir="$d/logs" kafka.tools.StorageTool format -t "$(<"$BROKER_DIR/cluster.id")" \
    -c "$d/server.properties" >>"$d/format.log" 2>&1 || {
    cat "$d/format.log" >&2
    die "formatting node $n failed"
  }
}

cmd_start() {
  local t0 n started=0 p
  t0=$(now_ms)
  command -v "$JAVA" >/dev/null || die "java not found (Kafka 3.9 needs Java 11 or newer)"
  [[ -f $LIBS_DIR/.pom.sha256 ]] || KAFKA_VERSION= bash "$REPO_ROOT/tools/kafka/kafka.sh" install
  mkdir -p "$BROKER_DIR"
  if [[ ! -s $BROKER_DIR/cluster.id ]]; then
    # 16 random bytes, URL-safe base64 without padding, not starting with '-'.
    local id
    while :; do
      id=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')
      [[ $id == -* ]] || break
    done
    echo "$id" >"$BROKER_DIR/cluster.id"
  fi
  for ((n = 1; n <= NODES; n++)); do
    mkdir -p "$(node_dir "$n")/data" "$(node_dir "$n")/logs"
    [[ -s $(node_dir "$n")/ports ]] || echo "$(free_port) $(free_port)" >"$(node_dir "$n")/ports"
  done
  for ((n = 1; n <= NODES; n++)); do
    node_pid "$n" >/dev/null && continue
    for p in $(<"$(node_dir "$n")/ports"); do
      port_taken "$p" && die "port $p of node $n is taken by another process; '$0 reset' picks new ports"
    done
    write_config "$n"
    format_node "$n"
    local -a heap
    read -r -a heap <<<"$HEAP_OPTS"
    say "starting node $n ($(node_ports_text "$n"))"
    launch_detached "$(node_dir "$n")/pid" "$(node_dir "$n")/$NODE_LOG" \
      "$JAVA" "${heap[@]}" -server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:TieredStopAtLevel=1 \
      -Djava.awt.headless=true -Dlog4j.configuration="file:$REPO_ROOT/tools/kafka/log4j.properties" \
      -Dkafka.logs.dir="$(node_dir "$n")/logs" -cp "$LIBS_DIR/*" kafka.Kafka "$(node_dir "$n")/server.properties"
    started=$((started + 1))
  done
  ((started > 0)) || say "all nodes already running"
  wait_cluster "$t0"
}

main "$@"
