"""Sanity checks of the committed fixtures (no network, no server):

    .venv/bin/python -m pytest tests/sdk -q
"""
import gzip
import json
import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
FIXTURES = os.path.join(os.path.dirname(os.path.dirname(HERE)), "crates", "scrub", "tests", "fixtures")

from envelope import item_json, parse_envelope  # noqa: E402

INDEX = json.load(open(os.path.join(FIXTURES, "index.json")))["fixtures"]
CANARIES = json.load(open(os.path.join(FIXTURES, "canaries.json")))


def body(name):
    with open(os.path.join(FIXTURES, name), "rb") as fh:
        return fh.read()


@pytest.mark.parametrize("name", sorted(INDEX))
def test_fixture_parses(name):
    data = body(name)
    if name.endswith(".store.json"):
        assert json.loads(data)["exception"]
        return
    header, items = parse_envelope(data)
    assert isinstance(header, dict)  # sessions/client_report envelopes have a bare {} header
    assert [h["type"] for h, _ in items]
    for h, payload in items:
        assert item_json(payload) is not None, h


@pytest.mark.parametrize("name", sorted(n for n, e in INDEX.items() if "compressed_file" in e))
def test_compressed_body_matches(name):
    entry = INDEX[name]
    raw = body(entry["compressed_file"])
    if entry["content_encoding"] == "gzip":
        assert gzip.decompress(raw) == body(name)
    else:
        brotli = pytest.importorskip("brotli")
        assert brotli.decompress(raw) == body(name)


def test_every_sent_canary_is_in_the_fixtures():
    all_bodies = b"".join(body(n) for n in INDEX)
    for c in CANARIES["canaries"]:
        if c["name"] in CANARIES["never_sent_by_sdk"]:
            continue
        assert any(f.encode() in all_bodies for f in c["forms"]), c["name"]


def test_item_kinds_present():
    kinds = {k for e in INDEX.values() for k in e["items"]}
    assert {"event_error", "event_message", "transaction", "sessions", "client_report", "log"} <= kinds
    encodings = {e["content_encoding"] for e in INDEX.values()}
    assert {"br", "gzip"} <= encodings
