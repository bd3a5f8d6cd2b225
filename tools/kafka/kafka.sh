#!/usr/bin/env bash
# Local single-node Kafka (KRaft, broker+controller in one JVM) for Tidings' tests.
# The jars come from Maven Central through tools/kafka/pom.xml (Kafka 3.x) or pom-4.xml (Kafka 4.x);
# KAFKA_VERSION picks the version (default 3.9.2). See README.md beside this file.
#
#   kafka.sh install   fetch the broker jars unless already cached
#   kafka.sh start     start the broker (or reuse one that already answers) and wait until it is ready
#   kafka.sh stop      stop the broker this script started
#   kafka.sh restart   stop, then start
#   kafka.sh status    exit 0 when a broker answers on the port, 3 when not
#   kafka.sh logs [-f] tail of the broker log (KAFKA_LOG_LINES lines, default 100)
#   kafka.sh reset     stop our broker, wipe its data, format storage anew
# shellcheck disable=SC2016 # the bash -c snippets get their values as arguments
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPT_DIR/../.." && pwd)

# Relative paths are taken from the repository root, never from the caller's cwd.
abspath() {
  case $1 in
    /*) printf '%s\n' "$1" ;;
    *) printf '%s\n' "$REPO_ROOT/$1" ;;
  esac
}

HOST=127.0.0.1
PORT=${KAFKA_PORT:-9092}
CONTROLLER_PORT=${KAFKA_CONTROLLER_PORT:-9093}
# The default stays on 3.9 while the adapter's default client (kafkajs) cannot speak to Kafka 4.
DEFAULT_VERSION=3.9.2
VERSION=${KAFKA_VERSION:-$DEFAULT_VERSION}
[[ $VERSION =~ ^([34])\.[0-9]+\.[0-9]+$ ]] || {
  printf 'kafka: KAFKA_VERSION must be a Kafka 3.x.y or 4.x.y release, not %s\n' "$VERSION" >&2
  exit 1
}
MAJOR=${BASH_REMATCH[1]}
# Each version keeps its own jars and data (storage formatted by one major is not for the other),
# so a 3.9 and a 4.x broker can be installed side by side (on other ports to run at once).
if [[ $VERSION == "$DEFAULT_VERSION" ]]; then default_cache=.cache/kafka; else default_cache=.cache/kafka-$VERSION; fi
CACHE_DIR=$(abspath "${KAFKA_CACHE_DIR:-$default_cache}")
START_TIMEOUT=${KAFKA_START_TIMEOUT:-90}
STOP_TIMEOUT=${KAFKA_STOP_TIMEOUT:-30}
HEAP_OPTS=${KAFKA_HEAP_OPTS:--Xmx512m -Xms512m}
EXTRA_OPTS=${KAFKA_OPTS:-}
JAVA=${JAVA_HOME:+$JAVA_HOME/bin/}java

# Kafka 3 logs through slf4j 1 + log4j 1 (reload4j), Kafka 4 through log4j 2: a pom and a logging
# configuration for each.
if ((MAJOR == 3)); then
  POM=$SCRIPT_DIR/pom.xml
  LOGGING_OPTS=(-Dlog4j.configuration="file:$SCRIPT_DIR/log4j.properties")
else
  POM=$SCRIPT_DIR/pom-4.xml
  LOGGING_OPTS=(-Dlog4j2.configurationFile="file:$SCRIPT_DIR/log4j2.properties")
fi
LIBS_DIR=$CACHE_DIR/libs
DATA_DIR=$CACHE_DIR/data
LOG_DIR=$CACHE_DIR/logs
CONFIG=$CACHE_DIR/server.properties
PID_FILE=$CACHE_DIR/kafka.pid
CLUSTER_ID_FILE=$CACHE_DIR/cluster.id
LOCK_FILE=$CACHE_DIR/.lock
SERVER_LOG=$LOG_DIR/server.log   # written by log4j (see log4j.properties)
JVM_OUT=$LOG_DIR/kafka.out       # the JVM's own stdout/stderr: crashes, bad options

say() { printf 'kafka: %s\n' "$*"; }
warn() { printf 'kafka: %s\n' "$*" >&2; }
die() {
  warn "$*"
  exit 1
}

for p in "$PORT" "$CONTROLLER_PORT"; do
  if ! [[ $p =~ ^[0-9]+$ ]] || ((p < 1 || p > 65535)); then
    die "bad port '$p' (KAFKA_PORT / KAFKA_CONTROLLER_PORT)"
  fi
done
[[ $PORT != "$CONTROLLER_PORT" ]] || die "KAFKA_PORT and KAFKA_CONTROLLER_PORT must differ"

kafka_version() { echo "$VERSION"; }

now_ms() { date +%s%3N; }

# One kafka.sh at a time may change the broker's state (parallel test workers
# all calling `start` is the usual case). The descriptor is closed for the JVM.
lock() {
  mkdir -p "$CACHE_DIR"
  exec 9>"$LOCK_FILE"
  flock -w 300 9 || die "another kafka.sh has held $LOCK_FILE for 5 minutes; giving up"
}

# Something accepts TCP connections on the port (not necessarily Kafka).
port_open() {
  timeout 2 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$HOST" "$1" 2>/dev/null
}

# A Kafka broker answers on the port: send an ApiVersions v0 request
# (correlation id 1, client id "kafka.sh") and expect correlation id 1 with
# error code 0 back. The broker only processes requests once it has started
# completely, so this is a readiness check, not merely "port open".
kafka_answers() {
  local hex
  hex=$(timeout 3 bash -c '
    exec 3<>"/dev/tcp/$0/$1" || exit 1
    printf "\000\000\000\022\000\022\000\000\000\000\000\001\000\010kafka.sh" >&3
    head -c 10 <&3 | od -An -tx1' "$HOST" "$1" 2>/dev/null | tr -d ' \n') || return 1
  [[ ${#hex} -eq 20 && ${hex:8} == 000000010000 ]]
}

# Is this pid a live broker that this cache directory's config started?
is_our_broker() {
  local pid=$1 cmd
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  cmd=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
  [[ $cmd == *" kafka.Kafka $CONFIG "* ]]
}

# Pid of our broker, from the pid file, or by looking for the process when the
# pid file is gone or stale (pid reused by something else after a reboot...).
our_pid() {
  local pid
  if [[ -f $PID_FILE ]]; then
    pid=$(<"$PID_FILE")
    if is_our_broker "$pid"; then
      echo "$pid"
      return 0
    fi
  fi
  if command -v pgrep >/dev/null; then
    for pid in $(pgrep -f 'kafka\.Kafka ' || true); do
      if is_our_broker "$pid"; then
        echo "$pid" >"$PID_FILE"
        echo "$pid"
        return 0
      fi
    done
  fi
  return 1
}

# Client port in the config our running broker was started with.
config_port() { sed -n 's|^listeners=PLAINTEXT://[^:]*:\([0-9]*\),.*|\1|p' "$CONFIG" 2>/dev/null; }

rss_mib() { ps -o rss= -p "$1" 2>/dev/null | awk '{ printf "%d", $1 / 1024 }'; }

show_log_tail() {
  local f
  for f in "$JVM_OUT" "$SERVER_LOG"; do
    if [[ -s $f ]]; then
      warn "---- last lines of $f"
      tail -n 40 "$f" >&2
    fi
  done
  warn "----"
}

cmd_install() {
  local want tmp
  want=$( (cat "$POM" && echo "$VERSION") | sha256sum | cut -d' ' -f1)
  if [[ -f $LIBS_DIR/.pom.sha256 && $(<"$LIBS_DIR/.pom.sha256") == "$want" ]]; then
    say "Kafka $(kafka_version) jars already in $LIBS_DIR"
    return 0
  fi
  command -v mvn >/dev/null || die "mvn not found; it fetches the broker from Maven Central (apt-get install maven)"
  say "fetching Kafka $(kafka_version) jars from Maven Central (cached in ~/.m2 after the first time)"
  tmp=$CACHE_DIR/libs.tmp
  rm -rf "$tmp"
  # Debian's Maven 3.8 writes colour resets even with -B -q; strip them.
  mvn -B -q -f "$POM" -Dkafka.version="$VERSION" dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$tmp" 2>&1 |
    sed -e 's/\x1b\[[0-9;]*m//g' -e '/^$/d' ||
    die "mvn could not fetch the Kafka jars (see its output above)"
  ls "$tmp"/kafka_2.13-*.jar >/dev/null 2>&1 || die "mvn finished but no kafka_2.13 jar is in $tmp"
  echo "$want" >"$tmp/.pom.sha256"
  # Swap in one step so a half-copied folder is never taken for an install.
  rm -rf "$LIBS_DIR"
  mv "$tmp" "$LIBS_DIR"
  say "installed $(find "$LIBS_DIR" -name '*.jar' | wc -l) jars in $LIBS_DIR"
}

write_config() {
  mkdir -p "$DATA_DIR" "$LOG_DIR"
  cat >"$CONFIG.tmp" <<EOF
# Written by tools/kafka/kafka.sh at every start: edit the script, not this file.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@$HOST:$CONTROLLER_PORT
controller.listener.names=CONTROLLER
listeners=PLAINTEXT://$HOST:$PORT,CONTROLLER://$HOST:$CONTROLLER_PORT
advertised.listeners=PLAINTEXT://$HOST:$PORT
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT

log.dirs=$DATA_DIR

# One node: every internal topic has a single replica.
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
# Fewer internal partitions than the default 50: the first consumer group and
# the first transactional producer get going sooner.
offsets.topic.num.partitions=10
transaction.state.log.num.partitions=10

# Tests should see a group form at once, not after the default 3 s delay.
group.initial.rebalance.delay.ms=0

# Topics a test did not create get 3 partitions, so no test comes to depend on
# the total order a single partition would give.
num.partitions=3
auto.create.topics.enable=true
delete.topic.enable=true

# Test data needs no long life: keep 4 hours, in 64 MiB segments.
log.retention.hours=4
log.segment.bytes=67108864
log.retention.check.interval.ms=60000

# Sized for a 2-core machine that runs other services too.
num.network.threads=2
num.io.threads=4
num.recovery.threads.per.data.dir=1
EOF
  mv "$CONFIG.tmp" "$CONFIG"
}

new_cluster_id() {
  # A Kafka cluster id is 16 random bytes in URL-safe base64 without padding.
  # Ids starting with '-' are avoided, as Kafka's own generator does.
  local id
  while :; do
    id=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')
    [[ $id == -* ]] || break
  done
  echo "$id"
}

# Format the storage once; meta.properties marks a formatted directory.
format_storage() {
  local id
  if [[ -f $DATA_DIR/meta.properties ]]; then return 0; fi
  if [[ -s $CLUSTER_ID_FILE ]]; then
    id=$(<"$CLUSTER_ID_FILE")
  else
    id=$(new_cluster_id)
    echo "$id" >"$CLUSTER_ID_FILE"
  fi
  say "formatting $DATA_DIR (cluster id $id)"
  "$JAVA" -Xmx256m -cp "$LIBS_DIR/*" \
    "${LOGGING_OPTS[@]}" -Dkafka.logs.dir="$LOG_DIR" \
    kafka.tools.StorageTool format -t "$id" -c "$CONFIG" 2>&1 | sed 's/^/kafka: storage: /' ||
    die "formatting the storage failed"
}

launch() {
  local heap extra
  read -r -a heap <<<"$HEAP_OPTS"
  read -r -a extra <<<"$EXTRA_OPTS"
  rm -f "$PID_FILE"
  # setsid: own session, no controlling terminal, so the broker outlives the
  # shell (and a Ctrl-C in it); nohup for good measure. The inner bash closes
  # every inherited descriptor above 2 (our lock, a test runner's pipes) so
  # nobody waits on the broker, writes its own pid, then becomes java.
  (
    cd "$CACHE_DIR"
    exec setsid bash -c '
      pid_file=$1
      shift
      for fd in /proc/$$/fd/*; do
        fd=${fd##*/}
        if ((fd > 2)); then eval "exec $fd>&-" 2>/dev/null || true; fi
      done
      echo $$ >"$pid_file"
      exec nohup "$@"
    ' kafka-launch "$PID_FILE" \
      "$JAVA" "${heap[@]}" \
      -server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 \
      -XX:+ExplicitGCInvokesConcurrent -Djava.awt.headless=true \
      "${LOGGING_OPTS[@]}" -Dkafka.logs.dir="$LOG_DIR" \
      "${extra[@]}" \
      -cp "$LIBS_DIR/*" kafka.Kafka "$CONFIG" \
      </dev/null >"$JVM_OUT" 2>&1 9>&- &
  )
  local i
  for ((i = 0; i < 50; i++)); do
    [[ -s $PID_FILE ]] && break
    sleep 0.1
  done
  [[ -s $PID_FILE ]] || die "the broker process did not start (no pid file)"
}

