"""End-to-end proof on the real stack (see conftest.py):

    Django example + unmodified sentry-sdk (gunicorn)
        --HTTP-->  sentry-scrub-proxy binary
        --HTTPS (private CA, TLS 1.2+)-->  capture upstream standing in for the EU ingest

1. ``test_scrubbed_events_reach_upstream``: users of Acme (telemetry + IDs),
   Globex (telemetry only) and Initech (nothing) hit the search, chat, upload,
   payment and folder views with canaries planted everywhere (headers,
   cookies, bodies, query strings, locals, logs). The upstream must get
   useful events (exception type, frames with file/function/line, modules,
   runtime, transactions with span timings), IDs only for Acme, nothing for
   Initech, and no canary in any byte.
2. ``test_admin_consent_changes_in_a_browser``: in headless chromium, the
   superuser unticks Acme's "Technical telemetry IDs allowed" (the next Acme
   error arrives without IDs), then "Technical telemetry enabled" (the next
   one is dropped), re-enables it, and sets ``TELEMETRY_ENABLED`` to False in
   Admin > Config keys: nothing leaves, not even a TCP connection.

Each request is labelled with a ``sentry-trace`` header of our own, which the
SDK continues: every captured event and transaction carries the trace id of
the request that caused it, so we know exactly which request reached the
upstream and which did not.
"""
import datetime
import json
import re
import time
import uuid

import django

from admin_browser import Admin, make_driver
from canaries import CANARIES, forms
from capture_fixtures import (
    new_session,
    sc_activity_report,
    sc_chat,
    sc_document_upload,
    sc_folder_tree,
    sc_login,
    sc_ok,
    sc_payment,
    sc_search,
)
from platform_stack import ADMIN_PASSWORD, DEMO_PASSWORD, PUBLIC_KEY, wait_until

ACME, GLOBEX, INITECH = "Acme Industries", "Globex Corporation", "Initech"
USERS = {ACME: "zephyrine.canarywood", GLOBEX: "bob.martin", INITECH: "carol.durand"}
EXPECTED_EXCEPTION = {
    "search": "SearchError",
    "chat": "AssistantError",
    "document_upload": "UnicodeDecodeError",
    "payment": "PaymentDeclined",
    "folder_tree": "FolderDepthError",
}
SCENARIOS = {
    "search": sc_search,
    "chat": sc_chat,
    "document_upload": sc_document_upload,
    "payment": sc_payment,
    "folder_tree": sc_folder_tree,
    "ok": sc_ok,
    "activity_report": sc_activity_report,
}
CAPTURE_TIMEOUT = 30.0

# Besides the planted canaries: the demo users' own personal data, the
# superuser's password, and any e-mail address of the demo domain.
EXTRA_SECRETS = [
    ADMIN_PASSWORD, DEMO_PASSWORD, "bob.martin", "Bob Martin", "carol.durand", "Carol Durand",
    "example.com", "Zephyrine", "Canarywood",
]


# ------------------------------------------------------------------ helpers
def user_session(stack, company):
    """A browser-like session (canary headers and cookies) logged in as the company's user."""
    s = new_session()
    s.trust_env = False
    if company == ACME:
        sc_login(s, stack.base)  # a failed login with a canary password first, then the real one
    else:
        r = s.post(stack.base + "/api/login", json={"username": USERS[company], "password": DEMO_PASSWORD})
        assert r.status_code == 200, r.text
    return s


def run(stack, s, scenario, label, ledger):
    """Run one scenario under a fresh trace id of ours; remember it in the ledger."""
    trace_id = uuid.uuid4().hex
    s.headers["sentry-trace"] = f"{trace_id}-{uuid.uuid4().hex[:16]}-1"
    SCENARIOS[scenario](s, stack.base)
    ledger.append((label, scenario, trace_id))
    return trace_id


def items(snapshot):
    """Every (item_type, document) of every captured envelope."""
    out = []
    for c in snapshot:
        assert c.decode_error is None, f"upstream body not readable ({c.encoding}): {c.decode_error}"
        for header, doc in c.envelope_items():
            out.append((header.get("type"), doc))
    return out


def trace_of(doc):
    if not isinstance(doc, dict):
        return None
    return ((doc.get("contexts") or {}).get("trace") or {}).get("trace_id")


def tags_of(doc):
    tags = doc.get("tags") or {}
    if isinstance(tags, list):
        return {k: v for k, v in tags}
    return dict(tags)


def by_trace(snapshot, trace_id, item_type=None):
    return [
        doc for t, doc in items(snapshot)
        if trace_of(doc) == trace_id and (item_type is None or t == item_type)
    ]


