"""Business services of the example platform: search, GenAI assistant,
document ingestion, billing. They fail the way real code does, with user
data in exception messages, log records and local variables -- exactly what
the scrubbing proxy must remove."""
import json
import logging
import urllib.parse
import urllib.request

from django.conf import settings
from django.db import connection

from .models import Document, SearchLog

logger = logging.getLogger("api.search")
assistant_logger = logging.getLogger("api.assistant")


class SearchError(Exception):
    pass


class AssistantError(ValueError):
    pass


class PaymentDeclined(Exception):
    pass


class FolderDepthError(RuntimeError):
    pass


def _call_search_backend(query, company_id):
    """Outgoing HTTP call (recorded as an http.client span and breadcrumb)."""
    if not settings.SEARCH_BACKEND_URL:
        return None
    params = urllib.parse.urlencode(
        {"q": query, "company": company_id, "token": settings.SEARCH_BACKEND_TOKEN}
    )
    url = f"{settings.SEARCH_BACKEND_URL}?{params}"
    with urllib.request.urlopen(url, timeout=3) as response:
        return json.loads(response.read() or b"{}")


def search_documents(query, company):
    logger.info("search requested by company %s: %s", company.pk if company else None, query)
    SearchLog.objects.create(company=company, query=query)
    # ORM query (parameterised SQL)
    hits = list(Document.objects.filter(title__icontains=query).values_list("id", flat=True)[:20])
    # Hand-written SQL with the literal inlined (the kind of query a scrubber
    # must normalise: the literal is user input).
    escaped = query.replace("'", "''")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id, title FROM api_document WHERE body LIKE '%" + escaped + "%' ORDER BY id LIMIT 20"
        )
        rows = cursor.fetchall()
    backend = _call_search_backend(query, company.pk if company else None)
    if not hits and not rows and not (backend or {}).get("results"):
        logger.error("search failed for %s", query)
        raise SearchError(f"search failed for {query}")
    return hits


def ask_assistant(prompt, user):
    api_token = settings.LLM_API_TOKEN
    conversation = [
        {"role": "system", "content": "You are the enterprise assistant."},
        {"role": "user", "content": prompt},
    ]
    assistant_logger.info("assistant prompt from %s: %s", user.email, prompt)
    request_body = json.dumps({"model": "ent-llm-7b", "messages": conversation})
    if len(request_body) > 64:
        raise AssistantError(f"prompt rejected by model (context too long): {prompt!r}")
    return {"answer": "ok", "token_used": len(api_token)}


def ingest_document(owner, upload, title):
    raw = upload.read()
    size = len(raw)
    text = raw.decode("utf-8")  # uploads are supposed to be UTF-8: this is where it breaks
    return Document(title=title, body=text, owner_email=owner), size


def charge(holder, card_number, iban, phone, national_id, amount):
    digits = card_number.replace(" ", "")
    customer = {"holder": holder, "card": digits, "iban": iban, "phone": phone, "nir": national_id}
    if digits.startswith("4111"):
        raise PaymentDeclined(f"payment of {amount} EUR declined for {holder} (card {card_number}, IBAN {iban})")
    return customer


def walk_folder(path, depth, max_depth):
    folder_name = path[-1]
    children = [f"{folder_name}/sub{depth}"]
    if depth >= max_depth:
        raise FolderDepthError(f"folder tree deeper than {max_depth} levels")
    return walk_folder(path + children, depth + 1, max_depth)
