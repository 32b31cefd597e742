"""Trial app 1: a one-file Django HR site (route `people/<slug:slug>/cv/`)."""
import sys

import django
from django.conf import settings

settings.configure(
    DEBUG=False,
    ROOT_URLCONF=__name__,
    ALLOWED_HOSTS=["*"],
    SECRET_KEY="trial-not-secret",
    MIDDLEWARE=[],
    INSTALLED_APPS=[],
    DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
)

import sentry_sdk  # noqa: E402
from sentry_sdk.integrations.django import DjangoIntegration  # noqa: E402

import capture  # noqa: E402
from capture import PERSON, SLUG, TITLE  # noqa: E402

capture.init([DjangoIntegration()])

from django.db import connection  # noqa: E402
from django.http import HttpResponse  # noqa: E402
from django.urls import path  # noqa: E402


def person_cv(request, slug):
    with capture.span("file.upload", f"upload doc_8c21e0 by {PERSON}"):
        with connection.cursor() as c:
            c.execute("SELECT %s AS title", [TITLE])
    try:
        raise LookupError(f"no cv for {slug}")
    except LookupError:
        sentry_sdk.capture_exception()
    return HttpResponse("ok")


urlpatterns = [path("people/<slug:slug>/cv/", person_cv)]

# Served through Django's WSGI handler, as gunicorn would (the test Client bypasses it).
from wsgiref.util import setup_testing_defaults  # noqa: E402

from django.core.wsgi import get_wsgi_application  # noqa: E402

environ = {"PATH_INFO": f"/people/{SLUG}/cv/", "QUERY_STRING": "lang=en", "HTTP_HOST": "127.0.0.1:8000"}
setup_testing_defaults(environ)
status = []
b"".join(get_wsgi_application()(environ, lambda s, h: status.append(s)))
assert status == ["200 OK"], status
with capture.custom_transaction(f"reindex document {TITLE}", "custom"):
    with capture.span("file.upload", f"upload doc_8c21e0 by {PERSON}"):
        pass
capture.done()
sys.exit(0)
