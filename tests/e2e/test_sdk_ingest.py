"""The REAL sentry-sdk, through its real transport, into the REAL proxy binary.

sentry-sdk 2.x sends envelopes (Brotli when ``brotli`` is importable, gzip
otherwise); sentry-sdk 1.x posts error events to the legacy ``/store/``
endpoint. Every request must be accepted, land in the dry-run outbox with the
technical facts intact, and leave without personal data.
"""
import collections
import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO

HERE = Path(__file__).resolve().parent
SDK2_PYTHON = sys.executable  # pytest runs under .venv (sentry-sdk 2.x)
SDK1_PYTHON = REPO / ".venv-sdk1" / "bin" / "python"
CANARIES = ["alice.canary@example.com", "4111 1111 1111 1111", "4111111111111111"]
CLIENT_TIMEOUT = 60


def run_client(python, script, *args):
    """Runs an SDK client script; returns the JSON of its last stdout line."""
    proc = subprocess.run(
        [str(python), str(HERE / script), *args],
        capture_output=True,
        text=True,
        timeout=CLIENT_TIMEOUT,
        cwd=HERE,
    )
    assert proc.returncode == 0, f"{script} failed:\n{proc.stdout}\n{proc.stderr}"
    return json.loads(proc.stdout.strip().splitlines()[-1])


def assert_no_canary(what, data):
    text = data.decode(errors="replace") if isinstance(data, bytes) else data
    for canary in CANARIES:
        assert canary not in text, f"{what} leaks {canary!r}"


def assert_no_personal_fields(event):
    assert "user" not in event, event.get("user")
    assert "breadcrumbs" not in event
    assert "data" not in event.get("request", {})
    assert "company_id" not in (event.get("tags") or {}), "IDs are not allowed by default"


def outbox_items(proxy):
    """``[(envelope header, item type, payload)]`` over every outbox envelope."""
    return [
        (header, item_header["type"], payload)
        for _path, header, items in proxy.envelopes()
        for item_header, payload in items
    ]


