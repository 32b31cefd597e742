"""Who is calling: an API token names a member of a company; Sentry gets the company and user.

The company is set the way the proxy's docs say: the `company_id` tag for events (every SDK)
and the `company_id` attribute for attribute-based telemetry (streamed spans, logs, metrics;
`sentry_sdk.set_attribute`, in 3.x and late 2.x).
"""
import sentry_sdk
from django.http import JsonResponse

from dms.models import ApiToken


class ApiTokenMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        key = request.headers.get("X-Api-Token", "")
        token = ApiToken.objects.select_related("member__company").filter(key=key).first()
        if token is None:
            return JsonResponse({"detail": "invalid token"}, status=401)
        request.member = token.member
        return self.get_response(request)


class SentryScopeMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        member = request.member
        company_id = str(member.company_id)
        sentry_sdk.set_tag("company_id", company_id)
        if hasattr(sentry_sdk, "set_attribute"):
            sentry_sdk.set_attribute("company_id", company_id)
        sentry_sdk.set_user({"id": str(member.id), "email": member.email, "username": member.username})
        return self.get_response(request)
