"""sentry_sdk.init for every SDK generation the capture runs, as a user of each would write it.

DMS_SDK_MODE (set by capture_spans.py):
  default        the SDK's defaults (3.x: every span streamed; 2.x: transactions, and gen_ai
                 spans as a standalone span v2 item beside them since 2.64)
  static         2.x with stream_gen_ai_spans=False: the transaction-era baseline
  stream         2.x with trace_lifecycle="stream" (span streaming opted in)
"""
import os


def init_sentry():
    dsn = os.environ.get("SENTRY_DSN")
    if not dsn:
        return
    import sentry_sdk
    from sentry_sdk.integrations.django import DjangoIntegration

    major = int(sentry_sdk.VERSION.split(".")[0])
    mode = os.environ.get("DMS_SDK_MODE", "default")
    options = dict(
        dsn=dsn,
        traces_sample_rate=1.0,
        release="dms-assistant@4.2.0",
        environment="production",
        integrations=[DjangoIntegration(cache_spans=True)],
    )
    if major < 3:
        # 3.x has no such options: logs come from the logging integration, and what is
        # collected is set by `data_collection` (everything by default).
        options["enable_logs"] = True
        options["send_default_pii"] = os.environ.get("SENTRY_SEND_DEFAULT_PII") == "true"
        if mode == "static":
            options["stream_gen_ai_spans"] = False
        elif mode == "stream":
            options["trace_lifecycle"] = "stream"
    else:
        if mode != "default":
            raise SystemExit(f"DMS_SDK_MODE={mode} is for sentry-sdk 2.x")
        # 3.x enables logging only when asked, as its setup checklist says: logs at INFO and
        # above become Sentry logs (no log becomes an event unless event_level is set).
        from sentry_sdk.integrations.logging import LoggingIntegration

        options["integrations"].append(LoggingIntegration())
    sentry_sdk.init(**options)
