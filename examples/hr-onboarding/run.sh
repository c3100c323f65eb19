#!/usr/bin/env bash
# HR onboarding: the HR system's employee events routed to IT account
# provisioning, payroll (in payroll's format), a welcome-mail connector and
# analytics (personal data removed), with internal test accounts dropped by
# a Python filter. See README.md for the flow.
#
#   examples/hr-onboarding/run.sh        # KEEP=1 keeps the temporary folder
#
# Exits non-zero if any service did not receive exactly what it should.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=../lib/common.sh
source "$HERE/../lib/common.sh"
trap cleanup EXIT
started=$(date +%s)

find_signalbox
build_rust_plugins
build_guest_plugins
start_server

log "starting the downstream services (signalbox sink)"
start_sink it;        export IT_URL="$SINK_URL"
start_sink payroll;   export PAYROLL_URL="$SINK_URL"
start_sink mail;      export MAIL_URL="$SINK_URL" MAIL_HOST="$SINK_HOST"
start_sink analytics; export ANALYTICS_URL="$SINK_URL"

log "pushing the plugins (each is compiled once, on upload)"
"$SB" plugin push "$GUEST_PLUGINS/filter_drop_test_accounts.wasm" drop-test-accounts@1.0.0
"$SB" plugin push "$RUST_PLUGINS/transform_sanitize_pii.wasm" sanitize-pii@1.0.0
"$SB" plugin push "$RUST_PLUGINS/connector_webhook.wasm" webhook@1.0.0

log "creating the bus and the rules"
"$SB" bus create hr --description "Employee lifecycle events from the HR system" >/dev/null
mkdir -p "$WORK/rules"
for rule in it-provisioning payroll welcome-mail analytics; do
  render "$HERE/rules/$rule.json" >"$WORK/rules/$rule.json"
  "$SB" rule put "$rule" --bus hr --file "$WORK/rules/$rule.json" >/dev/null
done
"$SB" rule list --bus hr

log "sending $(wc -l <"$HERE/events.jsonl") events from the HR system"
SIGNALBOX_SERVER="$PUBLISH_SERVER" "$SB" put --bus hr --file "$HERE/events.jsonl"
wait_for_deliveries "$HERE/expected.json" 120

log "where each event went (signalbox trace)"
python3 "$ROOT/examples/lib/traces.py" "$SB" hr "$HERE/events.jsonl"
echo
echo "one trace in full: a test account, dropped by the Python filter"
"$SB" trace hr-0003 --bus hr
echo
echo "and a new hire, delivered everywhere"
"$SB" trace hr-0001 --bus hr

for s in it payroll mail analytics; do
  log "what $s received"
  cat "$WORK/$s.out"
done

log "checking every service against expected.json"
status=0
python3 "$ROOT/examples/lib/verify.py" "$HERE/expected.json" "$WORK" || status=$?
echo "hr-onboarding took $(($(date +%s) - started)) s"
exit "$status"
