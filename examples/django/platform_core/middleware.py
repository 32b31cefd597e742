import sentry_sdk


class SentryScopeMiddleware:
    """Tells Sentry which company and user a request belongs to.

    Only the technical IDs are set here; the scrubbing proxy decides per company whether
    anything may leave ("Technical telemetry enabled") and whether the IDs may go with it
    ("Technical telemetry IDs allowed").

    The company is set twice, because the SDK generations carry it in two places:

    - ``set_tag`` reaches error events and, on sentry-sdk 2.x, transactions;
    - ``set_attribute`` (sentry-sdk 3.x, and late 2.x such as 2.75) reaches what 3.x streams
      instead of transactions: spans, logs and metrics. It reaches every span that ends
      after this call; the spans that end before it (Django's own signal receivers, the
      first queries) are attributed by the proxy to their request's trace.

    Both use the name the proxy reads (``--company-tag``, ``company_id`` by default).
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            if user.company_id is not None:
                company_id = str(user.company_id)
                sentry_sdk.set_tag("company_id", company_id)
                # Older SDKs have no set_attribute: the tag alone is what they can send.
                if hasattr(sentry_sdk, "set_attribute"):
                    sentry_sdk.set_attribute("company_id", company_id)
            sentry_sdk.set_user({"id": str(user.id)})
        return self.get_response(request)
