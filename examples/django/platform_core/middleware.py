import sentry_sdk


class SentryScopeMiddleware:
    """Tags every event with the technical company ID and user ID.

    Only the IDs are set here; the scrubbing proxy decides per company whether
    they may leave (\"Technical telemetry IDs allowed\").
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            if user.company_id is not None:
                sentry_sdk.set_tag("company_id", str(user.company_id))
            sentry_sdk.set_user({"id": str(user.id)})
        return self.get_response(request)
