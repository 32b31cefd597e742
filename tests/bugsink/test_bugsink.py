"""The Django example, through the real proxy binary, into a real Bugsink: an upstream nobody
on this project wrote (see conftest.py). Users of Acme (telemetry + IDs), Globex (telemetry
only) and Initech (nothing) hit the failing views with canaries planted everywhere; then the
test reads back what Bugsink stored, through its REST API and from its own files:

- every Acme and Globex error is an issue in Bugsink, with the exception type and the stack
  trace (file, function, line, source context of the app's frames), modules, runtime, release;
- Acme's events carry the company tag and the user id, Globex's do not, Initech's and the
  anonymous user's are not there at all;
- Bugsink answered 200 to every envelope, once the proxy had switched to gzip (Bugsink
  answers 400 to its default zstd: the first envelope went again as gzip, nothing was lost);
  the transactions it declines (by a rate limit header) are counted by the proxy as rate
  limited, no error event is;
- no planted value in anything Bugsink answered or wrote (databases, ingest store, log), nor
  in the proxy's log.

Each request carries a ``sentry-trace`` header of our own, so each stored event is tied to
the request that caused it (Bugsink keeps ``contexts.trace``).
"""
import uuid

import requests

from capture_fixtures import (
    new_session,
    sc_chat,
    sc_document_upload,
    sc_folder_tree,
    sc_ok,
    sc_payment,
    sc_search,
)
from platform_stack import wait_until
from test_platform import (
    ACME,
    EXPECTED_EXCEPTION,
    GLOBEX,
    INITECH,
    USERS,
    assert_ids,
    assert_no_ids,
    assert_useful_error,
    find_leaks,
    trace_of,
    user_session,
)

SCENARIOS = {
    "search": sc_search,
    "chat": sc_chat,
    "document_upload": sc_document_upload,
    "payment": sc_payment,
    "folder_tree": sc_folder_tree,
    "ok": sc_ok,
}
PLAN = {
    ACME: ["search", "chat", "document_upload", "payment", "folder_tree", "ok"],
    GLOBEX: ["search", "payment", "ok"],
    INITECH: ["search", "chat", "ok"],
}
TIMEOUT = 180.0


def settle(stack):
    """Flush the SDK; wait until the proxy's queue is empty and its counters stand still."""
    stack.flush()
    last = []

    def settled():
        text = stack.metrics_text()
        state = tuple(
            line for line in text.splitlines()
            if line.startswith(("scrubproxy_envelopes_", "scrubproxy_items_", "scrubproxy_upstream_responses"))
        )
        ok = stack.metric("scrubproxy_queue_depth", text) == 0 and last and last[-1] == state
        last.append(state)
        return ok

    wait_until(settled, TIMEOUT, "the proxy's queue to drain into Bugsink", interval=0.3)


def stored_events(bugsink, project):
    """{trace id: [(issue, event data)]} of everything Bugsink stored for the project."""
    out = {}
    for issue in bugsink.issues(project):
        for event in bugsink.events(issue["id"]):
            out.setdefault(trace_of(event["data"]), []).append((issue, event["data"]))
    return out


def stored_events_when_answered(bugsink, project):
    """``stored_events``, or ``{}`` while Bugsink does not answer its API in time: its one
    gunicorn worker digests the proxy's envelopes into SQLite meanwhile, and on a loaded
    machine a read can wait for that past its own timeout. The caller's deadline decides."""
    try:
        return stored_events(bugsink, project)
    except requests.RequestException:
        return {}


