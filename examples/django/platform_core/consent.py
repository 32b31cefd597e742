"""Consent export for the scrubbing proxy.

The database is the source of truth. On every change the whole document is
written atomically to CONSENT_EXPORT_PATH (temp file in the same directory,
then os.replace) and the proxy is told to reload it
(POST {PROXY_ADMIN_URL}/consent/refresh with a bearer token).
"""
import json
import logging
import os
import tempfile
import urllib.error
import urllib.request

from django.conf import settings

logger = logging.getLogger(__name__)


def build_document():
    from authentication.models import Company

    from .models import TELEMETRY_ENABLED, ConfigKey

    return {
        "telemetry_enabled": ConfigKey.get_bool(TELEMETRY_ENABLED, default=False),
        "companies": {
            str(c.pk): {
                "telemetry_enabled": bool(c.telemetry_enabled),
                "telemetry_ids_allowed": bool(c.telemetry_ids_allowed),
            }
            for c in Company.objects.order_by("pk")
        },
    }


def write_document(path, document):
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".consent-", suffix=".json", dir=directory)
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(document, fh, indent=2, sort_keys=True)
            fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def notify_proxy(timeout=2.0):
    base = settings.PROXY_ADMIN_URL
    if not base:
        return False
    request = urllib.request.Request(
        base + "/consent/refresh",
        data=b"",
        method="POST",
        headers={"Authorization": f"Bearer {settings.PROXY_ADMIN_TOKEN}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            response.read()
        return True
    except (urllib.error.URLError, OSError, ValueError) as exc:
        # Never fail an admin save because the proxy is down: the proxy also
        # watches the file and re-checks consent before every send.
        logger.warning("consent refresh call to the proxy failed: %s", exc.__class__.__name__)
        return False


def export_consent(path=None, notify=True):
    """Write the consent document; return it (or None when not configured)."""
    path = path or settings.CONSENT_EXPORT_PATH
    if not path:
        return None
    document = build_document()
    write_document(path, document)
    if notify:
        notify_proxy()
    return document


def consent_view(request):
    """Serves the consent document for proxies that poll it (`--consent-url`), e.g. several
    replicas in Kubernetes. Internal only: put it behind the cluster network, or set
    CONSENT_URL_TOKEN and give the proxy nothing but that URL. The document holds company ids
    and two booleans each, nothing else."""
    import hashlib
    import json

    from django.conf import settings
    from django.http import HttpResponse, HttpResponseForbidden

    token = getattr(settings, "CONSENT_URL_TOKEN", "")
    if token and request.GET.get("token") != token:
        return HttpResponseForbidden("forbidden")
    body = json.dumps(build_document(), sort_keys=True).encode()
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    if request.headers.get("If-None-Match") == etag:
        resp = HttpResponse(status=304)
    else:
        resp = HttpResponse(body, content_type="application/json")
    resp["ETag"] = etag
    resp["Cache-Control"] = "no-store"
    return resp