@pytest.mark.parametrize("encoding", ["br", "gzip"])
def test_sdk2_envelopes_arrive_scrubbed(proxy, encoding):
    out = run_client(SDK2_PYTHON, "sdk2_client.py", proxy.dsn(), encoding)
    assert out["sdk"].startswith("2."), out["sdk"]
    assert out["compression"] == encoding
    sent = out["requests"]
    assert sent, "the SDK sent nothing"
    for req in sent:
        assert req["endpoint"] == "envelope", req
        assert req["encoding"] == encoding, req
        assert req.get("status") == 200, req

    # Every envelope the SDK sent arrived, was accepted, and was written (or was empty).
    files = proxy.envelope_files()
    assert proxy.metric('scrubproxy_requests_total{endpoint="envelope"}') == len(sent)
    assert proxy.metric("scrubproxy_envelopes_accepted_total") == len(sent)
    empty = proxy.metric("scrubproxy_envelopes_empty_total")
    assert len(files) + empty == len(sent)
    assert proxy.metric('scrubproxy_envelopes_emitted_total{sink="outbox"}') == len(files)
    metrics = proxy.metrics()
    assert "scrubproxy_requests_rejected_total{" not in metrics, metrics
    assert_no_canary("/metrics", metrics)

    # Every item the SDK sent was received; what reached the outbox is that minus the drops.
    sent_types = collections.Counter(t for req in sent for t in req["items"])
    for ty, n in sent_types.items():
        assert proxy.metric(f'scrubproxy_items_received_total{{type="{ty}"}}') == n, ty
    dropped = collections.Counter()
    for line in metrics.splitlines():
        if line.startswith("scrubproxy_items_dropped_total{"):
            labels, value = line.rsplit(" ", 1)
            ty = labels.split('type="', 1)[1].split('"', 1)[0]
            dropped[ty] += int(value)
    items = outbox_items(proxy)
    assert collections.Counter(ty for _, ty, _ in items) == sent_types - dropped
    got = collections.Counter(ty for _, ty, _ in items)
    assert got["event"] == 2, got
    assert got["transaction"] == 1, got
    assert got["session"] + got["sessions"] >= 1, got

    for path in files:
        assert_no_canary(path.name, path.read_bytes())

    events = {payload["event_id"]: payload for _, ty, payload in items if ty == "event"}
    assert set(events) == {out["ids"]["exception"], out["ids"]["message"]}

    # The exception: type and frames kept, the message of a non-technical type replaced.
    error = events[out["ids"]["exception"]]
    (exc,) = error["exception"]["values"]
    assert exc["type"] == "ValueError"
    assert exc["value"] == "[filtered]"
    frames = exc["stacktrace"]["frames"]
    for frame in frames:
        assert frame.get("filename") and frame.get("function"), frame
        assert isinstance(frame.get("lineno"), int), frame
    assert [f["function"] for f in frames][-3:] == ["main", "checkout", "charge"]
    assert frames[-1]["filename"] == "sdk2_client.py"
    assert "vars" not in frames[-1]
    for event in events.values():
        assert event["contexts"]["runtime"]["name"] == "CPython"
        assert event["sdk"]["name"].startswith("sentry.python"), event["sdk"]
        assert event["release"] == "e2e-app@1.2.3"
        assert_no_personal_fields(event)
    assert events[out["ids"]["message"]]["level"] == "info"

    # The transaction: its spans with op and timestamps.
    (transaction,) = [payload for _, ty, payload in items if ty == "transaction"]
    assert transaction["transaction"] == "e2e-checkout"
    assert transaction["contexts"]["trace"]["op"] == "task"
    assert transaction["contexts"]["trace"]["trace_id"] == out["ids"]["transaction_trace"]
    spans = transaction["spans"]
    assert sorted(s["op"] for s in spans) == ["cache.get", "db", "http.client", "serialize"]
    for span in spans:
        assert span["start_timestamp"] <= span["timestamp"], span
    assert_no_personal_fields(transaction)

    # Release health: the session, with its release and outcome.
    sessions = [payload for _, ty, payload in items if ty in ("session", "sessions")]
    session = sessions[-1]
    assert session["attrs"]["release"] == "e2e-app@1.2.3"
    assert session["status"] == "exited"
    assert session["errors"] >= 1


def test_sdk1_store_event_becomes_an_envelope(proxy):
    if not SDK1_PYTHON.exists():
        pytest.fail(f"{SDK1_PYTHON} is missing: run scripts/setup-python.sh")
    out = run_client(SDK1_PYTHON, "sdk1_client.py", proxy.dsn())
    assert out["sdk"].startswith("1."), out["sdk"]
    store = [r for r in out["requests"] if r["endpoint"] == "store"]
    assert store == [{"endpoint": "store", "encoding": "gzip"}], out["requests"]

    assert proxy.metric('scrubproxy_requests_total{endpoint="store"}') == 1
    metrics = proxy.metrics()
    assert "scrubproxy_requests_rejected_total{" not in metrics, metrics
    assert proxy.metric("scrubproxy_envelopes_accepted_total") == len(out["requests"])

    event_id = out["event_id"]
    matching = [e for e in proxy.envelopes() if e[1].get("event_id") == event_id]
    assert len(matching) == 1, [e[0].name for e in proxy.envelopes()]
    path, header, items = matching[0]
    assert [item_header["type"] for item_header, _ in items] == ["event"]
    event = items[0][1]
    assert event["event_id"] == event_id
    (exc,) = event["exception"]["values"]
    assert exc["type"] == "KeyError"
    assert exc["stacktrace"]["frames"][-1]["function"] == "parse_invoice"
    assert event["sdk"]["name"].startswith("sentry.python")
    assert_no_personal_fields(event)
    assert_no_canary(path.name, path.read_bytes())
