"""Minimal Sentry envelope parser (for inspecting captured fixtures)."""
import json


def parse_envelope(data):
    """Return (header, [(item_header, payload_bytes), ...])."""
    pos = data.find(b"\n")
    if pos < 0:
        return json.loads(data or b"{}"), []
    header = json.loads(data[:pos] or b"{}")
    pos += 1
    items = []
    while pos < len(data):
        end = data.find(b"\n", pos)
        if end < 0:
            end = len(data)
        line = data[pos:end]
        pos = end + 1
        if not line.strip():
            continue
        item_header = json.loads(line)
        length = item_header.get("length")
        if length is not None:
            payload = data[pos : pos + length]
            pos += length + 1  # payload + newline
        else:
            end = data.find(b"\n", pos)
            if end < 0:
                end = len(data)
            payload = data[pos:end]
            pos = end + 1
        items.append((item_header, payload))
    return header, items


def item_json(payload):
    try:
        return json.loads(payload)
    except ValueError:
        return None
