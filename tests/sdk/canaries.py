"""Canary values planted by capture_fixtures.py.

Each one looks like real data (so that detectors are exercised on realistic
shapes) and is uniquely greppable. The fixtures are the *unscrubbed* input of
the scrubber: these strings must be present in the fixtures and must never
survive scrubbing.
"""
import base64
import hashlib
import hmac
import json
import urllib.parse


def _b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _make_jwt():
    header = _b64url(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    payload = _b64url(
        json.dumps(
            {"sub": "4821", "email": "alice.canary6@example.com", "name": "Zephyrine Canarywood", "iat": 1767225600},
            separators=(",", ":"),
        ).encode()
    )
    signing_input = f"{header}.{payload}".encode()
    signature = _b64url(hmac.new(b"canary-jwt-secret", signing_input, hashlib.sha256).digest())
    return f"{header}.{payload}.{signature}"


# name -> (value, kind, where it is planted)
CANARIES = {
    "user_email": ("alice.canary1@example.com", "email", "Django user email (user.email with send_default_pii, login log line)"),
    "path_email": ("alice.canary2@example.com", "email", "URL path segment /api/documents/<owner>/ and local variable owner"),
    "customer_email": ("alice.canary3@example.com", "email", "set_tag customer_email, set_context customer.email"),
    "header_email": ("alice.canary4@example.com", "email", "custom request header X-Customer-Email"),
    "folder_email": ("alice.canary5@example.com", "email", "query string root= of /api/folders/tree, locals of ~30 frames"),
    "jwt": (_make_jwt(), "jwt", "cookie sso_jwt and chat JSON body id_token"),
    "ip_forwarded": ("203.0.113.77", "ipv4", "X-Forwarded-For header (user.ip_address / env with send_default_pii)"),
    "ip_real": ("198.51.100.23", "ipv4", "X-Real-IP header"),
    "card": ("4111 1111 1111 1111", "card", "payments form field card_number, exception message, locals"),
    "iban": ("FR14 2004 1010 0505 0001 3M02 606", "iban", "payments form field iban, exception message, locals"),
    "phone": ("+33 6 12 34 56 78", "phone", "payments form field phone, log line, locals"),
    "nir": ("1 84 12 76 451 089 46", "national_id", "payments form field national_id (French NIR, valid key 46), document text"),
    "name": ("Zephyrine Canarywood", "person_name", "user first/last name, payment holder, set_context customer.name, document text"),
    "username": ("zephyrine.canarywood", "username", "Django username (user.username with send_default_pii), login body"),
    "password": ("CanaryPass-9X!q", "password", "login JSON body password (failed login)"),
    "auth_token": ("sk_live_CANARYauth4eC39HqLyjWDarjtT1zdp7dc", "api_key", "Authorization: Bearer header"),
    "x_api_key": ("sk_live_CANARYxapi51Hd8kLmNoPqRsTuVwXyZ0123", "api_key", "X-Api-Key header"),
    "search_token": ("sk_live_CANARYsearch9f8e7d6c5b4a3210fedc", "api_key", "outgoing HTTP call query ?token= (http span, breadcrumb)"),
    "llm_token": ("sk_live_CANARYllm7Qw8Er9Ty0Ui1Op2As3Df4", "api_key", "local variable api_token in the assistant service"),
    "prompt": ("CANARYPROMPT quarterly merger plans", "prompt", "chat JSON body, exception message, locals, log line"),
    "query": ("CANARYQUERY acquisition of Globex", "query", "search query string, exception message, logging.error, raw SQL literal, ORM params, outgoing URL"),
    "document": ("CANARYDOC confidential salary review", "document", "uploaded file content (locals), document text"),
    "doc_title": ("CANARYTITLE board minutes", "document", "multipart form field title"),
    "extra": ("CANARYEXTRA conversation about layoffs", "free_text", "set_extra conversation_title"),
    "cookie": ("CANARYCOOKIE-merger-2026", "free_text", "cookie recent_query"),
    "folder": ("CANARYFOLDER-salaries", "free_text", "query string root= of /api/folders/tree, locals"),
    "home_user": ("zcanarywood", "home_path_user", "home directory /home/zcanarywood/ in the folder root and in the sdk1 client's locals"),
    "demo_password": ("demo-password-123", "password", "login JSON body password (successful login of the demo user)"),
    "user_agent": ("CanaryBrowser/7.7", "user_agent", "User-Agent header"),
}


def forms(value):
    """The encodings under which a value can appear in an envelope."""
    out = [value]
    for candidate in (
        value.replace(" ", ""),
        urllib.parse.quote_plus(value),
        urllib.parse.quote(value, safe=""),
        urllib.parse.quote(value),
    ):
        if candidate not in out:
            out.append(candidate)
    return out


def value(name):
    return CANARIES[name][0]
