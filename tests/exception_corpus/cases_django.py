"""Django 5.2: ORM, forms, templates, URLs, requests, storage; sqlite and PostgreSQL."""
import asyncio
import os

import django
from django.conf import settings

from corpus_env import (CLOSED_PORT, EMAIL, HOST, LOOP, MEDIA, NAME, PG_DB, PG_PASSWORD, PG_PORT,
                        PG_USER, QUERY, SLUG, TITLE, TOKEN, WORK, case)

DJ = "django"


def _pg(**over):
    d = {"ENGINE": "django.db.backends.postgresql", "NAME": PG_DB, "USER": PG_USER,
         "PASSWORD": PG_PASSWORD, "HOST": LOOP, "PORT": str(PG_PORT)}
    d.update(over)
    return d


settings.configure(
    DEBUG=False,
    SECRET_KEY="corpus-not-secret",
    ALLOWED_HOSTS=["app.example.com"],
    INSTALLED_APPS=["corpusapp"],
    ROOT_URLCONF="corpusapp.urls",
    DATABASES={
        "default": {"ENGINE": "django.db.backends.sqlite3",
                    "NAME": os.path.join(WORK, "django.sqlite3")},
        "pg": _pg(),
        "pg_wrong_password": _pg(PASSWORD="not-the-password"),
        "pg_down": _pg(PORT=str(CLOSED_PORT)),
        "pg_laptop": _pg(HOST=HOST),
    },
    TEMPLATES=[{"BACKEND": "django.template.backends.django.DjangoTemplates", "DIRS": [],
                "APP_DIRS": False, "OPTIONS": {}}],
    MEDIA_ROOT=MEDIA,
    USE_TZ=True,
    DATA_UPLOAD_MAX_NUMBER_FIELDS=20,
    DATA_UPLOAD_MAX_MEMORY_SIZE=1024,
    DEFAULT_AUTO_FIELD="django.db.models.AutoField",
)
django.setup()

from django import forms  # noqa: E402
from django.core import signing  # noqa: E402
from django.core.exceptions import PermissionDenied  # noqa: E402
from django.core.files.base import ContentFile  # noqa: E402
from django.core.files.storage import FileSystemStorage  # noqa: E402
from django.core.paginator import Paginator  # noqa: E402
from django.core.validators import validate_email  # noqa: E402
from django.db import connection, connections, transaction  # noqa: E402
from django.http import Http404  # noqa: E402
from django.shortcuts import get_object_or_404  # noqa: E402
from django.template import Context, Template  # noqa: E402
from django.template.loader import get_template, render_to_string  # noqa: E402
from django.test import RequestFactory  # noqa: E402
from django.urls import reverse  # noqa: E402

from corpusapp.forms import CustomerForm, SearchForm  # noqa: E402
from corpusapp.models import Customer, Document, Invoice, Profile  # noqa: E402

_ready = set()


def _db(alias="default"):
    """Create the tables (never Invoice's) and one customer with a document, once per alias."""
    if alias not in _ready:
        with connections[alias].schema_editor() as ed:
            for m in (Customer, Profile, Document):
                ed.create_model(m)
        c = Customer.objects.using(alias).create(email=EMAIL, name=NAME)
        Customer.objects.using(alias).create(email="zq@example.org", name=NAME)
        Document.objects.using(alias).create(owner=c, title="Memoirs", slug=SLUG)
        _ready.add(alias)
    return Customer.objects.using(alias)


FORM = {"email": EMAIL, "name": NAME, "age": "Zephyrine", "birthday": "31/12/1984",
        "q": QUERY, "slug": SLUG, "title": TITLE, "sort": "zephyrine", "amount": "12,50"}

# ---------------------------------------------------------------- ORM on sqlite -------------


@case(DJ, "DoesNotExist: get() by a typed email")
def _():
    _db().get(email="z.quillfeather@example.com")


@case(DJ, "MultipleObjectsReturned: get() by a person's name")
def _():
    _db().get(name=FORM["name"])


@case(DJ, "IntegrityError: sqlite UNIQUE on create() with the email")
def _():
    _db().create(email=FORM["email"], name=FORM["name"])


@case(DJ, "TransactionManagementError: query after an error inside atomic()")
def _():
    qs = _db()
    with transaction.atomic():
        try:
            qs.create(email=FORM["email"], name=FORM["name"])
        except django.db.IntegrityError:
            pass
        list(qs.filter(email=FORM["email"]))


@case(DJ, "FieldError: filter() with a typo in the field name (bug)")
def _():
    _db().filter(emial=FORM["email"]).first()


@case(DJ, "FieldError: filter() with a field name from the query string")
def _():
    _db().filter(**{"%s__icontains" % FORM["sort"]: FORM["q"]}).first()


@case(DJ, "FieldError: order_by() with a sort parameter from the query string")
def _():
    list(_db().order_by(FORM["q"]))


@case(DJ, "FieldError: values() of an unknown field (bug)")
def _():
    list(_db().values("full_name"))


@case(DJ, "OperationalError: sqlite no such table (migration not run)")
def _():
    _db()
    Invoice.objects.filter(customer_email=FORM["email"]).first()