# Wait until the broker logs that it started and answers a Kafka request.
# Returns 1 when it died or timed out (the caller decides what to do).
wait_ready() {
  local pid=$1 t0=$2 deadline=$((SECONDS + START_TIMEOUT))
  while :; do
    if ! is_our_broker "$pid"; then
      warn "the broker (pid $pid) exited during startup"
      return 1
    fi
    if grep -qs 'Kafka Server started' "$SERVER_LOG" && kafka_answers "$PORT"; then
      say "ready on $HOST:$PORT after $(($(now_ms) - t0)) ms (pid $pid, RSS $(rss_mib "$pid") MiB)"
      return 0
    fi
    if ((SECONDS >= deadline)); then
      warn "the broker did not become ready within ${START_TIMEOUT}s (KAFKA_START_TIMEOUT)"
      return 1
    fi
    sleep 0.25
  done
}

startup_failed() {
  local pid=$1
  show_log_tail
  if is_our_broker "$pid"; then
    terminate "$pid" >&2
  fi
  rm -f "$PID_FILE"
  die "start failed; if the data directory is damaged, 'tools/kafka/kafka.sh reset' wipes and reformats it"
}

cmd_start() {
  local pid t0
  t0=$(now_ms)
  if kafka_answers "$PORT"; then
    pid=$(our_pid) || pid=""
    say "a broker already answers on $HOST:$PORT${pid:+ (ours, pid $pid)}; reusing it"
    return 0
  fi
  if pid=$(our_pid); then
    # Started earlier and still starting, or started on other ports.
    if ! grep -qx "listeners=PLAINTEXT://$HOST:$PORT,CONTROLLER://$HOST:$CONTROLLER_PORT" "$CONFIG"; then
      die "our broker (pid $pid) was started for other ports ($(config_port)) than $PORT/$CONTROLLER_PORT; run '$0 stop' first"
    fi
    say "our broker (pid $pid) is running but does not answer yet; waiting for it"
    wait_ready "$pid" "$t0" || startup_failed "$pid"
    return 0
  fi
  rm -f "$PID_FILE" # stale: its process is gone
  port_open "$PORT" && die "$HOST:$PORT is taken by something that does not answer Kafka requests; set KAFKA_PORT"
  port_open "$CONTROLLER_PORT" && die "controller port $HOST:$CONTROLLER_PORT is taken; set KAFKA_CONTROLLER_PORT"
  command -v "$JAVA" >/dev/null || die "java not found (Kafka $(kafka_version) needs Java $((MAJOR == 3 ? 11 : 17)) or newer)"

  cmd_install
  write_config
  local f
  for f in "$SERVER_LOG" "$JVM_OUT"; do
    if [[ -f $f ]]; then mv -f "$f" "$f.prev"; fi
  done
  format_storage
  say "starting Kafka $(kafka_version) on $HOST:$PORT (controller $CONTROLLER_PORT, data in $DATA_DIR)"
  launch
  pid=$(<"$PID_FILE")
  wait_ready "$pid" "$t0" || startup_failed "$pid"
}

