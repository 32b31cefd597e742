"""Upstream rate limits reach the REAL sentry-sdk, which then stops sending that category.

    SDK (sentry-sdk 2.x, real transport) ──▶ proxy binary ──http──▶ capture upstream (here)

The capture upstream answers every envelope that holds an error event with ``429`` and
``X-Sentry-Rate-Limits: 60:error:key`` (Sentry's answer to an exhausted error quota) and
everything else with ``200``. It speaks plain HTTP, so the proxy runs with
``--insecure-upstream`` (TLS egress is covered by the Rust suites ``proxy/tests/egress*.rs``).

The proxy learns the limit from the upstream's 429 and hands it back to the SDK on its next
answer; the SDK must then drop error events itself (counted as ``ratelimit_backoff`` in its
client reports) while it keeps sending transactions.
"""
import gzip
import json
import os
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import zstandard

from conftest import PROXY_BIN, launch
from envelope import item_json, parse_envelope

PROJECT_ID = 42
KEY = "0123456789abcdef0123456789abcdef"
RATE_LIMITS = "60:error:key"
CONSENT = {"telemetry_enabled": True, "companies": {"7": {"telemetry_enabled": True, "telemetry_ids_allowed": False}}}
CLIENT_TIMEOUT = 90
EXCEPTIONS_AFTER_LIMIT = 5


class CaptureUpstream:
    """A plain-HTTP stand-in for Sentry's ingest that records every envelope."""

    def __init__(self):
        self.requests = []
        self.lock = threading.Lock()
        upstream = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                encoding = (self.headers.get("Content-Encoding") or "identity").lower()
                if encoding == "gzip":
                    body = gzip.decompress(raw)
                elif encoding == "zstd":
                    body = zstandard.ZstdDecompressor().decompressobj().decompress(raw)
                else:
                    body = raw
                header, items = parse_envelope(body)
                types = [item_header.get("type") for item_header, _ in items]
                limited = "event" in types
                with upstream.lock:
                    upstream.requests.append(
                        {
                            "path": self.path,
                            "auth": self.headers.get("X-Sentry-Auth", ""),
                            "encoding": encoding,
                            "event_id": header.get("event_id"),
                            "types": types,
                            "status": 429 if limited else 200,
                            "body": body,
                        }
                    )
                reply = b'{"detail":"rate limited"}' if limited else b"{}"
                self.send_response(429 if limited else 200)
                if limited:
                    self.send_header("Retry-After", "60")
                    self.send_header("X-Sentry-Rate-Limits", RATE_LIMITS)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def dsn(self):
        host, port = self.server.server_address
        return f"http://{KEY}@{host}:{port}/{PROJECT_ID}"

    def snapshot(self):
        with self.lock:
            return list(self.requests)

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def upstream():
    up = CaptureUpstream()
    yield up
    up.close()


@pytest.fixture
def egress_proxy(tmp_path, upstream):
    """The real binary sending to ``upstream``; stopped by PID with SIGTERM after the test."""
    work = tmp_path / "proxy"
    work.mkdir()
    consent = work / "consent.json"
    consent.write_text(json.dumps(CONSENT))
    ready = work / "ready.json"
    log_path = work / "proxy.log"
    args = [
        str(PROXY_BIN),
        "--listen", "127.0.0.1:0",
        "--admin-listen", "127.0.0.1:0",
        "--ready-file", str(ready),
        "--upstream-dsn", upstream.dsn,
        "--insecure-upstream",
        # The local upstream stands in for an EU ingest (the EU residency guard).
        "--eu-upstream-hosts", "127.0.0.1",
        "--consent-file", str(consent),
        "--unattributed", "forward",
        "--senders", "1",
        "--shutdown-timeout", "2s",
    ]
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("SENTRY_PROXY_") and k.upper() not in ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY")
    }
    proxy = launch(args, env, ready, log_path, work)
    yield proxy
    assert proxy.stop() == 0, proxy.log()