def wait_items(stack, trace_id, item_type, predicate=lambda d: True, what=""):
    def found():
        docs = [d for d in by_trace(stack.upstream.snapshot(), trace_id, item_type) if predicate(d)]
        return docs or None

    return wait_until(found, CAPTURE_TIMEOUT, f"{item_type} {what} with trace {trace_id} at the upstream", 0.1)


def error_event(stack, trace_id, what):
    return wait_items(stack, trace_id, "event", lambda d: d.get("exception"), what)[0]


def secrets():
    out = set()
    for name, (val, _kind, _where) in CANARIES.items():
        out.update(forms(val))
    for val in EXTRA_SECRETS:
        out.update(forms(val))
    return sorted(s for s in out if s)


def find_leaks(blob, where):
    leaks = []
    if re.search(rb"canary", blob, re.IGNORECASE):
        leaks.append(f"{where}: the marker 'canary'")
    for s in secrets():
        if s.encode() in blob:
            leaks.append(f"{where}: {s!r}")
    return leaks


def assert_no_canary(stack):
    """No planted value, in any byte the upstream received: request line,
    headers, raw (compressed) body and decompressed body."""
    leaks = []
    snapshot = stack.upstream.snapshot()
    for i, c in enumerate(snapshot):
        assert c.decode_error is None, c.decode_error
        where = f"upstream request {i} {c.path}"
        leaks += find_leaks(c.path.encode(), where + " path")
        leaks += find_leaks(c.header_bytes(), where + " headers")
        leaks += find_leaks(c.raw, where + " raw body")
        leaks += find_leaks(c.body, where + " body")
    # Also what the proxy shows an auditor and what it logs.
    audit = stack.admin_get("/audit/recent")
    assert audit.status_code == 200, audit.status_code
    leaks += find_leaks(audit.content, "proxy /audit/recent")
    leaks += find_leaks(stack.proxy_log.read_bytes(), "proxy log")
    assert not leaks, "canaries left the customer's infrastructure:\n  " + "\n  ".join(leaks[:40])
    return len(snapshot)


def assert_useful_error(doc, scenario):
    """What the vendor's support engineer needs from an error event."""
    values = (doc.get("exception") or {}).get("values") or []
    assert values, "no exception"
    exc = values[-1]
    assert exc.get("type") == EXPECTED_EXCEPTION[scenario], exc.get("type")
    frames = (exc.get("stacktrace") or {}).get("frames") or []
    assert frames, f"{scenario}: no stack frames"
    for fr in frames:
        assert fr.get("filename") and fr.get("function") and isinstance(fr.get("lineno"), int), fr
    app_frames = [fr for fr in frames if fr.get("filename", "").startswith("api/")]
    assert app_frames, f"{scenario}: no frame of the app (api/...): {[f.get('filename') for f in frames]}"
    # Source lines are off by default (--source-context turns them on, masked).
    assert not any(fr.get(k) for fr in frames for k in ("context_line", "pre_context", "post_context")), f"{scenario}: source lines left"
    modules = doc.get("modules") or {}
    assert modules.get("django") == django.__version__, modules.get("django")
    assert "sentry-sdk" in modules, sorted(modules)[:20]
    runtime = (doc.get("contexts") or {}).get("runtime") or {}
    assert runtime.get("name") == "CPython" and runtime.get("version"), runtime
    assert doc.get("release") == "example-platform@1.4.2", doc.get("release")


def ts(v):
    """A Sentry timestamp (a number, or RFC 3339 as sentry-python sends it) in seconds; None if invalid."""
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return float(v)
    if isinstance(v, str):
        try:
            return datetime.datetime.fromisoformat(v.replace("Z", "+00:00")).timestamp()
        except ValueError:
            return None
    return None


def assert_useful_transaction(doc):
    start, end = ts(doc.get("start_timestamp")), ts(doc.get("timestamp"))
    assert start is not None and end is not None and end >= start, (doc.get("start_timestamp"), doc.get("timestamp"))
    spans = doc.get("spans") or []
    assert spans, "transaction without spans"
    for span in spans:
        assert span.get("op") and span.get("span_id"), span
        s0, s1 = ts(span.get("start_timestamp")), ts(span.get("timestamp"))
        assert s0 is not None and s1 is not None and s1 >= s0, span
    ops = {s["op"] for s in spans}
    assert "db" in ops or any(op.startswith("db") for op in ops), ops
    assert (doc.get("contexts") or {}).get("trace", {}).get("op") == "http.server", doc.get("contexts")


def assert_ids(doc, company_id, user_id):
    """Acme: the company tag and user.id (and nothing else of the user)."""
    assert tags_of(doc).get("company_id") == str(company_id), tags_of(doc)
    assert doc.get("user") == {"id": str(user_id)}, doc.get("user")


def assert_no_ids(doc):
    assert "company_id" not in tags_of(doc), tags_of(doc)
    assert not (doc.get("user") or {}).get("id"), doc.get("user")


