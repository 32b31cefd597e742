"""Drives the REAL sentry-sdk 2.x (its real HTTP transport) against a DSN.

    .venv/bin/python tests/e2e/sdk2_client.py DSN br|gzip

With ``gzip`` the ``brotli`` module is hidden before the SDK is imported, so the
transport falls back from ``Content-Encoding: br`` to ``gzip``. Prints one JSON
line: the SDK version, the transport's compression, the ids the SDK returned,
and for every HTTP request the transport made: its Content-Encoding, the
response status and the envelope's item types (recorded by wrapping the
transport's own methods; the bytes on the wire are the SDK's).
Canaries are planted where apps leak (user, tag, extra, request body,
breadcrumbs, the exception message); the proxy must remove them all.
"""
import json
import logging
import sys

DSN, MODE = sys.argv[1], sys.argv[2]
if MODE == "gzip":
    sys.modules["brotli"] = None  # makes `import brotli` fail inside the SDK

import sentry_sdk  # noqa: E402

EMAIL = "alice.canary@example.com"
CARD = "4111 1111 1111 1111"


def add_request(event, hint):
    # A script has no web framework: give the event the request an app would have.
    event["request"] = {
        "url": "https://app.example.com/api/payments",
        "method": "POST",
        "data": {"email": EMAIL, "card_number": CARD},
        "headers": {"X-Customer-Email": EMAIL},
    }
    return event


def charge(card):
    raise ValueError(f"card {card} declined for {EMAIL}")


def checkout(card):
    return charge(card)


def record_requests(transport):
    """Wraps the transport's request methods to log what it sent and what came back."""
    requests = []
    send_request, request = transport._send_request, transport._request

    def _send_request(body, headers, endpoint_type, envelope=None):
        requests.append(
            {
                "endpoint": getattr(endpoint_type, "value", str(endpoint_type)),
                "items": [item.type for item in envelope.items] if envelope is not None else [],
                "encoding": headers.get("Content-Encoding"),
            }
        )
        return send_request(body, headers=headers, endpoint_type=endpoint_type, envelope=envelope)

    def _request(method, endpoint_type, body, headers):
        response = request(method, endpoint_type, body, headers)
        requests[-1]["status"] = response.status
        return response

    transport._send_request = _send_request
    transport._request = _request
    return requests


def main():
    sentry_sdk.init(
        dsn=DSN,
        release="e2e-app@1.2.3",
        environment="e2e",
        traces_sample_rate=1.0,
        auto_session_tracking=True,
        send_default_pii=False,
        before_send=add_request,
    )
    transport = sentry_sdk.get_client().transport
    requests = record_requests(transport)
    sentry_sdk.set_tag("company_id", "7")
    sentry_sdk.set_user({"id": "17", "email": EMAIL})
    sentry_sdk.set_extra("note", f"customer {EMAIL}")
    log = logging.getLogger("e2e")
    log.propagate = False
    log.addHandler(logging.NullHandler())
    log.warning("charging %s", EMAIL)  # a breadcrumb all the same

    sentry_sdk.start_session()
    ids = {}
    try:
        checkout(CARD)
    except ValueError:
        ids["exception"] = sentry_sdk.capture_exception()
    ids["message"] = sentry_sdk.capture_message(f"checkout retried for {EMAIL}")
    with sentry_sdk.start_transaction(op="task", name="e2e-checkout") as tx:
        with sentry_sdk.start_span(op="db", name="SELECT id FROM payments WHERE id = 1"):
            pass
        with sentry_sdk.start_span(op="http.client", name="POST https://psp.example.com/charge"):
            with sentry_sdk.start_span(op="serialize", name="encode"):
                pass
        with sentry_sdk.start_span(op="cache.get", name="payment-methods"):
            pass
        ids["transaction_trace"] = tx.trace_id
    sentry_sdk.end_session()
    sentry_sdk.flush(timeout=10)
    print(
        json.dumps(
            {
                "sdk": sentry_sdk.VERSION,
                "compression": getattr(transport, "_compression_algo", None),
                "ids": ids,
                "requests": requests,
            }
        )
    )


if __name__ == "__main__":
    main()
