"""Trial app (issue 17): an aiohttp letters service, written the way aiohttp users write
one: a `web.RouteTableDef`, handlers that use an `aiohttp.ClientSession` kept on the app,
`redis.asyncio` as an optional cache, plain `sqlite3` for accounts with a full-text search
(FTS5) over letters, `logging` for failures, a `gen_ai.chat` span around the drafting call.
AioHttpIntegration is the SDK's default (auto-enabled).

Served by aiohttp's own `TestServer` on 127.0.0.1 and called with its `TestClient`, with a
second small aiohttp server as the "auth service" that answers 401.
"""
import asyncio
import importlib
import logging
import os
import sqlite3
import sys
import tempfile
from pathlib import Path

import aiohttp
import redis.asyncio as redis
import sentry_sdk
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

import capture
from capture import EMAIL, HOST, QUERY, TOKEN
from capture import PERSON17 as PERSON
from capture import TITLE17 as TITLE

capture.init(
    [],
    user={"id": "u-1187", "username": "obrackenbury", "email": EMAIL},
    release=os.environ.get("LETTERS_VERSION", "brackenbury-mbp-0.9.1-dirty"),
    environment="ottoline-local",
    server_name=os.environ.get("TRIAL_SERVER_NAME", "ottoline-laptop"),
)
log = logging.getLogger("letters")

POSTAL_API = os.environ.get("POSTAL_API", f"https://{HOST}:8443/v1")
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6399/0")  # nothing listens there
# Fee plugins live in the developer's checkout (a home directory named after them).
PLUGIN_DIR = Path(os.environ.get("LETTERS_PLUGIN_DIR", Path(tempfile.gettempdir()) / "home" / "ottoline" / "letters-plugins"))
routes = web.RouteTableDef()


class AccountNotFound(LookupError):
    pass


def open_db():
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE accounts (id INTEGER PRIMARY KEY, name TEXT, email TEXT UNIQUE)")
    db.execute("CREATE VIRTUAL TABLE letters USING fts5(title, body)")
    db.execute("INSERT INTO accounts (name, email) VALUES (?, ?)", (PERSON, EMAIL))
    db.execute("INSERT INTO letters (title, body) VALUES (?, ?)", (TITLE, "Enclosed are the deeds."))
    return db


def find_account(db, email):
    row = db.execute("SELECT id, name FROM accounts WHERE email = ?", (email,)).fetchone()
    if row is None:
        raise AccountNotFound(f"no account with email {email}")
    return row


@routes.post("/letters/{letter_id}/send")
async def send_letter(request):
    letter_id = request.match_info["letter_id"]
    try:
        cached = await request.app["redis"].get(f"letter:{letter_id}:receipt")
    except redis.ConnectionError:
        sentry_sdk.capture_exception()
        cached = None
    if cached:
        return web.json_response({"receipt": cached.decode()})
    # Harrowgate estate letters are billed to the firm (Perpetua Goldthwaite, 2023-11)
    payload = {"letter": letter_id, "billing": "firm" if letter_id.startswith("wh-") else "client"}
    headers = {"Authorization": "Bearer sk_live_CANARY51f0c2b8", "X-Customer": "Wendeline Harrowgate"}
    async with request.app["http"].post(f"{POSTAL_API}/letters", json=payload, headers=headers) as r:
        receipt = await r.json()
    return web.json_response(receipt)


@routes.get("/accounts")
async def account_by_email(request):
    account_id, name = find_account(request.app["db"], request.query["email"])
    return web.json_response({"id": account_id})


@routes.post("/accounts")
async def create_account(request):
    data = await request.post()
    db = request.app["db"]
    db.execute("INSERT INTO accounts (name, email) VALUES (?, ?)", (data["name"], data["email"]))
    return web.json_response({"ok": True}, status=201)


@routes.get("/letters/search")
async def search_letters(request):
    rows = request.app["db"].execute("SELECT rowid, title FROM letters WHERE letters MATCH ?", (request.query["q"],)).fetchall()
    return web.json_response([r[0] for r in rows])


@routes.post("/letters/preview")
async def preview_letter(request):
    data = await request.json()
    account_id, name = find_account(request.app["db"], EMAIL)
    try:
        text = data["template"].format(name=name, date="12 March")
    except KeyError:
        log.exception("letter template for account %s has an unknown placeholder", account_id)
        return web.json_response({"error": "unknown placeholder"}, status=400)
    return web.json_response({"text": text})


