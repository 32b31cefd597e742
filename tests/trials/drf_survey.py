"""Trial app (issue 17, written after the rules): a Django REST framework API of a firm
that digitises parish land surveys, on a real PostgreSQL through psycopg 3, written the way
DRF users write one: models with a unique e-mail, `ModelSerializer`s (one overriding the
e-mail field, which silently drops DRF's UniqueValidator), `ModelViewSet`s on a
`DefaultRouter` (people looked up by e-mail), a search action doing raw SQL built with an
f-string, a by-year action with a bound parameter, a custom exception handler that reports
400s to Sentry, Django templates, `logging` with parameters, a background thread that
pushes a survey to a branch-office registry (a laptop's host name that does not resolve)
inside its own transaction, and a few purely technical failures.

Served through Django's WSGI handler as gunicorn would (DjangoIntegration, default
`transaction_style="url"`). Needs PostgreSQL at TRIAL_PG_HOST:TRIAL_PG_PORT (database
TRIAL_PG_DB, user postgres, trust auth): `drf_survey_check.py` starts one.
TRIAL_PG_SERVER_BINDING=1 switches Django's psycopg 3 backend to server-side binding
(parameters sent apart from the SQL: PostgreSQL's errors then name `$1`).

Planted: a person Isolde Fennimore-Quarrington, her e-mail, a survey title "Wrenfield
Tithe Survey", her laptop `isolde-thinkpad.branch-office.example.org`, a token
`tok_CANARY3b8e51aa`, release / environment / server_name / dist naming her or her
machine; and in this file, next to a line that raises, a customer Bartholomew Pennywhistle.
"""
import io
import json
import logging
import os
import sys
import threading
from urllib.parse import quote, urlencode

import django
from django.conf import settings

PERSON = "Isolde Fennimore-Quarrington"
EMAIL = "isolde.fennimore@quarrington-family.example"
TITLE = "Wrenfield Tithe Survey"
HOST = "isolde-thinkpad.branch-office.example.org"
TOKEN = "tok_CANARY3b8e51aa"
CANARIES = ["isolde", "fennimore", "quarrington", "wrenfield", "tithe", "pennywhistle", "bartholomew", "canary3b8e51aa", "3b8e51aa", "thinkpad"]

PG = {
    "ENGINE": "django.db.backends.postgresql",
    "NAME": os.environ.get("TRIAL_PG_DB", "parish_records"),
    "USER": "postgres",
    "HOST": os.environ.get("TRIAL_PG_HOST", "127.0.0.1"),
    "PORT": os.environ.get("TRIAL_PG_PORT", "55437"),
    "OPTIONS": {"server_side_binding": os.environ.get("TRIAL_PG_SERVER_BINDING") == "1"},
}

settings.configure(
    DEBUG=False,
    ROOT_URLCONF=__name__,
    ALLOWED_HOSTS=["*"],
    SECRET_KEY="trial-not-secret",
    MIDDLEWARE=["django.middleware.common.CommonMiddleware"],
    INSTALLED_APPS=["rest_framework", __name__ + ".ParishConfig"],
    DATABASES={
        "default": PG,
        # the reporting replica is on the analyst's laptop in the branch office
        "reporting": dict(PG, HOST=os.environ.get("REPORTING_DB_HOST", HOST), PORT="5432"),
        # the read replica is not started on this machine: nothing listens there
        "replica": dict(PG, PORT="55999"),
    },
    TEMPLATES=[{
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "OPTIONS": {"loaders": [("django.template.loaders.locmem.Loader", {
            "parish/cover.txt": "Dear {{ person.name }}, please find enclosed {{ doc.title }}.\n",
            "parish/summary.txt": "{{ doc.title|parish_heading }} ({{ doc.year }}), {{ doc.pages }} pages\n",
        })]},
    }],
    REST_FRAMEWORK={
        "DEFAULT_AUTHENTICATION_CLASSES": [],
        "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
        "UNAUTHENTICATED_USER": None,
        "EXCEPTION_HANDLER": __name__ + ".report_exception_handler",
    },
    USE_TZ=True,
    LOGGING_CONFIG=None,
)

from django.apps import AppConfig  # noqa: E402


class ParishConfig(AppConfig):
    name = __name__
    label = "parish"
    path = os.path.dirname(os.path.abspath(__file__))
    default_auto_field = "django.db.models.BigAutoField"


import requests  # noqa: E402
import sentry_sdk  # noqa: E402
from sentry_sdk.integrations.django import DjangoIntegration  # noqa: E402

import capture  # noqa: E402

