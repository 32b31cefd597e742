"""The must-keep list: every technical fact of a raw capture that a scrubbed copy must keep,
and the check of a scrubbed copy against it.

    python tests/spans/span_facts.py --write [FOLDER...]     # (re)write must_keep.json
    python tests/spans/span_facts.py --measure PROXY_BIN      # share kept, per run and category
        [--lost-only] [-- --unattributed forward ...]          # (extra flags for `scrub`)

`derive` reads one fixture folder (capture_spans.py's output) and lists, per fixture, the
facts of the items that leave under consent: events, transactions, span v2 items and trace
metrics. Sessions and client reports name no company or trace (the default `--unattributed
drop` drops them on every SDK generation) and logs are raw logs that never leave, so they
have none. Each fact says where it is (`at`: the item and the span or record, found again
by its ids), what (`path` inside it), the value and how to compare (`match`):

  exact     the same JSON value
  sql       the same statement shape: literals and placeholders (%s, ?, $1) compare equal
  url       the URL without query, fragment or userinfo
  url_name  "METHOD URL" of an HTTP client span, the URL without query
  every     an item-wide attribute: every span (record) of the item that is still there
            carries it with this value, and at least one is still there

`ids: true` marks the company and user IDs: required when the company allowed IDs, and
forbidden otherwise (`ids_present`).
"""
import argparse
import json
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "sdk"))  # envelope.py

from envelope import parse_envelope  # noqa: E402
from span_classes import ITEM_WIDE, classify, name_match  # noqa: E402

FIXTURES = os.path.join(HERE, "fixtures")
SPAN_V2 = "application/vnd.sentry.items.span.v2+json"
# Header fields kept for an envelope that still has an item.
HEADER_KEYS = [("event_id",), ("sent_at",), ("trace", "trace_id"), ("trace", "release"), ("trace", "environment"),
               ("trace", "transaction"), ("trace", "sampled"), ("trace", "sample_rate")]
EVENT_KEYS = ["event_id", "level", "platform", "release", "environment", "timestamp", "start_timestamp", "type"]
MODULES = ["django", "sentry-sdk", "openai", "anthropic", "httpx", "requests"]


# ------------------------------------------------------------------------------ derive
class Facts:
    def __init__(self):
        self.out = []

    def add(self, category, at, path, value, match="exact", ids=False):
        if value is None or value == "" or value == [] or value == {}:
            return
        fact = {"category": category, "at": at, "path": list(path), "value": value, "match": match}
        if ids:
            fact["ids"] = True
        self.out.append(fact)


def _attr_facts(facts, at, attrs, item_wide, kind, op=""):
    """Facts of typed attributes ({"type", "value"}) or of plain span data and tags. Keys of
    ITEM_WIDE go to `item_wide` (one fact per item) unless it is None. A URL is a fact on an
    outbound call only: the incoming request's URL holds its path ids and query (its route
    is the fact)."""
    for key, raw in attrs.items():
        cls = classify(key)
        if cls in ("optional", "remove") or (cls == "url" and op != "http.client"):
            continue
        value = raw.get("value") if kind == "attributes" else raw
        path = [kind, key, "value"] if kind == "attributes" else [kind, key]
        if item_wide is not None and key in ITEM_WIDE:
            item_wide.setdefault((tuple(path), json.dumps(value, sort_keys=True)), []).append(at)
            continue
        match = {"keep": "exact", "ids": "exact", "sql": "sql", "url": "url"}[cls]
        prefix = "transaction.span" if at["in"] == "transaction" else at["in"]
        facts.add(f"{prefix}.{kind}.{key}", at, path, expected(match, value), match, ids=cls == "ids")


def _item_wide_facts(facts, item_wide, category):
    for (path, value), members in item_wide.items():
        at = {"in": members[0]["in"], "members": members}
        facts.add(f"{category}.{path[0]}.{path[1]}", at, path, json.loads(value), "every", ids=classify(path[1]) == "ids")


def _span_v2_facts(facts, span, item_wide):
    at = {"in": "span_v2", "span_id": span["span_id"]}
    attrs = span.get("attributes") or {}
    op = (attrs.get("sentry.op") or {}).get("value") or ""
    for key in ("trace_id", "span_id", "parent_span_id", "status", "is_segment", "start_timestamp", "end_timestamp"):
        facts.add(f"span_v2.{key}", at, [key], span.get(key))
    source = (attrs.get("sentry.segment.name.source") or {}).get("value")
    match = name_match(op, span.get("is_segment") is True, source)
    if match:
        facts.add(f"span_v2.name.{op or 'segment'}", at, ["name"], expected(match, span.get("name")), match)
    _attr_facts(facts, at, attrs, item_wide, "attributes", op)


