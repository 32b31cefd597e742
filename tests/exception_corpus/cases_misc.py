"""Jinja2, pydantic, Celery (and kombu), PyJWT, cryptography, Pillow."""
import datetime
import io
import os
from typing import Any, Literal

from corpus_env import (CLOSED, CLOSED_PORT, EMAIL, LOOP, MEDIA, NAME, QUERY, SLUG, TITLE, TOKEN,
                        case)

FORM = {"email": EMAIL, "name": NAME, "age": "Zephyrine", "birthday": "31/12/1984", "q": QUERY,
        "slug": SLUG, "title": TITLE, "plan": QUERY, "token": TOKEN}


class Customer:
    def __init__(self, name, email):
        self.name = name
        self.email = email


# ---------------------------------------------------------------- Jinja2 --------------------

import jinja2  # noqa: E402
import jinja2.sandbox  # noqa: E402

J2 = "jinja2"
TEMPLATES = os.path.join(MEDIA, "templates")
os.makedirs(os.path.join(TEMPLATES, "emails"), exist_ok=True)
with open(os.path.join(TEMPLATES, "emails", "base.html"), "w") as _f:
    _f.write("<p>{% block body %}{% endblock %}</p>")
ENV = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True)
STRICT = jinja2.Environment(undefined=jinja2.StrictUndefined)


@case(J2, "UndefinedError: StrictUndefined variable missing from the context (bug)")
def _():
    STRICT.from_string("Hello {{ user.name }}").render(customer=Customer(NAME, EMAIL))


@case(J2, "UndefinedError: method call on a missing dict key (bug)")
def _():
    ENV.from_string("{{ customer.full_name.upper() }}").render(customer={"name": NAME})


@case(J2, "UndefinedError: attribute of a missing object attribute (bug)")
def _():
    ENV.from_string("{{ customer.profile.avatar_url }}").render(customer=Customer(NAME, EMAIL))


@case(J2, "UndefinedError: dict lookup keyed by a user's plan name")
def _():
    ENV.from_string("{{ prices[plan].amount }}").render(prices={"pro": {"amount": 10}},
                                                        plan=FORM["plan"])


@case(J2, "TemplateSyntaxError: unexpected '}' (bug)")
def _():
    ENV.from_string("Hello {{ user.name }")


@case(J2, "TemplateSyntaxError: unclosed for block (bug)")
def _():
    ENV.from_string("{% for d in documents %}{{ d.title }}")


@case(J2, "TemplateSyntaxError: user-edited email template with a name inside braces")
def _():
    ENV.from_string("Dear {{ %s }}, your export is ready." % FORM["name"])


@case(J2, "TemplateSyntaxError: unknown tag in an admin-edited template")
def _():
    ENV.from_string("{%% extends 'emails/base.html' %%}{%% block body %%}%s{%% endblok %%}"
                    % FORM["title"])


@case(J2, "TemplateAssertionError: unknown filter (bug)")
def _():
    ENV.from_string("{{ customer.name|titel }}")


@case(J2, "TemplateNotFound: per-tenant template named by slug")
def _():
    ENV.get_template("tenants/%s/invoice.html" % FORM["slug"])


@case(J2, "TemplatesNotFound: select_template with no candidates found")
def _():
    ENV.select_template(["emails/%s.html" % FORM["slug"], "emails/default.html"])


@case(J2, "SecurityError: sandboxed template touches __class__")
def _():
    jinja2.sandbox.SandboxedEnvironment().from_string("{{ ''.__class__.__mro__ }}").render()


@case(J2, "TypeError: filter applied to a string amount")
def _():
    ENV.from_string("{{ total|round(2) }}").render(total="12,50")


@case(J2, "TypeError: iterating over None in a for loop (bug)")
def _():
    ENV.from_string("{% for d in documents %}{{ d }}{% endfor %}").render(documents=None)


# ---------------------------------------------------------------- pydantic ------------------

import pydantic  # noqa: E402
from pydantic import BaseModel, ConfigDict, Field, HttpUrl, TypeAdapter, field_validator  # noqa: E402,E501

PD = "pydantic"


class Address(BaseModel):
    street: str
    city: str
    postcode: str = Field(pattern=r"^\d{5}$")