# -------------------------------------------------------------------- tests
def test_scrubbed_events_reach_upstream(stack):
    companies = {name: pk for pk, name in stack.db("SELECT id, name FROM authentication_company")}
    users = {u: pk for pk, u in stack.db("SELECT id, username FROM authentication_user")}
    doc = json.loads(stack.consent_path.read_text())
    assert doc["telemetry_enabled"] is True
    assert doc["companies"][str(companies[ACME])] == {"telemetry_enabled": True, "telemetry_ids_allowed": True}
    assert doc["companies"][str(companies[GLOBEX])] == {"telemetry_enabled": True, "telemetry_ids_allowed": False}
    assert doc["companies"][str(companies[INITECH])] == {"telemetry_enabled": False, "telemetry_ids_allowed": False}

    stack.settle()
    dropped_before = stack.dropped("event", "company_not_consented")
    ledger = []
    plan = {
        ACME: ["search", "chat", "document_upload", "payment", "folder_tree", "ok", "activity_report"],
        GLOBEX: ["search", "chat", "document_upload", "ok"],
        INITECH: ["search", "chat", "document_upload", "payment", "ok"],
    }
    for company, scenarios in plan.items():
        s = user_session(stack, company)
        for scenario in scenarios:
            run(stack, s, scenario, company, ledger)
    anonymous = new_session()
    anonymous.trust_env = False
    run(stack, anonymous, "search", "anonymous", ledger)
    stack.flush()

    # Acme: every error arrives, useful and with the IDs.
    for label, scenario, trace_id in ledger:
        if label != ACME:
            continue
        if scenario in EXPECTED_EXCEPTION:
            event = error_event(stack, trace_id, f"{label}/{scenario}")
            assert_useful_error(event, scenario)
            assert_ids(event, companies[ACME], users[USERS[ACME]])
        else:
            tx = wait_items(stack, trace_id, "transaction", what=f"{label}/{scenario}")[0]
            assert_useful_transaction(tx)
            assert_ids(tx, companies[ACME], users[USERS[ACME]])
    # Globex: telemetry without IDs.
    for label, scenario, trace_id in ledger:
        if label == GLOBEX and scenario in EXPECTED_EXCEPTION:
            event = error_event(stack, trace_id, f"{label}/{scenario}")
            assert_useful_error(event, scenario)
            assert_no_ids(event)
        elif label == GLOBEX:
            assert_no_ids(wait_items(stack, trace_id, "transaction", what=f"{label}/{scenario}")[0])

    stack.settle()
    snapshot = stack.upstream.snapshot()
    for label, scenario, trace_id in ledger:
        got = by_trace(snapshot, trace_id)
        if label in (INITECH, "anonymous"):
            assert not got, f"{label}/{scenario} reached the upstream: {[d.get('type') for d in got]}"
    for _t, doc in items(snapshot):
        if isinstance(doc, dict):
            assert tags_of(doc).get("company_id") in (None, str(companies[ACME])), tags_of(doc)
    initech_errors = sum(1 for label, sc, _ in ledger if label == INITECH and sc in EXPECTED_EXCEPTION)
    assert stack.dropped("event", "company_not_consented") >= dropped_before + initech_errors

    # Everything the upstream got was zstd (the default) over TLS to the upstream DSN's
    # endpoint, with its key.
    for c in snapshot:
        assert c.path.startswith("/api/42/envelope/"), c.path
        assert c.encoding == "zstd", c.encoding
        assert f"sentry_key={PUBLIC_KEY}" in (c.header("x-sentry-auth") or ""), c.header("x-sentry-auth")
    assert stack.upstream.handshake_failures == []
    # One TCP connection per upstream request (the capture server closes each
    # one), so counting connections later really counts attempts.
    assert stack.upstream.accept_count() >= len(snapshot) > 0
    count = assert_no_canary(stack)
    print(f"upstream captured {count} envelopes; ledger {len(ledger)} requests; no canary")


