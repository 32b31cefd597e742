"""Python standard library: ordinary bugs, infrastructure failures, and user input in messages."""
import asyncio
import base64
import binascii  # noqa: F401
import configparser
import csv
import datetime
import decimal
import gzip
import io
import ipaddress
import json
import math
import os
import pickle
import re
import shlex
import smtplib
import socket
import sqlite3
import ssl
import struct
import subprocess
import tarfile
import urllib.error  # noqa: F401
import urllib.request
import uuid
import xml.etree.ElementTree as ET
import zipfile

from corpus_env import (CERT, CLOSED, CLOSED_PORT, EMAIL, HOST, HTTP, LOOP, MEDIA, NAME, QUERY,
                        SLUG, SMTP_PORT, STALL_PORT, TITLE, TLS_PORT, TOKEN, WORK, case)
from corpusapp.errors import ExportError, QuotaExceeded, SearchUnavailable

PY = "python"

# A request's form data, as a view sees it.
FORM = {"username": "zephyrine", "email": EMAIL, "age": "Zephyrine", "amount": "12,50",
        "birthday": "31/12/1984", "title": TITLE, "q": QUERY, "owner": SLUG}


class Document:
    def __init__(self, title):
        self.title = title
        self.owner = None


# ---------------------------------------------------------------- KeyError ------------------

@case(PY, "KeyError: settings dict without a key (bug)")
def _():
    settings = {"DEBUG": False}
    return settings["DATABASE_URL"]


@case(PY, "KeyError: os.environ missing variable")
def _():
    return os.environ["SENTRY_SCRUB_CORPUS_UNSET_VARIABLE"]


@case(PY, "KeyError: users dict looked up by typed username")
def _():
    users_by_username = {"admin": 1}
    return users_by_username[FORM["username"]]


@case(PY, "KeyError: cache dict keyed by user email")
def _():
    cache = {}
    return cache["user:" + FORM["email"]]


@case(PY, "KeyError: str.format with a missing placeholder (bug)")
def _():
    return "Hello {first_name}, your order shipped".format(name=NAME)


@case(PY, "KeyError: dict.pop of a missing key")
def _():
    return {}.pop("csrfmiddlewaretoken")


@case(PY, "KeyError: set.remove of a document title")
def _():
    selected = {"Annual report"}
    selected.remove(FORM["title"])


# ---------------------------------------------------------------- AttributeError ------------

@case(PY, "AttributeError: attribute of None (bug)")
def _():
    doc = Document(TITLE)
    return doc.owner.email


@case(PY, "AttributeError: getattr with a field name built from user input")
def _():
    doc = Document(TITLE)
    return getattr(doc, "field_%s" % FORM["username"])


@case(PY, "AttributeError: getattr of a sort key from the query string")
def _():
    doc = Document(TITLE)
    return getattr(doc, FORM["q"])


@case(PY, "AttributeError: module has no attribute (typo)")
def _():
    return json.laods("{}")


@case(PY, "AttributeError: str has no attribute decode")
def _():
    return FORM["title"].decode("utf-8")


class Invoice:
    @property
    def total(self):
        return 1


@case(PY, "AttributeError: can't set attribute of a property")
def _():
    Invoice().total = 2


# ---------------------------------------------------------------- parsing user input --------

@case(PY, "ValueError: int() of a form field")
def _():
    return int(FORM["age"])


@case(PY, "ValueError: int() of an empty form field")
def _():
    return int("")


@case(PY, "ValueError: int() of a URL slug")
def _():
    return int(FORM["owner"])


@case(PY, "ValueError: float() of a search query")
def _():
    return float(FORM["q"])


@case(PY, "decimal.InvalidOperation: Decimal() of an amount with a comma")
def _():
    return decimal.Decimal(FORM["amount"])


@case(PY, "decimal.InvalidOperation: quantize overflow")
def _():
    return decimal.Decimal("1e30").quantize(decimal.Decimal("0.01"), context=decimal.Context(prec=10))


@case(PY, "ValueError: datetime.strptime of a typed date")
def _():
    return datetime.datetime.strptime(FORM["birthday"], "%Y-%m-%d")


