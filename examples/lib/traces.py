#!/usr/bin/env python3
"""Prints where each event of a JSON Lines file went, from the server's
traces (`signalbox trace ID --output json`): one line per event.

    traces.py SIGNALBOX_BIN BUS EVENTS.jsonl

    hr-0003  employee.onboarded     it-provisioning: dropped by drop-test-accounts@1.0.0 | payroll: dropped by …
    hr-0001  employee.onboarded     it-provisioning → it ✓ | payroll → payroll ✓ | …
"""

import json
import subprocess
import sys


def trace(binary, bus, event_id, source):
    out = subprocess.run(
        [binary, "--output", "json", "trace", event_id, "--bus", bus, "--source", source],
        check=True, capture_output=True, text=True,
    ).stdout
    return json.loads(out)


def summary(t):
    rules = {}
    order = []
    for s in t.get("steps", []):
        rule = s.get("rule")
        if not rule:
            continue
        if rule not in rules:
            rules[rule] = {"state": None, "targets": {}}
            order.append(rule)
        r = rules[rule]
        step, d = s["step"], s.get("detail") or {}
        if step == "filtered_out":
            r["state"] = "dropped by %s" % d.get("by")
        elif step == "failed":
            r["state"] = "FAILED in %s: %s" % (d.get("by"), d.get("error"))
        elif step == "matched":
            if d.get("events") == 0:
                r["state"] = "transform returned no event"
        elif s.get("target"):
            tgt = r["targets"].setdefault(s["target"], [])
            tgt.append({"delivered": "✓", "attempt_failed": "retry", "dead_lettered": "✗ dead letter"}.get(step, step))
    if not order:
        return "no rule matched"
    parts = []
    for rule in sorted(order):
        r = rules[rule]
        if r["state"]:
            parts.append("%s: %s" % (rule, r["state"]))
        elif r["targets"]:
            parts.append(" ".join("%s → %s %s" % (rule, t, ",".join(v)) for t, v in r["targets"].items()))
        else:
            parts.append("%s: queued" % rule)
    return " | ".join(parts)


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    binary, bus, path = sys.argv[1:]
    with open(path) as f:
        events = [json.loads(line) for line in f if line.strip()]
    for e in events:
        short = ".".join(e["type"].split(".")[-2:])
        print("%-14s %-22s %s" % (e["id"], short, summary(trace(binary, bus, e["id"], e["source"]))))


if __name__ == "__main__":
    main()
