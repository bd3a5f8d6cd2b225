#!/usr/bin/env bash
# The broker clients our packages take as peers, at the ends of their peer ranges. Each package's
# tests run again on a version of its peer installed apart into .cache/peers/<peer>@<version> and
# swapped in through vitest aliases (TIDINGS_PEER_MODULES and TIDINGS_PEERS, read by
# vitest.shared.ts, the way tools/nest-matrix.sh swaps Nest in); tools/peer-check.setup.ts fails
# the run unless the module the tests import is that version.
#
#   bash tools/peer-matrix.sh            the oldest version of each range, on the conformance suite
#                                        (outbox-postgres: its own tests), as CI runs it
#   bash tools/peer-matrix.sh --full     the oldest and the newest of each range, every test of the
#                                        package (about 10 minutes)
#   bash tools/peer-matrix.sh --install  only install the versions (add --full for both ends);
#                                        .ci/run does it in the background early on
#   PEERS="ioredis pg" bash tools/peer-matrix.sh   only these peers
#
# The newest of a range is what the workspace installs (package-lock.json), so `npm test` already
# runs every package on it; --full checks it again from a clean install of the range's newest.
# Needs the local services (tools/services.sh and tools/kafka/kafka.sh), no build.
set -euo pipefail
cd "$(dirname "$0")/.."

full=false
install_only=false
for arg in "$@"; do
  case $arg in
    --full) full=true ;;
    --install) install_only=true ;;
    *) echo "peer-matrix: unknown argument $arg" >&2; exit 1 ;;
  esac
done

# peer | package dir | vitest project | test files of the quick run (empty: the whole project) |
# environment of the run (the Kafka adapter runs on the client whose floor is tested)
matrix="
ioredis|packages/adapter-redis-streams|adapter-redis-streams|test/conformance.test.ts|
nats|packages/adapter-nats|adapter-nats|test/conformance.core.test.ts test/conformance.jetstream.test.ts|
amqplib|packages/adapter-rabbitmq|adapter-rabbitmq|test/conformance.test.ts|
@platformatic/kafka|packages/adapter-kafka|adapter-kafka|test/conformance.test.ts|KAFKA_CLIENT=platformatic
kafkajs|packages/adapter-kafka|adapter-kafka|test/conformance.test.ts|KAFKA_CLIENT=kafkajs
pg|packages/outbox-postgres|outbox-postgres|test/outbox.test.ts test/inbox.test.ts test/memory.test.ts|
"
only=${PEERS:-}
started=$SECONDS
# Runs at once: each is one broker's suite, which waits on its broker far more than it computes
# (two side by side: 195 s -> 117 s on a busy 2-core machine; one at a time, the waits add up).
parallel=${PEER_PARALLEL:-2}
running=0
failed=0

# peer version prefix project range files...: one run, its output kept apart and printed whole
# when it ends, so that two runs side by side do not interleave their lines.
run_one() {
  local peer=$1 version=$2 prefix=$3 project=$4 range=$5 environment=$6
  shift 6
  local step=$SECONDS status=0
  # shellcheck disable=SC2086
  env $environment TIDINGS_PEER_MODULES="$PWD/$prefix/node_modules" TIDINGS_PEERS="$peer" \
    TIDINGS_PEER_VERSIONS="$peer@$version" \
    node node_modules/vitest/vitest.mjs run --project "$project" "$@" </dev/null >"$prefix/run.log" 2>&1 ||
    status=$?
  {
    echo "peer-matrix: $project on $peer $version (range $range)$($full || echo ", $*")"
    cat "$prefix/run.log"
    if [ "$status" -eq 0 ]; then
      echo "peer-matrix: $project on $peer $version passed in $((SECONDS - step)) s"
    else
      echo "peer-matrix: $project on $peer $version FAILED in $((SECONDS - step)) s"
    fi
  } | flock .cache/peers/print.lock cat
  return "$status"
}

# Waits for one of the runs under way; remembers a failure and carries on with the others.
reap() {
  wait -n || failed=1
  running=$((running - 1))
}

while IFS='|' read -r peer dir project files environment; do
  [ -n "$peer" ] || continue
  if [ -n "$only" ] && [[ " $only " != *" $peer "* ]]; then continue; fi
  range=$(node -p "require('./$dir/package.json').peerDependencies['$peer']")
  versions=$(node -p "require('semver').minVersion('$range').version")
  workspace=$(node -p "require('./node_modules/$peer/package.json').version")
  if ! $full && [ "$versions" = "$workspace" ]; then
    # The floor is the version the workspace installs: npm test has just run the package on it.
    echo "peer-matrix: $project on $peer $versions: the range's floor is the workspace's own, which npm test runs"
    continue
  fi
  if $full; then
    # The newest of each part of the range ("^5.2.5 || ^6.0.0": the last 5 and the last 6).
    published=$(npm view "$peer" versions --json)
    versions=$(PUBLISHED="$published" node -e "
      const semver = require('semver');
      const all = JSON.parse(process.env.PUBLISHED);
      const picked = [semver.minVersion('$range').version];
      for (const part of '$range'.split('||')) picked.push(semver.maxSatisfying(all, part.trim()));
      console.log([...new Set(picked)].join(' '));")
  fi
  for version in $versions; do
    prefix=".cache/peers/$peer@$version"
    if [ ! -f "$prefix/node_modules/$peer/package.json" ]; then
      echo "peer-matrix: installing $peer@$version into $prefix"
      rm -rf "$prefix" && mkdir -p "$prefix"
      npm install --prefix "$prefix" --no-save --no-package-lock --no-audit --no-fund "$peer@$version" >/dev/null
    fi
    $install_only && continue
    # shellcheck disable=SC2086
    if $full; then set -- ; else set -- $files; fi
    [ "$running" -lt "$parallel" ] || reap
    echo "peer-matrix: starting $project on $peer $version"
    run_one "$peer" "$version" "$prefix" "$project" "$range" "$environment" "$@" &
    running=$((running + 1))
  done
done <<<"$matrix"
while [ "$running" -gt 0 ]; do reap; done
if [ "$failed" -ne 0 ]; then
  echo "peer-matrix: failed in $((SECONDS - started)) s (see above)" >&2
  exit 1
fi
echo "peer-matrix: done in $((SECONDS - started)) s"