@case(PY, "ValueError: datetime.strptime of a document title")
def _():
    return datetime.datetime.strptime(FORM["title"], "%d/%m/%Y")


@case(PY, "ValueError: datetime.strptime unconverted data remains")
def _():
    return datetime.datetime.strptime("2024-05-01T10:00:00Z", "%Y-%m-%dT%H:%M:%S")


@case(PY, "ValueError: date.fromisoformat of a typed date")
def _():
    return datetime.date.fromisoformat(FORM["birthday"])


@case(PY, "ValueError: date out of range (day 31 in April)")
def _():
    return datetime.date(2024, 4, 31)


@case(PY, "ValueError: uuid.UUID of a slug")
def _():
    return uuid.UUID(FORM["owner"])


@case(PY, "ValueError: ipaddress of a host name")
def _():
    return ipaddress.ip_address(HOST)


@case(PY, "ValueError: ipaddress network with host bits set")
def _():
    return ipaddress.ip_network("192.0.2.7/24")


@case(PY, "ValueError: list.index of an email not in the list")
def _():
    return ["admin@example.com"].index(FORM["email"])


@case(PY, "ValueError: list.remove of a missing element")
def _():
    ["admin@example.com"].remove(FORM["email"])


@case(PY, "ValueError: str.index substring not found")
def _():
    return FORM["title"].index("@")


@case(PY, "ValueError: too many values to unpack (bug)")
def _():
    first, last = FORM["title"].split(" ")
    return first, last


@case(PY, "ValueError: not enough values to unpack (bug)")
def _():
    local, domain, extra = FORM["email"].split("@")
    return local, domain, extra


@case(PY, "ValueError: math domain error")
def _():
    return math.sqrt(-1)


@case(PY, "ValueError: invalid format specifier in f-string format (bug)")
def _():
    return format(FORM["title"], "d")


@case(PY, "ValueError: dict update sequence element (bug)")
def _():
    return dict([FORM["title"]])


# ---------------------------------------------------------------- json / codecs -------------

@case(PY, "json.JSONDecodeError: empty body")
def _():
    return json.loads("")


@case(PY, "json.JSONDecodeError: python-repr instead of JSON")
def _():
    return json.loads(str({"name": NAME, "email": EMAIL}))


@case(PY, "json.JSONDecodeError: HTML error page instead of JSON")
def _():
    return json.loads("<!doctype html><title>502 Bad Gateway</title>")


@case(PY, "json.JSONDecodeError: extra data")
def _():
    return json.loads('{"q": "%s"} {"q": 2}' % QUERY)


@case(PY, "TypeError: json.dumps of a Decimal")
def _():
    return json.dumps({"amount": decimal.Decimal("12.50")})


@case(PY, "TypeError: json.dumps of a set")
def _():
    return json.dumps({"tags": {"family"}})


@case(PY, "UnicodeDecodeError: latin-1 upload read as UTF-8")
def _():
    return ("%s \u2014 r\u00e9sum\u00e9" % TITLE).encode("latin-1", "replace").decode("utf-8")


@case(PY, "UnicodeEncodeError: non-ASCII name encoded as ASCII")
def _():
    return ("%s \u2713" % NAME).encode("ascii")


