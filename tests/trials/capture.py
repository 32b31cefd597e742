"""Shared parts of the trial apps: planted values and a transport that writes what the
SDK would send to files, so the real proxy binary can scrub each body (`scrub`).

The apps are not the fixtures' app (tests/sdk/serve_app.py): they are small new apps
written the way a user of each framework would, with personal data planted where issue 14
found it leaving (transaction names, span descriptions, URL paths).
"""
import io
import json
import os
import sys

import sentry_sdk
from sentry_sdk.transport import Transport

# Planted values: a person's name, a slug made of it and a document title. The scrubbed
# output must contain none of them, in any case.
PERSON = "Zephyrine Quillfeather"
SLUG = "zephyrine-quillfeather"
TITLE = "Quillfeather Family Memoirs"
CANARIES = ["zephyrine", "quillfeather", "memoirs"]

# Issue 17 apps (fastapi_docs.py, aiohttp_letters.py): new values, so their runs are
# independent of the apps above. Besides these, the apps' own source plants a customer
# "Wendeline Harrowgate", a comment naming "Perpetua Goldthwaite" and an API key literal
# `sk_live_CANARY51f0c2b8` next to lines that raise (sent as frames' source context).
PERSON17 = "Ottoline Brackenbury"
EMAIL = "ottoline.brackenbury@brackenbury-estate.example"
HOST = "ottoline-laptop.corp-intra.example.net"
TITLE17 = "Marshwillow Orchard Deeds"
QUERY = "Marshwillow: orchard deeds 1887"
TOKEN = "tok_CANARY7e1a9d44"
CANARIES17 = ["ottoline", "brackenbury", "marshwillow", "canary7e1a9d44", "canary51f0c2b8", "wendeline", "harrowgate", "goldthwaite"]

SDK_MAJOR = int(sentry_sdk.VERSION.split(".")[0])


class FileTransport(Transport):
    """Writes every envelope (and, for sentry-sdk 1.x, every /store/ event) to OUT_DIR."""

    def __init__(self, options=None):
        super().__init__(options)
        self.out = os.environ["TRIAL_OUT"]
        os.makedirs(self.out, exist_ok=True)
        self.n = 0

    def _write(self, suffix, data):
        self.n += 1
        path = os.path.join(self.out, f"{os.getpid()}-{self.n:03d}.{suffix}")
        with open(path, "wb") as f:
            f.write(data)

    def capture_envelope(self, envelope):
        buf = io.BytesIO()
        envelope.serialize_into(buf)
        self._write("envelope", buf.getvalue())

    def capture_event(self, event):  # sentry-sdk 1.x sends plain errors to /store/
        self._write("store.json", json.dumps(event).encode())

    def flush(self, timeout, callback=None):
        return None

    def kill(self):
        return None


def init(integrations, user=None, release="hr-trial@0.3.1", environment="staging", **extra):
    """`user`, `release` and `environment` default to the issue-14 apps' values; the
    issue-17 apps pass their own (TRIAL_RELEASE / TRIAL_ENVIRONMENT still win)."""
    pii = os.environ.get("TRIAL_PII", "0") == "1"
    sentry_sdk.init(
        dsn="http://0123456789abcdef0123456789abcdef@127.0.0.1:9/1",
        transport=FileTransport,
        integrations=integrations,
        traces_sample_rate=1.0,
        send_default_pii=pii,
        # Issue 17 trials plant a person's name here (TRIAL_RELEASE / TRIAL_ENVIRONMENT).
        release=os.environ.get("TRIAL_RELEASE", release),
        environment=os.environ.get("TRIAL_ENVIRONMENT", environment),
        **extra,
    )
    sentry_sdk.set_tag("company_id", "7")
    sentry_sdk.set_user(user or {"id": "u-42", "username": SLUG, "email": "zq@example.org"})


def span(op, text):
    """A span with a description, in either SDK major version's spelling."""
    if SDK_MAJOR >= 2:
        return sentry_sdk.start_span(op=op, name=text)
    return sentry_sdk.start_span(op=op, description=text)


def custom_transaction(name, source):
    return sentry_sdk.start_transaction(name=name, op="task", source=source)


def done():
    sentry_sdk.flush()
    print(f"{sys.argv[0]}: wrote to {os.environ['TRIAL_OUT']}", file=sys.stderr)
