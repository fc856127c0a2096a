#!/usr/bin/env bash
# Builds the npm package into bindings/wasm/pkg: the core compiled to WebAssembly (size-oriented
# profile, wasm-bindgen at the version pinned in Cargo.lock, wasm-opt -Oz) plus the JavaScript API
# and its TypeScript declarations. Checks the size budget: .wasm + JS glue + API under 120 KB
# (120,000 bytes) gzip -9. docs/benchmarks.md has the figures and what keeps them down.
# `--fault-injection` adds `simulateOutage` (the package's tests need it); the budget is checked
# on whichever build this makes, so the test build, a superset, checks it too.
set -euo pipefail
features=()
if [ "${1:-}" = "--fault-injection" ]; then
  features=(--features fault-injection)
fi
cd "$(dirname "$0")/.."
out=bindings/wasm/pkg
budget=120000

cargo build -p convene-wasm --target wasm32-unknown-unknown --profile wasm-release --locked "${features[@]}"
rm -rf "$out" && mkdir -p "$out"
wasm-bindgen --target web --out-dir "$out" --out-name convene_wasm \
  target/wasm32-unknown-unknown/wasm-release/convene_wasm.wasm
# wasm-opt from the npm `binaryen` package pinned in bindings/wasm/test (Debian's is too old for
# wasm-bindgen's reference-types output).
wasm_opt=bindings/wasm/test/node_modules/.bin/wasm-opt
"$wasm_opt" -Oz --converge --strip-debug --strip-producers --enable-bulk-memory --enable-sign-ext --enable-nontrapping-float-to-int \
  --enable-mutable-globals --enable-reference-types --enable-multivalue \
  -o "$out/convene_wasm_bg.opt.wasm" "$out/convene_wasm_bg.wasm"
mv "$out/convene_wasm_bg.opt.wasm" "$out/convene_wasm_bg.wasm"
cp bindings/wasm/js/index.d.ts bindings/wasm/js/generated.d.ts bindings/wasm/js/package.json bindings/wasm/js/README.md "$out/"
# Ship minified JavaScript (esbuild, pinned in bindings/wasm/test); the sources stay readable in
# bindings/wasm/js and in wasm-bindgen's output.
esbuild=bindings/wasm/test/node_modules/.bin/esbuild
"$esbuild" --minify --format=esm --log-level=warning bindings/wasm/js/index.js --outfile="$out/index.js"
"$esbuild" --minify --format=esm --log-level=warning bindings/wasm/js/node.js --outfile="$out/node.js"
"$esbuild" --minify --format=esm --log-level=warning "$out/convene_wasm.js" --outfile="$out/convene_wasm.min.js"
mv "$out/convene_wasm.min.js" "$out/convene_wasm.js"

size() { gzip -9 -c "$@" | wc -c; }
wasm_gz=$(size "$out/convene_wasm_bg.wasm")
glue_gz=$(cat "$out/convene_wasm.js" "$out/index.js" | gzip -9 -c | wc -c)
total=$((wasm_gz + glue_gz))
printf 'package: %s\n  convene_wasm_bg.wasm %d bytes (%d gzip -9)\n  JS glue + API %d bytes gzip -9\n  total %d bytes gzip -9 (budget %d)\n' \
  "$out" "$(wc -c < "$out/convene_wasm_bg.wasm")" "$wasm_gz" "$glue_gz" "$total" "$budget"
if [ "$total" -gt "$budget" ]; then
  echo "size budget exceeded: $total bytes gzip, budget $budget" >&2
  exit 1
fi