def test_admin_consent_changes_in_a_browser(stack):
    companies = {name: pk for pk, name in stack.db("SELECT id, name FROM authentication_company")}
    acme_id = str(companies[ACME])
    acme = user_session(stack, ACME)
    globex = user_session(stack, GLOBEX)
    ledger = []

    def consent():
        return json.loads(stack.consent_path.read_text())

    driver = make_driver(stack.work)
    try:
        admin = Admin(driver, stack.base, stack.work / "screenshots")
        admin.login("admin", ADMIN_PASSWORD)

        # --- 1. Acme: "Technical telemetry IDs allowed" off -> next error without IDs
        admin.open_company(ACME)
        assert admin.checkbox("Technical telemetry enabled") and admin.checkbox("Technical telemetry IDs allowed")
        admin.set_checkbox("Technical telemetry IDs allowed", False)
        shot = admin.screenshot("acme-company-change-page")
        print(f"screenshot of the company change page: {shot}")
        admin.save()
        assert consent()["companies"][acme_id] == {"telemetry_enabled": True, "telemetry_ids_allowed": False}
        trace_id = run(stack, acme, "search", ACME, ledger)
        stack.flush()
        event = error_event(stack, trace_id, "Acme after IDs were revoked")
        assert_useful_error(event, "search")
        assert_no_ids(event)
        assert_no_ids(wait_items(stack, trace_id, "transaction", what="Acme after IDs were revoked")[0])

        # --- 2. Acme: "Technical telemetry enabled" off -> next error does not leave
        stack.settle()
        captured, accepts = stack.upstream.count(), stack.upstream.accept_count()
        ev0 = stack.dropped("event", "company_not_consented")
        tx0 = stack.dropped("transaction", "company_not_consented")
        admin.open_company(ACME)
        admin.set_checkbox("Technical telemetry enabled", False)
        admin.screenshot("acme-telemetry-disabled")
        admin.save()
        assert consent()["companies"][acme_id] == {"telemetry_enabled": False, "telemetry_ids_allowed": False}
        trace_id = run(stack, acme, "chat", ACME, ledger)
        stack.flush()
        wait_until(lambda: stack.dropped("event", "company_not_consented") > ev0, CAPTURE_TIMEOUT,
                   "the proxy to drop Acme's event (company_not_consented)")
        wait_until(lambda: stack.dropped("transaction", "company_not_consented") > tx0, CAPTURE_TIMEOUT,
                   "the proxy to drop Acme's transaction (company_not_consented)")
        stack.settle()
        assert not by_trace(stack.upstream.snapshot(), trace_id), "Acme's event left after consent was revoked"
        assert stack.upstream.count() == captured, "something reached the upstream after Acme's revocation"

        # --- 3. Acme telemetry back on (IDs still off): its errors flow again
        admin.open_company(ACME)
        admin.set_checkbox("Technical telemetry enabled", True)
        admin.save()
        assert consent()["companies"][acme_id] == {"telemetry_enabled": True, "telemetry_ids_allowed": False}
        trace_id = run(stack, acme, "search", ACME, ledger)
        stack.flush()
        assert_no_ids(error_event(stack, trace_id, "Acme after telemetry was re-enabled"))
        wait_items(stack, trace_id, "transaction", what="Acme after telemetry was re-enabled")

        # --- 4. Admin > Config keys: TELEMETRY_ENABLED = False -> nothing leaves, no connection
        stack.settle()
        captured, accepts = stack.upstream.count(), stack.upstream.accept_count()
        ev0 = stack.dropped("event", "telemetry_disabled")
        tx0 = stack.dropped("transaction", "telemetry_disabled")
        admin.open_config_key("TELEMETRY_ENABLED")
        admin.set_value("False")
        admin.screenshot("config-key-telemetry-disabled")
        admin.save()
        assert consent()["telemetry_enabled"] is False
        assert stack.metric("scrubproxy_telemetry_enabled") == 0
        off = [
            run(stack, acme, "search", ACME, ledger),  # an error event and a logging.error message event
            run(stack, acme, "chat", ACME, ledger),
            run(stack, globex, "document_upload", GLOBEX, ledger),
            run(stack, acme, "ok", ACME, ledger),
        ]
        stack.flush()
        wait_until(lambda: stack.dropped("event", "telemetry_disabled") >= ev0 + 4, CAPTURE_TIMEOUT,
                   "the proxy to drop the 4 events (telemetry_disabled)")
        wait_until(lambda: stack.dropped("transaction", "telemetry_disabled") >= tx0 + 4, CAPTURE_TIMEOUT,
                   "the proxy to drop the 4 transactions (telemetry_disabled)")
        # The drops are counted; give a late sender a chance to show itself (a
        # negative needs a window): the upstream must see no request and no
        # TCP connection at all.
        deadline = time.monotonic() + 1.5
        while time.monotonic() < deadline:
            assert stack.upstream.accept_count() == accepts, "the proxy connected to the upstream with telemetry off"
            time.sleep(0.1)
        snapshot = stack.upstream.snapshot()
        assert len(snapshot) == captured, "something reached the upstream with TELEMETRY_ENABLED=False"
        for trace_id in off:
            assert not by_trace(snapshot, trace_id)
        assert stack.metric("scrubproxy_queue_depth") == 0
    except BaseException:
        try:
            path = Admin(driver, stack.base, stack.work / "screenshots").screenshot("failure")
            print(f"browser at {driver.current_url}, screenshot {path}")
        except Exception:  # noqa: BLE001
            pass
        raise
    finally:
        driver.quit()

    assert_no_canary(stack)
