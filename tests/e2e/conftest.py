"""Fixtures for the end-to-end tests: the REAL proxy binary on 127.0.0.1:0.

The binary comes from ``PROXY_BIN`` (default ``target/debug/sentry-scrub-proxy``;
build it first, e.g. ``cargo build -p sentry-scrub-proxy --bin sentry-scrub-proxy``).
Each test gets its own proxy, outbox and ready file under pytest's ``tmp_path``;
the proxy is stopped by PID with SIGTERM at the end of the test.
"""
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(REPO / "tests" / "sdk"))

from envelope import item_json, parse_envelope  # noqa: E402

PROXY_BIN = Path(os.environ.get("PROXY_BIN", REPO / "target" / "debug" / "sentry-scrub-proxy"))
PROJECT_ID = 42
# Any 32-hex key: without an upstream DSN the dry-run proxy accepts every key.
PUBLIC_KEY = "0123456789abcdef0123456789abcdef"
START_TIMEOUT = 30.0
STOP_TIMEOUT = 20.0


class Proxy:
    """A running proxy: its addresses, outbox and counters."""

    def __init__(self, proc, listen, admin, outbox, log_path):
        self.proc = proc
        self.listen = listen
        self.admin = admin
        self.outbox = Path(outbox)
        self.log_path = Path(log_path)

    def dsn(self, key=PUBLIC_KEY, project=PROJECT_ID):
        return f"http://{key}@{self.listen}/{project}"

    def metrics(self):
        with urllib.request.urlopen(f"http://{self.admin}/metrics", timeout=10) as resp:
            return resp.read().decode()

    def metric(self, sample):
        """The value of one sample line, e.g. ``scrubproxy_requests_total{endpoint="envelope"}``;
        0 when absent."""
        for line in self.metrics().splitlines():
            if line.startswith("#"):
                continue
            name, _, value = line.rpartition(" ")
            if name == sample:
                return int(float(value))
        return 0

    def envelope_files(self):
        """Finished envelope files, in arrival order (temporary dot files excluded)."""
        return sorted(p for p in self.outbox.iterdir() if p.suffix == ".envelope" and not p.name.startswith("."))

    def envelopes(self):
        """Every outbox envelope as ``(path, header, [(item_header, payload_json_or_bytes)])``."""
        out = []
        for path in self.envelope_files():
            header, items = parse_envelope(path.read_bytes())
            parsed = []
            for item_header, payload in items:
                body = item_json(payload)
                parsed.append((item_header, body if body is not None else payload))
            out.append((path, header, parsed))
        return out

    def log(self):
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self):
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
                raise AssertionError(f"the proxy ignored SIGTERM; log:\n{self.log()}")
        return self.proc.returncode


def _start(tmp_path, name, extra):
    work = tmp_path / name
    outbox = work / "outbox"
    outbox.mkdir(parents=True)
    ready = work / "ready.json"
    log_path = work / "proxy.log"
    args = [
        str(PROXY_BIN),
        "--listen", "127.0.0.1:0",
        "--admin-listen", "127.0.0.1:0",
        "--ready-file", str(ready),
        "--outbox", str(outbox),
        "--unattributed", "forward",
        *extra,
    ]
    # The proxy reads its flags' SENTRY_PROXY_* variables: none may leak in from the caller.
    env = {k: v for k, v in os.environ.items() if not k.startswith("SENTRY_PROXY_")}
    return launch(args, env, ready, log_path, outbox)


def launch(args, env, ready, log_path, work):
    """Starts the binary with ``args`` (which name ``--ready-file ready``) and ``env``, its
    output in ``log_path``; waits for the ready file and returns the :class:`Proxy`."""
    if not PROXY_BIN.is_file():
        pytest.fail(f"no proxy binary at {PROXY_BIN}: run `cargo build -p sentry-scrub-proxy` or set PROXY_BIN")
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=env)
    deadline = time.monotonic() + START_TIMEOUT
    while not ready.exists():
        if proc.poll() is not None:
            pytest.fail(f"the proxy exited with {proc.returncode} before it was ready:\n{log_path.read_text()}")
        if time.monotonic() > deadline:
            proc.kill()
            proc.wait()
            pytest.fail(f"the proxy was not ready within {START_TIMEOUT}s:\n{log_path.read_text()}")
        time.sleep(0.02)
    addrs = json.loads(ready.read_text())
    return Proxy(proc, addrs["listen"], addrs["admin"], work, log_path)


@pytest.fixture
def start_proxy(tmp_path):
    """``start_proxy(*extra_args)`` starts a proxy; all are stopped after the test."""
    started = []

    def start(*extra, name=None):
        proxy = _start(tmp_path, name or f"proxy{len(started)}", extra)
        started.append(proxy)
        return proxy

    yield start
    for proxy in started:
        proxy.stop()


@pytest.fixture
def proxy(start_proxy):
    """A dry-run proxy accepting any key, forwarding unattributed items to its outbox."""
    return start_proxy()
