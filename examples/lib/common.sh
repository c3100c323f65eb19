# Shared by the examples' run.sh scripts (sourced, not run).
#
# Builds what an example needs, starts `signalbox serve` on a temporary data
# folder and `signalbox sink` receivers, and cleans everything up on exit.
# Set KEEP=1 to keep the temporary folder (server log, sink records).

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PIDS=()
WORK=""

log() { printf '\n\033[1m==> %s\033[0m\n' "$*" >&2; }

cleanup() {
  local code=$?
  for pid in "${PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${PIDS[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  if [ -n "$WORK" ]; then
    if [ "${KEEP:-0}" = 1 ] || [ "$code" != 0 ]; then
      echo "kept $WORK (server log, sink output and records)" >&2
    else
      rm -rf "$WORK"
    fi
  fi
  exit "$code"
}

# The signalbox binary: $SIGNALBOX_BIN, else a release build newer than the
# sources, else a dev build (built now; a no-op after `cargo test`).
find_signalbox() {
  # Cargo's own rule: CARGO_TARGET_DIR (as CI may set, to reuse a cache)
  # else target/ in the workspace.
  local target="${CARGO_TARGET_DIR:-$ROOT/target}"
  case "$target" in /*) ;; *) target="$ROOT/$target" ;; esac
  if [ -n "${SIGNALBOX_BIN:-}" ]; then
    SB="$SIGNALBOX_BIN"
  elif [ -x "$target/release/signalbox" ] &&
    [ -z "$(find "$ROOT/host/src" "$ROOT/host/Cargo.toml" "$ROOT/Cargo.lock" -newer "$target/release/signalbox" -print -quit)" ]; then
    SB="$target/release/signalbox"
  else
    log "building signalbox (cargo build -j1 --bin signalbox)"
    (cd "$ROOT" && cargo build -j1 --bin signalbox)
    SB="$target/debug/signalbox"
  fi
  echo "using $SB" >&2
}

# The Rust example plugins, as components in plugins/target/.
# The same target folder as tests/artifacts when SIGNALBOX_PLUGINS_TARGET_DIR
# is set (scripts/test sets it), so the test suite's build is reused.
build_rust_plugins() {
  local dir="${SIGNALBOX_PLUGINS_TARGET_DIR:-$ROOT/plugins/target}"
  log "building the Rust plugins (wasm32-wasip2)"
  (cd "$ROOT" && cargo build -j1 --release --target wasm32-wasip2 --manifest-path plugins/Cargo.toml --target-dir "$dir")
  RUST_PLUGINS="$dir/wasm32-wasip2/release"
}

# The JavaScript and Python plugins, as components in target/guest-plugins/.
build_guest_plugins() {
  log "building the JavaScript and Python plugins"
  "$ROOT/scripts/build-guest-plugins" >/dev/null
  GUEST_PLUGINS="${SIGNALBOX_GUEST_PLUGINS_DIR:-$ROOT/target/guest-plugins}"
}

# Waits until FILE has a line `listening on http://ADDR`; prints the URL.
# Only a whole line counts (`read` fails on a last line with no newline yet),
# so a half-written address is never taken for the port.
wait_listening() {
  local file="$1" what="$2" i line
  for i in $(seq 1 600); do
    if [ -f "$file" ]; then
      while IFS= read -r line; do
        case "$line" in
          "listening on "*) echo "${line#listening on }"; return 0 ;;
        esac
      done <"$file"
    fi
    sleep 0.1
  done
  echo "$what did not start; its output:" >&2
  cat "$file" >&2
  return 1
}

# free_ports N: N distinct free loopback TCP ports, on one line.
free_ports() {
  python3 -c '
import socket, sys
socks = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))' "$1"
}

# start_server: one `signalbox serve` on a temporary data folder; sets
# SIGNALBOX_SERVER (where the example creates things) and PUBLISH_SERVER
# (where it sends events).
#
# With SIGNALBOX_EXAMPLE_CLUSTER=1, a cluster instead: three `nats-server`
# nodes with JetStream (the one scripts/ensure-deps installs) and two
# `signalbox serve --cluster` nodes; the example creates its plugins and
# rules through the first node and publishes through the second.
start_server() {
  WORK="$(mktemp -d "${TMPDIR:-/tmp}/signalbox-example-XXXXXX")"
  if [ "${SIGNALBOX_EXAMPLE_CLUSTER:-0}" = 1 ]; then
    start_cluster
    return
  fi
  log "starting signalbox serve (data in $WORK/data)"
  RUST_LOG="${RUST_LOG:-info}" "$SB" serve --listen 127.0.0.1:0 --data-dir "$WORK/data" \
    >"$WORK/server.out" 2>"$WORK/server.log" &
  PIDS+=($!)
  SERVER="$(wait_listening "$WORK/server.log" "signalbox serve")"
  export SIGNALBOX_SERVER="$SERVER"
  PUBLISH_SERVER="$SERVER"
  echo "server at $SERVER" >&2
}

start_cluster() {
  local nats="${SIGNALBOX_NATS_SERVER:-$ROOT/tests/.venv/bin/nats-server}" i
  local ports=() routes=() urls=() all
  # Six distinct ports, chosen together (one at a time, a port just
  # released could be handed out twice).
  read -r -a all < <(free_ports 6)
  for i in 0 1 2; do
    ports+=("${all[$i]}")
    routes+=("nats://127.0.0.1:${all[$((i + 3))]}")
  done
  for i in 0 1 2; do urls+=("nats://127.0.0.1:${ports[$i]}"); done
  log "starting a 3-node NATS JetStream cluster"
  for i in 0 1 2; do
    "$nats" -a 127.0.0.1 -p "${ports[$i]}" -n "n$i" -js -sd "$WORK/nats$i" \
      --cluster_name signalbox-example --cluster "${routes[$i]}" \
      --routes "$(IFS=,; echo "${routes[*]}")" >"$WORK/nats$i.log" 2>&1 &
    PIDS+=($!)
  done
  local servers
  servers="$(IFS=,; echo "${urls[*]}")"
  printf '[cluster]\nreplicas = 3\n' >"$WORK/cluster.toml"
  local nodes=()
  for i in 1 2; do
    log "starting signalbox serve --cluster (node $i)"
    RUST_LOG="${RUST_LOG:-info}" "$SB" serve --listen 127.0.0.1:0 --data-dir "$WORK/node$i" \
      --config "$WORK/cluster.toml" --cluster "$servers" --node "node$i" \
      >"$WORK/node$i.out" 2>"$WORK/node$i.log" &
    PIDS+=($!)
    nodes+=("$(wait_listening "$WORK/node$i.log" "signalbox node $i")")
    wait_ready "${nodes[$((i - 1))]}"
  done
  export SIGNALBOX_SERVER="${nodes[0]}"
  PUBLISH_SERVER="${nodes[1]}"
  echo "cluster nodes at ${nodes[*]}: rules through the first, events through the second" >&2
}

# wait_ready URL: waits until the server's /readyz says ready.
wait_ready() {
  local i
  for i in $(seq 1 600); do
    if curl -fs "$1/readyz" >/dev/null 2>&1; then return 0; fi
    sleep 0.1
  done
  echo "$1 did not become ready" >&2
  return 1
}

# start_sink NAME: starts `signalbox sink --name NAME`, recording to
# $WORK/NAME.jsonl; sets SINK_URL (http://ADDR) and SINK_HOST (ADDR).
start_sink() {
  local name="$1"
  "$SB" sink --name "$name" --record "$WORK/$name.jsonl" --preview 100 \
    >"$WORK/$name.out" 2>"$WORK/$name.err" &
  PIDS+=($!)
  SINK_URL="$(wait_listening "$WORK/$name.err" "sink $name")"
  SINK_HOST="${SINK_URL}"
  printf '  %-14s %s\n' "$name" "$SINK_URL" >&2
}

# render FILE: the file with every @NAME@ replaced by the value of $NAME.
render() {
  python3 - "$1" <<'PY'
import os, re, sys
text = open(sys.argv[1]).read()
def sub(m):
    name = m.group(1)
    if name not in os.environ:
        sys.exit("%s: @%s@ is not set" % (sys.argv[1], name))
    return os.environ[name]
sys.stdout.write(re.sub(r"@([A-Z_]+)@", sub, text))
PY
}

# wait_for_deliveries EXPECTED.json TIMEOUT_S: waits until every sink has
# recorded at least as many accepted requests as it expects, then a moment
# more so that anything extra shows up too.
wait_for_deliveries() {
  python3 "$ROOT/examples/lib/verify.py" --wait "$2" "$1" "$WORK"
}