capture.init(
    [DjangoIntegration()],
    user={"id": "u-5521", "username": "ifennimore", "email": EMAIL},
    release="parish-records@1.4.0-fennimore.3",
    environment="isolde-dev",
    server_name="isolde-thinkpad",
    dist="isolde-thinkpad-build",
)
logging.basicConfig(level=logging.INFO, stream=sys.stderr)
log = logging.getLogger("parish.registry")

django.setup()

from django.db import connection, connections, models  # noqa: E402
from django.template.loader import render_to_string  # noqa: E402
from django.urls import include, path  # noqa: E402
from rest_framework import serializers, viewsets  # noqa: E402
from rest_framework.decorators import action, api_view  # noqa: E402
from rest_framework.response import Response  # noqa: E402
from rest_framework.routers import DefaultRouter  # noqa: E402
from rest_framework.views import exception_handler  # noqa: E402

REGISTRY_URL = os.environ.get("REGISTRY_URL", f"http://{HOST}:8443/api/registry")
GEOCODER_URL = os.environ.get("GEOCODER_URL", "http://127.0.0.1:9/geocode")  # nothing listens there


class Person(models.Model):
    name = models.CharField(max_length=120)
    email = models.EmailField(unique=True)
    parish = models.CharField(max_length=60, blank=True)

    class Meta:
        app_label = "parish"


class SurveyDocument(models.Model):
    KINDS = [("glebe", "Glebe terrier"), ("enclosure", "Enclosure award"), ("estate", "Estate map")]
    title = models.CharField(max_length=200)
    kind = models.CharField(max_length=20, choices=KINDS)
    parish = models.CharField(max_length=60)
    year = models.IntegerField()
    pages = models.PositiveIntegerField()
    shelf_code = models.CharField(max_length=8)
    surveyed_on = models.DateField(null=True, blank=True)
    owner = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="surveys")

    class Meta:
        app_label = "parish"


# --- serializers ------------------------------------------------------------------------

class PersonSerializer(serializers.ModelSerializer):
    email = serializers.EmailField()  # lower-cased below; this drops the UniqueValidator

    class Meta:
        model = Person
        fields = ["id", "name", "email", "parish"]

    def validate_email(self, value):
        return value.lower()


class SurveyDocumentSerializer(serializers.ModelSerializer):
    parish = serializers.CharField(required=False, allow_null=True)  # "unknown" for old scans
    shelf_code = serializers.CharField()  # codes were 6 chars; the archive now sends longer ones

    class Meta:
        model = SurveyDocument
        fields = ["id", "title", "kind", "parish", "year", "pages", "shelf_code", "surveyed_on", "owner"]


class ImportRowSerializer(serializers.Serializer):
    record_type = serializers.ChoiceField(choices=["glebe", "enclosure", "estate"])
    title = serializers.CharField()
    owner_email = serializers.EmailField()


def report_exception_handler(exc, context):
    """Bad payloads are reported too: the mobile client sends them and we want to see it."""
    response = exception_handler(exc, context)
    if response is not None and response.status_code == 400:
        sentry_sdk.capture_exception(exc)
    return response


# --- views ------------------------------------------------------------------------------

class PersonViewSet(viewsets.ModelViewSet):
    queryset = Person.objects.all()
    serializer_class = PersonSerializer
    lookup_field = "email"
    lookup_value_regex = r"[^/]+"

    @action(detail=True, methods=["get"])
    def field(self, request, email=None):
        person = self.get_object()
        name = request.query_params["name"]
        return Response({name: getattr(person, name)})

    @action(detail=False, methods=["get"])
    def lookup(self, request):
        person = Person.objects.get(email=request.query_params["email"])
        return Response(PersonSerializer(person).data)


LETTERS = {"cover": "parish/cover.txt", "summary": "parish/summary.txt"}


