#!/usr/bin/env python3
"""Removes componentize-py's internal ``exports`` export from a component.

componentize-py 0.25 leaves, next to the world's exports, an instance
export named ``exports`` (the ``init`` its build-time pre-initialisation
calls, with the symbol tables of the Python bindings). Signalbox accepts
only the world's own exports (``init`` and ``keep``/``transform``), so the
build replaces that top-level export with an empty instance: the
component's index spaces stay exactly as they were (nothing after it can
refer to a different item), the instance simply is no longer exported.

    hide_init_export.py IN.wasm OUT.wasm

Only a top-level export section holding exactly that one export is
rewritten; anything else is an error, so a future componentize-py that
lays the component out differently fails loudly here instead of producing
a broken plugin.
"""

import sys

COMPONENT_PREAMBLE = b"\x00asm\x0d\x00\x01\x00"
EXPORT_SECTION = 11
INSTANCE_SECTION = 5
SORT_INSTANCE = 0x05
HIDDEN = b"exports"


def leb(data: bytes, i: int):
    result = shift = 0
    while True:
        byte = data[i]
        i += 1
        result |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return result, i


def hide(data: bytes) -> bytes:
    if not data.startswith(COMPONENT_PREAMBLE):
        raise SystemExit("not a WebAssembly component (unexpected preamble %s)" % data[:8].hex())
    out = bytearray(data[:8])
    i = 8
    hidden = 0
    while i < len(data):
        sid = data[i]
        size, body = leb(data, i + 1)
        end = body + size
        section = data[i:end]
        if sid == EXPORT_SECTION:
            count, j = leb(data, body)
            # exportname' ::= 0x00 len name | 0x01 len name
            if count == 1 and data[j] in (0x00, 0x01):
                name_len, k = leb(data, j + 1)
                name = data[k : k + name_len]
                k += name_len
                if name == HIDDEN:
                    if data[k] != SORT_INSTANCE:
                        raise SystemExit("the `exports` export is not an instance; unexpected layout")
                    _, k = leb(data, k + 1)
                    if data[k] != 0x00 or k + 1 != end:
                        raise SystemExit("the `exports` export has a type ascription; unexpected layout")
                    # One instance made of zero inline exports, in place of the export.
                    section = bytes([INSTANCE_SECTION, 3, 1, 0x01, 0])
                    hidden += 1
        out += section
        i = end
    if hidden != 1:
        raise SystemExit("expected one top-level `exports` instance export, found %d" % hidden)
    return bytes(out)


def main() -> None:
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    with open(sys.argv[1], "rb") as f:
        data = f.read()
    with open(sys.argv[2], "wb") as f:
        f.write(hide(data))


if __name__ == "__main__":
    main()