def _tx_span_facts(facts, event_id, span, item_wide):
    at = {"in": "transaction", "event_id": event_id, "span_id": span["span_id"]}
    op = span.get("op") or ""
    for key in ("trace_id", "span_id", "parent_span_id", "op", "status", "origin", "start_timestamp", "timestamp"):
        facts.add(f"transaction.span.{key}", at, [key], span.get(key))
    match = name_match(op)
    if match:
        facts.add(f"transaction.span.description.{op}", at, ["description"], expected(match, span.get("description")), match)
    _attr_facts(facts, at, span.get("data") or {}, item_wide, "data", op)
    _attr_facts(facts, at, span.get("tags") or {}, item_wide, "tags", op)


def _event_facts(facts, ty, doc):
    at = {"in": ty, "event_id": doc["event_id"]}
    for key in EVENT_KEYS:
        facts.add(f"{ty}.{key}", at, [key], doc.get(key))
    source = (doc.get("transaction_info") or {}).get("source")
    if source in ("route", "view", "component", "task"):
        facts.add(f"{ty}.transaction", at, ["transaction"], doc.get("transaction"))
        facts.add(f"{ty}.transaction_info.source", at, ["transaction_info", "source"], source)
    sdk = doc.get("sdk") or {}
    facts.add(f"{ty}.sdk.name", at, ["sdk", "name"], sdk.get("name"))
    facts.add(f"{ty}.sdk.version", at, ["sdk", "version"], sdk.get("version"))
    contexts = doc.get("contexts") or {}
    for key in ("name", "version"):
        facts.add(f"{ty}.contexts.runtime.{key}", at, ["contexts", "runtime", key], (contexts.get("runtime") or {}).get(key))
    for key in ("name", "version", "kernel_version"):
        facts.add(f"{ty}.contexts.os.{key}", at, ["contexts", "os", key], (contexts.get("os") or {}).get(key))
    trace = contexts.get("trace") or {}
    for key in ("trace_id", "span_id", "parent_span_id", "op", "status", "origin"):
        facts.add(f"{ty}.contexts.trace.{key}", at, ["contexts", "trace", key], trace.get(key))
    facts.add(f"{ty}.contexts.response.status_code", at, ["contexts", "response", "status_code"],
              (contexts.get("response") or {}).get("status_code"))
    for key, value in (trace.get("data") or {}).items():  # the root span's own data
        cls = classify(key)
        if cls in ("keep", "sql") or (cls == "url" and trace.get("op") == "http.client"):
            match = {"keep": "exact", "sql": "sql", "url": "url"}[cls]
            facts.add(f"{ty}.contexts.trace.data.{key}", at, ["contexts", "trace", "data", key], expected(match, value), match)
    for key, value in (doc.get("tags") or {}).items():
        cls = classify(key)
        if cls in ("keep", "ids"):
            facts.add(f"{ty}.tags.{key}", at, ["tags", key], value, ids=cls == "ids")
    facts.add(f"{ty}.user.id", at, ["user", "id"], (doc.get("user") or {}).get("id"), ids=True)
    facts.add(f"{ty}.request.method", at, ["request", "method"], (doc.get("request") or {}).get("method"))
    for name in MODULES:
        facts.add(f"{ty}.modules", at, ["modules", name], (doc.get("modules") or {}).get(name))
    for i, exc in enumerate((doc.get("exception") or {}).get("values") or []):
        base = ["exception", "values", i]
        facts.add(f"{ty}.exception.type", at, base + ["type"], exc.get("type"))
        facts.add(f"{ty}.exception.module", at, base + ["module"], exc.get("module"))
        mech = exc.get("mechanism") or {}
        facts.add(f"{ty}.exception.mechanism", at, base + ["mechanism", "type"], mech.get("type"))
        facts.add(f"{ty}.exception.mechanism", at, base + ["mechanism", "handled"], mech.get("handled"))
        for j, frame in enumerate((exc.get("stacktrace") or {}).get("frames") or []):
            for key in ("filename", "module", "function", "lineno", "in_app"):
                facts.add(f"{ty}.exception.frame.{key}", at, base + ["stacktrace", "frames", j, key], frame.get(key))
    if ty == "transaction":
        item_wide = {}
        for span in doc.get("spans") or []:
            _tx_span_facts(facts, doc["event_id"], span, item_wide)
        _item_wide_facts(facts, item_wide, "transaction.span")