class SurveyDocumentViewSet(viewsets.ModelViewSet):
    queryset = SurveyDocument.objects.select_related("owner")
    serializer_class = SurveyDocumentSerializer

    def get_queryset(self):
        qs = super().get_queryset()
        after = self.request.query_params.get("surveyed_after")
        if after:
            qs = qs.filter(surveyed_on__gte=after)
        return qs

    @action(detail=False, methods=["get"])
    def search(self, request):
        q = request.query_params.get("q", "")
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT d.id, d.title, p.name FROM parish_surveydocument d "
                "JOIN parish_person p ON p.id = d.owner_id "
                f"WHERE d.title ILIKE '%{q}%' OR p.name ILIKE '%{q}%' ORDER BY d.year"
            )
            rows = cursor.fetchall()
        return Response([{"id": r[0], "title": r[1], "owner": r[2]} for r in rows])

    @action(detail=False, methods=["get"], url_path="by-year")
    def by_year(self, request):
        with connection.cursor() as cursor:
            cursor.execute("SELECT id, title FROM parish_surveydocument WHERE year = %s", [request.query_params["year"]])
            return Response(cursor.fetchall())

    @action(detail=True, methods=["post"])
    def letter(self, request, pk=None):
        doc = self.get_object()
        with sentry_sdk.start_span(op="letter.render", name=f"render letter for {doc.owner.name} about {doc.title}"):
            template = LETTERS.get(request.data.get("kind"), f"parish/{request.data.get('kind')}.txt")
            text = render_to_string(template, {"doc": doc, "person": doc.owner})
        greeting = request.data["greetings"][request.data["salutation"]]
        return Response({"text": f"{greeting}\n{text}"})


@api_view(["GET"])
def stats(request):
    docs = list(SurveyDocument.objects.select_related("owner").filter(kind="estate"))
    # Bartholomew Pennywhistle's estates are billed by hand: keep them out of the average
    billed_by_hand = {"Bartholomew Pennywhistle"}
    counted = [d for d in docs if d.owner.name not in billed_by_hand]
    return Response({"avg_pages": sum(d.pages for d in counted) / len(counted)})


@api_view(["GET"])
def health(request, part):
    if part == "archive":
        return Response({"bucket": settings.SURVEY_ARCHIVE_BUCKET})
    if part == "export":
        return Response({"bucket": os.environ["SURVEY_EXPORT_BUCKET"]})
    if part == "reporting":
        with connections["reporting"].cursor() as c:
            c.execute("SELECT 1")
    if part == "replica":
        with connections["replica"].cursor() as c:
            c.execute("SELECT 1")
    if part == "legacy":
        with connection.cursor() as c:
            c.execute("SELECT id, parish_name FROM parish_legacyregister WHERE year < %s", [1900])
    if part == "geocoder":
        requests.get(GEOCODER_URL, params={"parish": "any"}, timeout=2)
    if part == "summary":
        return Response({"text": render_to_string("parish/summary.txt", {"doc": SurveyDocument.objects.first()})})
    if part == "pages":
        return Response({"total": SurveyDocument.objects.count() + SurveyDocument.objects.aggregate(models.Sum("year"))["year__avg"]})
    return Response({"ok": True})


router = DefaultRouter()
router.register("people", PersonViewSet)
router.register("surveys", SurveyDocumentViewSet)
urlpatterns = [
    path("api/", include(router.urls)),
    path("api/stats/", stats),
    path("api/health/<slug:part>/", health),
]


# --- background job -----------------------------------------------------------------------

def push_to_registry(doc_id):
    """Runs in a thread after an upload: pushes the survey to the branch-office registry."""
    doc = SurveyDocument.objects.select_related("owner").get(pk=doc_id)
    with sentry_sdk.start_transaction(op="task", name=f"sync survey {doc.title} for {doc.owner.name}", source="task"):
        with sentry_sdk.start_span(op="registry.push", name=f"push {doc.title} to {HOST}"):
            try:
                r = requests.post(f"{REGISTRY_URL}?token={TOKEN}", json={"title": doc.title, "owner": doc.owner.email}, timeout=5)
                r.raise_for_status()
            except requests.ConnectionError:
                with sentry_sdk.new_scope() as scope:
                    scope.fingerprint = ["registry-sync", HOST]
                    log.exception("registry sync failed for %s (%s)", doc.owner.email, doc.title)
        log.error("registry rejected %r for owner %s", doc.title, doc.owner.email)
        sentry_sdk.capture_message(f"survey {doc.title} queued again for {doc.owner.name}")
    connection.close()


def import_rows(rows):
    """Nightly import of the archive's spreadsheet rows, in a worker thread."""
    for row in rows:
        s = ImportRowSerializer(data=row)
        s.is_valid(raise_exception=True)
    connection.close()


# --- driver --------------------------------------------------------------------------------

def create_schema():
    with connection.cursor() as c:
        c.execute("DROP TABLE IF EXISTS parish_surveydocument, parish_person CASCADE")
    with connection.schema_editor() as editor:
        editor.create_model(Person)
        editor.create_model(SurveyDocument)


from django.core.wsgi import get_wsgi_application  # noqa: E402

wsgi = get_wsgi_application()


