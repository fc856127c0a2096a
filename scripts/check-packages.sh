#!/usr/bin/env bash
# Packaging dry runs of what would be published: the four crates as crates.io would get them
# (`cargo package`, which also builds each one from its package, the dependents against the
# packaged convene-core and convene-room), and the npm packages' file lists (`npm pack --dry-run`
# on bindings/wasm/pkg, which scripts/build-wasm.sh made, and on bindings/react). Fails when a file a package needs is
# missing from it, or a file that must not ship is in it. Offline: the crates' dependencies are
# the ones the workspace build already fetched.
set -euo pipefail
cd "$(dirname "$0")/.."

crates=(convene-core convene-room convene-client convene-server)
fail() { echo "check-packages: $*" >&2; exit 1; }

# The files each crate needs (besides Cargo.toml), one per line.
needs() {
  case "$1" in
    convene-core) printf '%s\n' README.md src/lib.rs src/proto/mod.rs src/participant/mod.rs ;;
    convene-room) printf '%s\n' README.md src/lib.rs src/room.rs ;;
    convene-client) printf '%s\n' README.md src/lib.rs src/meeting.rs src/tls.rs ;;
    convene-server) printf '%s\n' README.md src/lib.rs src/main.rs src/store/postgres/migrations/V1__ownership.sql ;;
  esac
}

for crate in "${crates[@]}"; do
  list=$(cargo package --list -p "$crate" --allow-dirty --offline) || fail "$crate: cargo package --list failed"
  for file in Cargo.toml $(needs "$crate"); do
    grep -qx "$file" <<<"$list" || fail "$crate: the package lacks $file"
  done
  # Tests and benchmarks read workspace files and stay home; no data, keys or build output.
  if bad=$(grep -E '^(tests|benches|target|fuzz)/|\.(db|pem|crate)$|node_modules' <<<"$list"); then
    fail "$crate: the package holds files that must not ship: $bad"
  fi
  echo "$crate: $(wc -l <<<"$list") files"
done
packages=()
for crate in "${crates[@]}"; do packages+=(-p "$crate"); done
cargo package "${packages[@]}" --allow-dirty --offline

# An npm package ships exactly the files it is expected to.
check_npm() {
  local pkg=$1
  shift
  [ -f "$pkg/package.json" ] || fail "no $pkg/package.json"
  local shipped expected name
  shipped=$(cd "$pkg" && npm pack --dry-run --json --loglevel=error | node -e '
    let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => {
      for (const f of JSON.parse(s)[0].files) console.log(f.path);
    });' | sort)
  expected=$(printf '%s\n' "$@" | sort)
  if [ "$shipped" != "$expected" ]; then
    fail "the npm package in $pkg ships $(echo $shipped), not $(echo $expected)"
  fi
  name=$(node -p 'require("./'"$pkg"'/package.json").name')
  echo "npm package $name: $(wc -l <<<"$shipped") files"
}
[ -f bindings/wasm/pkg/package.json ] || fail "no bindings/wasm/pkg/package.json: run scripts/build-wasm.sh first"
check_npm bindings/wasm/pkg README.md convene_wasm.d.ts convene_wasm.js convene_wasm_bg.wasm generated.d.ts index.d.ts index.js node.js package.json
check_npm bindings/react README.md index.d.ts index.js package.json