def _metric_facts(facts, records):
    item_wide = {}
    for rec in records:
        at = {"in": "trace_metric", "trace_id": rec.get("trace_id"), "name": rec.get("name"), "timestamp": rec.get("timestamp")}
        for key in ("name", "type", "value", "unit", "trace_id", "span_id", "timestamp"):
            facts.add(f"trace_metric.{key}", at, [key], rec.get(key))
        _attr_facts(facts, at, rec.get("attributes") or {}, item_wide, "attributes")
    _item_wide_facts(facts, item_wide, "trace_metric")


def derive_fixture(body):
    """The must-keep facts of one raw envelope."""
    header, items = parse_envelope(body)
    facts = Facts()
    leaves = False
    for item_header, payload in items:
        ty = item_header.get("type")
        doc = json.loads(payload)
        if ty in ("event", "transaction"):
            _event_facts(facts, ty, doc)
        elif ty == "span" and item_header.get("content_type") == SPAN_V2:
            item_wide = {}
            for span in doc.get("items") or []:
                _span_v2_facts(facts, span, item_wide)
            _item_wide_facts(facts, item_wide, "span_v2")
        elif ty == "trace_metric":
            _metric_facts(facts, doc.get("items") or [])
        else:
            continue
        leaves = True
    if leaves:
        for path in HEADER_KEYS:
            value = header
            for key in path:
                value = value.get(key) if isinstance(value, dict) else None
            facts.add("header." + ".".join(path), {"in": "header"}, path, value)
    return facts.out


def derive(folder):
    index = json.load(open(os.path.join(folder, "index.json")))
    out = {}
    for name in sorted(index["fixtures"]):
        facts = derive_fixture(open(os.path.join(folder, name), "rb").read())
        if facts:
            out[name] = facts
    return {
        "generator": "tests/spans/span_facts.py",
        "run": index["run"],
        "sentry_sdk": index["sentry_sdk"],
        "fixtures": out,
    }


def dump(must_keep):
    """One fact per line: reviewable diffs, a file of reasonable size."""
    lines = ["{", f' "generator": {json.dumps(must_keep["generator"])},', f' "run": {json.dumps(must_keep["run"])},',
             f' "sentry_sdk": {json.dumps(must_keep["sentry_sdk"])},', ' "fixtures": {']
    names = sorted(must_keep["fixtures"])
    for n, name in enumerate(names):
        lines.append(f"  {json.dumps(name)}: [")
        facts = must_keep["fixtures"][name]
        for i, fact in enumerate(facts):
            lines.append("   " + json.dumps(fact, sort_keys=True) + ("," if i + 1 < len(facts) else ""))
        lines.append("  ]" + ("," if n + 1 < len(names) else ""))
    lines += [" }", "}"]
    return "\n".join(lines) + "\n"


def write_must_keep(folder):
    with open(os.path.join(folder, "must_keep.json"), "w") as fh:
        fh.write(dump(derive(folder)))


# ----------------------------------------------------------------------------- measure
class Output:
    """One scrubbed envelope, indexed by the ids the facts name."""

    def __init__(self, body):
        header, items = parse_envelope(body) if body else ({}, [])
        self.header = header if items else None  # nothing left: nothing leaves
        self.spans_v2, self.events, self.tx_spans, self.metrics = {}, {}, {}, []
        for item_header, payload in items:
            try:
                doc = json.loads(payload)
            except ValueError:
                continue
            ty = item_header.get("type")
            if ty == "span":
                for span in doc.get("items") or []:
                    self.spans_v2[span.get("span_id")] = span
            elif ty in ("event", "transaction"):
                self.events[(ty, doc.get("event_id"))] = doc
                for span in doc.get("spans") or []:
                    self.tx_spans[(doc.get("event_id"), span.get("span_id"))] = span
            elif ty == "trace_metric":
                self.metrics.extend(doc.get("items") or [])

    def holder(self, at):
        where = at["in"]
        if where == "header":
            return self.header
        if where == "span_v2":
            return self.spans_v2.get(at["span_id"])
        if where in ("event", "transaction"):
            if "span_id" in at:
                return self.tx_spans.get((at["event_id"], at["span_id"]))
            return self.events.get((where, at["event_id"]))
        if where == "trace_metric":
            for rec in self.metrics:
                if rec.get("trace_id") == at["trace_id"] and rec.get("name") == at["name"] and rec.get("timestamp") == at["timestamp"]:
                    return rec
            return None
        raise ValueError(where)


def _get(doc, path):
    for key in path:
        if isinstance(doc, dict):
            doc = doc.get(key)
        elif isinstance(doc, list) and isinstance(key, int) and -len(doc) <= key < len(doc):
            doc = doc[key]
        else:
            return None
    return doc


