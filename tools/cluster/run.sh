#!/usr/bin/env bash
# npm run test:cluster: starts the local NATS, Kafka, Redis and RabbitMQ clusters (tools/cluster/),
# runs the cluster suite (cluster/: the failover tests and the conformance suite against each), and
# stops the clusters again, on failure too. Every run starts from empty clusters.
#
#   run.sh [--small] [--only nats|kafka|redis|rabbitmq] [vitest filters...]
#
#   --small   2,000 events per failover run instead of 20,000 (TIDINGS_FAILOVER_EVENTS sets any number)
#   --only B  start one cluster and run only its tests (CI runs `--small --only nats failover`)
#   --keep    leave the clusters running afterwards (stop them with tools/cluster/<broker>.sh stop)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

keep=0
only=
args=()
while [ $# -gt 0 ]; do
  arg=$1
  shift
  case $arg in
    --small) export TIDINGS_FAILOVER_EVENTS=${TIDINGS_FAILOVER_EVENTS:-2000} ;;
    --keep) keep=1 ;;
    --only)
      only=${1:-}
      shift || true
      case $only in
        nats | kafka | redis | rabbitmq) ;;
        *)
          echo "cluster: --only takes nats, kafka, redis or rabbitmq, got '${only}'" >&2
          exit 2
          ;;
      esac
      ;;
    -h | --help)
      sed -n '2,10s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
      exit 0
      ;;
    *) args+=("$arg") ;;
  esac
done

brokers=(nats kafka redis rabbitmq)
if [ -n "$only" ]; then
  brokers=("$only")
  # The test files are named after their broker (cluster/<broker>.<what>.test.ts): each filter
  # given is narrowed to that broker's files, and with none, all of them run.
  filters=()
  rest=()
  for arg in "${args[@]}"; do
    case $arg in
      -*) rest+=("$arg") ;;
      *) filters+=("$only.$arg") ;;
    esac
  done
  [ ${#filters[@]} -eq 0 ] && filters=("cluster/$only.")
  args=("${filters[@]}" "${rest[@]}")
fi
stop_all() {
  local b
  ((keep)) && return 0
  for b in "${brokers[@]}"; do bash "tools/cluster/$b.sh" stop || true; done
}
trap stop_all EXIT
trap 'exit 130' INT TERM

t0=$SECONDS
for b in "${brokers[@]}"; do
  bash "tools/cluster/$b.sh" reset
done
# Started one after the other: two JVMs and three nats-servers booting at once on two cores only
# make each slower.
for b in "${brokers[@]}"; do
  bash "tools/cluster/$b.sh" start
done
echo "cluster: clusters ready after $((SECONDS - t0)) s; running the suite (${TIDINGS_FAILOVER_EVENTS:-20000} events per failover run)"
npx vitest run --config cluster/vitest.config.ts "${args[@]}"
echo "cluster: done in $((SECONDS - t0)) s"
