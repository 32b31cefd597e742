import json
import logging

import sentry_sdk
from django.contrib.auth import authenticate, login
from django.db.models import Count
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from authentication.models import Company, User
from platform_core.models import TELEMETRY_ENABLED, ConfigKey

from . import services
from .models import Document

logger = logging.getLogger("api")


def _company(request):
    user = request.user
    return user.company if user.is_authenticated else None


@require_GET
def health(request):
    return JsonResponse({"status": "ok"})


@require_GET
def ok(request):
    """A plain transaction with a few DB spans and no error."""
    telemetry = ConfigKey.get_bool(TELEMETRY_ENABLED)
    companies = list(Company.objects.values("id", "name"))
    documents = Document.objects.count()
    users = User.objects.filter(is_active=True).count()
    return JsonResponse(
        {"telemetry": telemetry, "companies": len(companies), "documents": documents, "users": users}
    )


@csrf_exempt
@require_POST
def login_view(request):
    try:
        payload = json.loads(request.body or b"{}")
    except ValueError:
        payload = request.POST
    username = payload.get("username", "")
    user = authenticate(request, username=username, password=payload.get("password", ""))
    if user is None:
        logger.warning("login failed for %s", username)
        return JsonResponse({"error": "invalid credentials"}, status=401)
    login(request, user)
    logger.info("user %s logged in", user.email)
    return JsonResponse({"id": user.id, "company": user.company_id})


@require_GET
def search(request):
    query = request.GET.get("q", "")
    results = services.search_documents(query, _company(request))
    return JsonResponse({"results": results})


@csrf_exempt
@require_POST
def chat(request):
    payload = json.loads(request.body)
    prompt = payload["prompt"]
    customer = payload.get("customer", {})
    # Application context a developer would attach to help debugging.
    sentry_sdk.set_tag("customer_email", customer.get("email", ""))
    sentry_sdk.set_extra("conversation_title", payload.get("title", ""))
    sentry_sdk.set_context("customer", customer)
    answer = services.ask_assistant(prompt, request.user)
    return JsonResponse(answer)


@csrf_exempt
@require_POST
def upload_document(request, owner):
    upload = request.FILES["file"]
    title = request.POST.get("title", upload.name)
    document, size = services.ingest_document(owner, upload, title)
    document.company = _company(request)
    document.save()
    return JsonResponse({"id": document.id, "size": size})


@csrf_exempt
@require_POST
def payments(request):
    holder = request.POST["holder"]
    card_number = request.POST["card_number"]
    iban = request.POST["iban"]
    phone = request.POST.get("phone", "")
    national_id = request.POST.get("national_id", "")
    logger.info("charging %s, phone %s", holder, phone)
    services.charge(holder, card_number, iban, phone, national_id, amount=request.POST.get("amount", "0"))
    return JsonResponse({"status": "charged"})


@require_GET
def activity_report(request):
    """A transaction-heavy view: one query per document (N+1), ~100+ DB spans."""
    company = _company(request)
    documents = Document.objects.all()
    if company is not None:
        documents = documents.filter(company=company)
    rows = []
    for document in documents.order_by("id")[:120]:
        owner = Company.objects.get(pk=document.company_id)  # N+1 on purpose
        rows.append({"id": document.id, "company": owner.name})
    per_company = list(Company.objects.annotate(n=Count("documents")).values("name", "n"))
    return JsonResponse({"rows": len(rows), "per_company": per_company})


@require_GET
def folder_tree(request):
    """Walks a (too) deep folder tree: an error with a ~30-frame stack."""
    root = request.GET.get("root", "/shared")
    depth = int(request.GET.get("depth", "30"))
    services.walk_folder([root], 0, depth)
    return JsonResponse({"ok": True})
