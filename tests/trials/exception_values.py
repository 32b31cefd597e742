"""Prints every exception of a run_trials.py output as sent and as scrubbed, side by side:
which messages (technical or planted) stay readable after the proxy.
Usage: python exception_values.py OUT_DIR [RUN_LABEL_SUBSTRING] [--tally]

--tally prints, instead of the messages, how many distinct messages (type and text) were
kept as sent, kept as a template with placeholders, or replaced by [filtered], separately
for messages with and without a planted value.
"""
import json
import os
import sys

from run_trials import CANARIES, lines_json


def exceptions(path):
    found = []
    for doc in lines_json(open(path, "rb").read()):
        if isinstance(doc, dict) and isinstance(doc.get("exception"), dict):
            for e in doc["exception"].get("values") or []:
                found.append((e.get("type"), e.get("value")))
    return found


def main():
    args = [a for a in sys.argv[1:] if a != "--tally"]
    tally = "--tally" in sys.argv
    out = args[0]
    want = args[1] if len(args) > 1 else ""
    labels = json.load(open(os.path.join(out, "runs.json")))
    seen = {}
    for run, label in labels.items():
        d = os.path.join(out, run)
        if want not in label or not os.path.isdir(d + ".scrubbed"):
            continue
        if not tally:
            print(f"## {label}")
        for name in sorted(os.listdir(d)):
            sent = exceptions(os.path.join(d, name))
            kept = exceptions(os.path.join(d + ".scrubbed", name))
            for i, (typ, value) in enumerate(sent):
                after = kept[i] if i < len(kept) else (None, "<event dropped>")
                if tally:
                    seen[(typ, value)] = after[1]
                else:
                    print(f"{name}: {typ}: {value!r}\n    -> {after[0]}: {after[1]!r}")
    if tally:
        counts = {}
        for (typ, value), after in seen.items():
            planted = any(c in (value or "").lower() for c in CANARIES)
            kind = "kept" if after == value else "filtered" if after == "[filtered]" else "template"
            counts[(planted, kind)] = counts.get((planted, kind), 0) + 1
        for planted in (False, True):
            row = {k: counts.get((planted, k), 0) for k in ("kept", "template", "filtered")}
            total = sum(row.values())
            readable = (row["kept"] + row["template"]) / total if total else 0
            label = "with planted data" if planted else "without planted data"
            print(f"{label}: {row}, readable {readable:.0%} of {total} distinct messages")


if __name__ == "__main__":
    main()
