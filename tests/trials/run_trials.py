"""Runs the trial apps, scrubs every body they produced with the real proxy binary
(`sentry-scrub-proxy scrub`), and prints where each planted value was sent and whether any
of it left. Usage: python run_trials.py PROXY_BIN OUT_DIR PYTHON... [--node NODE_DIR] [--apps A,B]

Each app runs twice (send_default_pii off and on). Exit status 1 when a canary left.
`--apps` runs only the named Python apps (default: all of them). Each run's bodies are in
OUT_DIR/runNN and their scrubbed outputs in OUT_DIR/runNN.scrubbed (same file names), for
`exception_values.py`.
"""
import json
import os
import re
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
CANARIES = ["zephyrine", "quillfeather", "memoirs"]
# Issue 17 apps (see capture.py): person, title, token, and the names and key literal
# written in their own source next to lines that raise.
CANARIES += ["ottoline", "brackenbury", "marshwillow", "canary7e1a9d44", "canary51f0c2b8", "wendeline", "harrowgate", "goldthwaite"]
APPS = ["django_hr.py", "flask_hr.py", "tasks_hr.py", "fastapi_docs.py", "aiohttp_letters.py"]
CONSENT = {"telemetry_enabled": True, "companies": {"7": {"telemetry_enabled": True, "telemetry_ids_allowed": True}}}


def places(value, path=""):
    """JSON paths whose string value holds a canary."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield from places(v, f"{path}.{k}" if path else k)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from places(v, f"{path}[{i}]")
    elif isinstance(value, str) and any(c in value.lower() for c in CANARIES):
        yield path, value


def lines_json(body):
    for line in body.split(b"\n"):
        try:
            yield json.loads(line)
        except ValueError:
            continue


def scrub(proxy, path, consent):
    args = [proxy, "scrub", path, "--consent-file", consent, "--unattributed", "forward", "--allow-profiles"]
    if path.endswith(".store.json"):
        args.append("--store")
    r = subprocess.run(args, capture_output=True)
    return r.stdout, r.stderr


def main():
    proxy, out = sys.argv[1], sys.argv[2]
    pythons = [a for a in sys.argv[3:] if not a.startswith("--")]
    node_dir = sys.argv[sys.argv.index("--node") + 1] if "--node" in sys.argv else None
    if node_dir in pythons:
        pythons.remove(node_dir)
    apps = APPS
    if "--apps" in sys.argv:
        apps = sys.argv[sys.argv.index("--apps") + 1].split(",")
        pythons = [p for p in pythons if p != ",".join(apps)]
    os.makedirs(out, exist_ok=True)
    consent = os.path.join(out, "consent.json")
    with open(consent, "w") as f:
        json.dump(CONSENT, f)
    runs = []
    for py in pythons:
        ver = subprocess.run([py, "-c", "import sentry_sdk; print(sentry_sdk.VERSION)"], capture_output=True, text=True).stdout.strip()
        for app in apps:
            for pii in ["0", "1"]:
                runs.append((f"{app} sentry-sdk {ver} pii={pii}", [py, os.path.join(HERE, app)], pii))
    if node_dir:
        ver = json.load(open(os.path.join(node_dir, "node_modules/@sentry/node/package.json")))["version"]
        for pii in ["0", "1"]:
            runs.append((f"node_hr.js @sentry/node {ver} pii={pii}", ["node", os.path.join(HERE, "node_hr.js")], pii))
    with open(os.path.join(out, "runs.json"), "w") as f:
        json.dump({f"run{i:02d}": label for i, (label, _, _) in enumerate(runs)}, f, indent=1)
    leaked_any = False
    for i, (label, cmd, pii) in enumerate(runs):
        d = os.path.join(out, f"run{i:02d}")
        for old in (d, d + ".scrubbed"):
            shutil.rmtree(old, ignore_errors=True)
        env = dict(os.environ, TRIAL_OUT=d, TRIAL_PII=pii, NODE_PATH=os.path.join(node_dir or "", "node_modules"))
        r = subprocess.run(cmd, env=env, cwd=HERE, capture_output=True, text=True)
        if r.returncode != 0:
            print(f"## {label}: app failed\n{r.stderr[-2000:]}")
            leaked_any = True  # a run that did not happen proves nothing
            continue
        planted, left, kinds = set(), [], {}
        os.makedirs(d + ".scrubbed", exist_ok=True)
        for name in sorted(os.listdir(d)) if os.path.isdir(d) else []:
            p = os.path.join(d, name)
            body = open(p, "rb").read()
            for doc in lines_json(body):
                if isinstance(doc, dict) and "type" in doc and len(doc) <= 3:
                    continue
                for where, _ in places(doc):
                    planted.add(re.sub(r"\.vars\..*", ".vars", re.sub(r"\[\d+\]", "[]", where)))
            scrubbed, report = scrub(proxy, p, consent)
            with open(os.path.join(d + ".scrubbed", name), "wb") as f:
                f.write(scrubbed)
            for doc in lines_json(scrubbed):
                for where, value in places(doc):
                    left.append(f"{name}: {where} = {value!r}")
            try:
                rep = json.loads(report.decode().strip().splitlines()[-1])
                for k, v in rep.get("items_kept", {}).items():
                    kinds[k] = kinds.get(k, 0) + v
            except (ValueError, IndexError):
                pass
        leaked_any |= bool(left)
        print(f"## {label}")
        print(f"items kept: {kinds}")
        print(f"planted in: {', '.join(sorted(planted))}")
        print("left: " + ("nothing" if not left else "\n  " + "\n  ".join(left)))
    sys.exit(1 if leaked_any else 0)


if __name__ == "__main__":
    main()