class Signup(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: str
    name: str
    age: int
    plan: Literal["free", "pro"] = "free"
    birthday: datetime.date | None = None
    website: HttpUrl | None = None
    address: Address | None = None


class DocumentIn(BaseModel):
    title: str = Field(max_length=20)
    tags: list[str] = []

    @field_validator("title")
    @classmethod
    def no_reserved(cls, v):
        if "memoirs" in v.lower():
            raise ValueError("title %r is reserved" % v)
        return v


class Event(BaseModel):
    payload: Any


@case(PD, "ValidationError: int field given a form value")
def _():
    Signup(email=EMAIL, name=NAME, age=FORM["age"])


@case(PD, "ValidationError: Literal field given the search query")
def _():
    Signup(email=EMAIL, name=NAME, age=40, plan=FORM["plan"])


@case(PD, "ValidationError: date field given a typed date")
def _():
    Signup(email=EMAIL, name=NAME, age=40, birthday=FORM["birthday"])


@case(PD, "ValidationError: extra field holding a token is forbidden")
def _():
    Signup(email=EMAIL, name=NAME, age=40, api_token=FORM["token"])


@case(PD, "ValidationError: missing field shows the whole input dict")
def _():
    Signup.model_validate({"email": EMAIL, "name": NAME, "note": QUERY})


@case(PD, "ValidationError: several errors at once, nested address")
def _():
    Signup.model_validate({"email": EMAIL, "name": NAME, "age": "forty",
                           "website": "%s.example.com" % SLUG,
                           "address": {"street": "12 Quillfeather Lane", "postcode": "AB1 2CD"}})


@case(PD, "ValidationError: model_validate_json of an HTML body")
def _():
    Signup.model_validate_json("<html><title>%s</title></html>" % TITLE)


@case(PD, "ValidationError: model_validate_json with a wrong type inside")
def _():
    Signup.model_validate_json('{"email": "%s", "name": "%s", "age": "%s"}'
                               % (EMAIL, NAME, FORM["age"]))


@case(PD, "ValidationError: max_length and a custom validator")
def _():
    DocumentIn(title=FORM["title"], tags=[QUERY, 3])


@case(PD, "ValidationError: custom validator raising ValueError with the value (app-raised)")
def _():
    DocumentIn(title="Memoirs 1990")


@case(PD, "ValidationError: TypeAdapter list[int] of query parameters")
def _():
    TypeAdapter(list[int]).validate_python(["1", FORM["slug"]])


@pydantic.validate_call
def charge(customer_id: int, amount: float):
    return customer_id, amount


@case(PD, "ValidationError: validate_call with a wrong argument type")
def _():
    charge(FORM["email"], "12,50")


@case(PD, "PydanticSerializationError: model_dump_json of an unknown type (bug)")
def _():
    Event(payload=Customer(NAME, EMAIL)).model_dump_json()


@case(PD, "PydanticUserError: non-annotated field (bug)")
def _():
    class Broken(BaseModel):
        title = "Untitled"  # noqa: F841


# ---------------------------------------------------------------- Celery / kombu ------------

from celery import Celery  # noqa: E402
from celery.result import AsyncResult  # noqa: E402

CE = "celery"
celery_app = Celery("corpus", broker="memory://", backend="cache+memory://")
celery_app.conf.update(task_always_eager=False, broker_connection_retry_on_startup=False)


class CrmDown(ConnectionError):
    pass


@celery_app.task(bind=True, name="crm.sync_contact", max_retries=3, default_retry_delay=60)
def sync_contact(self, email):
    try:
        import requests
        requests.post(CLOSED + "/crm/contacts?email=%s" % email, timeout=1)
    except requests.ConnectionError as exc:
        raise self.retry(exc=exc)


@celery_app.task(bind=True, name="exports.render_pdf", max_retries=0)
def render_pdf(self, title, owner_email):
    raise self.retry()


@celery_app.task(name="billing.parse_amount")
def parse_amount(amount):
    return int(amount)


@case(CE, "NotRegistered: task name unknown to the worker")
def _():
    return celery_app.tasks["billing.send_invoice"]


@case(CE, "TimeoutError: AsyncResult.get() with a timeout")
def _():
    AsyncResult("6f1c2d3e-0000-4000-8000-000000000001", app=celery_app).get(timeout=0.2,
                                                                          interval=0.05)


@case(CE, "Retry: task retries after a connection error to the CRM")
def _():
    sync_contact.push_request(id="6f1c2d3e-0000-4000-8000-000000000002", args=[EMAIL], kwargs={},
                              retries=0, is_eager=False, called_directly=False)
    try:
        sync_contact.run(EMAIL)
    finally:
        sync_contact.pop_request()


@case(CE, "MaxRetriesExceededError: args hold the document title and email")
def _():
    render_pdf.push_request(id="6f1c2d3e-0000-4000-8000-000000000003", args=[TITLE, EMAIL],
                            kwargs={}, retries=1, is_eager=False, called_directly=False)
    try:
        render_pdf.run(TITLE, EMAIL)
    finally:
        render_pdf.pop_request()


@case(CE, "eager task: exception propagates from the task body")
def _():
    celery_app.conf.task_always_eager = True
    celery_app.conf.task_eager_propagates = True
    try:
        parse_amount.delay(FORM["age"])
    finally:
        celery_app.conf.task_always_eager = False


@case(CE, "OperationalError: redis broker refused")
def _():
    app = Celery("corpus-redis", broker="redis://:broker-password@%s:%d/0" % (LOOP, CLOSED_PORT))
    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0)


