"""Shared pieces of the corpus generator: canaries, the case registry, local servers."""
import glob
import http.server
import json
import os
import shutil
import socket
import socketserver
import ssl
import subprocess
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

# --- Canaries: the values a user typed, a document's title, a person, a machine. -------------
NAME = "Zephyrine Quillfeather"
SLUG = "zephyrine-quillfeather"
EMAIL = "zephyrine.quillfeather@example.com"
TITLE = "Quillfeather Family Memoirs"
QUERY = "merger plans of Globex"
HOST = "zephyrine-laptop.corp-intra.example.net"
TOKEN = "tok_CANARY9f3b2c1d"
CANARY_WORDS = ["zephyrine", "quillfeather", "memoirs", "globex", "canary9f3b2c1d"]

# --- Fixed places, so that paths and ports in messages are the same on every run. ------------
WORK = "/tmp/exception-corpus-work"
MEDIA = os.path.join(WORK, "media")
LOOP = "127.0.0.1"
CLOSED_PORT = 59999       # nothing listens here
HTTP_PORT = 18080         # plain HTTP app server
STALL_PORT = 18081        # accepts, never answers
TLS_PORT = 18443          # HTTPS with a self-signed certificate for "localhost"
SMTP_PORT = 18025         # SMTP server that rejects unknown recipients
OPENAI_PORT = 18082       # answers like api.openai.com does on errors
S3_PORT = 18083           # answers like S3/SES do on errors
ES_PORT = 18084           # answers like Elasticsearch does on errors
PG_PORT = 54329
REDIS_PORT = 63799
PG_USER, PG_PASSWORD, PG_DB = "app", "app-db-password", "app"

HTTP = "http://%s:%d" % (LOOP, HTTP_PORT)
STALL = "http://%s:%d" % (LOOP, STALL_PORT)
CLOSED = "http://%s:%d" % (LOOP, CLOSED_PORT)


@dataclass
class Case:
    lib: str
    desc: str
    fn: Callable
    needs: tuple = ()
    as_nobody: bool = False


CASES = []


def case(lib, desc, needs=(), as_nobody=False):
    """Register a function that must raise. `lib` is a distribution name, or "python"."""
    def deco(fn):
        CASES.append(Case(lib, desc, fn, tuple(needs), as_nobody))
        return fn
    return deco


def prepare_workdir():
    shutil.rmtree(WORK, ignore_errors=True)
    os.makedirs(MEDIA)
    os.chmod(WORK, 0o755)


# --- Local servers ----------------------------------------------------------------------------