# SIGTERM for a clean shutdown, SIGKILL after STOP_TIMEOUT seconds.
terminate() {
  local pid=$1 deadline=$((SECONDS + STOP_TIMEOUT))
  say "stopping the broker (pid $pid, port $(config_port))"
  kill -TERM "$pid" 2>/dev/null || true
  while is_our_broker "$pid"; do
    if ((SECONDS >= deadline)); then
      say "no clean shutdown within ${STOP_TIMEOUT}s; killing it"
      kill -KILL "$pid" 2>/dev/null || true
      deadline=$((SECONDS + 10))
      while is_our_broker "$pid"; do
        ((SECONDS < deadline)) || die "pid $pid survived SIGKILL"
        sleep 0.2
      done
      break
    fi
    sleep 0.2
  done
}

cmd_stop() {
  local pid
  if pid=$(our_pid); then
    terminate "$pid"
    rm -f "$PID_FILE"
    say "stopped"
    return 0
  fi
  rm -f "$PID_FILE"
  if kafka_answers "$PORT"; then
    say "a broker answers on $HOST:$PORT but this script did not start it (for $CACHE_DIR); leaving it alone"
  else
    say "no broker running"
  fi
}

cmd_status() {
  local pid
  pid=$(our_pid) || pid=""
  if kafka_answers "$PORT"; then
    if [[ -n $pid ]]; then
      say "running: a broker answers on $HOST:$PORT (ours, pid $pid, RSS $(rss_mib "$pid") MiB)"
    else
      say "running: a broker answers on $HOST:$PORT (not started by this script for $CACHE_DIR)"
    fi
    return 0
  fi
  if [[ -n $pid && $(config_port) != "$PORT" ]]; then
    say "not running: no broker answers on $HOST:$PORT; our broker (pid $pid) was started for port $(config_port)"
  elif [[ -n $pid ]]; then
    say "not ready: our broker (pid $pid) runs but does not answer on $HOST:$PORT yet"
  elif port_open "$PORT"; then
    say "not running: $HOST:$PORT is open but does not answer Kafka requests"
  else
    say "not running"
  fi
  exit 3
}

