#!/usr/bin/env bash
# Runs the Kafka adapter's tests on the client that is not the default (kafkajs), against the
# default broker that tools/kafka/kafka.sh runs (127.0.0.1:9092, Kafka 3.9).
#
#   other-client.sh [--client NAME] [--full]
#
#   --client NAME   kafkajs (default) or platformatic
#   --full          every test of the adapter (about 5 min); without it, the conformance suite (about 1 min)
#
# CI runs the conformance suite this way; the rest of CI runs the adapter on its default client.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

client=kafkajs
scope=conformance
while [[ $# -gt 0 ]]; do
  case $1 in
    --full) scope=full ;;
    --client)
      client=${2:?--client needs kafkajs or platformatic}
      shift
      ;;
    -h | --help)
      sed -n '2,10s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
      exit 0
      ;;
    *)
      echo "other-client.sh: unknown argument $1 (see --help)" >&2
      exit 2
      ;;
  esac
  shift
done
case $client in
  kafkajs | platformatic) ;;
  *)
    echo "other-client.sh: --client must be kafkajs or platformatic, got $client" >&2
    exit 2
    ;;
esac

bash tools/kafka/kafka.sh start
files=()
[[ $scope == full ]] || files=(test/conformance.test.ts)
echo "kafka: running the adapter's ${scope} tests on the ${client} client"
(cd packages/adapter-kafka && KAFKA_CLIENT=$client npx vitest run --project adapter-kafka "${files[@]}")
