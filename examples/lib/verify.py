#!/usr/bin/env python3
"""Checks what each `signalbox sink` recorded against an example's
expectations, and exits 1 on any difference.

    verify.py EXPECTED.json WORKDIR            # check, print a report
    verify.py --wait SECS EXPECTED.json WORKDIR  # wait until the counts are reached

EXPECTED.json::

    {"sinks": {
       "it": {"ids": ["hr-0001", ...],              # exactly these, each once
              "id": "events",                       # where the id is: the CloudEvent
                                                    # (ce-id header or body id, the default)
                                                    # or a dotted path in the record
                                                    # such as "body.source_event"
              "each": {"headers.content-type": "application/json",   # equal
                       "body.data.email": {"absent": true},          # missing
                       "body.subject": {"prefix": "Welcome"}}}}}     # starts with

A sink's record file is WORKDIR/NAME.jsonl, one JSON line per request (see
`signalbox sink --record`). Only requests the sink accepted (2xx) count as
received.
"""

import json
import sys
import time
from collections import Counter
from pathlib import Path

MISSING = object()


def lookup(record, path):
    value = record
    for part in path.split("."):
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return MISSING
    return value


def received(workdir, name):
    path = Path(workdir) / (name + ".jsonl")
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        if line.strip():
            r = json.loads(line)
            if 200 <= r.get("status", 200) < 300:
                out.append(r)
    return out


def ids_of(records, where):
    ids = []
    for r in records:
        if where == "events":
            events = r.get("events") or []
            if events:
                ids.extend(e.get("id", "?") for e in events)
            else:
                ids.append("<no event id>")
        else:
            v = lookup(r, where)
            ids.append("<missing %s>" % where if v is MISSING else str(v))
    return ids


def check_each(records, rules, where):
    problems = []
    for r in records:
        for path, want in rules.items():
            got = lookup(r, path)
            ok = True
            if isinstance(want, dict) and "absent" in want:
                ok = (got is MISSING) == bool(want["absent"])
            elif isinstance(want, dict) and "present" in want:
                ok = (got is not MISSING) == bool(want["present"])
            elif isinstance(want, dict) and "prefix" in want:
                ok = isinstance(got, str) and got.startswith(want["prefix"])
            else:
                ok = got == want
            if not ok:
                rid = ids_of([r], where)[0]
                shown = "missing" if got is MISSING else json.dumps(got, ensure_ascii=False)[:80]
                problems.append("request %s (%s): %s is %s, expected %s"
                                % (r.get("seq"), rid, path, shown, json.dumps(want, ensure_ascii=False)))
    return problems


def main(argv):
    wait = None
    if argv[:1] == ["--wait"]:
        wait = float(argv[1])
        argv = argv[2:]
    if len(argv) != 2:
        sys.exit(__doc__)
    expected = json.loads(Path(argv[0]).read_text())["sinks"]
    workdir = argv[1]

    if wait is not None:
        deadline = time.time() + wait
        while True:
            short = {n: (len(received(workdir, n)), len(s["ids"])) for n, s in expected.items()}
            short = {n: c for n, c in short.items() if c[0] < c[1]}
            if not short:
                time.sleep(1.0)  # anything extra arrives too
                return 0
            if time.time() > deadline:
                for n, (got, want) in short.items():
                    print("  %s: %d of %d requests after %.0fs" % (n, got, want, wait), file=sys.stderr)
                return 0
            time.sleep(0.2)

    failed = False
    print("%-14s %8s %8s  %s" % ("SERVICE", "EXPECTED", "RECEIVED", "RESULT"))
    for name, spec in expected.items():
        records = received(workdir, name)
        got = Counter(ids_of(records, spec.get("id", "events")))
        want = Counter(spec["ids"])
        missing = sorted((want - got).elements())
        extra = sorted((got - want).elements())
        problems = check_each(records, spec.get("each", {}), spec.get("id", "events"))
        ok = not missing and not extra and not problems
        failed |= not ok
        print("%-14s %8d %8d  %s" % (name, sum(want.values()), sum(got.values()), "ok" if ok else "MISMATCH"))
        if missing:
            print("    missing:    %s" % " ".join(missing))
        if extra:
            print("    unexpected: %s" % " ".join(extra))
        for p in problems[:10]:
            print("    " + p)
        if len(problems) > 10:
            print("    … and %d more" % (len(problems) - 10))
    if failed:
        print("\nFAILED: some service did not receive exactly what it should")
        return 1
    print("\nevery service received exactly what it should")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
