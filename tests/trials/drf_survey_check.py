"""Runs drf_survey.py (Django REST framework + PostgreSQL) against the real proxy binary and
reports, per canary word, every JSON path where it was sent and every path where it still is
after `sentry-scrub-proxy scrub`; then every distinct exception and log message, sent and
scrubbed. Not part of the pytest suite (it needs PostgreSQL and a venv with DRF/psycopg).

Usage: python drf_survey_check.py PROXY_BIN OUT_DIR PYTHON [--pg-bin DIR] [--pg-port N]

With --pg-bin (e.g. /usr/lib/postgresql/15/bin) it starts its own cluster on 127.0.0.1 at
--pg-port (default 55437) under OUT_DIR/pg and stops it at the end (as the `postgres` user
when run as root); without, it uses a server already listening there. Runs the app four
times with psycopg 3 (send_default_pii off/on x client-side/server-side binding), twice with
psycopg2 (pii off/on), whichever the venv has (Django prefers psycopg 3 when both are there).
Exit status 1 when a canary left or a run failed.
"""
import json
import os
import re
import shutil
import subprocess
import sys
from urllib.parse import unquote_plus

HERE = os.path.dirname(os.path.abspath(__file__))
CANARIES = ["isolde", "fennimore", "quarrington", "wrenfield", "tithe", "pennywhistle", "bartholomew", "canary3b8e51aa", "3b8e51aa", "thinkpad"]
CONSENT = {"telemetry_enabled": True, "companies": {"7": {"telemetry_enabled": True, "telemetry_ids_allowed": True}}}


def hits(text):
    low = text.lower()
    dec = unquote_plus(unquote_plus(text)).lower()
    return sorted({c for c in CANARIES if c in low or c in dec})


