"""The whole platform, for real, on 127.0.0.1 (used by conftest.py):

    capture upstream (HTTPS, private CA)  <-- proxy binary <-- gunicorn + examples/django + sentry-sdk

One stack per module (``stack`` fixture): a temporary directory with the CA,
the SQLite database and the consent document; the capture upstream and a tiny
plain-HTTP search backend in threads; the proxy binary (``PROXY_BIN``, default
``target/debug/sentry-scrub-proxy``) and gunicorn as subprocesses, stopped by
PID at the end. On a failure, the report gets a "django-e2e diagnostics"
section: the proxy's and the app's log tails, the proxy's metrics, what the
upstream captured.
"""
import http.server
import json
import os
import shlex
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import requests

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
APP_DIR = REPO / "examples" / "django"
sys.path.insert(0, str(REPO / "tests" / "sdk"))
sys.path.insert(0, str(HERE))

from canaries import value  # noqa: E402
from tls_upstream import CaptureUpstream, make_pki  # noqa: E402

PROXY_BIN = Path(os.environ.get("PROXY_BIN", REPO / "target" / "debug" / "sentry-scrub-proxy"))
PROJECT_ID = 42
PUBLIC_KEY = "5f3c1a9e7b2d4c6e8a0b1c2d3e4f5a6b"  # the upstream DSN's key, also what the app uses
ADMIN_TOKEN = "e2e-admin-token-7d1f0c9b"
ADMIN_PASSWORD = "CanaryAdmin-Pass-77"
DEMO_PASSWORD = "demo-password-123"
START_TIMEOUT = 30.0
STOP_TIMEOUT = 20.0

# Environment variables that would reroute loopback traffic or configure the proxy behind our back.
_STRIP_ENV = (
    "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "all_proxy", "no_proxy",
)


def clean_env(**extra):
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in _STRIP_ENV and not k.startswith(("SENTRY_", "DJANGO_", "PROXY_", "CONSENT_"))
    }
    env.update({k: str(v) for k, v in extra.items()})
    return env


def tail(path, lines=60):
    try:
        text = Path(path).read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