@case(PY, "UnicodeDecodeError: binary file opened in text mode")
def _():
    p = os.path.join(MEDIA, "scan.bin")
    with open(p, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe")
    with open(p, encoding="utf-8") as f:
        return f.read()


@case(PY, "LookupError: unknown encoding")
def _():
    return b"x".decode("utf-8-sig2")


# ---------------------------------------------------------------- files and OS --------------

@case(PY, "FileNotFoundError: open() of a document named by its title")
def _():
    return open(os.path.join(MEDIA, "%s.docx" % TITLE), "rb")


@case(PY, "FileNotFoundError: os.remove of a user's avatar")
def _():
    os.remove(os.path.join(MEDIA, "avatars", "%s.png" % SLUG))


@case(PY, "FileNotFoundError: config file missing")
def _():
    return open("/etc/sentry-scrub-corpus/app.ini")


@case(PY, "FileNotFoundError: os.rename source missing, two paths")
def _():
    os.rename(os.path.join(MEDIA, "upload-7f3a.tmp"), os.path.join(MEDIA, "%s.pdf" % TITLE))


@case(PY, "FileNotFoundError: shutil.copy of a missing attachment")
def _():
    import shutil
    shutil.copy(os.path.join(MEDIA, "inbox", "%s.pdf" % TITLE), os.path.join(MEDIA, "archive"))


@case(PY, "PermissionError: write into a read-only media folder", as_nobody=True)
def _():
    with open(os.path.join(MEDIA, "%s.pdf" % TITLE), "wb") as f:
        f.write(b"%PDF-1.7")


@case(PY, "PermissionError: read a file owned by another user", as_nobody=True)
def _():
    return open(os.path.join(WORK, "tls", "localhost.key")).read()


@case(PY, "IsADirectoryError: open() of a folder")
def _():
    return open(MEDIA)


@case(PY, "FileExistsError: mkdir of a per-user folder that exists")
def _():
    p = os.path.join(MEDIA, SLUG)
    os.makedirs(p, exist_ok=True)
    os.mkdir(p)


@case(PY, "NotADirectoryError: listdir of a file")
def _():
    p = os.path.join(MEDIA, "notes.txt")
    open(p, "w").close()
    return os.listdir(p)


@case(PY, "OSError: file name too long")
def _():
    return open(os.path.join(MEDIA, (TITLE + " ") * 20), "w")


# ---------------------------------------------------------------- network -------------------

@case(PY, "ConnectionRefusedError: socket connect to a closed port")
def _():
    socket.create_connection((LOOP, CLOSED_PORT), timeout=2)


@case(PY, "socket.gaierror: getaddrinfo of an unresolvable laptop host")
def _():
    socket.getaddrinfo(HOST, 443)


@case(PY, "socket.gaierror: create_connection to an unresolvable laptop host")
def _():
    socket.create_connection((HOST, 22), timeout=2)


@case(PY, "TimeoutError: recv from a server that never answers")
def _():
    s = socket.create_connection((LOOP, STALL_PORT), timeout=0.3)
    try:
        s.sendall(b"PING\r\n")
        s.recv(10)
    finally:
        s.close()


@case(PY, "TimeoutError: app-raised with the search query")
def _():
    raise TimeoutError("search for %r took longer than 30s" % QUERY)


@case(PY, "ssl.SSLCertVerificationError: self-signed certificate")
def _():
    ctx = ssl.create_default_context()
    with socket.create_connection((LOOP, TLS_PORT), timeout=2) as s:
        ctx.wrap_socket(s, server_hostname="localhost")


@case(PY, "ssl.SSLCertVerificationError: hostname mismatch for the laptop host")
def _():
    ctx = ssl.create_default_context(cafile=CERT)
    with socket.create_connection((LOOP, TLS_PORT), timeout=2) as s:
        ctx.wrap_socket(s, server_hostname=HOST)


@case(PY, "ssl.SSLError: TLS spoken to a plain HTTP port")
def _():
    ctx = ssl.create_default_context()
    with socket.create_connection(("127.0.0.1", int(HTTP.rsplit(":", 1)[1])), timeout=2) as s:
        ctx.wrap_socket(s, server_hostname="localhost")


@case(PY, "urllib.error.URLError: urlopen to a closed port")
def _():
    urllib.request.urlopen(CLOSED + "/people/%s?token=%s" % (SLUG, TOKEN), timeout=2)


@case(PY, "urllib.error.URLError: urlopen to an unresolvable host")
def _():
    urllib.request.urlopen("https://%s/api/sync?token=%s" % (HOST, TOKEN), timeout=2)


@case(PY, "urllib.error.HTTPError: 404 for a person's page")
def _():
    urllib.request.urlopen(HTTP + "/people/%s?token=%s" % (SLUG, TOKEN), timeout=2)


@case(PY, "urllib.error.HTTPError: 500 from an export endpoint")
def _():
    urllib.request.urlopen(HTTP + "/api/export?title=" + urllib.request.quote(TITLE), timeout=2)


@case(PY, "http.client.RemoteDisconnected: server closed without a response")
def _():
    urllib.request.urlopen(HTTP + "/hangup", timeout=2)


@case(PY, "ValueError: urlopen of a URL without scheme")
def _():
    urllib.request.urlopen("%s.example.com/cv.pdf" % SLUG, timeout=2)


@case(PY, "smtplib.SMTPRecipientsRefused: unknown recipient address")
def _():
    with smtplib.SMTP(LOOP, SMTP_PORT, timeout=2) as s:
        s.sendmail("noreply@example.org", [EMAIL], "Subject: Your export\r\n\r\nReady.")


@case(PY, "ConnectionRefusedError: smtplib to a closed port")
def _():
    smtplib.SMTP(LOOP, CLOSED_PORT, timeout=2)


# ---------------------------------------------------------------- subprocess ----------------

@case(PY, "subprocess.CalledProcessError: command exits 1")
def _():
    subprocess.run(["false"], check=True)


@case(PY, "subprocess.CalledProcessError: grep for the search query finds nothing")
def _():
    subprocess.run(["grep", "-ri", FORM["q"], MEDIA], check=True, capture_output=True)


@case(PY, "subprocess.CalledProcessError: converter fails on a document")
def _():
    subprocess.run(["cat", os.path.join(MEDIA, "%s.odt" % TITLE)], check=True, capture_output=True)


@case(PY, "subprocess.TimeoutExpired: command too slow")
def _():
    subprocess.run(["sleep", "5"], timeout=0.2)


@case(PY, "FileNotFoundError: executable not installed")
def _():
    subprocess.run(["pdftotext-not-installed", os.path.join(MEDIA, "%s.pdf" % TITLE), "-"])


# ---------------------------------------------------------------- formats -------------------

@case(PY, "re.error: search query used as a regular expression")
def _():
    return re.compile("(%s" % FORM["q"])


@case(PY, "re.error: nothing to repeat")
def _():
    return re.compile("*" + FORM["q"])


@case(PY, "re.error: bad escape in a pattern (bug)")
def _():
    return re.compile(r"\p{L}+")


@case(PY, "zipfile.BadZipFile: upload is not a zip file")
def _():
    return zipfile.ZipFile(io.BytesIO(b"%PDF-1.7 not a zip"))


@case(PY, "KeyError: zipfile member named after a document missing")
def _():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("README.txt", "export")
    with zipfile.ZipFile(buf) as z:
        return z.read("%s.docx" % TITLE)


@case(PY, "tarfile.ReadError: upload is not a tar archive")
def _():
    return tarfile.open(fileobj=io.BytesIO(b"not a tar archive" * 40))


@case(PY, "gzip.BadGzipFile: body is not gzip")
def _():
    return gzip.decompress(TITLE.encode())


@case(PY, "csv.Error: strict quoting in an uploaded CSV")
def _():
    data = '"%s"x,%s\n' % (NAME, EMAIL)
    return list(csv.reader(io.StringIO(data), strict=True))


@case(PY, "ValueError: csv.DictWriter row with an extra field")
def _():
    w = csv.DictWriter(io.StringIO(), fieldnames=["name"])
    w.writerow({"name": NAME, "email": EMAIL})


@case(PY, "csv.Error: field larger than field limit")
def _():
    return list(csv.reader(io.StringIO('"' + "x" * 200000 + '"\n')))


@case(PY, "binascii.Error: base64 incorrect padding")
def _():
    return base64.b64decode("eyJ1c2VyIjo")


@case(PY, "binascii.Error: base64 of a token with wrong length")
def _():
    return base64.b64decode(TOKEN, validate=True)


@case(PY, "xml.etree.ElementTree.ParseError: mismatched tag")
def _():
    return ET.fromstring("<person><name>%s</person>" % NAME)


@case(PY, "xml.etree.ElementTree.ParseError: not XML")
def _():
    return ET.fromstring(QUERY)


@case(PY, "ValueError: shlex No closing quotation")
def _():
    return shlex.split('search "%s' % QUERY)


@case(PY, "pickle.UnpicklingError: invalid load key")
def _():
    return pickle.loads(b"x" + TITLE.encode())


@case(PY, "struct.error: unpack requires a buffer")
def _():
    return struct.unpack(">I", b"\x00\x01")


@case(PY, "configparser.NoSectionError: missing section")
def _():
    c = configparser.ConfigParser()
    c.read_string("[app]\ndebug = false\n")
    return c.get("database", "url")


@case(PY, "configparser.NoOptionError: missing option")
def _():
    c = configparser.ConfigParser()
    c.read_string("[database]\nhost = db\n")
    return c.get("database", "password")


# ---------------------------------------------------------------- sqlite3 -------------------

def _sqlite():
    con = sqlite3.connect(":memory:")
    con.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT UNIQUE, name TEXT)")
    con.execute("INSERT INTO users (email, name) VALUES (?, ?)", (EMAIL, NAME))
    return con