def walk(value, path):
    if isinstance(value, dict):
        for k, v in value.items():
            yield from walk(v, f"{path}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from walk(v, f"{path}[{i}]")
    elif isinstance(value, str):
        yield path, value


def documents(body):
    """(label, json) for the envelope header and every item payload; a /store/ body whole."""
    lines = body.split(b"\n")
    docs = []
    item = "header"
    for line in lines:
        try:
            doc = json.loads(line)
        except ValueError:
            continue
        if isinstance(doc, dict) and "type" in doc and set(doc) <= {"type", "length", "content_type", "filename", "item_count"}:
            item = doc["type"]
            continue
        docs.append((item, doc))
        item = "?"
    return docs


def canary_places(body):
    """{canary: {normalised path: example value}} over a body's header and items."""
    out = {}
    for label, doc in documents(body):
        for path, value in walk(doc, f"<{label}>"):
            for c in hits(value):
                norm = re.sub(r"\[\d+\]", "[]", path)
                norm = re.sub(r"\.vars\..*", ".vars", norm)
                out.setdefault(c, {}).setdefault(norm, value)
    # keys of objects (tag names, header names ...) and anything outside JSON strings
    raw_hits = hits(body.decode("utf-8", "replace"))
    for c in raw_hits:
        if c not in out:
            out.setdefault(c, {})["<raw bytes, not a JSON string value>"] = ""
    return out


def messages(body):
    """[(kind, type, text)] exception values and log messages, in order."""
    found = []
    for label, doc in documents(body):
        if not isinstance(doc, dict):
            continue
        for e in ((doc.get("exception") or {}).get("values") or []) if isinstance(doc.get("exception"), dict) else []:
            found.append(("exception", e.get("type"), e.get("value")))
        if isinstance(doc.get("logentry"), dict):
            found.append(("logentry", doc.get("logger"), doc["logentry"].get("message")))
        if isinstance(doc.get("message"), str):
            found.append(("message", doc.get("logger"), doc["message"]))
    return found


def scrub(proxy, path, consent):
    args = [proxy, "scrub", path, "--consent-file", consent, "--unattributed", "forward"]
    if path.endswith(".store.json"):
        args.append("--store")
    r = subprocess.run(args, capture_output=True)
    return r.stdout, r.stderr


def as_postgres(cmd):
    return ["runuser", "-u", "postgres", "--"] + cmd if os.geteuid() == 0 else cmd


def start_pg(pg_bin, port, root):
    data = os.path.join(root, "data")
    shutil.rmtree(root, ignore_errors=True)
    os.makedirs(root)
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
    subprocess.run(as_postgres([f"{pg_bin}/initdb", "-D", data, "-A", "trust", "-U", "postgres"]), check=True, capture_output=True)
    subprocess.run(as_postgres([f"{pg_bin}/pg_ctl", "-D", data, "-l", os.path.join(root, "log"), "-w", "-o",
                                f"-p {port} -k {root} -c listen_addresses=127.0.0.1", "start"]), check=True, capture_output=True)
    subprocess.run(as_postgres([f"{pg_bin}/createdb", "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "parish_records"]), check=True)
    return data


def stop_pg(pg_bin, data):
    subprocess.run(as_postgres([f"{pg_bin}/pg_ctl", "-D", data, "-m", "fast", "stop"]), capture_output=True)


def main():
    args = [a for a in sys.argv[1:]]
    opt = {}
    for name in ("--pg-bin", "--pg-port"):
        if name in args:
            i = args.index(name)
            opt[name] = args[i + 1]
            del args[i:i + 2]
    proxy, out, py = args
    port = opt.get("--pg-port", "55437")
    os.makedirs(out, exist_ok=True)
    consent = os.path.join(out, "consent.json")
    with open(consent, "w") as f:
        json.dump(CONSENT, f)
    data = start_pg(opt["--pg-bin"], port, os.path.join(out, "pg")) if "--pg-bin" in opt else None
    probe = ("import sentry_sdk, django, rest_framework\n"
             "try:\n import psycopg as pg\nexcept ImportError:\n import psycopg2 as pg\n"
             "print(sentry_sdk.VERSION, django.__version__, rest_framework.__version__, pg.__name__, pg.__version__.split()[0])")
    ver = subprocess.run([py, "-c", probe], capture_output=True, text=True).stdout.split()
    print(f"sentry-sdk {ver[0]}, Django {ver[1]}, djangorestframework {ver[2]}, {ver[3]} {ver[4]}")
    # psycopg2 has no server-side binding: only psycopg 3 runs both ways
    runs = [(pii, sb) for sb in (("0", "1") if ver[3] == "psycopg" else ("0",)) for pii in ("0", "1")]
    failed = False
    planted, left, seen = {}, {}, {}
    try:
        for n, (pii, sb) in enumerate(runs):
            label = f"pii={pii} server_side_binding={sb}"
            d = os.path.join(out, f"run{n}")
            for old in (d, d + ".scrubbed"):
                shutil.rmtree(old, ignore_errors=True)
            os.makedirs(d + ".scrubbed")
            env = dict(os.environ, TRIAL_OUT=d, TRIAL_PII=pii, TRIAL_PG_SERVER_BINDING=sb, TRIAL_PG_PORT=port)
            r = subprocess.run([py, os.path.join(HERE, "drf_survey.py")], env=env, cwd=HERE, capture_output=True, text=True)
            if r.returncode != 0:
                print(f"## {label}: app failed\n{r.stderr[-3000:]}")
                failed = True
                continue
            kept = {}
            for name in sorted(os.listdir(d)):
                body = open(os.path.join(d, name), "rb").read()
                scrubbed, report = scrub(proxy, os.path.join(d, name), consent)
                with open(os.path.join(d + ".scrubbed", name), "wb") as f:
                    f.write(scrubbed)
                for c, where in canary_places(body).items():
                    for p, v in where.items():
                        planted.setdefault(c, {}).setdefault(p, set()).add(label)
                for c, where in canary_places(scrubbed).items():
                    for p, v in where.items():
                        left.setdefault(c, {}).setdefault(p, {}).setdefault(label, []).append(f"{name}: {v!r}")
                try:
                    rep = json.loads(report.decode().strip().splitlines()[-1])
                    for k, v in rep.get("items_kept", {}).items():
                        kept[k] = kept.get(k, 0) + v
                except (ValueError, IndexError):
                    pass
                sent, after = messages(body), messages(scrubbed)
                for i, m in enumerate(sent):
                    a = after[i][2] if i < len(after) else "<dropped>"
                    seen.setdefault(m, {}).setdefault(a, set()).add(label)
            print(f"## {label}: {len(os.listdir(d))} bodies, items kept {kept}")
    finally:
        if data:
            stop_pg(opt["--pg-bin"], data)
    print("\n# Planted (input paths, indices as [])")
    for c in CANARIES:
        print(f"- {c}:")
        for p in sorted(planted.get(c, {})):
            print(f"    {p}")
    print("\n# Left (output paths)")
    if not left:
        print("nothing")
    for c, where in left.items():
        print(f"- {c}:")
        for p, by_run in sorted(where.items()):
            print(f"    {p}  [{'; '.join(sorted(by_run))}]")
            for lab, vals in sorted(by_run.items()):
                for v in sorted(set(x.split(': ', 1)[1] for x in vals)):
                    print(f"        {lab}: {v}")
    print("\n# Messages (kind, type/logger: sent -> scrubbed)")
    for (kind, typ, text), outs in seen.items():
        for a, labels in outs.items():
            tag = "planted" if hits(text or "") else "technical"
            same = "kept" if a == text else "FILTERED" if a == "[filtered]" else "template"
            print(f"[{tag}/{same}] {kind} {typ}: {text!r}\n    -> {a!r}   ({len(labels)} runs)")
    sys.exit(1 if failed or left else 0)


if __name__ == "__main__":
    main()
