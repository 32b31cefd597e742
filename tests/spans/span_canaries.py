"""Values planted by the span capture app (tests/spans/app) and capture_spans.py.

Each looks like real data and is uniquely greppable: every one of them except the IBAN, the
card, the phone number and the client IP contains `canary` (any case), so a scrubbed output
must not contain that word at all. The fixtures are the *unscrubbed* input: these strings
are in the fixtures (where the SDK sends them) and must never survive scrubbing.
"""
import urllib.parse

# name -> (value, kind, where it is planted)
CANARIES = {
    "company_name": ("Canaryhold Logistics SAS", "company", "company name: the assistant's system prompt, a log line"),
    "user_email": ("margit.canaryfeld@canaryhold.example", "email", "set_user email, an f-string log line"),
    "username": ("margit.canaryfeld", "username", "set_user username"),
    "person": ("Margit Canaryfeld", "person_name", "payment holder (form field, exception message), the assistant prompt"),
    "doc_slug": ("canary-merger-term-sheet", "slug", "URL path of the document routes, SQL parameter, cache key, assistant request body"),
    "doc_title": ("CANARYTITLE merger term sheet Globex", "document", "document title (SQL result, response body, log line, LLM prompt)"),
    "doc_body": ("CANARYBODY salary grid 2026 for the Lyon plant", "document", "document text sent to the LLM as context"),
    "query": ("CANARYQUERY layoffs Lyon plant", "query", "search query string, SQL LIKE parameter, outbound URL query, log line"),
    "prompt": ("CANARYPROMPT summarise the term sheet for the board", "prompt", "chat request body, OpenAI and Anthropic messages"),
    "long_prompt": ("CANARYLONGPROMPT paste of the full data room index", "prompt", "chat request whose LLM call fails (context length)"),
    "answer": ("CANARYANSWER the merger closes in Q3 pending works council", "llm_output", "fake OpenAI and Anthropic responses (gen_ai response text)"),
    "topic": ("canary-topic-merger", "free_text", "a metric attribute set by the app (topic of the question)"),
    "api_token": ("tok_canary_9f8e7d6c5b4a3210", "api_key", "X-Api-Token request header and the SQL parameter of the token lookup"),
    "partner_token": ("sk_live_CANARYpartner51Hd8kLmNoPq", "api_key", "outbound HTTP query string ?token="),
    "llm_key": ("sk-canary-openai-key-5Xq8Lr2Tn7", "api_key", "OpenAI and Anthropic client api_key (sent to the fake LLM only)"),
    "customer_ref": ("canary-customer-77-ref", "free_text", "custom request header X-Customer-Ref"),
    "cookie": ("canary-cookie-last-doc", "free_text", "cookie last_doc"),
    "user_agent": ("CanaryBrowser/9.1", "user_agent", "User-Agent header"),
    "client_ip": ("203.0.113.99", "ipv4", "X-Forwarded-For header"),
    "iban": ("FR76 3000 6000 0112 3456 7890 189", "iban", "payment form field iban, exception message"),
    "card": ("4111 1111 1111 1111", "card", "payment form field card_number"),
    "phone": ("+33 6 98 76 54 32", "phone", "payment form field phone, log line"),
}

# The IDs the middleware sets: technical, kept only when the company allowed IDs.
COMPANY_ID = "4711"
USER_ID = "90210"


def value(name):
    return CANARIES[name][0]


def forms(text):
    """The encodings under which a value can appear in an envelope."""
    out = [text]
    for candidate in (
        text.replace(" ", ""),
        urllib.parse.quote_plus(text),
        urllib.parse.quote(text, safe=""),
        urllib.parse.quote(text),
    ):
        if candidate not in out:
            out.append(candidate)
    return out
