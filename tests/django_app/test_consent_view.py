"""The example app's consent export served over HTTP (the proxy's --consent-url)."""
import json
import os
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "examples", "django"))


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    os.environ["DJANGO_DB_PATH"] = str(tmp_path_factory.mktemp("db") / "db.sqlite3")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "demo.settings")
    os.environ.pop("CONSENT_EXPORT_PATH", None)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from django.test import Client

    return Client()


def test_serves_the_document_with_an_etag_and_304(client):
    from authentication.models import Company
    from platform_core.models import ConfigKey

    ConfigKey.objects.update_or_create(key="TELEMETRY_ENABLED", defaults={"value": "True"})
    acme = Company.objects.create(name="Acme", telemetry_enabled=True, telemetry_ids_allowed=True)
    r = client.get("/internal/telemetry-consent.json")
    assert r.status_code == 200
    assert json.loads(r.content) == {
        "telemetry_enabled": True,
        "companies": {str(acme.id): {"telemetry_enabled": True, "telemetry_ids_allowed": True}},
    }
    etag = r["ETag"]
    assert client.get("/internal/telemetry-consent.json", HTTP_IF_NONE_MATCH=etag).status_code == 304
    acme.telemetry_ids_allowed = False
    acme.save()
    r = client.get("/internal/telemetry-consent.json", HTTP_IF_NONE_MATCH=etag)
    assert r.status_code == 200 and r["ETag"] != etag
    assert json.loads(r.content)["companies"][str(acme.id)]["telemetry_ids_allowed"] is False
