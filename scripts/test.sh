#!/usr/bin/env bash
# Runs every test of the project. Installs what the machine lacks; safe to run again.
# Usage: scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "toolchain components"
for component in rustfmt clippy; do
  if ! rustup component list --installed 2>/dev/null | grep -q "^${component}"; then
    rustup component add "$component"
  fi
done

step "system tools the tests use (curl, openssl, PostgreSQL, Redis, nginx)"
missing=()
command -v curl >/dev/null 2>&1 || missing+=(curl)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
# redis-server, and PostgreSQL's programs (initdb, pg_ctl): the cluster tests start throwaway
# servers of their own.
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
# nginx: the reverse-proxy tests put one in front of the server (crates/convene-server/tests).
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx)
if ! [ -x "$(pg_config --bindir 2>/dev/null)/initdb" ] && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  missing+=(postgresql)
fi
if [ ${#missing[@]} -gt 0 ]; then
  # The tests start servers of their own: the packages must not start their system services
  # (nginx's would fail where port 80 is taken or IPv6 is missing, and fail the install).
  policy=/usr/sbin/policy-rc.d
  made_policy=
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod +x "$policy" && made_policy=1
  fi
  installed=0
  { apt-get update -qq && apt-get install -y -qq "${missing[@]}"; } || installed=$?
  if [ -n "$made_policy" ]; then rm -f "$policy"; fi
  [ "$installed" -eq 0 ] || exit "$installed"
fi

step "browser toolchain: wasm32 target, wasm-bindgen CLI at the Cargo.lock version, Chromium, npm packages"
rustup target list --installed | grep -q '^wasm32-unknown-unknown$' || rustup target add wasm32-unknown-unknown
wb_version=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/"/, "", $3); print $3; exit }' Cargo.lock)
if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$wb_version" ]; then
  cargo install wasm-bindgen-cli --version "$wb_version"
fi
if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
  apt-get update -qq && apt-get install -y -qq chromium chromium-driver
fi
(cd bindings/wasm/test && npm ci --no-audit --no-fund --loglevel=error)

step "format"
cargo fmt --all -- --check

step "clippy (warnings are errors), native and wasm32"
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo clippy -p convene-wasm --target wasm32-unknown-unknown --all-targets --locked -- -D warnings
cargo clippy -p convene-core --features typescript --all-targets --locked -- -D warnings

step "the core stays sans-IO"
scripts/check-sans-io.sh

step "the main job (README's first command), which must keep working"
cargo run --example end-session --locked

step "tests"
cargo test --workspace --locked
# The npm package's generated declarations are what the Rust types give (bindings/wasm/js/generated.d.ts).
cargo test -p convene-core --features typescript --lib --locked typescript

step "fuzz targets, briefly, on their committed corpus (the long runs are in docs/reliability.md)"
CARGO_BUILD_JOBS=2 scripts/fuzz.sh 5

step "REST schema tests (Schemathesis against /client/v4/openapi.json)"
scripts/schemathesis.sh

step "Cloudflare's official SDKs as clients (tests/sdk)"
scripts/sdk-tests.sh

step "the npm packages: build (size guard), wasm-bindgen tests in headless Chromium, JS and React tests, TypeScript"
cargo build -p convene-server --locked
scripts/build-wasm.sh --fault-injection
CHROMEDRIVER=/usr/bin/chromedriver CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner \
  cargo test -p convene-wasm --target wasm32-unknown-unknown --locked
# The React twin of the demo page links the built package and convene-react (file: dependencies).
(cd examples/browser-react && npm ci --no-audit --no-fund --loglevel=error && npx tsc -p tsconfig.json)
(cd bindings/wasm/test && node --test --test-concurrency=1 ./*.test.mjs && npx tsc -p tsconfig.json)

step "packaging dry runs: the crates as crates.io gets them, the npm packages' files"
scripts/check-packages.sh

step "load tool smoke run (every workload at N = 50)"
cargo build -p convene-load --locked
load=target/debug/convene-load
$load kick-all --participants 50
$load kick-all --participants 50 --server-process --no-participant-list --plot target/kick-all-smoke.svg
$load floor --participants 50
$load join-storm --participants 50
$load churn --participants 50 --duration 5 --rate 10
$load big-room --participants 50
$load kick-all --participants 50 --nodes 3
$load takeover --participants 50 --nodes 3

step "soak, one minute: 1,000 participants join and leave; open files, tasks and heap back to baseline"
$load soak --participants 1000 --duration 60

step "wasm-versus-native core benchmark, small (checks that both sides run and agree)"
scripts/bench-wasm-vs-native.sh 1000 2000 2

step "benchmarks compile and run once (test mode)"
cargo test -p convene-core --bench core --locked

step "docs build without warnings"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked

printf '\nall checks passed\n'
