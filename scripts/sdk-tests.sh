#!/usr/bin/env bash
# Cloudflare's official SDKs as clients of a real convene-server: every RealtimeKit method of
# theirs for what Convene implements, each answer validated strictly against the SDK's own
# response model (tests/sdk/). Installs the pinned SDKs when missing (the Python one into
# target/sdk-venv, the TypeScript one into tests/sdk/typescript/node_modules); safe to run again.
# The tests start and stop their own server (target/debug/convene-server, built here).
#
# Usage: scripts/sdk-tests.sh
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=target/sdk-venv
REQUIREMENTS=tests/sdk/python/requirements.txt

step() { printf '\n==> %s\n' "$*"; }

step "Cloudflare's Python SDK (pinned in $REQUIREMENTS, in $VENV)"
stamp="$VENV/.requirements"
if ! cmp -s "$REQUIREMENTS" "$stamp" 2>/dev/null; then
  if ! python3 -m venv --clear "$VENV" 2>/dev/null; then
    # Debian's python3 lacks venv until python3-venv is installed.
    apt-get update -qq && apt-get install -y -qq python3-venv
    python3 -m venv --clear "$VENV"
  fi
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$REQUIREMENTS"
  cp "$REQUIREMENTS" "$stamp"
fi

step "build convene-server"
cargo build -p convene-server --locked

step "the Python SDK against convene-server"
(cd tests/sdk/python && CONVENE_SERVER="$PWD/../../../target/debug/convene-server" \
  "../../../$VENV/bin/python" -m unittest -v test_official_python_sdk)

step "Cloudflare's TypeScript SDK (pinned in tests/sdk/typescript/package.json)"
(cd tests/sdk/typescript && npm ci --no-audit --no-fund --loglevel=error)

step "the TypeScript SDK against convene-server (tsc --strict, then the run-time checks)"
(cd tests/sdk/typescript && CONVENE_SERVER="$PWD/../../../target/debug/convene-server" npm test)