class _Threading(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class AppHandler(http.server.BaseHTTPRequestHandler):
    """A small web app and three vendor-shaped APIs, chosen by the port the request came to."""
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def _send(self, status, body, ctype="text/html; charset=utf-8", headers=()):
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def do_HEAD(self):
        self.do_GET()

    def do_PUT(self):
        self.do_POST()

    def do_GET(self):
        port = self.server.server_address[1]
        if port == OPENAI_PORT:
            return self._openai()
        if port == S3_PORT:
            return self._aws()
        if port == ES_PORT:
            return self._es()
        path = self.path.split("?")[0]
        if path.startswith("/people/") or path.startswith("/documents/"):
            return self._send(404, "<h1>Not Found</h1>")
        if path.startswith("/api/export"):
            return self._send(500, "<h1>Server Error (500)</h1>")
        if path.startswith("/api/sync"):
            return self._send(503, "<h1>Service Unavailable</h1>")
        if path.startswith("/api/limited"):
            return self._send(429, "Too Many Requests", headers=[("Retry-After", "30")])
        if path.startswith("/loop"):
            return self._send(302, "", headers=[("Location", self.path)])
        if path.startswith("/broken-chunked"):
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            self.wfile.write(b"10\r\nonly-part")
            self.wfile.flush()
            self.close_connection = True
            return
        if path.startswith("/hangup"):
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        # Anything else: an HTML page, the usual reason a JSON decode fails.
        return self._send(200, "<!doctype html><title>Search</title><p>Results</p>")

    def do_POST(self):
        port = self.server.server_address[1]
        if port == OPENAI_PORT:
            return self._openai()
        if port == S3_PORT:
            return self._aws()
        if port == ES_PORT:
            return self._es()
        self._body()
        return self.do_GET()

    # OpenAI's documented error bodies.
    def _openai(self):
        body = self._body()
        auth = self.headers.get("Authorization", "")
        key = auth[len("Bearer "):] if auth.startswith("Bearer ") else ""
        try:
            req = json.loads(body or b"{}")
        except ValueError:
            req = {}
        if not key.startswith("sk-"):
            masked = key[:4] + "*" * max(0, len(key) - 8) + key[-4:]
            err = {"message": "Incorrect API key provided: %s. You can find your API key at "
                              "https://platform.openai.com/account/api-keys." % masked,
                   "type": "invalid_request_error", "param": None, "code": "invalid_api_key"}
            return self._send(401, json.dumps({"error": err}), "application/json")
        model = req.get("model", "")
        if model != "gpt-4o-mini":
            err = {"message": "The model `%s` does not exist or you do not have access to it." % model,
                   "type": "invalid_request_error", "param": None, "code": "model_not_found"}
            return self._send(404, json.dumps({"error": err}), "application/json")
        err = {"message": "Rate limit reached for gpt-4o-mini in organization org-7Hq2 on tokens per "
                          "min (TPM): Limit 200000, Used 199532, Requested 1342. Please try again in "
                          "262ms. Visit https://platform.openai.com/account/rate-limits to learn more.",
               "type": "tokens", "param": None, "code": "rate_limit_exceeded"}
        return self._send(429, json.dumps({"error": err}), "application/json",
                          headers=[("retry-after-ms", "0")])

    # S3 / SES error documents, as the AWS docs show them.
    def _aws(self):
        body = self._body()
        path = self.path.split("?")[0]
        if b"Action=SendEmail" in body:
            import urllib.parse
            form = urllib.parse.parse_qs(body.decode())
            source = form.get("Source", ["?"])[0]
            xml = ("<ErrorResponse xmlns=\"http://ses.amazonaws.com/doc/2010-12-01/\"><Error>"
                   "<Type>Sender</Type><Code>MessageRejected</Code><Message>Email address is not "
                   "verified. The following identities failed the check in region US-EAST-1: %s"
                   "</Message></Error><RequestId>5d1c7c0b-0000-4000-8000-000000000001</RequestId>"
                   "</ErrorResponse>" % source)
            return self._send(400, xml, "text/xml")
        if path.endswith("/private.pdf") or "private" in path:
            xml = ("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>AccessDenied</Code>"
                   "<Message>Access Denied</Message><RequestId>4442587FB7D0A2F9</RequestId>"
                   "<HostId>host-id</HostId></Error>")
            return self._send(403, xml, "application/xml")
        xml = ("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>NoSuchKey</Code>"
               "<Message>The specified key does not exist.</Message><Key>%s</Key>"
               "<RequestId>4442587FB7D0A2F9</RequestId><HostId>host-id</HostId></Error>"
               % path.split("/", 2)[-1])
        return self._send(404, xml, "application/xml")

    # Elasticsearch's error bodies (8.x shapes).
    def _es(self):
        body = self._body()
        hdr = [("X-Elastic-Product", "Elasticsearch")]
        ctype = "application/vnd.elasticsearch+json;compatible-with=9"
        path = self.path.split("?")[0]
        index = path.strip("/").split("/")[0]
        if path.endswith("/_search") and not index.startswith("docs-"):
            q = json.loads(body or b"{}").get("query", {}).get("query_string", {}).get("query", "")
            reason = "Failed to parse query [%s]" % q
            err = {"error": {"root_cause": [{"type": "query_shard_exception", "reason": reason,
                                             "index": index}],
                             "type": "search_phase_execution_exception",
                             "reason": "all shards failed", "phase": "query", "grouped": True,
                             "failed_shards": [{"shard": 0, "index": index, "node": "n1", "reason": {
                                 "type": "query_shard_exception", "reason": reason,
                                 "index": index}}]},
                   "status": 400}
            return self._send(400, json.dumps(err), ctype, hdr)
        err = {"error": {"root_cause": [{"type": "index_not_found_exception",
                                         "reason": "no such index [%s]" % index,
                                         "resource.type": "index_or_alias",
                                         "resource.id": index, "index": index}],
                         "type": "index_not_found_exception",
                         "reason": "no such index [%s]" % index,
                         "resource.type": "index_or_alias", "resource.id": index, "index": index},
               "status": 404}
        return self._send(404, json.dumps(err), ctype, hdr)


class _StallServer(threading.Thread):
    """Accepts connections and never answers: read timeouts."""
    daemon = True

    def __init__(self, port):
        super().__init__()
        self.sock = socket.create_server((LOOP, port), reuse_port=False)
        self.conns = []
        self.stopped = False

    def run(self):
        self.sock.settimeout(0.2)
        while not self.stopped:
            try:
                c, _ = self.sock.accept()
                self.conns.append(c)
            except (socket.timeout, OSError):
                continue

    def stop(self):
        self.stopped = True
        for c in self.conns:
            c.close()
        self.sock.close()


class _SmtpHandler(socketserver.StreamRequestHandler):
    """Enough SMTP for smtplib: accepts the sender, rejects every recipient as unknown."""

    def handle(self):
        w = self.wfile.write
        w(b"220 mail.example.net ESMTP Postfix\r\n")
        while True:
            line = self.rfile.readline()
            if not line:
                return
            cmd = line.decode(errors="replace").strip()
            up = cmd.upper()
            if up.startswith("EHLO") or up.startswith("HELO"):
                w(b"250-mail.example.net\r\n250-SIZE 10240000\r\n250 8BITMIME\r\n")
            elif up.startswith("MAIL FROM"):
                w(b"250 2.1.0 Ok\r\n")
            elif up.startswith("RCPT TO"):
                addr = cmd.split(":", 1)[1].strip()
                w(("550 5.1.1 %s: Recipient address rejected: User unknown in virtual mailbox table"
                   "\r\n" % addr).encode())
            elif up.startswith("RSET"):
                w(b"250 2.0.0 Ok\r\n")
            elif up.startswith("QUIT"):
                w(b"221 2.0.0 Bye\r\n")
                return
            else:
                w(b"502 5.5.2 Error: command not recognized\r\n")


class _SmtpServer(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True


def _self_signed(certfile, keyfile):
    import datetime
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime(2025, 1, 1, tzinfo=datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(1000)
            .not_valid_before(now).not_valid_after(now + datetime.timedelta(days=3650))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    with open(certfile, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(keyfile, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))


CERT = os.path.join(WORK, "tls", "localhost.pem")
KEY = os.path.join(WORK, "tls", "localhost.key")


def _pg_bindir():
    try:
        out = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, check=True)
        d = out.stdout.strip()
        if os.path.exists(os.path.join(d, "initdb")):
            return d
    except (OSError, subprocess.CalledProcessError):
        pass
    dirs = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
    return dirs[-1] if dirs else None


def _wait_port(port, timeout=20.0):
    end = time.time() + timeout
    while time.time() < end:
        try:
            socket.create_connection((LOOP, port), timeout=0.5).close()
            return True
        except OSError:
            time.sleep(0.1)
    return False


class Services:
    def __init__(self):
        self.http_servers = []
        self.stall = None
        self.smtp = None
        self.pg = None          # (bindir, datadir, run_as)
        self.redis = None       # Popen
        self.ok = set()

    def available(self, name):
        return name in self.ok

    def start(self):
        with socket.socket() as s:
            if s.connect_ex((LOOP, CLOSED_PORT)) == 0:
                raise SystemExit("port %d must be closed" % CLOSED_PORT)
        os.makedirs(os.path.dirname(CERT), exist_ok=True)
        _self_signed(CERT, KEY)
        os.chmod(KEY, 0o600)
        for port in (HTTP_PORT, OPENAI_PORT, S3_PORT, ES_PORT):
            srv = _Threading((LOOP, port), AppHandler)
            threading.Thread(target=srv.serve_forever, daemon=True).start()
            self.http_servers.append(srv)
        tls = _Threading((LOOP, TLS_PORT), AppHandler)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(CERT, KEY)
        tls.socket = ctx.wrap_socket(tls.socket, server_side=True)
        threading.Thread(target=tls.serve_forever, daemon=True).start()
        self.http_servers.append(tls)
        self.stall = _StallServer(STALL_PORT)
        self.stall.start()
        self.smtp = _SmtpServer((LOOP, SMTP_PORT), _SmtpHandler)
        threading.Thread(target=self.smtp.serve_forever, daemon=True).start()
        self.ok.update({"http", "tls", "smtp"})
        self._start_postgres()
        self._start_redis()

    def _start_postgres(self):
        bindir = _pg_bindir()
        if not bindir:
            print("postgresql not installed: PostgreSQL cases skipped")
            return
        data = os.path.join(WORK, "pg")
        os.makedirs(data)
        run_as = []
        if os.geteuid() == 0:
            shutil.chown(data, "postgres", "postgres")
            run_as = ["runuser", "-u", "postgres", "--"]
        pwfile = os.path.join(WORK, "pg.pw")
        with open(pwfile, "w") as f:
            f.write(PG_PASSWORD + "\n")
        os.chmod(pwfile, 0o644)
        q = subprocess.DEVNULL
        subprocess.run(run_as + [os.path.join(bindir, "initdb"), "-D", data, "-U", PG_USER,
                                 "--pwfile", pwfile, "--auth-host=scram-sha-256",
                                 "--auth-local=trust", "--locale=C", "-E", "UTF8"],
                       check=True, stdout=q, stderr=q)
        opts = "-p %d -k %s -c listen_addresses=%s -c lc_messages=C -c fsync=off" % (
            PG_PORT, data, LOOP)
        subprocess.run(run_as + [os.path.join(bindir, "pg_ctl"), "-D", data, "-o", opts,
                                 "-l", os.path.join(data, "log.txt"), "-w", "start"],
                       check=True, stdout=q, stderr=q)
        self.pg = (bindir, data, run_as)
        # initdb made database "postgres"; create the app's.
        subprocess.run(run_as + [os.path.join(bindir, "createdb"), "-h", data, "-p", str(PG_PORT),
                                 "-U", PG_USER, PG_DB], check=True)
        self.ok.add("postgres")

    def _start_redis(self):
        exe = shutil.which("redis-server")
        if not exe:
            print("redis-server not installed: redis server cases skipped")
            return
        self.redis = subprocess.Popen(
            [exe, "--port", str(REDIS_PORT), "--bind", LOOP, "--save", "", "--appendonly", "no",
             "--requirepass", "redis-password", "--dir", WORK],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if _wait_port(REDIS_PORT):
            self.ok.add("redis")

    def stop(self):
        for srv in self.http_servers:
            srv.shutdown()
            srv.server_close()
        if self.stall:
            self.stall.stop()
        if self.smtp:
            self.smtp.shutdown()
            self.smtp.server_close()
        if self.pg:
            bindir, data, run_as = self.pg
            subprocess.run(run_as + [os.path.join(bindir, "pg_ctl"), "-D", data, "-m", "fast",
                                     "-w", "stop"], stdout=subprocess.DEVNULL)
        if self.redis:
            self.redis.terminate()
            self.redis.wait(10)