@case(PY, "sqlite3.IntegrityError: UNIQUE constraint on email")
def _():
    _sqlite().execute("INSERT INTO users (email, name) VALUES (?, ?)", (EMAIL, NAME))


@case(PY, "sqlite3.OperationalError: no such table")
def _():
    _sqlite().execute("SELECT * FROM documents WHERE title = ?", (TITLE,))


@case(PY, "sqlite3.OperationalError: SQL built by string formatting from a slug")
def _():
    _sqlite().execute("SELECT * FROM users WHERE name = %s" % FORM["owner"])


@case(PY, "sqlite3.OperationalError: SQL built by string formatting from a query")
def _():
    _sqlite().execute("SELECT * FROM users WHERE name = %s" % FORM["q"])


@case(PY, "sqlite3.ProgrammingError: wrong number of bindings")
def _():
    _sqlite().execute("SELECT * FROM users WHERE email = ?", (EMAIL, NAME))


@case(PY, "sqlite3.ProgrammingError: unsupported parameter type")
def _():
    _sqlite().execute("SELECT * FROM users WHERE email = ?", ({"email": EMAIL},))


@case(PY, "sqlite3.OperationalError: unable to open database file")
def _():
    sqlite3.connect(os.path.join(WORK, "missing-dir", "db.sqlite3"))


