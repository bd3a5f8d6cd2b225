# shellcheck shell=bash
# Shared by the cluster scripts beside this file (sourced, not run). Each script keeps one cluster
# under $CLUSTER_ROOT/<broker>: a folder per node (config, data, log, pid, ports) and state.json,
# which the failover tests read. Ports are picked free on 127.0.0.1 at the first start and kept,
# so a node killed by a test comes back on the same ports with the same data.
set -euo pipefail

CLUSTER_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$CLUSTER_LIB_DIR/../.." && pwd)
HOST=127.0.0.1
CLUSTER_ROOT=${TIDINGS_CLUSTER_DIR:-$REPO_ROOT/.cache/cluster}
case $CLUSTER_ROOT in /*) ;; *) CLUSTER_ROOT=$REPO_ROOT/$CLUSTER_ROOT ;; esac
# The machine's shared services: never picked, never signalled (see /work/shared/SERVICES.md).
SHARED_PORTS=" 1883 3306 4222 4369 5432 5672 6379 8222 9092 9093 15672 25672 "

say() { printf '%s: %s\n' "$BROKER" "$*"; }
warn() { printf '%s: %s\n' "$BROKER" "$*" >&2; }
die() {
  warn "$*"
  exit 1
}
now_ms() { date +%s%3N; }

# Something accepts TCP connections on the port.
port_open() {
  timeout 2 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$HOST" "$1" 2>/dev/null
}

# Something listens on the port, on any address (ss sees sockets that refuse us too).
port_taken() {
  if command -v ss >/dev/null; then
    ss -Hltn "sport = :$1" 2>/dev/null | grep -q . && return 0
  fi
  port_open "$1"
}

PICKED=" "
# A free port in 20000-49999 that no other node of this start has picked. With a second argument
# N, port+N must be free too (Redis Cluster's bus port is the client port + 10000).
free_port() {
  local p i
  for ((i = 0; i < 200; i++)); do
    p=$((20000 + (RANDOM * 32768 + RANDOM) % 30000))
    [[ $PICKED == *" $p "* || $SHARED_PORTS == *" $p "* ]] && continue
    port_taken "$p" && continue
    if [[ -n ${2:-} ]]; then
      [[ $PICKED == *" $((p + $2)) "* ]] && continue
      port_taken "$((p + $2))" && continue
      PICKED+="$((p + $2)) "
    fi
    PICKED+="$p "
    echo "$p"
    return 0
  done
  die "no free port found on $HOST"
}

# One script at a time changes a cluster's state.
lock() {
  mkdir -p "$BROKER_DIR"
  exec 9>"$BROKER_DIR/.lock"
  flock -w 300 9 || die "another $BROKER script has held $BROKER_DIR/.lock for 5 minutes; giving up"
}

node_dir() { echo "$BROKER_DIR/node$1"; }

# Is this pid a live process started with this node's config file? Nothing else is ever signalled.
is_ours() {
  local pid=$1 marker=$2 cmd
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  cmd=$({ tr '\0' ' ' <"/proc/$pid/cmdline"; } 2>/dev/null) || return 1
  [[ $cmd == *"$marker"* ]]
}

# Pid of node N when it runs (node_marker N gives what its command line contains).
node_pid() {
  local f pid
  f=$(node_dir "$1")/pid
  [[ -s $f ]] || return 1
  pid=$(<"$f")
  is_ours "$pid" "$(node_marker "$1")" || return 1
  echo "$pid"
}

# Starts a command in its own session, detached from our descriptors, and writes its pid.
launch_detached() {
  local pid_file=$1 out=$2
  shift 2
  rm -f "$pid_file"
  (
    exec setsid bash -c '
      pid_file=$1 out=$2
      shift 2
      for fd in /proc/$$/fd/*; do
        fd=${fd##*/}
        if ((fd > 2)); then eval "exec $fd>&-" 2>/dev/null || true; fi
      done
      echo $$ >"$pid_file"
      exec nohup "$@" </dev/null >>"$out" 2>&1
    ' cluster-launch "$pid_file" "$out" "$@" 9>&- &
  )
  local i
  for ((i = 0; i < 50; i++)); do
    [[ -s $pid_file ]] && return 0
    sleep 0.1
  done
  die "the process did not start (no pid file $pid_file)"
}