# Runs in its own interpreter (the SDK is process-global). Prints one JSON line.
CLIENT = r'''
import json, sys, time, urllib.request
import sentry_sdk

DSN, ADMIN, N_AFTER = sys.argv[1], sys.argv[2], int(sys.argv[3])
LIMITED = 'scrubproxy_items_dropped_total{type="event",reason="upstream_rate_limited"}'


def metric(sample):
    with urllib.request.urlopen(f"http://{ADMIN}/metrics", timeout=10) as resp:
        for line in resp.read().decode().splitlines():
            name, _, value = line.rpartition(" ")
            if name == sample:
                return int(float(value))
    return 0


sentry_sdk.init(dsn=DSN, traces_sample_rate=1.0, send_client_reports=True, release="rl@1.0.0")
transport = sentry_sdk.get_client().transport
sent, reports = [], []
send_request, request = transport._send_request, transport._request


def _send_request(body, headers, endpoint_type, envelope=None):
    items = [i.type for i in envelope.items] if envelope is not None else []
    sent.append({"items": items})
    for i in envelope.items if envelope is not None else []:
        if i.type == "client_report":
            reports.append(json.loads(i.get_bytes()))
    return send_request(body, headers=headers, endpoint_type=endpoint_type, envelope=envelope)


def _request(method, endpoint_type, body, headers):
    response = request(method, endpoint_type, body, headers)
    sent[-1]["status"] = response.status
    sent[-1]["rate_limits"] = response.headers.get("x-sentry-rate-limits")
    return response


transport._send_request, transport._request = _send_request, _request
sentry_sdk.set_tag("company_id", "7")


def fail(n):
    raise RuntimeError(f"boom {n}")


def exception(n):
    try:
        fail(n)
    except RuntimeError:
        return sentry_sdk.capture_exception()


def transaction(name):
    with sentry_sdk.start_transaction(op="task", name=name):
        with sentry_sdk.start_span(op="db", name="SELECT 1"):
            pass


# 1. An error: accepted by the proxy, refused upstream with 429 for the error category.
first = exception(0)
sentry_sdk.flush(timeout=10)
deadline = time.monotonic() + 20
while metric(LIMITED) < 1:
    assert time.monotonic() < deadline, "the proxy never heard the upstream 429"
    time.sleep(0.05)
# 2. A transaction: passes, and the proxy's answer carries the error limit.
transaction("after-429")
sentry_sdk.flush(timeout=10)
limited_now = transport._check_disabled("error")
tx_limited = transport._check_disabled("transaction")
# 3. More errors: the SDK must drop them itself; a transaction still goes.
later = [exception(n) for n in range(1, N_AFTER + 1)]
transaction("still-flowing")
sentry_sdk.flush(timeout=10)
# 4. Client reports are flushed by flush(); one more flush makes sure they went.
transport._flush_client_reports(force=True)
sentry_sdk.flush(timeout=10)
print(json.dumps({
    "sdk": sentry_sdk.VERSION,
    "first": first,
    "later": later,
    "error_disabled": limited_now,
    "transaction_disabled": tx_limited,
    "requests": sent,
    "client_reports": reports,
}))
'''


def run_client(proxy):
    dsn = f"http://{KEY}@{proxy.listen}/{PROJECT_ID}"
    proc = subprocess.run(
        [sys.executable, "-c", CLIENT, dsn, proxy.admin, str(EXCEPTIONS_AFTER_LIMIT)],
        capture_output=True,
        text=True,
        timeout=CLIENT_TIMEOUT,
    )
    assert proc.returncode == 0, f"client failed:\n{proc.stdout}\n{proc.stderr}"
    return json.loads(proc.stdout.strip().splitlines()[-1])