def wait_until(predicate, timeout, what, interval=0.05):
    """Poll ``predicate()`` until truthy; return its value, or fail after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def stop_process(proc, name, timeout=STOP_TIMEOUT):
    """SIGTERM by PID, then SIGKILL by PID if it does not exit."""
    if proc is None or proc.poll() is not None:
        return
    os.kill(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        print(f"{name} ignored SIGTERM and was killed", file=sys.stderr)


# ------------------------------------------------------------ search backend
class _SearchBackend(http.server.BaseHTTPRequestHandler):
    """What /api/search calls (SEARCH_BACKEND_URL): answers no results, so the
    search fails with the query in the message, the way the app fails."""

    def do_GET(self):
        body = b'{"results": []}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


# --------------------------------------------------------------------- stack
class Stack:
    def __init__(self, work):
        self.work = work
        self.upstream = None
        self.backend = None
        self.proxy_proc = None
        self.app_proc = None
        self.listen = self.admin = self.base = None
        # Where the proxy sends (default: the capture upstream, with PUBLIC_KEY and
        # PROJECT_ID) and what else it is told; another upstream sets its own DSN.
        self.upstream_dsn = None
        self.public_key, self.project_id = PUBLIC_KEY, PROJECT_ID
        self.proxy_args = []
        self.proxy_log = work / "proxy.log"
        self.app_log = work / "app.log"
        self.consent_path = work / "consent" / "consent.json"
        self.db_path = work / "db.sqlite3"
        self.http = requests.Session()
        self.http.trust_env = False

    # ---- proxy
    def metrics_text(self):
        req = urllib.request.Request(f"http://{self.admin}/metrics")
        with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(req, timeout=10) as resp:
            return resp.read().decode()

    def metric(self, sample, text=None):
        """Value of one sample, e.g. ``scrubproxy_items_dropped_total{type="event",reason="telemetry_disabled"}``; 0 when absent."""
        text = self.metrics_text() if text is None else text
        for line in text.splitlines():
            if line.startswith("#"):
                continue
            name, _, val = line.rpartition(" ")
            if name == sample:
                return int(float(val))
        return 0

    def dropped(self, item_type, reason, text=None):
        return self.metric(f'scrubproxy_items_dropped_total{{type="{item_type}",reason="{reason}"}}', text)

    def admin_get(self, path, token=True):
        headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"} if token else {}
        return self.http.get(f"http://{self.admin}{path}", headers=headers, timeout=10)

    # ---- app
    def flush(self):
        """Every envelope of the requests made so far has been handed to the proxy."""
        self.http.get(self.base + "/__flush__", timeout=30).raise_for_status()

    def settle(self, timeout=20.0):
        """Flush the SDK, then wait until the proxy's upstream queue is empty and
        every envelope it forwarded has been captured (two equal polls in a row)."""
        self.flush()
        last = []

        def settled():
            text = self.metrics_text()
            state = (
                self.metric("scrubproxy_queue_depth", text),
                self.metric("scrubproxy_envelopes_forwarded_total", text),
                self.upstream.count(),
                self.upstream.accept_count(),
            )
            # (>=: a send whose answer got lost is retried and captured twice)
            ok = state[0] == 0 and state[2] >= state[1] and last and last[-1] == state
            last.append(state)
            return ok

        wait_until(settled, timeout, "the proxy's queue to drain into the capture upstream", interval=0.2)

    def db(self, sql, *args):
        con = sqlite3.connect(self.db_path)
        try:
            return con.execute(sql, args).fetchall()
        finally:
            con.close()

    def dump_captured(self, directory):
        """Keep what the upstream received (decompressed), for a reviewer."""
        directory.mkdir(parents=True, exist_ok=True)
        for i, c in enumerate(self.upstream.snapshot()):
            (directory / f"{i:03d}.envelope").write_bytes(c.body if c.body is not None else c.raw)
            (directory / f"{i:03d}.headers").write_bytes(f"{c.method} {c.path}\n".encode() + c.header_bytes())

    def diagnostics(self):
        out = [f"work dir: {self.work}"]
        if self.proxy_proc is not None:
            out.append(f"proxy pid {self.proxy_proc.pid} returncode {self.proxy_proc.poll()}")
        if self.app_proc is not None:
            out.append(f"app pid {self.app_proc.pid} returncode {self.app_proc.poll()}")
        if self.upstream is not None:
            snap = self.upstream.snapshot()
            out.append(
                f"capture upstream: {len(snap)} requests, {self.upstream.accept_count()} TCP accepts, "
                f"handshake failures: {self.upstream.handshake_failures[-5:]}"
            )
            for c in snap[-10:]:
                types = [h.get("type") for h, _ in c.envelope_items()] if c.body is not None else c.decode_error
                out.append(f"  {c.method} {c.path} {c.encoding} {len(c.raw)}B items={types}")
        if self.consent_path.exists():
            out.append("consent.json: " + self.consent_path.read_text().replace("\n", " "))
        if self.admin:
            try:
                out.append("proxy metrics:\n" + "\n".join(
                    line for line in self.metrics_text().splitlines() if line and not line.startswith("#")
                ))
            except Exception as exc:  # noqa: BLE001
                out.append(f"proxy metrics unavailable: {exc!r}")
        out.append("proxy log tail:\n" + tail(self.proxy_log, 40))
        out.append("app log tail:\n" + tail(self.app_log, 40))
        return "\n".join(out)


def _manage(stack, *args):
    env = clean_env(
        DJANGO_SETTINGS_MODULE="demo.settings",
        DJANGO_DB_PATH=stack.db_path,
        CONSENT_EXPORT_PATH=stack.consent_path,
        DJANGO_ADMIN_PASSWORD=ADMIN_PASSWORD,
        PYTHONWARNINGS="ignore::DeprecationWarning",
    )
    result = subprocess.run(
        [sys.executable, str(APP_DIR / "manage.py"), *args],
        cwd=APP_DIR, env=env, capture_output=True, text=True, timeout=120,
    )
    if result.returncode != 0:
        raise AssertionError(f"manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


def _start_proxy(stack, pki):
    """The proxy binary, sending to ``stack.upstream_dsn`` (default: the capture upstream)."""
    if not PROXY_BIN.is_file():
        pytest.fail(f"no proxy binary at {PROXY_BIN}: run `cargo build -p sentry-scrub-proxy` or set PROXY_BIN")
    ready = stack.work / "proxy-ready.json"
    args = [
        str(PROXY_BIN),
        "--listen", "127.0.0.1:0",
        "--admin-listen", "127.0.0.1:0",
        "--ready-file", str(ready),
        "--upstream-dsn",
        stack.upstream_dsn or f"https://{PUBLIC_KEY}@127.0.0.1:{stack.upstream.port}/{PROJECT_ID}",
        "--upstream-ca", str(pki["ca"]),
        # The local upstream (capture server or Bugsink) stands in for an EU ingest.
        "--eu-upstream-hosts", "127.0.0.1,localhost",
        "--consent-file", str(stack.consent_path),
        "--admin-token", ADMIN_TOKEN,
        "--retry-max-age", "5s",
        "--upstream-timeout", "5s",
        "--connect-timeout", "2s",
        "--shutdown-timeout", "2s",
        *stack.proxy_args,
        # Negative controls, e.g. E2E_PROXY_EXTRA_ARGS="--exception-messages detect" must make the test fail.
        *shlex.split(os.environ.get("E2E_PROXY_EXTRA_ARGS", "")),
    ]
    log = open(stack.proxy_log, "wb")
    stack.proxy_proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=clean_env())
    log.close()

    def up():
        if stack.proxy_proc.poll() is not None:
            raise AssertionError(f"the proxy exited with {stack.proxy_proc.returncode}:\n{tail(stack.proxy_log)}")
        return ready.exists() and ready.stat().st_size > 0

    wait_until(up, START_TIMEOUT, "the proxy's ready file")
    addrs = json.loads(ready.read_text())
    stack.listen, stack.admin = addrs["listen"], addrs["admin"]
    # Ready = listening AND a valid consent document loaded.
    wait_until(lambda: stack.admin_get("/readyz", token=False).status_code == 200, START_TIMEOUT,
               "the proxy's /readyz (consent loaded)")


def _start_app(stack):
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    port = sock.getsockname()[1]
    env = clean_env(
        SENTRY_DSN=f"http://{stack.public_key}@{stack.listen}/{stack.project_id}",
        # The worst case an app can send: the SDK adds user e-mail, IP, cookies, headers.
        SENTRY_SEND_DEFAULT_PII=os.environ.get("E2E_SEND_DEFAULT_PII", "true"),
        SENTRY_TRACES_SAMPLE_RATE="1.0",
        SENTRY_ENABLE_LOGS="true",
        SENTRY_RELEASE="example-platform@1.4.2",
        SENTRY_ENVIRONMENT="production",
        DJANGO_DEBUG="false",
        DJANGO_DB_PATH=stack.db_path,
        CONSENT_EXPORT_PATH=stack.consent_path,
        PROXY_ADMIN_URL=f"http://{stack.admin}",
        PROXY_ADMIN_TOKEN=ADMIN_TOKEN,
        SEARCH_BACKEND_URL=f"http://127.0.0.1:{stack.backend.server_address[1]}/search",
        SEARCH_BACKEND_TOKEN=value("search_token"),
        LLM_API_TOKEN=value("llm_token"),
        PYTHONWARNINGS="ignore::DeprecationWarning",
    )
    args = [
        sys.executable, "-m", "gunicorn",
        "--bind", f"fd://{sock.fileno()}",
        "--workers", "1",  # one process: /__flush__ flushes the SDK that sent everything
        "--worker-class", "gthread", "--threads", "4",
        "--timeout", "60", "--graceful-timeout", "5",
        "--pythonpath", f"{APP_DIR},{HERE}",
        "--error-logfile", "-",
        "e2e_wsgi:application",
    ]
    log = open(stack.app_log, "wb")
    stack.app_proc = subprocess.Popen(
        args, cwd=APP_DIR, env=env, stdout=log, stderr=subprocess.STDOUT, pass_fds=(sock.fileno(),)
    )
    log.close()
    sock.close()
    stack.base = f"http://127.0.0.1:{port}"

    def up():
        if stack.app_proc.poll() is not None:
            raise AssertionError(f"gunicorn exited with {stack.app_proc.returncode}:\n{tail(stack.app_log)}")
        try:
            return stack.http.get(stack.base + "/api/health", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    wait_until(up, START_TIMEOUT, "the Django app under gunicorn", interval=0.1)


