#!/usr/bin/env bash
# The wasm-versus-native benchmark of the core: the same roster-churn workload
# (benches/wasm-vs-native) built natively (release) and to wasm32 (by default with the shipped
# browser package's settings: profile wasm-release, wasm-opt -Oz), the wasm side run in Node.
# Prints both figures and the ratio (wasm time / native time).
#
# Usage: scripts/bench-wasm-vs-native.sh [PEERS] [PAIRS] [ROUNDS]   (default 10000 20000 5)
#   WASM_PROFILE=release  builds the wasm side with opt-level 3 instead (and skips wasm-opt -Oz)
set -euo pipefail
cd "$(dirname "$0")/.."
peers=${1:-10000}
pairs=${2:-20000}
rounds=${3:-5}
profile=${WASM_PROFILE:-wasm-release}
out=target/wasm-vs-native

cargo build -p convene-churn-bench --release --locked --bin roster-churn-native
cargo build -p convene-churn-bench --lib --target wasm32-unknown-unknown --profile "$profile" --locked
rm -rf "$out" && mkdir -p "$out"
wasm-bindgen --target nodejs --out-dir "$out" "target/wasm32-unknown-unknown/$profile/convene_churn_bench.wasm"
if [ "$profile" = wasm-release ]; then
  wasm_opt=bindings/wasm/test/node_modules/.bin/wasm-opt
  "$wasm_opt" -Oz --strip-debug --enable-bulk-memory --enable-sign-ext --enable-nontrapping-float-to-int \
    --enable-mutable-globals --enable-reference-types --enable-multivalue \
    -o "$out/opt.wasm" "$out/convene_churn_bench_bg.wasm"
  mv "$out/opt.wasm" "$out/convene_churn_bench_bg.wasm"
fi

native=$(target/release/roster-churn-native "$peers" "$pairs" "$rounds")
wasm=$(node benches/wasm-vs-native/node.mjs "$out/convene_churn_bench.js" "$peers" "$pairs" "$rounds")
echo "$native"
echo "$wasm"
node -e '
const [n, w] = [JSON.parse(process.argv[1]), JSON.parse(process.argv[2])];
const ratio = w.best_ns_per_pair / n.best_ns_per_pair;
console.log(JSON.stringify({ profile: process.argv[3], native_ns_per_pair: n.best_ns_per_pair,
  wasm_ns_per_pair: w.best_ns_per_pair, wasm_over_native: Math.round(ratio * 100) / 100 }));
' "$native" "$wasm" "$profile"