@case(CE, "OperationalError: amqp broker refused")
def _():
    app = Celery("corpus-amqp", broker="amqp://guest:guest@%s:%d//" % (LOOP, CLOSED_PORT))
    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0)


# ---------------------------------------------------------------- PyJWT ---------------------

import jwt  # noqa: E402

JW = "pyjwt"
SECRET = "corpus-jwt-secret-with-32-bytes!!"
CLAIMS = {"sub": "4821", "email": EMAIL, "name": NAME, "iat": 1700000000}


@case(JW, "ExpiredSignatureError: token expired")
def _():
    tok = jwt.encode(dict(CLAIMS, exp=1700003600), SECRET, algorithm="HS256")
    jwt.decode(tok, SECRET, algorithms=["HS256"])


@case(JW, "InvalidSignatureError: token signed with another key")
def _():
    tok = jwt.encode(CLAIMS, "another-secret-that-is-32-bytes!!", algorithm="HS256")
    jwt.decode(tok, SECRET, algorithms=["HS256"], options={"require": []})


@case(JW, "DecodeError: an API token that is not a JWT")
def _():
    jwt.decode(TOKEN, SECRET, algorithms=["HS256"])


@case(JW, "DecodeError: invalid header padding")
def _():
    jwt.decode("Bearer.abc.def", SECRET, algorithms=["HS256"])


@case(JW, "DecodeError: signed payload that is not a JSON object")
def _():
    tok = jwt.api_jws.encode(EMAIL.encode(), SECRET, algorithm="HS256")
    jwt.decode(tok, SECRET, algorithms=["HS256"])


@case(JW, "InvalidAudienceError: audience mismatch")
def _():
    tok = jwt.encode(dict(CLAIMS, aud="https://%s.example.com" % SLUG), SECRET, algorithm="HS256")
    jwt.decode(tok, SECRET, algorithms=["HS256"], audience="https://app.example.com")


@case(JW, "InvalidIssuerError: issuer mismatch")
def _():
    tok = jwt.encode(dict(CLAIMS, iss="https://sso.globex.example"), SECRET, algorithm="HS256")
    jwt.decode(tok, SECRET, algorithms=["HS256"], issuer="https://sso.example.com")


@case(JW, "MissingRequiredClaimError: exp claim missing")
def _():
    tok = jwt.encode(CLAIMS, SECRET, algorithm="HS256")
    jwt.decode(tok, SECRET, algorithms=["HS256"], options={"require": ["exp"]})


@case(JW, "ImmatureSignatureError: token not yet valid")
def _():
    tok = jwt.encode(dict(CLAIMS, nbf=4102444800), SECRET, algorithm="HS256")
    jwt.decode(tok, SECRET, algorithms=["HS256"])


@case(JW, "InvalidAlgorithmError: alg not allowed")
def _():
    tok = jwt.encode(CLAIMS, SECRET, algorithm="HS512")
    jwt.decode(tok, SECRET, algorithms=["HS256"])


@case(JW, "PyJWKClientConnectionError: JWKS endpoint refused")
def _():
    tok = jwt.encode(CLAIMS, SECRET, algorithm="HS256", headers={"kid": "k1"})
    jwt.PyJWKClient(CLOSED + "/.well-known/jwks.json", timeout=2).get_signing_key_from_jwt(tok)


# ---------------------------------------------------------------- cryptography --------------

from cryptography.exceptions import InvalidSignature  # noqa: E402,F401
from cryptography.fernet import Fernet  # noqa: E402
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa  # noqa: E402
from cryptography.hazmat.primitives.ciphers.aead import AESGCM  # noqa: E402

CR = "cryptography"
FKEY = b"M2cA7Gk6wQ4b6vK3m1ZtYpQ8sH0rJ5nL9xU2eF4dC6A="


@case(CR, "InvalidToken: Fernet decrypt with another key")
def _():
    tok = Fernet(Fernet.generate_key()).encrypt_at_time(EMAIL.encode(), 1700000000)
    Fernet(FKEY).decrypt(tok)


