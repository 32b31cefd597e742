"""Runs the example Django app (examples/django) under a real WSGI server
(wsgiref, one thread) with the real sentry-sdk, for capture_fixtures.py.

    python tests/sdk/serve_app.py [--no-brotli]

Prints "LISTENING <port>" on stdout once ready. GET /__flush__ (handled
outside Django) calls sentry_sdk.flush() so the harness can cut the stream
of envelopes per scenario. SIGTERM exits cleanly (the SDK's atexit flush).
"""
import os
import signal
import sys

if "--no-brotli" in sys.argv:
    # sentry-sdk sends `br` when brotli is importable; hide it to get gzip.
    sys.modules["brotli"] = None

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
APP_DIR = os.path.join(REPO, "examples", "django")
sys.path.insert(0, APP_DIR)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "demo.settings")

from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server  # noqa: E402

from django.core.wsgi import get_wsgi_application  # noqa: E402

import sentry_sdk  # noqa: E402

django_app = get_wsgi_application()


def app(environ, start_response):
    if environ.get("PATH_INFO") == "/__flush__":
        sentry_sdk.flush(timeout=10)
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
        return [b"ok"]
    return django_app(environ, start_response)


class QuietHandler(WSGIRequestHandler):
    def log_message(self, *args):
        pass


def main():
    server = make_server("127.0.0.1", 0, app, server_class=WSGIServer, handler_class=QuietHandler)

    def stop(signum, frame):
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    print(f"LISTENING {server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()
        sentry_sdk.flush(timeout=10)


if __name__ == "__main__":
    main()