def wait_for(predicate, what, timeout=20):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_real_sdk_stops_sending_errors_after_upstream_rate_limit(egress_proxy, upstream):
    proxy = egress_proxy
    out = run_client(proxy)
    assert out["sdk"].startswith("2."), out["sdk"]

    # The SDK learnt the limit for errors only.
    assert out["error_disabled"] is True, out["requests"]
    assert out["transaction_disabled"] is False
    limits = [r.get("rate_limits") for r in out["requests"] if r.get("rate_limits")]
    assert limits, f"no SDK-facing answer carried X-Sentry-Rate-Limits: {out['requests']}"
    for value in limits:
        seconds, categories, scope = value.split(",")[0].strip().split(":")[:3]
        assert "error" in categories.split(";"), value
        assert scope == "key", value
        assert 0 < int(seconds) <= 60, value

    # What the SDK sent: one error, never another, while transactions kept flowing.
    sent_items = [r["items"] for r in out["requests"]]
    with_events = [items for items in sent_items if "event" in items]
    assert len(with_events) == 1, sent_items
    assert sum("transaction" in items for items in sent_items) == 2, sent_items
    assert all(r.get("status") == 200 for r in out["requests"]), out["requests"]

    # The proxy received exactly one error event: the later exceptions never left the app.
    wait_for(lambda: proxy.metric('scrubproxy_items_received_total{type="transaction"}') == 2, "two transactions")
    assert proxy.metric('scrubproxy_items_received_total{type="event"}') == 1, proxy.metrics()
    assert proxy.metric('scrubproxy_items_dropped_total{type="event",reason="upstream_rate_limited"}') == 1

    # The SDK counts what it dropped, in its client reports.
    discarded = {}
    for report in out["client_reports"]:
        for entry in report.get("discarded_events", []):
            key = (entry["reason"], entry["category"])
            discarded[key] = discarded.get(key, 0) + entry["quantity"]
    assert discarded.get(("ratelimit_backoff", "error"), 0) == EXCEPTIONS_AFTER_LIMIT, out["client_reports"]

    # Upstream: the one error (429), then transactions only, all from the SDK's client.
    wait_for(lambda: sum("transaction" in r["types"] for r in upstream.snapshot()) == 2, "transactions upstream")
    seen = upstream.snapshot()
    events = [r for r in seen if "event" in r["types"]]
    assert len(events) == 1 and events[0]["status"] == 429, [(r["types"], r["status"]) for r in seen]
    assert events[0]["event_id"] == out["first"]
    for r in seen:
        assert r["path"] == f"/api/{PROJECT_ID}/envelope/"
        assert r["encoding"] == "zstd"  # the proxy's default
        assert f"sentry_key={KEY}" in r["auth"], r["auth"]
        assert "sentry_client=sentry.python/2." in r["auth"], r["auth"]
    later = set(out["later"])
    assert not any(r["event_id"] in later for r in seen), "a rate-limited error reached the upstream"


def test_error_only_envelope_gets_429_with_limits_transactions_pass(egress_proxy, upstream):
    """Raw HTTP, no SDK: the proxy's own answers while the error limit is in force."""
    import urllib.error
    import urllib.request

    proxy = egress_proxy

    def post(body):
        req = urllib.request.Request(
            f"http://{proxy.listen}/api/{PROJECT_ID}/envelope/",
            data=body,
            headers={
                "Content-Type": "application/x-sentry-envelope",
                "X-Sentry-Auth": f"Sentry sentry_key={KEY}, sentry_version=7, sentry_client=raw/1.0",
            },
            method="POST",
        )
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return resp.status, resp.headers, resp.read()
        except urllib.error.HTTPError as e:
            return e.code, e.headers, e.read()

    def event(n):
        eid = f"{n:032x}"
        payload = json.dumps({"event_id": eid, "level": "error", "platform": "python", "tags": {"company_id": "7"}, "message": "boom"})
        return f'{{"event_id":"{eid}"}}\n{{"type":"event"}}\n{payload}\n'.encode()

    def transaction(n):
        eid = f"{n:032x}"
        payload = json.dumps({
            "event_id": eid, "type": "transaction", "transaction": "/t", "platform": "python",
            "start_timestamp": 1736937127.0, "timestamp": 1736937127.5, "tags": {"company_id": "7"},
            "contexts": {"trace": {"trace_id": "771a43a4192642f0b136d5159a501700", "span_id": "8d2f7c4a1b3e5f60", "op": "task"}},
            "spans": [],
        })
        return f'{{"event_id":"{eid}"}}\n{{"type":"transaction"}}\n{payload}\n'.encode()

    status, headers, _ = post(event(1))
    assert status == 200
    wait_for(lambda: proxy.metric('scrubproxy_items_dropped_total{type="event",reason="upstream_rate_limited"}') == 1, "the 429")

    status, headers, body = post(event(2))
    assert status == 429, body
    assert int(headers["Retry-After"]) > 0
    assert ":error:key" in headers["X-Sentry-Rate-Limits"]

    status, headers, body = post(transaction(3))
    assert status == 200, body
    assert ":error:key" in headers["X-Sentry-Rate-Limits"]
    wait_for(lambda: any("transaction" in r["types"] for r in upstream.snapshot()), "the transaction upstream")
    assert [r["event_id"] for r in upstream.snapshot()] == [f"{1:032x}", f"{3:032x}"]