# SIGTERM to the given pids at once (arguments: timeout, marker function, then node/pid pairs), SIGKILL to those still alive after the timeout.
terminate_all() {
  local timeout=$1 marker_fn=$2
  shift 2
  local -a pids=("$@")
  local n pid deadline=$((SECONDS + timeout)) alive
  for ((n = 0; n < ${#pids[@]}; n += 2)); do
    kill -TERM "${pids[n + 1]}" 2>/dev/null || true
  done
  while :; do
    alive=0
    for ((n = 0; n < ${#pids[@]}; n += 2)); do
      is_ours "${pids[n + 1]}" "$($marker_fn "${pids[n]}")" && alive=1
    done
    ((alive)) || return 0
    if ((SECONDS >= deadline)); then
      for ((n = 0; n < ${#pids[@]}; n += 2)); do
        pid=${pids[n + 1]}
        if is_ours "$pid" "$($marker_fn "${pids[n]}")"; then
          say "node ${pids[n]} (pid $pid) did not stop within ${timeout}s; killing it"
          kill -KILL "$pid" 2>/dev/null || true
        fi
      done
      sleep 0.5
      return 0
    fi
    sleep 0.2
  done
}

# `kill N`: SIGKILL node N (a crash, for the failover tests); `start` brings it back.
cmd_kill() {
  local n=${1:-} pid
  [[ $n =~ ^[1-9][0-9]*$ ]] && ((n <= NODES)) || die "kill needs a node number from 1 to $NODES"
  pid=$(node_pid "$n") || die "node $n is not running"
  kill -KILL "$pid"
  while is_ours "$pid" "$(node_marker "$n")"; do sleep 0.05; done
  say "node $n (pid $pid) killed"
}

# state.json: every node's number, pid (0 when down), ports and folder.
write_state() {
  local n pid first=1 out
  out="{\"broker\":\"$BROKER\",\"host\":\"$HOST\",\"nodes\":["
  for ((n = 1; n <= NODES; n++)); do
    pid=$(node_pid "$n") || pid=0
    ((first)) || out+=","
    first=0
    out+="{\"node\":$n,\"pid\":$pid,$(node_ports_json "$n"),\"dir\":\"$(node_dir "$n")\"}"
  done
  out+="]}"
  printf '%s\n' "$out" >"$BROKER_DIR/state.json.tmp"
  mv "$BROKER_DIR/state.json.tmp" "$BROKER_DIR/state.json"
}

cmd_status() {
  local n pid up=0
  for ((n = 1; n <= NODES; n++)); do
    if pid=$(node_pid "$n"); then
      say "node $n: running (pid $pid, $(node_ports_text "$n"))"
      up=$((up + 1))
    elif [[ -f $(node_dir "$n")/ports ]]; then
      say "node $n: down ($(node_ports_text "$n"))"
    else
      say "node $n: not created"
    fi
  done
  if ((up == NODES)) && cluster_ready; then
    say "cluster ready; state in $BROKER_DIR/state.json"
    return 0
  fi
  say "cluster not ready ($up of $NODES nodes running)"
  exit 3
}

cmd_stop() {
  local n pid
  local -a pairs=()
  for ((n = 1; n <= NODES; n++)); do
    if pid=$(node_pid "$n"); then pairs+=("$n" "$pid"); fi
  done
  if ((${#pairs[@]} == 0)); then
    say "no node running"
  else
    say "stopping $((${#pairs[@]} / 2)) node(s)"
    terminate_all "$STOP_TIMEOUT" node_marker "${pairs[@]}"
    say "stopped"
  fi
  [[ -d $BROKER_DIR ]] && write_state
  return 0
}

# `reset`: stop, then forget the ports and data, so the next start makes a new cluster.
cmd_reset() {
  cmd_stop
  local n
  for ((n = 1; n <= NODES; n++)); do rm -rf "$(node_dir "$n")"; done
  rm -f "$BROKER_DIR/state.json" "$BROKER_DIR/created"
  say "cluster wiped"
}

# Waits until cluster_ready (set by the script) holds, or dies with the nodes' log tails.
wait_cluster() {
  local t0=$1 deadline=$((SECONDS + START_TIMEOUT)) n
  while ! cluster_ready; do
    for ((n = 1; n <= NODES; n++)); do
      node_pid "$n" >/dev/null || { show_logs; die "node $n exited during startup"; }
    done
    if ((SECONDS >= deadline)); then
      show_logs
      die "the cluster was not ready within ${START_TIMEOUT}s"
    fi
    sleep 0.25
  done
  write_state
  say "cluster of $NODES ready after $(($(now_ms) - t0)) ms; state in $BROKER_DIR/state.json"
}

show_logs() {
  local n f
  for ((n = 1; n <= NODES; n++)); do
    f=$(node_dir "$n")/$NODE_LOG
    if [[ -s $f ]]; then
      warn "---- last lines of $f"
      tail -n 15 "$f" >&2
    fi
  done
}

main() {
  case ${1:-} in
    start)
      lock
      cmd_start
      ;;
    stop)
      lock
      cmd_stop
      ;;
    status) cmd_status ;;
    kill)
      lock
      cmd_kill "${2:-}"
      write_state
      ;;
    reset)
      lock
      cmd_reset
      ;;
    -h | --help | help) sed -n '2,/^set -e/{/^set -e/d;s/^# \{0,1\}//p}' "$0" ;;
    *)
      sed -n '2,/^set -e/{/^set -e/d;s/^# \{0,1\}//p}' "$0" >&2
      exit 2
      ;;
  esac
}
