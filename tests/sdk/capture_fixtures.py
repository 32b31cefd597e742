#!/usr/bin/env python
"""Generate the scrubber's golden fixtures from the REAL sentry-sdk driving
the REAL Django example app.

    scripts/setup-python.sh
    .venv/bin/python tests/sdk/capture_fixtures.py [--out crates/scrub/tests/fixtures]

What it does:
  1. creates a throw-away SQLite database with the demo data;
  2. starts a capture server (127.0.0.1, free port) standing in for Sentry;
  3. runs examples/django under a real WSGI server (tests/sdk/serve_app.py)
     with SENTRY_DSN pointing at the capture server, once with
     send_default_pii False and once True (brotli transport), once more with
     brotli hidden (gzip transport), and runs sentry-sdk 1.45.1 once for the
     legacy /store/ endpoint;
  4. hits every view with canaries planted everywhere a Python app leaks;
  5. writes one file per received request (decompressed body, exactly as
     received), plus canaries.json, technical.json and index.json.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import requests

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
APP_DIR = os.path.join(REPO, "examples", "django")
sys.path.insert(0, HERE)

from canaries import CANARIES, forms, value  # noqa: E402
from capture_server import CaptureServer  # noqa: E402
from envelope import item_json, parse_envelope  # noqa: E402

PROJECT_ID = 42
PUBLIC_KEY = "0123456789abcdef0123456789abcdef"
DEMO_PASSWORD = "demo-password-123"


# --------------------------------------------------------------------------- app
class App:
    """The Django example under serve_app.py, in a subprocess."""

    def __init__(self, workdir, dsn, pii, no_brotli=False, search_backend=""):
        self.log_path = os.path.join(workdir, f"app-pii{pii}-{'gzip' if no_brotli else 'br'}.log")
        env = dict(os.environ)
        env.update(
            {
                "SENTRY_DSN": dsn,
                "SENTRY_SEND_DEFAULT_PII": "true" if pii else "false",
                "SENTRY_TRACES_SAMPLE_RATE": "1.0",
                "SENTRY_ENABLE_LOGS": "true",
                "SENTRY_RELEASE": "example-platform@1.4.2",
                "SENTRY_ENVIRONMENT": "production",
                "DJANGO_DB_PATH": os.path.join(workdir, "db.sqlite3"),
                "DJANGO_DEBUG": "false",
                "CONSENT_EXPORT_PATH": os.path.join(workdir, "consent.json"),
                "SEARCH_BACKEND_URL": search_backend,
                "SEARCH_BACKEND_TOKEN": value("search_token"),
                "LLM_API_TOKEN": value("llm_token"),
                "PYTHONWARNINGS": "ignore::DeprecationWarning",
            }
        )
        env.pop("PROXY_ADMIN_URL", None)
        args = [sys.executable, os.path.join(HERE, "serve_app.py")]
        if no_brotli:
            args.append("--no-brotli")
        self._log = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            args, cwd=APP_DIR, env=env, stdout=subprocess.PIPE, stderr=self._log, text=True
        )
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


def prepare_database(workdir):
    env = dict(os.environ, DJANGO_DB_PATH=os.path.join(workdir, "db.sqlite3"))
    for var in ("SENTRY_DSN", "PROXY_ADMIN_URL", "CONSENT_EXPORT_PATH"):
        env.pop(var, None)
    manage = [sys.executable, os.path.join(APP_DIR, "manage.py")]
    subprocess.run(manage + ["migrate", "-v0"], cwd=APP_DIR, env=env, check=True)
    subprocess.run(manage + ["create_demo_data", "--documents", "120"], cwd=APP_DIR, env=env, check=True,
                   stdout=subprocess.DEVNULL)


# --------------------------------------------------------------------- scenarios
def new_session():
    s = requests.Session()
    s.headers.update(
        {
            "Authorization": f"Bearer {value('auth_token')}",
            "X-Api-Key": value("x_api_key"),
            "X-Customer-Email": value("header_email"),
            "X-Forwarded-For": value("ip_forwarded"),
            "X-Real-IP": value("ip_real"),
            "User-Agent": f"Mozilla/5.0 (X11; Linux x86_64) {value('user_agent')}",
        }
    )
    s.cookies.set("sso_jwt", value("jwt"))
    s.cookies.set("recent_query", value("cookie"))
    return s


def sc_login(s, base):
    r = s.post(base + "/api/login", json={"username": value("username"), "password": value("password")})
    assert r.status_code == 401, r.text
    r = s.post(base + "/api/login", json={"username": value("username"), "password": DEMO_PASSWORD})
    assert r.status_code == 200, r.text


def sc_health(s, base):
    s.get(base + "/api/health").raise_for_status()


def sc_ok(s, base):
    s.get(base + "/api/ok").raise_for_status()


def sc_search(s, base):
    r = s.get(base + "/api/search", params={"q": value("query")})
    assert r.status_code == 500, r.status_code


def sc_chat(s, base):
    r = s.post(
        base + "/api/chat",
        json={
            "prompt": value("prompt"),
            "title": value("extra"),
            "id_token": value("jwt"),
            "customer": {
                "name": value("name"),
                "email": value("customer_email"),
                "phone": value("phone"),
                "iban": value("iban"),
            },
        },
    )
    assert r.status_code == 500, r.status_code


def sc_document_upload(s, base):
    content = (
        f"{value('document')}\nEmployee: {value('name')}\nNIR: {value('nir')}\n".encode()
        + b"Bonus: 12\xa0000 \xff\xfe EUR\n"
    )
    r = s.post(
        base + f"/api/documents/{value('path_email')}/",
        files={"file": ("salaries-q3.txt", content, "text/plain")},
        data={"title": value("doc_title")},
    )
    assert r.status_code == 500, r.status_code


def sc_payment(s, base):
    r = s.post(
        base + "/api/payments",
        data={
            "holder": value("name"),
            "card_number": value("card"),
            "iban": value("iban"),
            "phone": value("phone"),
            "national_id": value("nir"),
            "amount": "129.90",
        },
    )
    assert r.status_code == 500, r.status_code


def sc_activity_report(s, base):
    s.get(base + "/api/reports/activity").raise_for_status()


def sc_folder_tree(s, base):
    root = f"/home/{value('home_user')}/{value('folder')}/{value('folder_email')}"
    r = s.get(base + "/api/folders/tree", params={"root": root, "depth": "30"})
    assert r.status_code == 500, r.status_code


SCENARIOS = [
    ("login", sc_login),
    ("health", sc_health),
    ("ok", sc_ok),
    ("search", sc_search),
    ("chat", sc_chat),
    ("document_upload", sc_document_upload),
    ("payment", sc_payment),
    ("activity_report", sc_activity_report),
    ("folder_tree", sc_folder_tree),
]
GZIP_SCENARIOS = {"login", "ok", "search"}
KEEP_COMPRESSED = {"ok", "search"}  # also keep the original .br/.gz bodies


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


def run_app(capture, workdir, pii, no_brotli, scenarios):
    """Run the scenarios against one app process; return [(scenario, Captured)]."""
    app = App(workdir, f"http://{PUBLIC_KEY}@127.0.0.1:{capture.port}/{PROJECT_ID}", pii, no_brotli,
              search_backend=capture.url + "/backend/search")
    out = []
    try:
        session = new_session()
        # log in once so that later requests carry the user (tags, user.id)
        sc_login(session, app.base)
        app.flush()
        capture.wait_quiet()
        start = len(capture.snapshot())
        for name, fn in scenarios:
            if name == "login":
                fn(new_session(), app.base)
            else:
                fn(session, app.base)
            app.flush()
            capture.wait_quiet()
            got = capture.snapshot()[start:]
            start += len(got)
            out.extend((name, c) for c in got if c.kind in ("envelope", "store"))
    finally:
        app.stop()
    capture.wait_quiet()
    return out


def run_sdk1(capture, workdir):
    py = os.path.join(REPO, ".venv-sdk1", "bin", "python")
    if not os.path.exists(py):
        print("skip sdk1: .venv-sdk1 missing (scripts/setup-python.sh)", file=sys.stderr)
        return []
    start = len(capture.snapshot())
    dsn = f"http://{PUBLIC_KEY}@127.0.0.1:{capture.port}/{PROJECT_ID}"
    subprocess.run([py, os.path.join(HERE, "sdk1_store_client.py"), dsn], check=True,
                   env=dict(os.environ, SENTRY_SEND_DEFAULT_PII="false"))
    capture.wait_quiet()
    return [("sdk1", c) for c in capture.snapshot()[start:] if c.kind in ("envelope", "store")]


# ----------------------------------------------------------------------- facts
def technical_facts(kind, body):
    """Technical facts a scrubbed copy must still carry."""
    if kind == "store":
        docs = [("event", json.loads(body))]
    else:
        _, items = parse_envelope(body)
        docs = [(h.get("type"), item_json(p)) for h, p in items]
    facts = {"items": [t for t, _ in docs]}
    for t, doc in docs:
        if not isinstance(doc, dict):
            continue
        if t in ("event", "transaction"):
            f = facts.setdefault(t, {})
            for key in ("platform", "level", "release", "environment", "transaction", "logger"):
                if doc.get(key) is not None:
                    f[key] = doc[key]
            sdk = doc.get("sdk") or {}
            f["sdk"] = {"name": sdk.get("name"), "version": sdk.get("version")}
            rt = (doc.get("contexts") or {}).get("runtime") or {}
            if rt:
                f["runtime"] = {"name": rt.get("name"), "version": rt.get("version")}
            modules = doc.get("modules") or {}
            kept = {k: modules[k] for k in ("django", "sentry-sdk", "asgiref", "sqlparse") if k in modules}
            if kept:
                f["modules"] = kept
            trace = (doc.get("contexts") or {}).get("trace") or {}
            if trace.get("op"):
                f["trace_op"] = trace["op"]
            values = (doc.get("exception") or {}).get("values") or []
            if values:
                f["exceptions"] = []
                for v in values:
                    frames = (v.get("stacktrace") or {}).get("frames") or []
                    in_app = [fr for fr in frames if fr.get("in_app")] or frames
                    f["exceptions"].append(
                        {
                            "type": v.get("type"),
                            "module": v.get("module"),
                            "mechanism": (v.get("mechanism") or {}).get("type"),
                            "frame_count": len(frames),
                            "frames": [
                                {
                                    k: fr[k]
                                    for k in ("filename", "module", "function", "lineno", "context_line")
                                    if fr.get(k) is not None
                                }
                                for fr in in_app[-3:]
                            ],
                        }
                    )
                    f["exceptions"][-1] = {k: v for k, v in f["exceptions"][-1].items() if v is not None}
            if t == "transaction":
                spans = doc.get("spans") or []
                f["span_count"] = len(spans)
                f["span_ops"] = sorted({s.get("op") for s in spans if s.get("op")})
        elif t == "sessions":
            f = facts.setdefault("sessions", {})
            f["attrs"] = {k: v for k, v in (doc.get("attrs") or {}).items() if k in ("release", "environment")}
            f["aggregates"] = len(doc.get("aggregates") or [])
        elif t == "client_report":
            f = facts.setdefault("client_report", {})
            f["discarded_events"] = doc.get("discarded_events")
        elif t == "log":
            f = facts.setdefault("log", {})
            f["count"] = len(doc.get("items") or [])
    return facts


def check_runs(runs):
    """Fail loudly when the SDK stops producing what the fixtures are for."""
    problems = []
    for scenario, pii, transport, c in runs:
        want = {"br": "br", "gzip": "gzip", "sdk1": "gzip"}[transport]
        if (c.content_encoding or "identity") != want:
            problems.append(f"{scenario} pii={pii}: Content-Encoding {c.content_encoding!r}, expected {want!r}")
    seen = set()
    for scenario, pii, transport, c in runs:
        if c.kind == "envelope":
            seen.update(describe(c.body))
        else:
            seen.add("store")
    for t in ("event_error", "event_message", "transaction", "sessions", "client_report", "log", "store"):
        if t not in seen:
            problems.append(f"no {t} captured")
    if problems:
        raise SystemExit("capture failed:\n  " + "\n  ".join(problems))


# ----------------------------------------------------------------------- main
def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=os.path.join(REPO, "crates", "scrub", "tests", "fixtures"))
    parser.add_argument("--keep-workdir", action="store_true")
    args = parser.parse_args()

    workdir = tempfile.mkdtemp(prefix="sdk-fixtures-")
    prepare_database(workdir)
    capture = CaptureServer().start()
    runs = []
    try:
        for pii in (False, True):
            for name, c in run_app(capture, workdir, pii, no_brotli=False, scenarios=SCENARIOS):
                runs.append((name, pii, "br", c))
        gz = [s for s in SCENARIOS if s[0] in GZIP_SCENARIOS]
        for name, c in run_app(capture, workdir, False, no_brotli=True, scenarios=gz):
            runs.append(("gzip_" + name, False, "gzip", c))
        for name, c in run_sdk1(capture, workdir):
            runs.append((name, False, "sdk1", c))
    finally:
        capture.stop()

    check_runs(runs)
    os.makedirs(args.out, exist_ok=True)
    for old in os.listdir(args.out):
        if old.endswith((".envelope", ".envelope.br", ".envelope.gz", ".store.json", ".store.json.gz")):
            os.unlink(os.path.join(args.out, old))

    index, technical, used = {}, {}, set()
    for scenario, pii, transport, c in runs:
        if c.kind == "store":
            types = ["event_error"] if b'"exception"' in c.body else ["event_message"]
            ext = ".store.json"
        else:
            types = describe(c.body)
            ext = ".envelope"
        stem = f"{scenario}-{'+'.join(types) or 'empty'}-pii{str(pii).lower()}"
        name, n = stem + ext, 2
        while name in used:
            name, n = f"{stem}-{n}{ext}", n + 1
        used.add(name)
        with open(os.path.join(args.out, name), "wb") as fh:
            fh.write(c.body)
        entry = {
            "scenario": scenario,
            "send_default_pii": pii,
            "endpoint": c.path.split("?")[0],
            "content_encoding": c.content_encoding or "identity",
            "content_type": c.headers.get("Content-Type"),
            "user_agent": c.headers.get("User-Agent"),
            "x_sentry_auth": c.headers.get("X-Sentry-Auth"),
            "items": types,
            "bytes": len(c.body),
            "compressed_bytes": len(c.raw_body),
        }
        base_scenario = scenario.replace("gzip_", "")
        if c.content_encoding in ("br", "gzip") and base_scenario in KEEP_COMPRESSED | {"sdk1"} and not pii:
            suffix = {"br": ".br", "gzip": ".gz"}[c.content_encoding]
            with open(os.path.join(args.out, name + suffix), "wb") as fh:
                fh.write(c.raw_body)
            entry["compressed_file"] = name + suffix
        index[name] = entry
        technical[name] = technical_facts(c.kind, c.body)

    # canaries: every form, and where each one actually appears
    bodies = {name: open(os.path.join(args.out, name), "rb").read() for name in index}
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
        canaries.append({"name": key, "value": val, "kind": kind, "planted_in": where,
                         "forms": forms(val), "found_in": found})
    # Extra literal forms the SDK produces (repr of bytes, JSON escapes) are
    # covered by the case-insensitive marker below.
    with open(os.path.join(args.out, "canaries.json"), "w") as fh:
        json.dump(
            {
                "note": "Planted by tests/sdk/capture_fixtures.py. No string of `strings` may survive "
                "scrubbing, and (case-insensitively) no occurrence of `marker` either.",
                "marker": "canary",
                "strings": sorted(flat),
                "never_sent_by_sdk": never,
                "canaries": canaries,
            },
            fh,
            indent=2,
        )
        fh.write("\n")
    with open(os.path.join(args.out, "technical.json"), "w") as fh:
        json.dump(technical, fh, indent=2, sort_keys=True)
        fh.write("\n")
    with open(os.path.join(args.out, "index.json"), "w") as fh:
        json.dump(
            {
                "generator": "tests/sdk/capture_fixtures.py",
                "python": sys.version.split()[0],
                "fixtures": index,
            },
            fh,
            indent=2,
            sort_keys=True,
        )
        fh.write("\n")

    for name, e in sorted(index.items()):
        print(f"{name:70s} {e['content_encoding']:8s} {e['bytes']:7d}B  {','.join(e['items'])}")
    print(f"{len(index)} fixtures in {args.out}")
    if never:
        print("canaries the SDK never sent (it filters them itself): " + ", ".join(never))
    expected_never = {"password", "auth_token", "demo_password"}
    if set(never) != expected_never:
        print(f"WARNING: never-sent canaries changed: {sorted(never)} (was {sorted(expected_never)})")
    if args.keep_workdir:
        print("workdir kept:", workdir)
    else:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
