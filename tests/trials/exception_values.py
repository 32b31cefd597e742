"""Prints every exception of a run_trials.py output as sent and as scrubbed, side by side:
which messages (technical or planted) stay readable after the proxy.
Usage: python exception_values.py OUT_DIR [RUN_LABEL_SUBSTRING]
"""
import json
import os
import sys

from run_trials import lines_json


def exceptions(path):
    found = []
    for doc in lines_json(open(path, "rb").read()):
        if isinstance(doc, dict) and isinstance(doc.get("exception"), dict):
            for e in doc["exception"].get("values") or []:
                found.append((e.get("type"), e.get("value")))
    return found


def main():
    out = sys.argv[1]
    want = sys.argv[2] if len(sys.argv) > 2 else ""
    labels = json.load(open(os.path.join(out, "runs.json")))
    for run, label in labels.items():
        d = os.path.join(out, run)
        if want not in label or not os.path.isdir(d + ".scrubbed"):
            continue
        print(f"## {label}")
        for name in sorted(os.listdir(d)):
            sent = exceptions(os.path.join(d, name))
            kept = exceptions(os.path.join(d + ".scrubbed", name))
            for i, (typ, value) in enumerate(sent):
                after = kept[i] if i < len(kept) else (None, "<event dropped>")
                print(f"{name}: {typ}: {value!r}\n    -> {after[0]}: {after[1]!r}")


if __name__ == "__main__":
    main()