@case(CR, "InvalidToken: Fernet token expired (ttl)")
def _():
    f = Fernet(FKEY)
    tok = f.encrypt_at_time(TITLE.encode(), 1700000000)
    f.decrypt_at_time(tok, ttl=3600, current_time=1700086400)


@case(CR, "InvalidToken: Fernet decrypt of a non-token")
def _():
    Fernet(FKEY).decrypt(TOKEN)


@case(CR, "ValueError: Fernet key of the wrong length")
def _():
    Fernet(b"corpus-short-key")


@case(CR, "InvalidSignature: Ed25519 verify of a tampered message")
def _():
    k = ed25519.Ed25519PrivateKey.from_private_bytes(b"\x01" * 32)
    sig = k.sign(b"export approved for %s" % EMAIL.encode())
    k.public_key().verify(sig, b"export approved for someone-else@example.org")


@case(CR, "InvalidSignature: RSA PSS verify with the wrong data")
def _():
    k = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.MAX_LENGTH)
    sig = k.sign(TITLE.encode(), pss, hashes.SHA256())
    k.public_key().verify(sig, b"other", pss, hashes.SHA256())


@case(CR, "InvalidTag: AES-GCM decrypt of tampered data")
def _():
    key = b"\x02" * 32
    ct = AESGCM(key).encrypt(b"\x00" * 12, NAME.encode(), None)
    AESGCM(key).decrypt(b"\x00" * 12, ct[:-1] + b"\x00", None)


@case(CR, "ValueError: AES-GCM key of the wrong size")
def _():
    AESGCM(b"short-key")


@case(CR, "ValueError: load_pem_private_key of garbage")
def _():
    serialization.load_pem_private_key(b"-----BEGIN PRIVATE KEY-----\nnotakey\n"
                                       b"-----END PRIVATE KEY-----\n", password=None)


@case(CR, "ValueError: encrypted private key with the wrong password")
def _():
    k = ed25519.Ed25519PrivateKey.from_private_bytes(b"\x03" * 32)
    pem = k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                          serialization.BestAvailableEncryption(b"right-password"))
    serialization.load_pem_private_key(pem, password=b"wrong-password")


@case(CR, "TypeError: private key is encrypted but no password given (bug)")
def _():
    k = ed25519.Ed25519PrivateKey.from_private_bytes(b"\x03" * 32)
    pem = k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                          serialization.BestAvailableEncryption(b"right-password"))
    serialization.load_pem_private_key(pem, password=None)


@case(CR, "ValueError: x509 certificate PEM that does not parse")
def _():
    from cryptography import x509
    x509.load_pem_x509_certificate(b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")


# ---------------------------------------------------------------- Pillow --------------------

from PIL import Image, UnidentifiedImageError  # noqa: E402,F401

PL = "pillow"


def _jpeg_bytes():
    buf = io.BytesIO()
    Image.new("RGB", (64, 64), (200, 30, 30)).save(buf, "JPEG")
    return buf.getvalue()


@case(PL, "UnidentifiedImageError: upload named after a document is not an image")
def _():
    p = os.path.join(MEDIA, "%s.jpg" % TITLE)
    with open(p, "wb") as f:
        f.write(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    Image.open(p)


@case(PL, "UnidentifiedImageError: upload read from memory")
def _():
    Image.open(io.BytesIO(b"<!doctype html><title>%s</title>" % NAME.encode()))


@case(PL, "OSError: truncated JPEG")
def _():
    im = Image.open(io.BytesIO(_jpeg_bytes()[:400]))
    im.load()


@case(PL, "OSError: cannot write RGBA as JPEG (bug)")
def _():
    Image.new("RGBA", (8, 8)).save(io.BytesIO(), "JPEG")


@case(PL, "ValueError: unknown file extension in the save path")
def _():
    Image.new("RGB", (8, 8)).save(os.path.join(MEDIA, "%s.docx" % TITLE))


@case(PL, "FileNotFoundError: avatar file missing")
def _():
    Image.open(os.path.join(MEDIA, "avatars", "%s.png" % SLUG))


@case(PL, "DecompressionBombError: image larger than the pixel limit")
def _():
    buf = io.BytesIO()
    Image.new("L", (200, 200)).save(buf, "PNG")
    old = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = 10000
    try:
        Image.open(io.BytesIO(buf.getvalue()))
    finally:
        Image.MAX_IMAGE_PIXELS = old


@case(PL, "ValueError: operation on a closed image (bug)")
def _():
    im = Image.new("RGB", (8, 8))
    im.close()
    im.resize((4, 4))
