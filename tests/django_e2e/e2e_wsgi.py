"""WSGI entry point of the end-to-end test: the example's own ``demo.wsgi``
application (so the real sentry-sdk Django/WSGI instrumentation runs exactly
as in production), plus two test-only conveniences:

- ``GET /__flush__`` (answered outside Django) calls ``sentry_sdk.flush()``, so
  the test knows that every envelope of the previous requests has been sent
  to the proxy;
- Django's static files handler serves the admin's CSS/JS (what ``runserver``
  does with DEBUG on), so the browser screenshots look like the real admin.

Run by gunicorn: ``gunicorn --pythonpath examples/django,tests/django_e2e e2e_wsgi:application``.
"""
import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "demo.settings")

from django.contrib.staticfiles.handlers import StaticFilesHandler  # noqa: E402

from demo.wsgi import application as django_application  # noqa: E402

import sentry_sdk  # noqa: E402

_app = StaticFilesHandler(django_application)


def application(environ, start_response):
    if environ.get("PATH_INFO") == "/__flush__":
        sentry_sdk.flush(timeout=10)
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
        return [b"ok"]
    return _app(environ, start_response)
