"""Settings of the span capture app: a small document platform with a GenAI assistant.

Everything the capture harness changes comes from the environment (see serve.py): the
database path, the DSN, the fake LLM and partner endpoints, and the SDK options.
"""
import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent

DEBUG = False
SECRET_KEY = "span-capture-app-not-secret-0123456789abcdefghijklmnop"
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
INSTALLED_APPS = ["django.contrib.contenttypes", "dms"]
MIDDLEWARE = [
    "django.middleware.common.CommonMiddleware",
    "dms.middleware.ApiTokenMiddleware",
    "dms.middleware.SentryScopeMiddleware",
]
ROOT_URLCONF = "dms.urls"
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("DMS_DB_PATH", str(BASE_DIR / "db.sqlite3")),
    }
}
# Django's own cache, so the SDK's cache spans (cache.get / cache.put) appear.
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True

LLM_BASE_URL = os.environ.get("DMS_LLM_BASE_URL", "http://127.0.0.1:9/v1")
LLM_API_KEY = os.environ.get("DMS_LLM_API_KEY", "sk-not-set")
PARTNER_SEARCH_URL = os.environ.get("DMS_PARTNER_SEARCH_URL", "http://127.0.0.1:9/partner/search")
PARTNER_TOKEN = os.environ.get("DMS_PARTNER_TOKEN", "")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"stderr": {"class": "logging.StreamHandler"}},
    "loggers": {"dms": {"handlers": ["stderr"], "level": "INFO"}},
}

from dms.observability import init_sentry  # noqa: E402  (as the SDK's docs say: in settings)

init_sentry()
