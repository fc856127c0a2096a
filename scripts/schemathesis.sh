#!/usr/bin/env bash
# Schema tests of the REST API: Schemathesis against the OpenAPI document the server serves
# (/client/v4/openapi.json), every operation, with an admin token. Fails on any 5xx, any status
# code the document does not list, any wrong content type and any body that does not match its
# schema. Installs Schemathesis (pinned) into a venv under target/ when missing; safe to run again.
#
# Usage: scripts/schemathesis.sh [extra `schemathesis run` options]
#   SCHEMATHESIS_MAX_EXAMPLES  test cases per operation and phase (default 30)
#   SCHEMATHESIS_WORKERS       concurrent workers (default 1: with more, Python 3.11 before 3.11.8 can
#                              fail inside Hypothesis with "AST constructor recursion depth mismatch")
#   SCHEMATHESIS_SEED          a seed, to replay a run (default: random, printed by Schemathesis)
set -euo pipefail
cd "$(dirname "$0")/.."

SCHEMATHESIS_VERSION=4.32.5
VENV=target/schemathesis-venv
MAX_EXAMPLES=${SCHEMATHESIS_MAX_EXAMPLES:-30}
WORKERS=${SCHEMATHESIS_WORKERS:-1}
BIN=target/debug/convene-server

step() { printf '\n==> %s\n' "$*"; }

step "schemathesis $SCHEMATHESIS_VERSION (in $VENV)"
installed=$("$VENV/bin/schemathesis" --version 2>/dev/null | awk '{print $NF}' || true)
if [ "$installed" != "$SCHEMATHESIS_VERSION" ]; then
  if ! python3 -m venv --clear "$VENV" 2>/dev/null; then
    # Debian's python3 lacks venv until python3-venv is installed.
    apt-get update -qq && apt-get install -y -qq python3-venv
    python3 -m venv --clear "$VENV"
  fi
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi
"$VENV/bin/schemathesis" --version

step "build convene-server"
cargo build -p convene-server --locked

