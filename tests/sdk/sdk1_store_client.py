"""Drives sentry-sdk 1.x (last 1.x: 1.45.1, in .venv-sdk1) to produce a
legacy `/store/` request: sentry-python 1.x posts error events as a plain
(gzip) JSON event to /api/<project>/store/ and everything else as envelopes.

    .venv-sdk1/bin/python tests/sdk/sdk1_store_client.py DSN
"""
import logging
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import sentry_sdk  # noqa: E402

from canaries import value  # noqa: E402


class ExportError(Exception):
    pass


def export_customer_file(customer_email, prompt):
    api_token = value("llm_token")  # noqa: F841 (a local the SDK serialises)
    home_path = "/home/zcanarywood/exports/q3.xlsx"  # noqa: F841
    raise ExportError(f"export failed for {customer_email}: {prompt}")


def main():
    dsn = sys.argv[1]
    pii = os.environ.get("SENTRY_SEND_DEFAULT_PII", "false").lower() == "true"
    sentry_sdk.init(dsn=dsn, release="example-worker@0.9.1", environment="production", send_default_pii=pii)
    sentry_sdk.set_user({"id": "17", "email": value("user_email"), "ip_address": value("ip_forwarded")})
    sentry_sdk.set_tag("company_id", "1")
    sentry_sdk.set_context("customer", {"name": value("name"), "phone": value("phone")})
    logging.getLogger("worker").warning("exporting for %s", value("customer_email"))
    try:
        export_customer_file(value("customer_email"), value("prompt"))
    except ExportError:
        sentry_sdk.capture_exception()
    sentry_sdk.flush(timeout=10)


if __name__ == "__main__":
    main()