@routes.post("/letters/draft")
async def draft_letter(request):
    data = await request.json()
    with capture.span("gen_ai.chat", f"draft letter to {data['recipient']} about {data['subject']}") as span:
        span.set_data("gen_ai.operation.name", "chat")
        span.set_data("gen_ai.request.model", "claude-sonnet")
        draft = f"Dear {data['recipient']}, ..."
    with capture.span("letter.print", f"print letter for {data['recipient']}"):
        pass
    return web.json_response({"draft": len(draft)})


@routes.get("/letters/{letter_id}/status")
async def letter_status(request):
    url = f"{request.app['auth_url']}/check"
    async with request.app["http"].get(url, params={"access_token": TOKEN}, raise_for_status=True) as r:
        await r.read()
    return web.json_response({"status": "queued"})


# --- technical errors: no user data in their messages ---------------------------------

@routes.get("/health")
async def health(request):
    try:
        await request.app["redis"].ping()
    except redis.ConnectionError:
        sentry_sdk.capture_exception()
    try:
        smtp_host = os.environ["SMTP_HOST"]
    except KeyError:
        sentry_sdk.capture_exception()
        smtp_host = None
    return web.json_response({"smtp": smtp_host})


@routes.get("/letters/{letter_id}/pdf")
async def letter_pdf(request):
    try:
        await asyncio.wait_for(asyncio.sleep(5), timeout=0.01)  # the PDF worker
    except asyncio.TimeoutError:
        sentry_sdk.capture_exception()
    forwarded = request.headers.get("X-Forwarded-Proto")
    scheme = forwarded.split(",")[0]
    return web.json_response({"scheme": scheme})


@routes.get("/letters/{letter_id}/fees")
async def letter_fees(request):
    fees = importlib.import_module("stamp_duty")
    return web.json_response({"fee": fees.stamp_duty(1200, bands=[])})


@routes.post("/letters/bulk")
async def bulk(request):
    from json import missing_helper  # noqa: F401  (renamed upstream)
    return web.json_response({})


def install_plugins():
    PLUGIN_DIR.mkdir(parents=True, exist_ok=True)
    (PLUGIN_DIR / "stamp_duty.py").write_text("def stamp_duty(value, bands):\n    return value / len(bands)\n")
    sys.path.append(str(PLUGIN_DIR))


async def on_startup(app):
    app["http"] = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5))
    app["redis"] = redis.from_url(REDIS_URL, socket_connect_timeout=1)
    app["db"] = open_db()


async def on_cleanup(app):
    await app["http"].close()
    await app["redis"].aclose()


async def unauthorized(request):
    return web.Response(status=401)


async def main():
    install_plugins()
    auth = web.Application()
    auth.router.add_get("/check", unauthorized)
    auth_server = TestServer(auth, host="127.0.0.1")
    await auth_server.start_server()

    app = web.Application()
    app.add_routes(routes)
    app.on_startup.append(on_startup)
    app.on_cleanup.append(on_cleanup)
    app["auth_url"] = str(auth_server.make_url("")).rstrip("/")
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        async def call(method, path, status, **kw):
            r = await client.request(method, path, **kw)
            assert r.status == status, (path, r.status, await r.text())

        await call("POST", "/letters/wh-1887/send", 500)
        await call("GET", "/accounts", 500, params={"email": "o.brackenbury@marshwillow-orchard.example"})
        await call("POST", "/accounts", 500, data={"name": PERSON, "email": EMAIL})
        await call("GET", "/letters/search", 500, params={"q": QUERY})
        await call("POST", "/letters/preview", 400, json={"template": "Dear {name}, about {Ottoline's orchard} ..."})
        await call("POST", "/letters/draft", 200, json={"recipient": PERSON, "subject": TITLE})
        await call("GET", "/letters/wh-1887/status", 500)
        # technical ones
        await call("GET", "/health", 200)
        await call("GET", "/letters/wh-1887/pdf", 500)
        await call("POST", "/letters/bulk", 500)
        await call("GET", "/letters/wh-1887/fees", 500)
    await auth_server.close()


asyncio.run(main())
capture.done()
