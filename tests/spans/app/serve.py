"""Runs the span capture app under a real WSGI server (wsgiref, one thread) with whatever
sentry-sdk the interpreter has, for capture_spans.py:

    .venv-sdk3/bin/python tests/spans/app/serve.py

Prints "LISTENING <port>" on stdout once ready. GET /__flush__ (outside Django) calls
sentry_sdk.flush(), so the harness can cut the stream of envelopes per scenario; SIGTERM
exits cleanly (the SDK's atexit flush).
"""
import os
import signal
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))  # span_canaries.py
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dms.settings")

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