_SQL_LITERAL = re.compile(r"'(?:[^']|'')*'|\$\d+|%s|%\(\w+\)s|\?|\b\d+(?:\.\d+)?\b")


def sql_shape(text):
    return " ".join(_SQL_LITERAL.sub("?", text).split()) if isinstance(text, str) else None


def url_base(text):
    if not isinstance(text, str):
        return None
    text = text.split("#", 1)[0].split("?", 1)[0]
    return re.sub(r"^(\w+://)[^@/]*@", r"\1", text)


def url_name(text):
    if not isinstance(text, str):
        return None
    method, _, url = text.partition(" ")
    return f"{method} {url_base(url)}"


NORMALISE = {"sql": sql_shape, "url": url_base, "url_name": url_name}


def expected(match, value):
    """The value a fact records: the normalised form for sql and URLs, so that the list
    holds the shape to keep, never a literal or a query the SDK sent."""
    return NORMALISE[match](value) if match in NORMALISE else value


def _matches(match, want, got):
    if match in NORMALISE:
        return NORMALISE[match](got) == want
    return got == want


def fact_kept(fact, out):
    if fact["match"] == "every":
        present = [h for h in (out.holder(m) for m in fact["at"]["members"]) if h is not None]
        return bool(present) and all(_get(h, fact["path"]) == fact["value"] for h in present)
    holder = out.holder(fact["at"])
    return holder is not None and _matches(fact["match"], fact["value"], _get(holder, fact["path"]))


def measure(must_keep, outputs, ids_allowed):
    """(kept, total, {category: [kept, total]}, [missing facts]) over every fixture.
    `outputs`: fixture name -> scrubbed bytes."""
    kept = total = 0
    categories, missing = {}, []
    for name, facts in must_keep["fixtures"].items():
        out = Output(outputs[name])
        for fact in facts:
            if fact.get("ids") and not ids_allowed:
                continue
            ok = fact_kept(fact, out)
            total += 1
            kept += ok
            cat = categories.setdefault(fact["category"], [0, 0])
            cat[0] += ok
            cat[1] += 1
            if not ok:
                missing.append((name, fact))
    return kept, total, categories, missing


def ids_present(must_keep, outputs):
    """ID facts (company and user IDs) found in the outputs: must be none without ID consent."""
    found = []
    for name, facts in must_keep["fixtures"].items():
        out = Output(outputs[name])
        for fact in facts:
            if not fact.get("ids"):
                continue
            holders = [out.holder(m) for m in fact["at"].get("members", [fact["at"]])]
            if any(h is not None and _get(h, fact["path"]) is not None for h in holders):
                found.append((name, fact["category"]))
    return found


# -------------------------------------------------------------------------------- main
def folders():
    """Every fixture folder: a folder under fixtures/ with an index.json (picked up as it comes)."""
    return sorted(
        os.path.join(FIXTURES, d) for d in os.listdir(FIXTURES) if os.path.isfile(os.path.join(FIXTURES, d, "index.json"))
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--write", action="store_true", help="rewrite must_keep.json of each folder")
    parser.add_argument("--measure", metavar="PROXY_BIN", help="scrub every fixture and print the share kept")
    parser.add_argument("--lost-only", action="store_true", help="list only the categories that lose facts")
    parser.add_argument("folders", nargs="*", help="fixture folders (default: all); after `--`, flags for scrub")
    argv = sys.argv[1:]
    extra = argv[argv.index("--") + 1 :] if "--" in argv else []
    args = parser.parse_args(argv[: argv.index("--")] if "--" in argv else argv)
    chosen = args.folders or folders()
    for folder in chosen:
        if args.write:
            write_must_keep(folder)
            print(f"wrote {os.path.join(folder, 'must_keep.json')}")
        if args.measure:
            import scrub_run  # noqa: PLC0415  (needs the binary)

            must_keep = json.load(open(os.path.join(folder, "must_keep.json")))
            for consent in ("ids", "no_ids"):
                outputs = scrub_run.scrub_folder(args.measure, folder, consent, extra_args=extra)
                kept, total, cats, _ = measure(must_keep, outputs, consent == "ids")
                print(f"{os.path.basename(folder)} consent={consent}: {kept}/{total} = {100 * kept / total:.1f}%")
                for cat, (k, t) in sorted(cats.items()):
                    if k < t or not args.lost_only:
                        print(f"    {cat:60s} {k:4d}/{t:<4d}")


if __name__ == "__main__":
    main()
