#!/usr/bin/env bash
# Order service: order created / paid / shipped / returned / exchanged events
# from the shop routed to inventory, shipping, refunds (returns only), chat
# notifications (a JavaScript transform) and a fraud check for high-value
# orders (a Rust filter). See README.md for the flow.
#
#   examples/order-service/run.sh        # KEEP=1 keeps the temporary folder
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
start_sink inventory;     export INVENTORY_URL="$SINK_URL"
start_sink shipping;      export SHIPPING_URL="$SINK_URL"
start_sink refunds;       export REFUNDS_URL="$SINK_URL"
start_sink notifications; export NOTIFICATIONS_URL="$SINK_URL"
start_sink fraud;         export FRAUD_URL="$SINK_URL"

log "pushing the plugins (each is compiled once, on upload)"
"$SB" plugin push "$GUEST_PLUGINS/transform_order_notify.wasm" order-notify@1.0.0
"$SB" plugin push "$RUST_PLUGINS/filter_high_value.wasm" high-value@1.0.0

log "creating the bus and the rules"
"$SB" bus create orders --description "Order lifecycle events from the shop" >/dev/null
mkdir -p "$WORK/rules"
for rule in inventory shipping refunds notifications fraud-check; do
  render "$HERE/rules/$rule.json" >"$WORK/rules/$rule.json"
  "$SB" rule put "$rule" --bus orders --file "$WORK/rules/$rule.json" >/dev/null
done
"$SB" rule list --bus orders

log "sending $(wc -l <"$HERE/events.jsonl") events from the shop"
SIGNALBOX_SERVER="$PUBLISH_SERVER" "$SB" put --bus orders --file "$HERE/events.jsonl"
wait_for_deliveries "$HERE/expected.json" 120

log "where each event went (signalbox trace)"
python3 "$ROOT/examples/lib/traces.py" "$SB" orders "$HERE/events.jsonl"
echo
echo "one trace in full: a 1688 EUR order, which also goes to the fraud check"
"$SB" trace ord-0002 --bus orders
echo
echo "and a cancellation, for which the chat transform returns no message"
"$SB" trace ord-0017 --bus orders

for s in inventory shipping refunds notifications fraud; do
  log "what $s received"
  cat "$WORK/$s.out"
done

log "checking every service against expected.json"
status=0
python3 "$ROOT/examples/lib/verify.py" "$HERE/expected.json" "$WORK" || status=$?
echo "order-service took $(($(date +%s) - started)) s"
exit "$status"