def test_bugsink_stores_the_stack_traces_and_no_planted_value(bugsink_stack):
    stack, bugsink = bugsink_stack, bugsink_stack.bugsink
    project = stack.project["id"]
    companies = {name: pk for pk, name in stack.db("SELECT id, name FROM authentication_company")}
    users = {u: pk for pk, u in stack.db("SELECT id, username FROM authentication_user")}

    ledger = []
    for company, scenarios in PLAN.items():
        s = user_session(stack, company)
        for scenario in scenarios:
            trace_id = uuid.uuid4().hex
            s.headers["sentry-trace"] = f"{trace_id}-{uuid.uuid4().hex[:16]}-1"
            SCENARIOS[scenario](s, stack.base)
            ledger.append((company, scenario, trace_id))
    anonymous = new_session()
    anonymous.trust_env = False
    trace_id = uuid.uuid4().hex
    anonymous.headers["sentry-trace"] = f"{trace_id}-{uuid.uuid4().hex[:16]}-1"
    sc_search(anonymous, stack.base)
    ledger.append(("anonymous", "search", trace_id))
    settle(stack)

    expected = {t: (c, sc) for c, sc, t in ledger if c in (ACME, GLOBEX) and sc in EXPECTED_EXCEPTION}
    stored = wait_until(
        lambda: (lambda got: got if all(got.get(t) for t in expected) else None)(
            stored_events_when_answered(bugsink, project)
        ),
        TIMEOUT, "Bugsink to show an event for every consented error", interval=0.5,
    )

    # Every consented error, useful, as Bugsink stored it; the issue is named for its type.
    for trace_id, (company, scenario) in expected.items():
        with_exception = [(i, d) for i, d in stored[trace_id] if d.get("exception")]
        assert with_exception, f"{company}/{scenario}: Bugsink stored no exception event"
        issue, data = with_exception[0]
        assert_useful_error(data, scenario)
        assert issue["calculated_type"] == EXPECTED_EXCEPTION[scenario], issue
        if company == ACME:
            assert_ids(data, companies[ACME], users[USERS[ACME]])
        else:
            assert_no_ids(data)

    # Nothing of the company without consent, nor of the anonymous user.
    for company, scenario, trace_id in ledger:
        if company in (INITECH, "anonymous"):
            assert trace_id not in stored, f"{company}/{scenario} reached Bugsink"
    for docs in stored.values():
        for _issue, data in docs:
            assert (data.get("tags") or {}).get("company_id") in (None, str(companies[ACME])), data.get("tags")

    # Bugsink answered 200 to every request of the proxy, and took every envelope the proxy
    # queued, but for transactions: each answer says `X-Sentry-Rate-Limits:
    # 86400:transaction;span:organization` (Bugsink keeps errors only), which the proxy obeys,
    # so every consented transaction was either sent before the first answer or dropped as
    # rate limited (and the SDK was told 429 for them, so it stops sending them).
    metrics = stack.metrics_text()
    responses = {
        line.rpartition(" ")[0]: int(float(line.rpartition(" ")[2]))
        for line in metrics.splitlines() if line.startswith("scrubproxy_upstream_responses_total{")
    }
    assert list(responses) == ['scrubproxy_upstream_responses_total{status="200"}'], responses
    forwarded = stack.metric("scrubproxy_envelopes_forwarded_total", metrics)
    assert responses['scrubproxy_upstream_responses_total{status="200"}'] == forwarded
    tx = {
        what: stack.metric(f'scrubproxy_items_{what}{{type="transaction"}}', metrics)
        for what in ("received_total", "forwarded_total")
    }
    tx_dropped = {
        reason: stack.dropped("transaction", reason, metrics)
        for reason in ("unattributed", "company_not_consented", "rate_limited")
    }
    assert tx["forwarded_total"] + sum(tx_dropped.values()) == tx["received_total"] > 0, (tx, tx_dropped)
    assert stack.metric('scrubproxy_items_dropped_total{type="event",reason="rate_limited"}', metrics) == 0
    # The proxy sent zstd (its default), Bugsink answered 400, the same envelope went again as
    # gzip and was taken; gzip since, said once in the log, and no envelope lost to it.
    assert stack.dropped("event", "upstream_rejected", metrics) == 0
    assert stack.proxy_log.read_text().count("sending gzip from now on") == 1

    # No planted value in anything Bugsink answered or wrote, nor in the proxy's log.
    leaks = []
    for issue in bugsink.issues(project):
        leaks += find_leaks(str(issue).encode(), f"Bugsink issue {issue['friendly_id']}")
        for event in bugsink.events(issue["id"]):
            leaks += find_leaks(repr(event).encode(), f"Bugsink event {event['id']}")
    for path, data in bugsink.stored_contents():
        leaks += find_leaks(data, f"Bugsink file {path.relative_to(bugsink.dir)}")
    leaks += find_leaks(stack.proxy_log.read_bytes(), "proxy log")
    assert not leaks, "canaries reached Bugsink:\n  " + "\n  ".join(leaks[:40])
    n_events = sum(len(v) for v in stored.values())
    print(f"Bugsink stored {n_events} events in {len(bugsink.issues(project))} issues; "
          f"{len(ledger)} requests; no canary")
