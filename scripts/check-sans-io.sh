#!/usr/bin/env bash
# Fails if the normal dependency tree of a sans-IO core (the participant core, convene-core, and
# the room core, convene-room) contains a runtime, a browser API, a socket library, a database, a
# clock crate or an OS-seeded random source.
set -euo pipefail
cd "$(dirname "$0")/.."
forbidden='^(tokio|async-std|smol|mio|socket2|web-sys|js-sys|wasm-bindgen|tungstenite|tokio-tungstenite|hyper|reqwest|rusqlite|libsqlite3-sys|sqlx|postgres|tokio-postgres|redis|getrandom|rand|uuid|chrono|time|web-time|instant)$'
for crate in convene-core convene-room; do
  tree=$(cargo tree -p "$crate" -e normal --prefix none --locked | awk '{print $1}' | sort -u)
  if bad=$(printf '%s\n' "$tree" | grep -E "$forbidden"); then
    printf '%s must stay sans-IO, but depends on:\n%s\n' "$crate" "$bad" >&2
    exit 1
  fi
  printf '%s depends only on: %s\n' "$crate" "$(printf '%s\n' "$tree" | grep -v "^${crate}$" | tr '\n' ' ')"
done
# The room core takes its time from its inputs and its ids from the driver: no clock, randomness
# or OS call in its source either (doc examples and #[cfg(test)] modules aside).
pattern='Instant::now|SystemTime::now|thread_rng|RandomState|HashMap|HashSet|std::(fs|net|thread|process|env)'
if hits=$(awk -v pat="$pattern" '
    FNR == 1 { in_tests = 0 }
    /^#\[cfg\(test\)\]/ { in_tests = 1 }
    !in_tests && $0 !~ /^[[:space:]]*\/\/[\/!]/ && $0 ~ pat { print FILENAME ":" FNR ": " $0 }
  ' crates/convene-room/src/*.rs) && [ -n "$hits" ]; then
  printf 'convene-room must stay sans-IO, but its source reads a clock, randomness or the OS:\n%s\n' "$hits" >&2
  exit 1
fi