# ---------------------------------------------------------------- plain bugs ----------------

@case(PY, "ModuleNotFoundError: optional dependency not installed")
def _():
    import weasyprint_not_installed  # noqa: F401


@case(PY, "ImportError: cannot import name (typo)")
def _():
    from json import laods  # noqa: F401


@case(PY, "RecursionError: serializer calls itself")
def _():
    def to_dict(doc):
        return {"title": doc.title, "parent": to_dict(doc)}
    to_dict(Document(TITLE))


@case(PY, "ZeroDivisionError: division by zero")
def _():
    items = []
    return sum(items) / len(items)


@case(PY, "ZeroDivisionError: float division by zero")
def _():
    return 1.0 / 0.0


@case(PY, "decimal.DivisionByZero: Decimal division")
def _():
    return decimal.Decimal("12.50") / decimal.Decimal(0)


@case(PY, "IndexError: list index out of range")
def _():
    return [][0]


@case(PY, "IndexError: pop from empty list")
def _():
    return [].pop()


@case(PY, "IndexError: string index out of range")
def _():
    return ""[0]


@case(PY, "IndexError: tuple index out of range")
def _():
    return ()[1]


def send_invoice(customer, invoice, *, dry_run=False):
    return customer, invoice


def notify(user, subject):
    return user, subject


@case(PY, "TypeError: missing required positional argument")
def _():
    send_invoice(NAME)


@case(PY, "TypeError: too many positional arguments")
def _():
    send_invoice(NAME, 1, EMAIL)


@case(PY, "TypeError: unexpected keyword argument")
def _():
    notify(NAME, subject="x", emial=EMAIL)


@case(PY, "TypeError: unsupported operand int + str")
def _():
    return 1 + FORM["age"]


@case(PY, "TypeError: can only concatenate str (not int)")
def _():
    return FORM["title"] + 2024


@case(PY, "TypeError: NoneType is not subscriptable")
def _():
    profile = None
    return profile["email"]


@case(PY, "TypeError: int is not iterable")
def _():
    return list(42)


@case(PY, "TypeError: object of type NoneType has no len()")
def _():
    return len(None)


@case(PY, "TypeError: str object is not callable")
def _():
    name = NAME
    return name()


@case(PY, "TypeError: unhashable type dict")
def _():
    return {{"email": EMAIL}: 1}