@case(DJ, "OperationalError: sqlite raw SQL built with string formatting")
def _():
    _db()
    with connection.cursor() as cur:
        cur.execute("SELECT id FROM corpusapp_document WHERE title = %s" % FORM["title"])


@case(DJ, "ValueError: get(pk=) with a slug from the URL")
def _():
    _db()
    Document.objects.get(pk=FORM["slug"])


@case(DJ, "ValidationError: UUIDField lookup with a slug")
def _():
    _db()
    Document.objects.get(public_id=FORM["slug"])


@case(DJ, "ValidationError: DateField lookup with a typed date")
def _():
    _db().filter(birthday=FORM["birthday"]).first()


@case(DJ, "ValidationError: model full_clean() with several bad fields")
def _():
    _db()
    Customer(email="zephyrine at example", name=NAME, status=FORM["q"]).full_clean()


@case(DJ, "ValidationError: model full_clean() unique email")
def _():
    _db()
    Customer(email=FORM["email"], name=NAME).full_clean()


@case(DJ, "ValidationError: DecimalField with a comma amount")
def _():
    _db()
    Customer(email="a@example.org", name="A", balance=FORM["amount"]).full_clean()


@case(DJ, "ValidationError: CharField max_length on full_clean()")
def _():
    c = _db().first()
    Document(owner=c, title=FORM["title"], slug="memoirs").full_clean()


@case(DJ, "RelatedObjectDoesNotExist: reverse one-to-one missing")
def _():
    return _db().get(email=FORM["email"]).profile


@case(DJ, "SynchronousOnlyOperation: ORM called from async code")
def _():
    async def view():
        return _db().get(email=FORM["email"])
    asyncio.run(view())


# ---------------------------------------------------------------- ORM on PostgreSQL ---------


@case(DJ, "IntegrityError: PostgreSQL unique violation on create()", needs=["postgres"])
def _():
    _db("pg").create(email=FORM["email"], name=FORM["name"])


@case(DJ, "IntegrityError: PostgreSQL foreign key violation", needs=["postgres"])
def _():
    _db("pg")
    Document.objects.using("pg").create(owner_id=4242, title="x", slug="x")


@case(DJ, "DataError: PostgreSQL value too long for varchar", needs=["postgres"])
def _():
    c = _db("pg").get(email=FORM["email"])
    Document.objects.using("pg").create(owner=c, title=FORM["title"], slug="memoirs-2")


@case(DJ, "DataError: PostgreSQL regex lookup with the search query", needs=["postgres"])
def _():
    list(_db("pg").filter(name__iregex="(" + FORM["q"]))


@case(DJ, "ProgrammingError: PostgreSQL raw SQL built with string formatting", needs=["postgres"])
def _():
    _db("pg")
    with connections["pg"].cursor() as cur:
        cur.execute("SELECT id FROM corpusapp_customer WHERE email = %s" % FORM["email"])


@case(DJ, "ProgrammingError: PostgreSQL relation does not exist", needs=["postgres"])
def _():
    _db("pg")
    Invoice.objects.using("pg").filter(customer_email=FORM["email"]).first()


@case(DJ, "OperationalError: PostgreSQL password authentication failed", needs=["postgres"])
def _():
    connections["pg_wrong_password"].ensure_connection()


@case(DJ, "OperationalError: PostgreSQL connection refused")
def _():
    connections["pg_down"].ensure_connection()


@case(DJ, "OperationalError: PostgreSQL host name does not resolve")
def _():
    connections["pg_laptop"].ensure_connection()


# ---------------------------------------------------------------- forms ---------------------


@case(DJ, "ValidationError: EmailField.clean() of a typed address")
def _():
    forms.EmailField().clean("zephyrine at example.com")


@case(DJ, "ValidationError: ChoiceField.clean() of a typed value")
def _():
    SearchForm.base_fields["scope"].clean(FORM["q"])


@case(DJ, "ValidationError: IntegerField.clean() of a typed value")
def _():
    forms.IntegerField().clean(FORM["age"])


@case(DJ, "ValidationError: CharField max_length clean()")
def _():
    SearchForm.base_fields["q"].clean(FORM["q"])


@case(DJ, "ValueError: ModelForm.save() of invalid data (bug)")
def _():
    _db()
    CustomerForm(data={"email": FORM["email"], "name": FORM["name"], "status": "active"}).save()


@case(DJ, "ValidationError: validate_email of a pasted address")
def _():
    validate_email("%s <%s>" % (NAME, EMAIL))


@case(DJ, "ValidationError: form errors re-raised by the view (app-raised)")
def _():
    f = SearchForm(data={"q": FORM["q"], "scope": "everything", "page": "two"})
    if not f.is_valid():
        raise forms.ValidationError(f.errors.as_data()["scope"] + f.errors.as_data()["page"])


# ---------------------------------------------------------------- templates -----------------


@case(DJ, "TemplateDoesNotExist: get_template of a missing template (bug)")
def _():
    get_template("emails/welcome.html")


