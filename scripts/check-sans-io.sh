#!/usr/bin/env bash
# Fails if convene-core's normal dependency tree contains a runtime, a browser API, a socket
# library, a clock crate or an OS-seeded random source.
set -euo pipefail
cd "$(dirname "$0")/.."
tree=$(cargo tree -p convene-core -e normal --prefix none --locked | awk '{print $1}' | sort -u)
forbidden='^(tokio|async-std|smol|mio|web-sys|js-sys|wasm-bindgen|tungstenite|tokio-tungstenite|getrandom|rand|chrono|time|web-time|instant)$'
if bad=$(printf '%s\n' "$tree" | grep -E "$forbidden"); then
  printf 'convene-core must stay sans-IO, but depends on:\n%s\n' "$bad" >&2
  exit 1
fi
printf 'convene-core depends only on: %s\n' "$(printf '%s\n' "$tree" | grep -v '^convene-core$' | tr '\n' ' ')"
