#!/usr/bin/env bash
# @tidings/nestjs on the Nest versions its users run, beyond the workspace's own (Nest 12, which
# `npm test` covers):
#  1. its tests again on each older major (10 and 11 by default), installed apart into
#     .cache/nest/<major> and swapped in by packages/nestjs/vitest.config.ts (TIDINGS_NEST_MODULES);
#  2. a Nest application type-checked against the BUILT packages under the settings Nest projects
#     use: node resolution and CommonJS (`nest new` of Nest 10 and 11, with their own types),
#     nodenext ESM (Nest 12's ESM template), nodenext CommonJS (the example, as `nest new` of 12);
#  3. the example compiled by tsc (decorator metadata) and run by node: an order over HTTP, then
#     SIGTERM and a clean exit.
#   bash tools/nest-matrix.sh           after npm ci and npm run build; needs the local services
#   bash tools/nest-matrix.sh --install  only install the Nest majors (.ci/run does it in the
#                                        background early on, while the network is otherwise idle)
#   NEST_MAJORS="10" bash tools/nest-matrix.sh
set -euo pipefail
cd "$(dirname "$0")/.."

install_only=false
[ "${1:-}" = "--install" ] && install_only=true

majors=${NEST_MAJORS:-"10 11"}
consumers=packages/nestjs/test/consumers

for major in $majors; do
  case $major in
    10 | 11) extra="@nestjs/config@^4 @nestjs/terminus@^11" ;;
    *) echo "nest-matrix: no package set for Nest $major" >&2; exit 1 ;;
  esac
  packages="@nestjs/common@^$major @nestjs/core@^$major @nestjs/testing@^$major @nestjs/platform-express@^$major $extra reflect-metadata@^0.2 rxjs@^7"
  prefix=".cache/nest/$major"
  if [ "$(cat "$prefix/packages.txt" 2>/dev/null)" != "$packages" ]; then
    echo "nest-matrix: installing Nest $major into $prefix"
    rm -rf "$prefix" && mkdir -p "$prefix"
    # shellcheck disable=SC2086
    npm install --prefix "$prefix" --no-save --no-package-lock --no-audit --no-fund $packages >/dev/null
    echo "$packages" >"$prefix/packages.txt"
  fi
  $install_only && continue
  echo "nest-matrix: @tidings/nestjs tests on Nest $(node -p "require('./$prefix/node_modules/@nestjs/core/package.json').version")"
  TIDINGS_NEST_MAJOR=$major TIDINGS_NEST_MODULES="$PWD/$prefix/node_modules" \
    node node_modules/vitest/vitest.mjs run --project nestjs

  # The application with this major's own types, as a Nest $major project compiles it.
  cat >"$prefix/tsconfig.consumer.json" <<JSON
{
  "extends": "../../../$consumers/tsconfig.node10.json",
  "compilerOptions": {
    "paths": {
      "@nestjs/*": ["./node_modules/@nestjs/*"],
      "reflect-metadata": ["./node_modules/reflect-metadata"],
      "rxjs": ["./node_modules/rxjs"]
    }
  },
  "files": ["../../../$consumers/app.ts"]
}
JSON
  node node_modules/typescript/bin/tsc -p "$prefix/tsconfig.consumer.json"
  echo "nest-matrix: a Nest $major application type-checks (commonjs, node resolution)"
done
$install_only && exit 0

node node_modules/typescript/bin/tsc -p "$consumers/tsconfig.node10.json"
node node_modules/typescript/bin/tsc -p "$consumers/tsconfig.esm.json"
echo "nest-matrix: a Nest 12 application type-checks (commonjs with node resolution; nodenext ESM with @tidings/core/testing)"

# Subpaths (@tidings/core/testing, and @tidings/core/adapter in the adapters' types) resolve under
# node resolution only through typesVersions in @tidings/core; check the example that way once
# core declares them.
if node -e "process.exit(require('./packages/core/package.json').typesVersions ? 0 : 1)"; then
  node node_modules/typescript/bin/tsc -p examples/nestjs-orders/tsconfig.json --noEmit \
    --module commonjs --moduleResolution node --resolvePackageJsonExports false
  echo "nest-matrix: the example type-checks with node resolution"
else
  echo "nest-matrix: @tidings/core declares no typesVersions yet: the example is not checked with node resolution"
fi

rm -rf examples/nestjs-orders/dist
npm run build --workspace examples/nestjs-orders --silent
node tools/nest-example-smoke.mjs
