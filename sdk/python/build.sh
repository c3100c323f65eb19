#!/usr/bin/env bash
# Builds a Signalbox plugin written in Python into a WebAssembly component.
#
#   sdk/python/build.sh <plugin.py> --world filter|lazy-filter|transform -o <out.wasm> [--wit DIR]
#
# The plugin is a module with plain functions (`init(config)`, and `keep(event)`
# or `transform(event)`) using the `signalbox` helpers in this folder. The build
# generates an entry module that adapts those functions to the generated
# bindings (signalbox/_world.py) and runs componentize-py on it, with the
# plugin's folder and this SDK on the module path. componentize-py bundles
# CPython and the standard library, so pure-Python packages put next to the
# plugin (or in a folder passed with -p … through SIGNALBOX_PY_PATH) work too.
#
# componentize-py (pinned in requirements.txt) lives in a virtualenv at
# $SIGNALBOX_PY_VENV (default sdk/python/.venv), created on first use; after
# that the build needs no network.
set -euo pipefail

SDK="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV="${SIGNALBOX_PY_VENV:-$SDK/.venv}"
WIT="$SDK/../../wit"
usage() {
  [ $# -gt 0 ] && echo "error: $*" >&2
  echo "usage: sdk/python/build.sh <plugin.py> --world filter|lazy-filter|transform -o <out.wasm> [--wit DIR]" >&2
  exit 2
}

plugin="" world="" out=""
while [ $# -gt 0 ]; do
  case "$1" in
    -w|--world) world="${2:-}"; shift 2 ;;
    -o|--out) out="${2:-}"; shift 2 ;;
    --wit) WIT="${2:-}"; shift 2 ;;
    -h|--help) usage ;;
    -*) usage "unknown option $1" ;;
    *) [ -z "$plugin" ] || usage "give exactly one plugin module"; plugin="$1"; shift ;;
  esac
done
[ -n "$plugin" ] || usage "give the plugin module (a .py file)"
[ -n "$world" ] || usage "--world is required"
[ -n "$out" ] || usage "-o <out.wasm> is required"
case "$world" in
  filter|lazy-filter|transform) ;;
  connector) usage "connectors cannot be written in Python yet; write them in Rust" ;;
  *) usage "unknown world '$world': use filter, lazy-filter or transform" ;;
esac
[ -f "$plugin" ] || usage "$plugin does not exist"
case "$plugin" in *.py) ;; *) usage "$plugin is not a .py file" ;; esac

pinned="$(sed -n 's/^componentize-py==//p' "$SDK/requirements.txt")"
if [ ! -x "$VENV/bin/componentize-py" ] || [ "$("$VENV/bin/componentize-py" --version 2>/dev/null | awk '{print $2}')" != "$pinned" ]; then
  echo "signalbox: installing componentize-py $pinned into $VENV" >&2
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$SDK/requirements.txt"
fi

plugin_dir="$(cd "$(dirname "$plugin")" && pwd)"
module="$(basename "$plugin" .py)"
case "$module" in
  signalbox|signalbox_entry|wit_world) usage "name the plugin module something other than '$module'" ;;
esac
mkdir -p "$(dirname "$out")"
out_abs="$(cd "$(dirname "$out")" && pwd)/$(basename "$out")"
work="$(mktemp -d "${TMPDIR:-/tmp}/signalbox-py-XXXXXX")"
trap 'rm -rf "$work"' EXIT
lazy=None
if [ "$world" = lazy-filter ]; then
  lazy=_lazy
fi
cat >"$work/signalbox_entry.py" <<PY
import wit_world
from wit_world.imports import types as _types
$([ "$world" = lazy-filter ] && echo "from wit_world.imports import lazy as _lazy")
from signalbox._world import make_world
import $module as _plugin

WitWorld = make_world(wit_world.WitWorld, _types, "$world", _plugin, $lazy)
PY

# The plugin's folder is copied so that the build leaves nothing (such as
# __pycache__) next to the sources.
mkdir "$work/src"
(cd "$plugin_dir" && tar --exclude=__pycache__ --exclude=.venv --exclude='*.wasm' -cf - .) | (cd "$work/src" && tar -xf -)

extra=()
IFS=: read -r -a more <<<"${SIGNALBOX_PY_PATH:-}"
for p in "${more[@]}"; do [ -n "$p" ] && extra+=(-p "$p"); done
start=$(date +%s.%N)
# componentize-py writes its own progress to stdout; keep it off ours.
"$VENV/bin/componentize-py" -d "$WIT" -w "$world" componentize signalbox_entry \
  -p "$work" -p "$SDK" -p "$work/src" "${extra[@]}" -o "$work/raw.wasm" >"$work/log" 2>&1 || {
  cat "$work/log" >&2
  echo "error: componentize-py failed for $plugin" >&2
  exit 1
}
# componentize-py leaves its build-time `exports` instance exported;
# Signalbox accepts only the world's exports.
"$VENV/bin/python" "$SDK/tools/hide_init_export.py" "$work/raw.wasm" "$work/out.wasm"
mv "$work/out.wasm" "$out_abs"
end=$(date +%s.%N)
size=$(stat -c %s "$out_abs")
awk -v o="$out_abs" -v w="$world" -v s="$size" -v a="$start" -v b="$end" \
  'BEGIN { printf "built %s (%s, %.1f MB) in %.1f s\n", o, w, s / 1e6, b - a }' >&2