@case(DJ, "TemplateDoesNotExist: per-person landing template")
def _():
    render_to_string("landing/%s.html" % FORM["slug"])


@case(DJ, "TemplateSyntaxError: if tag without condition (bug)")
def _():
    Template("{% if %}yes{% endif %}")


@case(DJ, "TemplateSyntaxError: unknown filter in an admin-edited template")
def _():
    Template("Dear {{ customer.name|titel }}, your export of %s is ready." % TITLE)


@case(DJ, "TemplateSyntaxError: user-edited template with a stray tag")
def _():
    Template("Hello {%% %s %%}" % FORM["name"]).render(Context({}))


@case(DJ, "TemplateSyntaxError: unclosed block tag")
def _():
    Template("{% for d in docs %}{{ d.title }}")


# ---------------------------------------------------------------- URLs and requests ---------


@case(DJ, "NoReverseMatch: reverse() with a name instead of a slug")
def _():
    reverse("profile", kwargs={"slug": FORM["name"]})


@case(DJ, "NoReverseMatch: reverse() with a slug where an int is expected")
def _():
    reverse("document", args=[FORM["slug"]])


@case(DJ, "NoReverseMatch: reverse() of an unknown view name (bug)")
def _():
    reverse("dashbaord")


@case(DJ, "DisallowedHost: hostile Host header")
def _():
    RequestFactory().get("/", HTTP_HOST=HOST).get_host()


@case(DJ, "DisallowedHost: Host header with a port")
def _():
    RequestFactory().get("/", HTTP_HOST=HOST + ":8000").get_host()


@case(DJ, "DisallowedHost: Host header that is not a valid hostname")
def _():
    RequestFactory().get("/", HTTP_HOST="%s.example.com" % FORM["name"].replace(" ", "_")).get_host()


@case(DJ, "MultiValueDictKeyError: request.POST of a missing field (bug)")
def _():
    req = RequestFactory().post("/signup/", {"name": NAME})
    return req.POST["email"]


@case(DJ, "MultiValueDictKeyError: request.GET of a missing parameter (bug)")
def _():
    req = RequestFactory().get("/search/", {"query": QUERY, "token": TOKEN})
    return req.GET["q"]


@case(DJ, "TooManyFieldsSent: request with too many fields")
def _():
    data = {"f%d" % i: NAME for i in range(30)}
    return RequestFactory().post("/bulk/", data).POST


@case(DJ, "RequestDataTooBig: request body over the limit")
def _():
    req = RequestFactory().post("/notes/", data="note=" + (TITLE + " ") * 100,
                                content_type="application/x-www-form-urlencoded")
    return req.POST


@case(DJ, "RawPostDataException: body read after the stream was consumed (bug)")
def _():
    req = RequestFactory().post("/upload/", {"file": ContentFile(b"x", name="%s.pdf" % TITLE)})
    req.POST
    return req.body


# ---------------------------------------------------------------- storage, signing, misc ----


@case(DJ, "SuspiciousFileOperation: storage save() with path traversal in the file name")
def _():
    FileSystemStorage(location=MEDIA).save("../../%s.pdf" % TITLE, ContentFile(b"%PDF"))


@case(DJ, "SuspiciousFileOperation: storage path() outside MEDIA_ROOT")
def _():
    FileSystemStorage(location=MEDIA).path("/etc/%s/notes.txt" % FORM["slug"])


@case(DJ, "FileNotFoundError: storage open() of a missing upload")
def _():
    FileSystemStorage(location=MEDIA).open("documents/%s.pdf" % TITLE)


@case(DJ, "ImproperlyConfigured: get_user_model() without django.contrib.auth")
def _():
    from django.contrib.auth import get_user_model
    get_user_model()


@case(DJ, "ImproperlyConfigured: unknown database backend")
def _():
    from django.db.utils import load_backend
    load_backend("django.db.backends.mysqlx")


@case(DJ, "ConnectionDoesNotExist: unknown database alias (bug)")
def _():
    return connections["replica"]


@case(DJ, "PermissionDenied: raised bare by a view")
def _():
    raise PermissionDenied


@case(DJ, "PermissionDenied: with a message naming the user and document (app-raised)")
def _():
    raise PermissionDenied("%s may not edit %r" % (EMAIL, TITLE))


@case(DJ, "Http404: get_object_or_404 by slug")
def _():
    _db()
    get_object_or_404(Document, slug="%s-2" % FORM["slug"])


@case(DJ, "Http404: with a message holding the slug (app-raised)")
def _():
    raise Http404("No profile for %s" % FORM["slug"])


@case(DJ, "BadSignature: signing.loads() of a tampered token")
def _():
    signing.loads(TOKEN)


@case(DJ, "BadSignature: Signer.unsign() of an email with a bad signature")
def _():
    signing.Signer().unsign("%s:Q2xlYXJseUZha2U" % EMAIL)


@case(DJ, "PageNotAnInteger: Paginator.page() of a typed page")
def _():
    Paginator(list(range(50)), 10).page(FORM["age"])


@case(DJ, "EmptyPage: Paginator.page() past the end")
def _():
    Paginator(list(range(50)), 10).page(9)
