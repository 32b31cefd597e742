"""Large bodies through the real (multi-threaded) binary: they are decompressed, parsed and
scrubbed off the async workers, and the proxy keeps answering small requests meanwhile."""
import gzip
import json
import threading
import urllib.request

from conftest import PUBLIC_KEY


def post(proxy, body, encoding=None):
    req = urllib.request.Request(
        f"http://{proxy.listen}/api/42/envelope/",
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/x-sentry-envelope",
            "X-Sentry-Auth": f"Sentry sentry_key={PUBLIC_KEY}, sentry_version=7",
            **({"Content-Encoding": encoding} if encoding else {}),
        },
    )
    with urllib.request.urlopen(req, timeout=30) as resp:
        return resp.status, json.loads(resp.read())


def envelope(event_id, attachment_bytes, n_events=1):
    parts = [json.dumps({"event_id": event_id}).encode()]
    attachment = b"CANARYDOC confidential " * (attachment_bytes // 23)
    parts.append(json.dumps({"type": "attachment", "length": len(attachment), "filename": "a.txt"}).encode())
    parts.append(attachment)
    for _ in range(n_events):
        event = json.dumps({
            "event_id": event_id,
            "level": "error",
            "platform": "python",
            "tags": {"company_id": "7"},
            "exception": {"values": [{"type": "ValueError", "value": "x", "stacktrace": {
                "frames": [{"function": f"f{i}", "filename": "app.py", "lineno": i} for i in range(800)]}}]},
        }).encode()
        parts.append(json.dumps({"type": "event", "length": len(event)}).encode())
        parts.append(event)
    return b"\n".join(parts) + b"\n"


def test_large_bodies_are_served_and_small_ones_are_not_starved(proxy):
    big_id = "a" * 32
    big = gzip.compress(envelope(big_id, 8 << 20, n_events=8), 1)  # 8 MiB attachment, 8 events
    assert len(big) > 32 * 1024
    results = {}

    def send_big():
        results["big"] = post(proxy, big, "gzip")

    t = threading.Thread(target=send_big)
    t.start()
    small = [post(proxy, envelope(f"{i:032x}", 0)) for i in range(20)]
    t.join(60)
    assert results["big"] == (200, {"id": big_id})
    assert all(status == 200 for status, _ in small)
    # The attachment never leaves; the events do, with their frames.
    files = sorted(proxy.outbox.iterdir())
    texts = [f.read_bytes() for f in files]
    assert not any(b"CANARYDOC" in t for t in texts)
    big_out = [t for t in texts if big_id.encode() in t]
    assert len(big_out) == 1
    lines = big_out[0].split(b"\n")
    items = [json.loads(lines[i]) for i in range(1, len(lines) - 1, 2)]
    assert [i["type"] for i in items] == ["event"] * 8
    # One attachment per envelope (the small ones carry an empty one).
    assert proxy.metric('scrubproxy_items_dropped_total{type="attachment",reason="item_type_denied"}') == 21
