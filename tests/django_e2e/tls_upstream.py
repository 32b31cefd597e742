"""A local stand-in for the vendor's EU Sentry ingest: a private CA, a server
certificate for 127.0.0.1, and an HTTPS capture server (TLS 1.2+) that records
every request it gets, raw and decompressed, and counts every TCP connection
it accepts (before the TLS handshake, so a refused or failed handshake counts
too).

Every response carries ``Connection: close``: each upstream send needs a new
TCP connection, so "no new connection" really means "nothing was attempted".
"""
import datetime
import gzip
import http.server
import ipaddress
import json
import socketserver
import ssl
import threading
import time
import uuid
import zlib

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


# ------------------------------------------------------------------------ PKI
def make_pki(directory):
    """Write ca.pem, server.pem and server.key into ``directory``; return their paths."""
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "django-e2e test CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=True,
                crl_sign=True, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=False,
                crl_sign=False, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    paths = {
        "ca": directory / "ca.pem",
        "cert": directory / "server.pem",
        "key": directory / "server.key",
    }
    paths["ca"].write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    paths["cert"].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths["key"].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return paths


# -------------------------------------------------------------- decompression
def decompress(body, encoding):
    """The decoded body, or raise ValueError for an encoding we cannot read
    (a test that cannot read a body must not call it clean)."""
    encoding = (encoding or "identity").strip().lower()
    if encoding in ("", "identity"):
        return body
    if encoding in ("gzip", "x-gzip"):
        return gzip.decompress(body)
    if encoding == "deflate":
        try:
            return zlib.decompress(body)
        except zlib.error:
            return zlib.decompress(body, -zlib.MAX_WBITS)
    if encoding == "br":
        import brotli

        return brotli.decompress(body)
    if encoding == "zstd":
        try:
            import zstandard
        except ImportError:
            try:
                from compression import zstd  # Python 3.14+
            except ImportError as exc:
                raise ValueError("zstd body but no zstd decoder in this Python") from exc
            return zstd.decompress(body)
        return zstandard.ZstdDecompressor().decompressobj().decompress(body)
    raise ValueError(f"unknown Content-Encoding {encoding!r}")


# ------------------------------------------------------------------- capture
class Captured:
    """One request received by the capture upstream."""

    def __init__(self, method, path, headers, raw):
        self.method = method
        self.path = path
        self.headers = headers  # list of (name, value), as received
        self.raw = raw
        self.encoding = self.header("content-encoding") or "identity"
        try:
            self.body = decompress(raw, self.encoding)
            self.decode_error = None
        except Exception as exc:  # recorded; the test fails on it
            self.body = None
            self.decode_error = f"{exc.__class__.__name__}: {exc}"

    def header(self, name):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    def header_bytes(self):
        return "".join(f"{k}: {v}\n" for k, v in self.headers).encode("utf-8", "replace")

    def envelope_items(self):
        """[(item_header, json_or_bytes)] of an envelope body."""
        from envelope import item_json, parse_envelope

        if self.body is None:
            return []
        _, items = parse_envelope(self.body)
        out = []
        for item_header, payload in items:
            doc = item_json(payload)
            out.append((item_header, doc if doc is not None else payload))
        return out


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "capture-upstream"
    sys_version = ""

    def log_message(self, *args):
        pass

    def _answer(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)
        self.close_connection = True

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        captured = Captured("POST", self.path, list(self.headers.items()), raw)
        self.server.owner._record(captured)
        if self.path.rstrip("/").endswith("/envelope") and self.path.startswith("/api/"):
            self._answer(200, {"id": uuid.uuid4().hex})
        else:
            self._answer(404, {"detail": "not found"})

    def do_GET(self):
        self.server.owner._record(Captured("GET", self.path, list(self.headers.items()), b""))
        self._answer(404, {"detail": "not found"})


class _TLSServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = False

    def get_request(self):
        sock, addr = self.socket.accept()
        self.owner._accepted()
        return sock, addr

    def finish_request(self, request, client_address):
        # TLS handshake in the per-connection thread, not in the accept loop.
        request.settimeout(10)
        try:
            tls = self.owner.context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError) as exc:
            self.owner._handshake_failed(exc)
            return
        try:
            self.RequestHandlerClass(tls, client_address, self)
        finally:
            try:
                tls.close()
            except OSError:
                pass

    def handle_error(self, request, client_address):
        pass


class CaptureUpstream:
    """HTTPS server on 127.0.0.1:<free port>; ``start()`` / ``stop()``."""

    def __init__(self, cert, key):
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.minimum_version = ssl.TLSVersion.TLSv1_2
        self.context.load_cert_chain(str(cert), str(key))
        self._lock = threading.Lock()
        self._captured = []
        self.accepts = 0
        self.handshake_failures = []
        self._server = _TLSServer(("127.0.0.1", 0), _Handler)
        self._server.owner = self
        self.port = self._server.server_address[1]
        self._thread = None

    def _accepted(self):
        with self._lock:
            self.accepts += 1

    def _handshake_failed(self, exc):
        with self._lock:
            self.handshake_failures.append(f"{exc.__class__.__name__}: {exc}")

    def _record(self, captured):
        with self._lock:
            self._captured.append(captured)

    def start(self):
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self):
        self._server.shutdown()
        self._server.server_close()

    def snapshot(self):
        with self._lock:
            return list(self._captured)

    def accept_count(self):
        with self._lock:
            return self.accepts

    def count(self):
        with self._lock:
            return len(self._captured)

    def wait_for(self, predicate, timeout, what):
        """Poll until ``predicate(snapshot)`` is truthy; return its value or raise."""
        deadline = time.monotonic() + timeout
        while True:
            value = predicate(self.snapshot())
            if value:
                return value
            if time.monotonic() > deadline:
                raise TimeoutError(f"capture upstream: timed out after {timeout}s waiting for {what}")
            time.sleep(0.05)
