"""The platform's views: documents (ORM, cache, a partner search API), billing, assistant."""
import json
import logging

import requests
import sentry_sdk
from django.conf import settings
from django.core.cache import cache
from django.http import Http404, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from dms import assistant
from dms.models import Document, PaymentMethod

logger = logging.getLogger("dms.views")


def _metrics():
    # sentry_sdk.metrics exists in 3.x and late 2.x (trace metrics); older SDKs have none.
    return getattr(sentry_sdk, "metrics", None)


def document_detail(request, company_id, slug):
    key = f"doc:{company_id}:{slug}"
    doc = cache.get(key)
    if doc is None:
        row = Document.objects.filter(company_id=company_id, slug=slug).values("slug", "title", "updated_at").first()
        if row is None:
            raise Http404("no such document")
        doc = {"slug": row["slug"], "title": row["title"], "updated_at": row["updated_at"].isoformat()}
        cache.set(key, doc, timeout=300)
    logger.info("document %s opened by %s", doc["title"], request.member.email)
    return JsonResponse(doc)


def document_search(request, company_id):
    q = request.GET.get("q", "")
    titles = list(
        Document.objects.filter(company_id=company_id, title__icontains=q).order_by("-updated_at").values_list("title", flat=True)[:20]
    )
    partner = requests.get(settings.PARTNER_SEARCH_URL, params={"q": q, "token": settings.PARTNER_TOKEN}, timeout=5)
    partner.raise_for_status()
    logger.info("search for %s: %d local, %d partner hits", q, len(titles), len(partner.json()["hits"]))
    metrics = _metrics()
    if metrics is not None:
        metrics.count("documents.search", 1, attributes={"source": "partner"})
    return JsonResponse({"local": titles, "partner": partner.json()["hits"]})


@csrf_exempt
def payment_method(request):
    holder = request.POST["holder"]
    iban = request.POST["iban"]
    digits = iban.replace(" ", "")
    if not digits.startswith("DE"):
        # The kind of message apps write: the values that explain the failure, inline.
        raise ValueError(f"payment method rejected for {holder}: IBAN {iban} is not a SEPA direct-debit account")
    PaymentMethod.objects.create(company=request.member.company, holder=holder, iban_last4=digits[-4:])
    return JsonResponse({"ok": True})


@csrf_exempt
def assistant_chat(request):
    body = json.loads(request.body)
    member = request.member
    doc = Document.objects.filter(company_id=member.company_id, slug=body["document"]).first()
    if doc is None:
        raise Http404("no such document")
    logger.warning(f"assistant question from {member.email} about {doc.title}")
    answer = assistant.answer(member.company.name, doc, body["prompt"])
    metrics = _metrics()
    if metrics is not None:
        metrics.count("assistant.questions", 1, attributes={"topic": body.get("topic", "")})
        metrics.distribution("assistant.answer_tokens", answer["tokens"], unit="none")
        metrics.gauge("assistant.context_chars", len(doc.body), unit="byte")
    return JsonResponse(answer)
