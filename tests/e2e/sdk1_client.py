"""Drives the REAL sentry-sdk 1.x (in .venv-sdk1) against a DSN: 1.x posts error
events as gzip JSON to the legacy ``/api/<project>/store/`` endpoint.

    .venv-sdk1/bin/python tests/e2e/sdk1_client.py DSN

Prints one JSON line: the SDK version, the event id, and for every request the
transport made its endpoint and Content-Encoding.
"""
import json
import sys

import sentry_sdk

EMAIL = "alice.canary@example.com"


def parse_invoice(text):
    raise KeyError(f"no invoice for {EMAIL}: {text}")


def main():
    sentry_sdk.init(dsn=sys.argv[1], release="e2e-legacy@0.9.1", environment="e2e")
    transport = sentry_sdk.Hub.current.client.transport
    requests = []
    send_request = transport._send_request

    def _send_request(body, headers, endpoint_type="store", envelope=None):
        requests.append({"endpoint": endpoint_type, "encoding": headers.get("Content-Encoding")})
        return send_request(body, headers, endpoint_type=endpoint_type, envelope=envelope)

    transport._send_request = _send_request
    sentry_sdk.set_user({"email": EMAIL})
    try:
        parse_invoice("4111 1111 1111 1111")
    except KeyError:
        event_id = sentry_sdk.capture_exception()
    sentry_sdk.flush(timeout=10)
    print(json.dumps({"sdk": sentry_sdk.VERSION, "event_id": event_id, "requests": requests}))


if __name__ == "__main__":
    main()