@case(PY, "TypeError: comparison of str and int")
def _():
    return sorted([FORM["age"], 3])


@case(PY, "TypeError: string formatting with too few arguments")
def _():
    return "%s <%s>" % (NAME,)


@case(PY, "NameError: name not defined (typo)")
def _():
    return reqeust.user  # noqa: F821


@case(PY, "UnboundLocalError: variable referenced before assignment")
def _():
    if FORM["username"] == "admin":
        user = 1
    return user  # noqa: F821


@case(PY, "StopIteration: next() of an empty iterator")
def _():
    return next(iter([]))


@case(PY, "RuntimeError: generator raised StopIteration")
def _():
    def rows():
        yield next(iter([]))
    return list(rows())


@case(PY, "RuntimeError: dictionary changed size during iteration")
def _():
    d = {"a": 1}
    for k in d:
        d[k + "x"] = 2


@case(PY, "AssertionError: bare assert")
def _():
    assert FORM["username"] == "admin"


@case(PY, "AssertionError: assert with a message holding the email (app-raised)")
def _():
    assert FORM["email"].endswith("@example.org"), "unexpected customer %s" % FORM["email"]


class Exporter:
    def render(self, doc):
        raise NotImplementedError


@case(PY, "NotImplementedError: abstract method")
def _():
    Exporter().render(Document(TITLE))


@case(PY, "NotImplementedError: with a message (app-raised)")
def _():
    raise NotImplementedError("export format 'odt' is not supported yet")


@case(PY, "OverflowError: math range error")
def _():
    return math.exp(1000)


@case(PY, "OverflowError: timestamp out of range")
def _():
    return datetime.datetime.fromtimestamp(1e20)


@case(PY, "ValueError: chained from KeyError (raise ... from) (app-raised)")
def _():
    plans = {"pro": 10}
    try:
        return plans[FORM["q"]]
    except KeyError as e:
        raise ValueError("unknown plan") from e


@case(PY, "ExportError: during handling of another exception (app-raised)")
def _():
    try:
        open(os.path.join(MEDIA, "%s.pdf" % TITLE), "rb")
    except OSError:
        raise ExportError("could not export %r for %s" % (TITLE, EMAIL))


@case(PY, "SearchUnavailable: app-raised with the query")
def _():
    raise SearchUnavailable("search backend down while searching for %r" % QUERY)


@case(PY, "QuotaExceeded: app-raised with the customer name")
def _():
    raise QuotaExceeded("%s has used 5.2 GB of 5 GB" % NAME)


@case(PY, "ValueError: app-raised with add_note holding the user email")
def _():
    e = ValueError("invalid invitation")
    e.add_note("while inviting %s" % EMAIL)
    raise e


# ---------------------------------------------------------------- asyncio -------------------

@case(PY, "TimeoutError: asyncio.wait_for times out")
async def _():
    await asyncio.wait_for(asyncio.sleep(1), timeout=0.01)


@case(PY, "CancelledError: awaited task was cancelled")
async def _():
    t = asyncio.ensure_future(asyncio.sleep(1))
    await asyncio.sleep(0)
    t.cancel()
    await t


@case(PY, "ExceptionGroup: TaskGroup with two failing tasks")
async def _():
    async def fetch(n):
        await asyncio.sleep(0)
        if n == 1:
            raise ConnectionRefusedError(111, "Connect call failed ('127.0.0.1', %d)" % CLOSED_PORT)
        return {}[FORM["username"]]
    async with asyncio.TaskGroup() as tg:
        tg.create_task(fetch(1))
        tg.create_task(fetch(2))


@case(PY, "ConnectionRefusedError: asyncio.open_connection to a closed port")
async def _():
    await asyncio.open_connection(LOOP, CLOSED_PORT)


@case(PY, "socket.gaierror: asyncio.open_connection to the laptop host")
async def _():
    await asyncio.open_connection(HOST, 5432)


@case(PY, "RuntimeError: asyncio.run inside a running loop")
async def _():
    coro = asyncio.sleep(0)
    try:
        asyncio.run(coro)
    finally:
        coro.close()


@case(PY, "asyncio.InvalidStateError: result of a pending future")
async def _():
    return asyncio.get_running_loop().create_future().result()
