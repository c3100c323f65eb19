#!/usr/bin/env bash
# GitHub webhook: GitHub (played here by `signalbox webhook send`, which
# signs exactly as GitHub does) posts push and pull-request events to a
# webhook source; rules route pushes to main to CI and newly opened pull
# requests to chat. A request signed with the wrong secret is refused and
# stores nothing. See README.md.
#
#   examples/github-webhook/run.sh        # KEEP=1 keeps the temporary folder
#
# Exits non-zero if any service did not receive exactly what it should.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=../lib/common.sh
source "$HERE/../lib/common.sh"
trap cleanup EXIT
started=$(date +%s)

find_signalbox
start_server

log "starting the downstream services (signalbox sink)"
start_sink ci;   export CI_URL="$SINK_URL"
start_sink chat; export CHAT_URL="$SINK_URL"

export GITHUB_SECRET="It's a Secret to Everybody"
log "creating the webhook source and the rules"
mkdir -p "$WORK/rules"
render "$HERE/source.json" >"$WORK/source.json"
"$SB" source put github --file "$WORK/source.json"
for rule in ci chat; do
  render "$HERE/rules/$rule.json" >"$WORK/rules/$rule.json"
  "$SB" rule put "$rule" --file "$WORK/rules/$rule.json" >/dev/null
done
"$SB" rule list

verify="{\"scheme\":\"github\",\"secret\":\"$GITHUB_SECRET\"}"
send() { # EVENT DELIVERY FILE
  "$SB" webhook send github --verify "$verify" --file "$HERE/payloads/$3" \
    -H "X-GitHub-Event: $1" -H "X-GitHub-Delivery: $2"
}
log "GitHub delivers four webhooks"
send push         3f1e6a20-0001-11ef-8000-0242ac120002 push-main.json
send push         3f1e6a20-0002-11ef-8000-0242ac120002 push-feature.json
send pull_request 3f1e6a20-0003-11ef-8000-0242ac120002 pr-opened.json
send pull_request 3f1e6a20-0004-11ef-8000-0242ac120002 pr-closed.json

log "GitHub retries one delivery: acknowledged, not stored twice"
send push 3f1e6a20-0001-11ef-8000-0242ac120002 push-main.json

log "someone without the secret tries: refused (401), nothing stored"
if "$SB" webhook send github --verify '{"scheme":"github","secret":"a guess, a guess, a guess"}' \
  --file "$HERE/payloads/push-main.json" -H "X-GitHub-Event: push" -H "X-GitHub-Delivery: forged-1"; then
  echo "a forged webhook was accepted" >&2
  exit 1
fi

wait_for_deliveries "$HERE/expected.json" 60
stored=$("$SB" --output json events list | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["events"]))')
echo "events on the bus: $stored (four deliveries; the retry and the forgery stored nothing)"
[ "$stored" = 4 ] || { echo "expected 4 events, found $stored" >&2; exit 1; }

log "the source's status"
"$SB" source get github
echo
echo "the push to main, from webhook to CI (signalbox trace)"
"$SB" trace 3f1e6a20-0001-11ef-8000-0242ac120002

for s in ci chat; do
  log "what $s received"
  cat "$WORK/$s.out"
done

log "checking every service against expected.json"
status=0
python3 "$ROOT/examples/lib/verify.py" "$HERE/expected.json" "$WORK" || status=$?
echo "github-webhook took $(($(date +%s) - started)) s"
exit "$status"