cmd_logs() {
  [[ -f $SERVER_LOG ]] || die "no broker log yet ($SERVER_LOG)"
  if [[ ${1:-} == -f ]]; then
    exec tail -n "${KAFKA_LOG_LINES:-100}" -F "$SERVER_LOG"
  fi
  tail -n "${KAFKA_LOG_LINES:-100}" "$SERVER_LOG"
}

cmd_reset() {
  local pid
  if pid=$(our_pid); then
    terminate "$pid"
  fi
  rm -f "$PID_FILE"
  say "wiping $DATA_DIR"
  rm -rf "$DATA_DIR" "$CLUSTER_ID_FILE"
  cmd_install
  write_config
  format_storage
  say "storage is empty and formatted; '$0 start' starts the broker"
}

usage() {
  sed -n '2,11s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
}

case ${1:-} in
  # Not `lock && cmd_x`: inside an && list bash would ignore set -e in cmd_x.
  install)
    lock
    cmd_install
    ;;
  start)
    lock
    cmd_start
    ;;
  stop)
    lock
    cmd_stop
    ;;
  restart)
    lock
    cmd_stop
    cmd_start
    ;;
  status) cmd_status ;;
  logs) cmd_logs "${2:-}" ;;
  reset)
    lock
    cmd_reset
    ;;
  -h | --help | help) usage ;;
  *)
    usage >&2
    exit 2
    ;;
esac