def call(method, path, query=None, body=None):
    raw = json.dumps(body).encode() if body is not None else b""
    environ = {
        "REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": urlencode(query or {}),
        "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "8000", "HTTP_HOST": "127.0.0.1:8000",
        "SERVER_PROTOCOL": "HTTP/1.1", "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(raw),
        "wsgi.errors": sys.stderr, "wsgi.multithread": True, "wsgi.multiprocess": False, "wsgi.run_once": False,
        "wsgi.version": (1, 0), "CONTENT_LENGTH": str(len(raw)), "CONTENT_TYPE": "application/json",
        "HTTP_ACCEPT": "application/json", "HTTP_AUTHORIZATION": f"Token {TOKEN}",
        "HTTP_X_FORWARDED_FOR": "203.0.113.77", "HTTP_USER_AGENT": "ParishScanner/2.1 (isolde-thinkpad)",
        "HTTP_COOKIE": f"sessionid={TOKEN}; last_search={quote(TITLE)}",
        "REMOTE_ADDR": "127.0.0.1",
    }
    status_line = []
    b"".join(wsgi(environ, lambda s, h: status_line.append(s)))
    return int(status_line[0].split()[0])


def expect(code, method, path, query=None, body=None):
    got = call(method, path, query, body)
    assert got == code, (method, path, got, code)


create_schema()
person = {"name": PERSON, "email": EMAIL, "parish": "Wrenfield"}
survey = {"title": TITLE, "kind": "glebe", "parish": "Wrenfield", "year": 1841, "pages": 12,
          "shelf_code": "GL-1841", "surveyed_on": "1841-06-02", "owner": 1}
enc_email = EMAIL  # WSGI servers give PATH_INFO decoded
expect(201, "POST", "/api/people/", body=person)
expect(201, "POST", "/api/surveys/", body=survey)
# the second clerk files the same owner with a capitalised address: UniqueViolation
expect(500, "POST", "/api/people/", body=dict(person, email=EMAIL.title()))
expect(200, "GET", f"/api/people/{enc_email}/")
expect(500, "GET", f"/api/people/{enc_email}/field/", {"name": "fennimore_notes"})
expect(500, "GET", f"/api/people/{enc_email}/field/", {"name": f"notes of {PERSON}"})
expect(500, "GET", "/api/people/lookup/", {"email": "i.quarrington@wrenfield-parish.example"})
# an old scan without parish: NotNullViolation, "Failing row contains (...)"
expect(500, "POST", "/api/surveys/", body=dict(survey, parish=None))
# a new-style shelf code: value too long for character varying(8)
expect(500, "POST", "/api/surveys/", body=dict(survey, shelf_code="GL-1841-WRENFIELD"))
# bad payloads: reported by the exception handler (400)
expect(400, "POST", "/api/surveys/", body=dict(survey, kind=f"{PERSON}'s tithe map", pages=-3))
expect(400, "POST", "/api/people/", body={"name": PERSON, "email": f"{PERSON} at Wrenfield"})
# search: raw SQL built with an f-string; an apostrophe breaks it
expect(200, "GET", "/api/surveys/search/", {"q": "Wrenfield"})
expect(500, "GET", "/api/surveys/search/", {"q": f"{PERSON}'s {TITLE}"})
expect(500, "GET", "/api/surveys/by-year/", {"year": f"{TITLE} 1841"})
expect(500, "GET", "/api/surveys/", {"surveyed_after": f"since {PERSON} moved"})
expect(500, "POST", "/api/surveys/1/letter/", body={"kind": TITLE, "salutation": "formal"})
expect(500, "POST", "/api/surveys/1/letter/", body={"kind": "cover", "greetings": {"formal": "Dear"}, "salutation": f"Dear {PERSON}"})
# technical failures: no user data in their messages
expect(500, "GET", "/api/stats/")
for part, code in [("archive", 500), ("export", 500), ("reporting", 500), ("replica", 500), ("legacy", 500),
                   ("geocoder", 500), ("summary", 500), ("pages", 500)]:
    expect(code, "GET", f"/api/health/{part}/")

# background jobs, each in its own thread (as the upload view's `threading.Thread` does)
t = threading.Thread(target=push_to_registry, args=(1,))
t.start()
t.join()
rows = [{"record_type": "glebe", "title": "Glebe terrier 1788", "owner_email": "archive@example.org"},
        {"record_type": f"{TITLE} ({PERSON})", "title": TITLE, "owner_email": EMAIL}]
t = threading.Thread(target=import_rows, args=(rows,))
t.start()
t.join()
connection.close()
capture.done()
sys.exit(0)
