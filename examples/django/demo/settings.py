"""Settings of the example platform.

Everything an operator changes comes from the environment, see README.md.
"""
import logging
import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name, default):
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


def env_float(name, default):
    value = os.environ.get(name)
    return float(value) if value not in (None, "") else default


DEBUG = env_bool("DJANGO_DEBUG", False)
SECRET_KEY = os.environ.get(
    "DJANGO_SECRET_KEY", "insecure-example-key-change-me-0123456789abcdefghijklmnop"
)
ALLOWED_HOSTS = [h for h in os.environ.get("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver").split(",") if h]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "authentication",
    "platform_core",
    "api",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "platform_core.middleware.SentryScopeMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "demo.urls"
WSGI_APPLICATION = "demo.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("DJANGO_DB_PATH", str(BASE_DIR / "db.sqlite3")),
    }
}

AUTH_USER_MODEL = "authentication.User"
AUTH_PASSWORD_VALIDATORS = []

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = os.environ.get("DJANGO_STATIC_ROOT", str(BASE_DIR / "staticfiles"))
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Consent export (read by the scrubbing proxy) ---------------------------
# Where the consent document is written on every change of a Company or of
# the TELEMETRY_ENABLED key; the proxy watches this file (shared volume).
CONSENT_EXPORT_PATH = os.environ.get("CONSENT_EXPORT_PATH", "")
# Admin listener of the proxy; when set, the app calls POST /consent/refresh
# after every export so that revocation is immediate.
PROXY_ADMIN_URL = os.environ.get("PROXY_ADMIN_URL", "").rstrip("/")
PROXY_ADMIN_TOKEN = os.environ.get("PROXY_ADMIN_TOKEN", "")
# Optional token for GET /internal/telemetry-consent.json (the proxy's --consent-url).
CONSENT_URL_TOKEN = os.environ.get("CONSENT_URL_TOKEN", "")

# --- Backends the API talks to ------------------------------------------------
# Search engine and LLM endpoint (any HTTP server; optional).
SEARCH_BACKEND_URL = os.environ.get("SEARCH_BACKEND_URL", "")
SEARCH_BACKEND_TOKEN = os.environ.get("SEARCH_BACKEND_TOKEN", "")
LLM_API_TOKEN = os.environ.get("LLM_API_TOKEN", "")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("DJANGO_LOG_LEVEL", "INFO")},
    "loggers": {"django.server": {"level": "WARNING"}},
}

# --- Sentry ----------------------------------------------------------------------
# The app keeps an unmodified sentry-sdk: only SENTRY_DSN's host changes to point
# at the scrubbing proxy (http://KEY@sentry-proxy:9000/42).
SENTRY_DSN = os.environ.get("SENTRY_DSN", "")
if SENTRY_DSN:
    import sentry_sdk
    from sentry_sdk.integrations.django import DjangoIntegration
    from sentry_sdk.integrations.logging import LoggingIntegration

    def _before_send_transaction(event, hint):
        # Health checks are not worth a transaction (the SDK counts the drop
        # in a client report).
        if event.get("transaction") in ("/api/health", "api.views.health"):
            return None
        return event

    sentry_options = dict(
        dsn=SENTRY_DSN,
        release=os.environ.get("SENTRY_RELEASE", "example-platform@1.4.2"),
        environment=os.environ.get("SENTRY_ENVIRONMENT", "production"),
        traces_sample_rate=env_float("SENTRY_TRACES_SAMPLE_RATE", 1.0),
        # Server-mode sessions: the WSGI integration aggregates request
        # sessions and sends `sessions` items (needs a release).
        auto_session_tracking=True,
        enable_logs=env_bool("SENTRY_ENABLE_LOGS", False),
        integrations=[
            DjangoIntegration(),
            LoggingIntegration(level=logging.INFO, event_level=logging.ERROR),
        ],
        before_send_transaction=_before_send_transaction,
    )
    # sentry-sdk >= 2.7x deprecates send_default_pii in favour of data_collection
    # but still honours it; pass it only when the operator set it (default False).
    if os.environ.get("SENTRY_SEND_DEFAULT_PII", "") != "":
        sentry_options["send_default_pii"] = env_bool("SENTRY_SEND_DEFAULT_PII", False)
    sentry_sdk.init(**sentry_options)
