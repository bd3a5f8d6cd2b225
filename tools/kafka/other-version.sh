#!/usr/bin/env bash
# Runs the Kafka adapter's tests against another Kafka release than the default broker's, on a
# broker of its own (its own ports, jars and data under .cache/kafka-<version>), stopped after.
#
#   other-version.sh [VERSION] [--full]
#
#   VERSION   a Kafka 3.x.y or 4.x.y release on Maven Central (default 4.4.0)
#   --full    every test of the adapter (about 3 min); without it, the conformance suite (about 1 min)
#
# Ports: KAFKA_OTHER_PORT (default 29092) and KAFKA_OTHER_CONTROLLER_PORT (default 29093).
# CI runs the conformance suite on Kafka 4 this way; the default broker (kafka.sh) stays on 3.9.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

version=4.4.0
scope=conformance
for arg in "$@"; do
  case $arg in
    --full) scope=full ;;
    -h | --help)
      sed -n '2,11s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
      exit 0
      ;;
    -*)
      echo "other-version.sh: unknown option $arg (see --help)" >&2
      exit 2
      ;;
    *) version=$arg ;;
  esac
done

export KAFKA_VERSION=$version
export KAFKA_PORT=${KAFKA_OTHER_PORT:-29092}
export KAFKA_CONTROLLER_PORT=${KAFKA_OTHER_CONTROLLER_PORT:-29093}
# Each run starts from empty storage, so a leftover of an earlier run cannot make it pass.
bash tools/kafka/kafka.sh reset
trap 'bash tools/kafka/kafka.sh stop' EXIT
bash tools/kafka/kafka.sh start
# start reuses whatever broker answers on the port; this run must be against the one it started.
bash tools/kafka/kafka.sh status | grep -q '(ours' ||
  { echo "kafka: another broker answers on 127.0.0.1:$KAFKA_PORT; set KAFKA_OTHER_PORT" >&2; exit 1; }

files=()
[[ $scope == full ]] || files=(test/conformance.test.ts)
# The tests find the broker through KAFKA_PORT; a test that starts a private broker of its own
# uses the default version for it.
echo "kafka: running the adapter's ${scope} tests against Kafka $version on 127.0.0.1:$KAFKA_PORT"
(cd packages/adapter-kafka && npx vitest run --project adapter-kafka "${files[@]}")
