#!/usr/bin/env python
"""Capture the span fixtures: the REAL sentry-sdk (3.x and the latest 2.x) in the REAL span
capture app (tests/spans/app, Django 5.2 under a WSGI server), every request body it sends
to Sentry saved as received.

    scripts/setup-python.sh --only main,sdk3,sdk2
    (cd tests/spans/node && npm ci)               # for the "node" run
    .venv/bin/python tests/spans/capture_spans.py [--runs sdk3,sdk2-static] [--out tests/spans/fixtures]

Each run gets a folder under --out with one file per envelope (decompressed body, byte for
byte), `index.json` (file -> SDK, scenario, item types and content types, headers),
`canaries.json` (what was planted and where it was found) and `must_keep.json` (the
technical facts a scrubbed copy must keep, from span_facts.py). A run fails loudly when the SDK
stops sending what the fixtures are for (see RUNS' `expect`).
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

import requests

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
APP_DIR = os.path.join(HERE, "app")
NODE_DIR = os.path.join(HERE, "node")
sys.path.insert(0, os.path.join(REPO, "tests", "sdk"))  # capture_server, envelope
sys.path.insert(0, HERE)

import span_facts  # noqa: E402
from span_canaries import CANARIES, COMPANY_ID, USER_ID, forms, value  # noqa: E402
from capture_server import CaptureServer  # noqa: E402
from envelope import item_json, parse_envelope  # noqa: E402
from fake_services import FakeServices  # noqa: E402

PROJECT_ID = 42
PUBLIC_KEY = "0123456789abcdef0123456789abcdef"

# name -> venv, DMS_SDK_MODE, send_default_pii (2.x only), what the run must contain
RUNS = {
    "sdk3": {
        "venv": ".venv-sdk3",
        "mode": "default",
        "pii": None,
        "about": "sentry-sdk 3.x defaults: every span streamed as span v2 items, no transactions",
        "expect": {"span", "event_error", "log", "trace_metric"},
    },
    "sdk2-gen-ai-stream": {
        "venv": ".venv-sdk2",
        "mode": "default",
        "pii": True,
        "about": "sentry-sdk 2.7x defaults (stream_gen_ai_spans on): transactions, gen_ai spans as a span v2 item beside them",
        "expect": {"span+transaction", "event_error", "log", "trace_metric"},
    },
    "sdk2-static": {
        "venv": ".venv-sdk2",
        "mode": "static",
        "pii": True,
        "about": "sentry-sdk 2.7x with stream_gen_ai_spans=False: the transaction-era baseline, every span in its transaction",
        "expect": {"transaction", "event_error", "log", "trace_metric"},
    },
    "node": {
        "node": True,
        "mode": "default",
        "pii": True,
        "about": "@sentry/node 11.x defaults (spans streamed), enableLogs and sendDefaultPii, Express 5 and openai 6 (tests/spans/node)",
        "expect": {"span", "event_error", "log", "trace_metric"},
    },
    "sdk2-trace-stream": {
        "venv": ".venv-sdk2",
        "mode": "stream",
        "pii": True,
        "about": "sentry-sdk 2.7x with trace_lifecycle=\"stream\": span streaming opted in, as 3.x does by default",
        "expect": {"span", "event_error"},
    },
}


# --------------------------------------------------------------------------- app
class App:
    """tests/spans/app/serve.py under one venv's interpreter (or tests/spans/node/app.js
    under node), in a subprocess."""

    def __init__(self, python, workdir, dsn, run, services):
        self.log_path = os.path.join(workdir, "app.log")
        env = dict(os.environ)
        env.pop("SENTRY_DSN", None)
        env.update(
            {
                "DMS_DB_PATH": os.path.join(workdir, "db.sqlite3"),
                "DMS_LLM_BASE_URL": services.url + "/v1",
                "DMS_LLM_API_KEY": value("llm_key"),
                "DMS_PARTNER_SEARCH_URL": services.url + "/partner/search",
                "DMS_PARTNER_TOKEN": value("partner_token"),
                "PYTHONWARNINGS": "ignore::DeprecationWarning",
            }
        )
        if run.get("node"):
            planted = {"canaries": {k: v[0] for k, v in CANARIES.items()}, "COMPANY_ID": COMPANY_ID, "USER_ID": USER_ID}
            env.update({"SENTRY_DSN": dsn, "DMS_PLANTED": json.dumps(planted)})
            cmd, cwd = ["node", os.path.join(NODE_DIR, "app.js")], NODE_DIR
        else:
            manage = [python, os.path.join(APP_DIR, "manage.py")]
            subprocess.run(manage + ["migrate", "-v0"], cwd=APP_DIR, env=env, check=True)
            subprocess.run(manage + ["seed"], cwd=APP_DIR, env=env, check=True)
            env.update({"SENTRY_DSN": dsn, "DMS_SDK_MODE": run["mode"]})
            if run["pii"] is not None:
                env["SENTRY_SEND_DEFAULT_PII"] = "true" if run["pii"] else "false"
            cmd, cwd = [python, os.path.join(APP_DIR, "serve.py")], APP_DIR
        self._log = open(self.log_path, "w")
        self.proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=self._log, text=True)
        line = self.proc.stdout.readline()
        if not line.startswith("LISTENING "):
            self.proc.kill()
            raise RuntimeError(f"app did not start, see {self.log_path}:\n{open(self.log_path).read()}")
        self.base = f"http://127.0.0.1:{int(line.split()[1])}"

    def flush(self):
        requests.get(self.base + "/__flush__", timeout=30).raise_for_status()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


# --------------------------------------------------------------------- scenarios
def new_session():
    s = requests.Session()
    s.headers.update(
        {
            "X-Api-Token": value("api_token"),
            "X-Customer-Ref": value("customer_ref"),
            "X-Forwarded-For": value("client_ip"),
            "User-Agent": f"Mozilla/5.0 (X11; Linux x86_64) {value('user_agent')}",
        }
    )
    s.cookies.set("last_doc", value("cookie"))
    return s


def doc_url(base):
    return f"{base}/companies/{COMPANY_ID}/documents/{value('doc_slug')}/"


def sc_doc_open(s, base):
    r = s.get(doc_url(base))
    assert r.status_code == 200, r.text


def sc_doc_open_cached(s, base):
    r = s.get(doc_url(base))
    assert r.status_code == 200, r.text


def sc_doc_search(s, base):
    r = s.get(f"{base}/companies/{COMPANY_ID}/documents/", params={"q": value("query")})
    assert r.status_code == 200, r.text


def sc_assistant_chat(s, base):
    r = s.post(
        f"{base}/api/assistant/chat/",
        json={"prompt": f"{value('prompt')} ({value('person')})", "document": value("doc_slug"), "topic": value("topic")},
    )
    assert r.status_code == 200, r.text


def sc_assistant_context_error(s, base):
    r = s.post(f"{base}/api/assistant/chat/", json={"prompt": value("long_prompt"), "document": value("doc_slug")})
    assert r.status_code == 500, r.status_code


def sc_payment_error(s, base):
    r = s.post(
        f"{base}/billing/payment-method/",
        data={"holder": value("person"), "iban": value("iban"), "card_number": value("card"), "phone": value("phone")},
    )
    assert r.status_code == 500, r.status_code


SCENARIOS = [
    ("doc_open", sc_doc_open),
    ("doc_open_cached", sc_doc_open_cached),
    ("doc_search", sc_doc_search),
    ("assistant_chat", sc_assistant_chat),
    ("assistant_context_error", sc_assistant_context_error),
    ("payment_error", sc_payment_error),
]


# ---------------------------------------------------------------------- capture
def describe(body):
    """Item types of an envelope, with events split into error/message."""
    _, items = parse_envelope(body)
    names = []
    for header, payload in items:
        t = header.get("type", "unknown")
        if t == "event":
            doc = item_json(payload) or {}
            t = "event_error" if doc.get("exception") else "event_message"
        names.append(t)
    return names


def sdk_version(run):
    if run.get("node"):
        package = os.path.join(NODE_DIR, "node_modules", "@sentry", "node", "package.json")
        if not os.path.exists(package):
            raise SystemExit("tests/spans/node/node_modules missing: (cd tests/spans/node && npm ci)")
        return None, "@sentry/node " + json.load(open(package))["version"]
    python = os.path.join(REPO, run["venv"], "bin", "python")
    if not os.path.exists(python):
        raise SystemExit(f"{run['venv']} missing: scripts/setup-python.sh --only {run['venv'].split('-')[-1]}")
    version = subprocess.run([python, "-c", "import sentry_sdk; print(sentry_sdk.VERSION)"], capture_output=True, text=True, check=True)
    return python, version.stdout.strip()


def run_app(name, run, capture, services):
    python, version = sdk_version(run)
    workdir = tempfile.mkdtemp(prefix=f"spans-{name}-")
    app = App(python, workdir, f"http://{PUBLIC_KEY}@127.0.0.1:{capture.port}/{PROJECT_ID}", run, services)
    out = []
    try:
        app.flush()
        capture.wait_quiet()
        start = len(capture.snapshot())
        session = new_session()
        for scenario, fn in SCENARIOS:
            fn(session, app.base)
            app.flush()
            capture.wait_quiet(quiet=0.8)
            got = capture.snapshot()[start:]
            start += len(got)
            out.extend((scenario, c) for c in got if c.kind in ("envelope", "store"))
    finally:
        app.stop()
    capture.wait_quiet()
    # What the SDK sends at exit (sessions, client reports) belongs to no scenario.
    out.extend(("shutdown", c) for c in capture.snapshot()[start:] if c.kind in ("envelope", "store"))
    shutil.rmtree(workdir, ignore_errors=True)
    return version, out


def write_run(name, run, sdk_version, captured, out_dir):
    if os.path.isdir(out_dir):
        shutil.rmtree(out_dir)
    os.makedirs(out_dir)
    index, used, seen, skipped = {}, set(), set(), {}
    for scenario, c in captured:
        types = describe(c.body)
        kinds = "+".join(sorted(set(types)))
        # Session aggregates and client reports come with every flush and look alike: the
        # first of each kind is kept, the others only counted (they name no company or
        # trace; each one more is only a slower test).
        if set(types) <= {"sessions", "client_report"} and kinds in seen:
            skipped[kinds] = skipped.get(kinds, 0) + 1
            continue
        seen.add(kinds)
        seen.update(types)
        stem = f"{scenario}-{'+'.join(types) or 'empty'}"
        fname, n = stem + ".envelope", 2
        while fname in used:
            fname, n = f"{stem}-{n}.envelope", n + 1
        used.add(fname)
        with open(os.path.join(out_dir, fname), "wb") as fh:
            fh.write(c.body)
        header, items = parse_envelope(c.body)
        headers = {k.lower(): v for k, v in c.headers.items()}  # @sentry/node sends them lower-case
        index[fname] = {
            "scenario": scenario,
            "endpoint": c.path.split("?")[0],
            "query": c.path.partition("?")[2] or None,  # @sentry/node authenticates here
            "content_encoding": c.content_encoding or "identity",
            "content_type": headers.get("content-type"),
            "transfer_encoding": headers.get("transfer-encoding"),
            "user_agent": headers.get("user-agent"),
            "x_sentry_auth": headers.get("x-sentry-auth"),
            "envelope_header_keys": sorted(header),
            "items": [
                {"type": t, "item_header": {k: v for k, v in h.items() if k != "length"}, "bytes": len(p)}
                for t, (h, p) in zip(types, items)
            ],
            "bytes": len(c.body),
        }
    missing = sorted(run["expect"] - seen)
    if missing:
        raise SystemExit(f"{name}: expected items not captured: {missing} (got {sorted(seen)})")
    with open(os.path.join(out_dir, "index.json"), "w") as fh:
        json.dump(
            {
                "generator": "tests/spans/capture_spans.py",
                "run": name,
                "about": run["about"],
                "sentry_sdk": sdk_version,
                "sdk_mode": run["mode"],
                "send_default_pii": run["pii"],
                "python": sys.version.split()[0],
                "similar_envelopes_not_kept": skipped,
                "fixtures": index,
            },
            fh,
            indent=2,
            sort_keys=True,
        )
        fh.write("\n")
    write_canaries(out_dir, index)
    span_facts.write_must_keep(out_dir)
    return index


def write_canaries(out_dir, index):
    bodies = {n: open(os.path.join(out_dir, n), "rb").read() for n in index}
    canaries, flat, never = [], set(), []
    for key, (val, kind, where) in CANARIES.items():
        found = {}
        for form in forms(val):
            files = sorted(n for n, b in bodies.items() if form.encode() in b)
            if files:
                found[form] = files
        flat.update(forms(val))
        if not found:
            never.append(key)
        canaries.append({"name": key, "value": val, "kind": kind, "planted_in": where, "forms": forms(val), "found_in": found})
    with open(os.path.join(out_dir, "canaries.json"), "w") as fh:
        json.dump(
            {
                "note": "Planted by tests/spans/capture_spans.py. No string of `strings` may survive scrubbing, "
                "and (case-insensitively) no occurrence of `marker` either.",
                "marker": "canary",
                "strings": sorted(flat),
                "never_sent_by_sdk": never,
                "canaries": canaries,
            },
            fh,
            indent=2,
        )
        fh.write("\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=os.path.join(HERE, "fixtures"))
    parser.add_argument("--runs", default=",".join(RUNS), help=f"comma-separated, of: {', '.join(RUNS)}")
    args = parser.parse_args()
    names = [n for n in args.runs.split(",") if n]
    unknown = [n for n in names if n not in RUNS]
    if unknown:
        parser.error(f"unknown runs: {unknown}")
    services = FakeServices().start()
    capture = CaptureServer().start()
    try:
        for name in names:
            sdk_version, captured = run_app(name, RUNS[name], capture, services)
            index = write_run(name, RUNS[name], sdk_version, captured, os.path.join(args.out, name))
            print(f"== {name} (sentry-sdk {sdk_version}): {len(index)} envelopes")
            for fname, e in sorted(index.items()):
                print(f"  {fname:60s} {e['content_encoding']:8s} {e['bytes']:7d}B")
    finally:
        capture.stop()
        services.stop()


if __name__ == "__main__":
    main()