work=$(mktemp -d "${TMPDIR:-/tmp}/convene-schemathesis.XXXXXX")
server_pid=""
peer_pids=()
cleanup() {
  for pid in ${peer_pids[@]+"${peer_pids[@]}"}; do
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

step "start convene-server on an ephemeral loopback port (data in $work/data)"
# An admin token made with the CLI before the first start: the server then generates none.
token=$("$BIN" token create --scope admin --all-accounts --data "$work/data")
env -u CONVENE_ADMIN_TOKEN NO_COLOR=1 "$BIN" --listen 127.0.0.1:0 --data "$work/data" --webhook-allow-private >"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 300); do
  grep -q 'ready app:' "$work/server.log" && break
  if ! kill -0 "$server_pid" 2>/dev/null; then
    cat "$work/server.log" >&2
    echo "convene-server exited before it was ready" >&2
    exit 1
  fi
  sleep 0.1
done
if ! grep -q 'ready app:' "$work/server.log"; then
  cat "$work/server.log" >&2
  echo "convene-server was not ready within 30 s" >&2
  exit 1
fi
url=$(sed -n 's/^convene-server listening on \(http[^ ]*\).*/\1/p' "$work/server.log")
account=$(sed -n 's/.*ready app: account \([^,]*\), app \([^ ]*\).*/\1/p' "$work/server.log")
app=$(sed -n 's/.*ready app: account \([^,]*\), app \([^ ]*\).*/\2/p' "$work/server.log")
echo "server $url, account $account, app $app"

step "seed: meetings with a live session, a participant, recordings, a preset, a webhook"
kit="$url/client/v4/accounts/$account/realtime/kit/$app"
# api METHOD PATH BODY FIELD: a request with the admin token (BODY may be ''); prints data.FIELD.
api() {
  local method=$1 path=$2 body=$3 field=$4
  curl -sS --fail-with-body -X "$method" -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
    ${body:+-d "$body"} "$kit$path" |
    "$VENV/bin/python" -c 'import json, sys; print(json.load(sys.stdin)["data"][sys.argv[1]])' "$field"
}
# join MEETING NAME: adds a host participant that joins over the WebSocket and stays connected
# (the meeting has a live session until it is kicked or the session ends). Sets $joined to its id.
join() {
  local meeting=$1 name=$2 participant participant_token pid
  participant=$(api POST "/meetings/$meeting/participants" \
    "{\"custom_participant_id\":\"$name\",\"preset_name\":\"group_call_host\",\"name\":\"$name\"}" id)
  participant_token=$(api POST "/meetings/$meeting/participants/$participant/token" '' token)
  "$VENV/bin/python" scripts/schemathesis/live_peer.py "ws://${url#http://}/v1/signal" "$participant_token" \
    >"$work/peer-$name.log" 2>&1 &
  pid=$!
  peer_pids+=("$pid")
  for _ in $(seq 1 100); do
    grep -qs joined "$work/peer-$name.log" && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if ! grep -qs joined "$work/peer-$name.log"; then
    cat "$work/peer-$name.log" >&2
    echo "participant $name could not join" >&2
    return 1
  fi
  joined=$participant
}
preset_name=schemathesis_seed
preset=$(api POST /presets "{\"name\":\"$preset_name\",\"permissions\":{\"kick_participant\":true}}" id)
webhook=$(api POST /webhooks '{"name":"seed","url":"http://127.0.0.1:9/hook","events":["meeting.started"],"enabled":false}' id)
meeting=$(api POST /meetings '{"title":"schemathesis seed"}' id)
join "$meeting" seed
participant=$joined
session=$(api GET "/meetings/$meeting/active-session" '' id)
# The seeded participant's stay in that session: its peer id.
peer=$(curl -sS --fail-with-body -H "Authorization: Bearer $token" "$kit/sessions/$session/participants" |
  "$VENV/bin/python" -c 'import json, sys; print(json.load(sys.stdin)["data"]["participants"][0]["id"])')
# Two recordings of that session: one stopped (UPLOADED: its download answers 200), one running.
recording=$(api POST /recordings "{\"meeting_id\":\"$meeting\"}" id)
api PUT "/recordings/$recording" '{"action":"stop"}' status >/dev/null
running=$(api POST /recordings "{\"meeting_id\":\"$meeting\"}" id)
# kick and kick-all end a stay or a session for good: each gets a meeting of its own, so the
# first one stays live all along.
ending=$(api POST /meetings '{"title":"schemathesis kick-all"}' id)
join "$ending" ending
kicking=$(api POST /meetings '{"title":"schemathesis kick"}' id)
join "$kicking" kicked
kicked=$joined
echo "meeting $meeting (session $session, peer $peer, recordings $recording $running), participant $participant,"
echo "preset $preset, webhook $webhook, kick-all meeting $ending, kick meeting $kicking (participant $kicked)"
sed -e "s/@ACCOUNT@/$account/g" -e "s/@APP_ID@/$app/g" -e "s/@MEETING_ID@/$meeting/g" \
  -e "s/@PARTICIPANT_ID@/$participant/g" -e "s/@PRESET_ID@/$preset/g" -e "s/@WEBHOOK_ID@/$webhook/g" \
  -e "s/@SESSION_ID@/$session/g" -e "s/@PEER_ID@/$peer/g" -e "s/@RECORDING_ID@/$recording/g" -e "s/@RUNNING_RECORDING_ID@/$running/g" \
  -e "s/@ENDING_MEETING_ID@/$ending/g" -e "s/@KICK_MEETING_ID@/$kicking/g" -e "s/@KICKED_ID@/$kicked/g" \
  -e "s/@PRESET_NAME@/$preset_name/g" \
  scripts/schemathesis/schemathesis.toml >"$work/schemathesis.toml"

step "schemathesis run: $MAX_EXAMPLES examples per operation, $WORKERS workers"
# From target/schemathesis: Schemathesis and Hypothesis keep their caches (.schemathesis/ with the
# failures for `st replay`, .hypothesis/) in the current directory, and not in the repository's root.
mkdir -p target/schemathesis
started=$(date +%s)
status=0
(cd target/schemathesis && "../../$VENV/bin/schemathesis" --config-file "$work/schemathesis.toml" --no-color \
  run "$url/client/v4/openapi.json" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
  --header "Authorization: Bearer $token" \
  --max-examples "$MAX_EXAMPLES" \
  --workers "$WORKERS" \
  --request-timeout 10 \
  --generation-database none \
  ${SCHEMATHESIS_SEED:+--seed "$SCHEMATHESIS_SEED"} \
  "$@") || status=$?
echo "schemathesis took $(($(date +%s) - started)) s"

if ! kill -0 "$server_pid" 2>/dev/null; then
  echo "convene-server died during the run:" >&2
  tail -n 50 "$work/server.log" >&2
  exit 1
fi
if grep -q 'panicked' "$work/server.log"; then
  echo "convene-server panicked during the run:" >&2
  grep -A5 'panicked' "$work/server.log" >&2
  status=1
fi
if [ "$status" -ne 0 ]; then
  echo "schemathesis found failures (exit $status); server log: last lines" >&2
  tail -n 20 "$work/server.log" >&2
  exit "$status"
fi
echo "schemathesis: no failures"
