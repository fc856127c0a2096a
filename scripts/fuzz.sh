#!/usr/bin/env bash
# Runs every cargo-fuzz target (fuzz/fuzz_targets/) for SECONDS_PER_TARGET seconds each, one after
# the other, one fuzzing process at a time, and prints each target's executions and findings.
# Exits non-zero if any target crashed (a panic, a failed invariant, a sanitizer report, a leak,
# a timeout or an out-of-memory). Installs cargo-fuzz if it is missing; safe to run again.
#
# Usage: scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]     (default: 10 seconds, every target)
#
# Corpus: each target starts from its committed, minimized corpus in fuzz/corpus/<target>/, which
# this script only reads. What a run discovers goes to a scratch corpus in
# fuzz/target/scratch-corpus/<target>/ (ignored by git, kept between runs, so longer runs build on
# earlier ones). To refresh the committed corpus after long runs, minimize both into it, keeping
# it small (at most ~200 files per target):
#   cd fuzz && cargo +nightly fuzz cmin <target> corpus/<target> target/scratch-corpus/<target>
# Crashing inputs are written to fuzz/artifacts/<target>/ (ignored by git); replay one with
#   cd fuzz && cargo +nightly fuzz run <target> artifacts/<target>/<file>
# and turn it into a regression test (crates/convene-core/tests/fuzz_regressions.rs).
#
# Environment: CARGO_BUILD_JOBS (default 1), FUZZ_LOG_DIR (default fuzz/target/fuzz-logs).
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:-10}"
shift || true
if ! [[ "$seconds" =~ ^[0-9]+$ ]] || [ "$seconds" -lt 1 ]; then
  echo "usage: scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]" >&2
  exit 2
fi
all_targets=(frame_decode participant_machine room_machine rest_bodies)
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("${all_targets[@]}")
for target in "${targets[@]}"; do
  if [[ " ${all_targets[*]} " != *" $target "* ]]; then
    echo "fuzz.sh: unknown target $target (known: ${all_targets[*]})" >&2
    exit 2
  fi
done

export CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-1}"

# cargo-fuzz needs a nightly compiler (sanitizer and coverage flags). Use the nightly toolchain if
# rustup has one; otherwise the default toolchain with RUSTC_BOOTSTRAP=1, which allows the same
# flags on a stable compiler.
if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
  cargo=(cargo +nightly)
else
  echo "fuzz.sh: no nightly toolchain; using the default toolchain with RUSTC_BOOTSTRAP=1" >&2
  export RUSTC_BOOTSTRAP=1
  cargo=(cargo)
fi

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "==> installing cargo-fuzz"
  cargo install cargo-fuzz --locked || cargo install cargo-fuzz
fi

cd fuzz
log_dir="${FUZZ_LOG_DIR:-target/fuzz-logs}"
mkdir -p "$log_dir"

# Only rest_bodies needs convene-server (the feature `server`); without it the build is faster.
features=(--no-default-features)
for target in "${targets[@]}"; do
  if [ "$target" = rest_bodies ]; then
    features=()
  fi
done

echo "==> building the fuzz targets: ${targets[*]}"
"${cargo[@]}" fuzz build "${features[@]}"

status=0
summary=()
for target in "${targets[@]}"; do
  seeds="corpus/$target"
  scratch="target/scratch-corpus/$target"
  mkdir -p "$seeds" "$scratch" "artifacts/$target"
  args=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1)
  [ -f "$target.dict" ] && args+=(-dict="$target.dict")
  log="$log_dir/$target.log"
  before=$(find "artifacts/$target" -type f | wc -l)
  echo "==> $target: ${seconds}s on $seeds (+ $scratch)"
  started=$SECONDS
  set +e
  "${cargo[@]}" fuzz run "${features[@]}" "$target" "$scratch" "$seeds" -- "${args[@]}" >"$log" 2>&1
  rc=$?
  set -e
  took=$((SECONDS - started))
  after=$(find "artifacts/$target" -type f | wc -l)
  execs=$(awk '/^stat::number_of_executed_units:/ {n = $2} END {print n}' "$log")
  rate=$(awk '/^stat::average_exec_per_sec:/ {n = $2} END {print n}' "$log")
  files=$(find "$scratch" "$seeds" -type f | wc -l)
  corp=$(grep -Eo 'corp: [0-9]+/[0-9]+[a-zA-Z]*' "$log" | tail -n1 | sed 's/corp: //' || true)
  cov=$(grep -Eo 'cov: [0-9]+ ft: [0-9]+' "$log" | tail -n1 || true)
  if [ "$rc" -eq 0 ]; then
    found="nothing found"
  else
    status=1
    found="FOUND a failure (exit $rc, $((after - before)) new artifact(s) in fuzz/artifacts/$target/; log $PWD/$log)"
    grep -E 'panicked at|invariant violated|ERROR: (AddressSanitizer|libFuzzer|LeakSanitizer)|SUMMARY' "$log" | head -n 5 || true
  fi
  line="$target: ${execs:-?} executions, ${rate:-?} exec/s (${took}s with the build), corpus ${corp:-?} units ($files files on disk), ${cov:-cov ?}: $found"
  echo "$line"
  summary+=("$line")
done

echo
echo "==> fuzzing summary ($(date -u +%Y-%m-%dT%H:%MZ), ${seconds}s per target)"
printf '%s\n' "${summary[@]}"
exit "$status"
