"""A tiny Sentry-ingest stand-in that records every request it receives.

Answers like Sentry (200 {"id": ...}); keeps the raw (possibly compressed)
body, the decompressed body and the headers. Also serves a fake search
backend on GET /backend/search so the app's outgoing HTTP call succeeds.
"""
import gzip
import json
import re
import threading
import time
import uuid
import zlib
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

try:
    import brotli
except ImportError:  # pragma: no cover
    brotli = None

ENDPOINT_RE = re.compile(r"^/api/(?P<project>\d+)/(?P<kind>envelope|store)/?$")


def decompress(body, encoding):
    encoding = (encoding or "identity").strip().lower()
    if encoding in ("", "identity"):
        return body
    if encoding == "gzip":
        return gzip.decompress(body)
    if encoding == "deflate":
        return zlib.decompress(body)
    if encoding == "br":
        if brotli is None:
            raise RuntimeError("brotli body received but brotli is not importable")
        return brotli.decompress(body)
    raise ValueError(f"unsupported Content-Encoding {encoding}")


@dataclass
class Captured:
    seq: int
    received_at: float
    method: str
    path: str
    kind: str  # "envelope" | "store" | "backend" | "other"
    headers: dict
    raw_body: bytes
    body: bytes
    content_encoding: str = ""
    meta: dict = field(default_factory=dict)


class CaptureServer:
    def __init__(self, host="127.0.0.1", port=0):
        self.requests = []
        self._lock = threading.Lock()
        self._seq = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _record(self, kind, raw, body, enc):
                with outer._lock:
                    outer._seq += 1
                    outer.requests.append(
                        Captured(
                            seq=outer._seq,
                            received_at=time.time(),
                            method=self.command,
                            path=self.path,
                            kind=kind,
                            headers={k: v for k, v in self.headers.items()},
                            raw_body=raw,
                            body=body,
                            content_encoding=enc,
                        )
                    )

            def _reply(self, status, payload):
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                if self.path.startswith("/backend/search"):
                    self._record("backend", b"", b"", "")
                    return self._reply(200, {"results": []})
                self._reply(404, {"detail": "not found"})

            def _read_body(self):
                # @sentry/node sends its envelopes chunked, without Content-Length.
                if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
                    chunks = []
                    while True:
                        size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                        if size == 0:
                            while self.rfile.readline().strip():  # trailers, then the blank line
                                pass
                            return b"".join(chunks)
                        chunks.append(self.rfile.read(size))
                        self.rfile.readline()  # the CRLF after each chunk
                length = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(length) if length else b""

            def do_POST(self):
                raw = self._read_body()
                path = self.path.split("?", 1)[0]
                match = ENDPOINT_RE.match(path)
                if not match:
                    self._record("other", raw, raw, "")
                    return self._reply(404, {"detail": "not found"})
                enc = self.headers.get("Content-Encoding", "")
                try:
                    body = decompress(raw, enc)
                except Exception as exc:  # keep the raw body for inspection
                    self._record(match["kind"], raw, b"", enc)
                    return self._reply(400, {"detail": f"bad body: {exc}"})
                self._record(match["kind"], raw, body, enc)
                event_id = _event_id(match["kind"], body)
                self._reply(200, {"id": event_id})

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self.url = f"http://{host}:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self._server.shutdown()
        self._server.server_close()

    def snapshot(self):
        with self._lock:
            return list(self.requests)

    def wait_quiet(self, quiet=0.4, timeout=10.0):
        """Wait until no request arrived for `quiet` seconds."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            with self._lock:
                last = self.requests[-1].received_at if self.requests else 0
            if time.time() - last >= quiet:
                return
            time.sleep(0.05)


def _event_id(kind, body):
    try:
        if kind == "store":
            return json.loads(body).get("event_id") or uuid.uuid4().hex
        header = json.loads(body.split(b"\n", 1)[0] or b"{}")
        return header.get("event_id") or uuid.uuid4().hex
    except ValueError:
        return uuid.uuid4().hex
