"""What each key the SDKs send is, for the must-keep list (span_facts.py) and the written
account (inventory.py): one table for span v2 attributes, transaction span data and trace
metric attributes, and one for log attributes (logs never leave, so they are only described).

Classes:
  keep      a technical fact: a scrubbed copy keeps it as sent
  sql       a SQL statement: kept as its shape (literals and placeholders are one class)
  url       an outbound URL: kept without its query (and without userinfo or fragment)
  ids       the company or user ID: kept only when the company allowed IDs
  optional  technical, not required (a copy may keep or drop it)
  remove    personal data, free text, request headers or host names: must not leave

A key not in these tables makes span_facts.derive fail, so a new SDK version's keys are read
and classified before the fixtures are regenerated.
"""

# Attributes repeated on every span of an item (or every record of a metric item): one fact
# per item and value ("every span that had it still has it"), so that a list of 50 spans
# does not weigh 50 times more than a span's own op or timing.
ITEM_WIDE = {
    "sentry.sdk.name",
    "sentry.sdk.version",
    "sentry.release",
    "sentry.environment",
    "sentry.segment.id",
    "sentry.segment.name",
    "sentry.trace_lifecycle",
    "process.runtime.name",
    "process.runtime.version",
    "thread.id",
    "thread.name",
    "company_id",
    "user.id",
}

EXACT = {
    # where the span comes from and what it is
    "sentry.op": "keep",
    "sentry.origin": "keep",
    "sentry.trace_lifecycle": "keep",
    "sentry.platform": "keep",
    "sentry.sdk.name": "keep",
    "sentry.sdk.version": "keep",
    "sentry.sdk.integrations": "optional",
    "sentry.release": "keep",
    "sentry.environment": "keep",
    "sentry.is_localhost": "optional",
    "process.runtime.name": "keep",
    "process.runtime.version": "keep",
    "process.pid": "optional",
    "process.command_args": "optional",
    "thread.id": "keep",
    "thread.name": "keep",
    "code.function.name": "keep",
    # the segment (transaction) it belongs to
    "sentry.segment.id": "keep",
    "sentry.segment.name": "keep",
    "sentry.segment.name.source": "keep",
    # the incoming request
    "http.route": "keep",
    "http.request.method": "keep",
    "http.method": "keep",
    "http.response.status_code": "keep",
    "network.protocol.name": "keep",
    "server.port": "optional",
    "reason": "optional",
    "signal": "optional",
    "url.path": "remove",
    "http.query": "remove",
    "url.query": "remove",
    "http.fragment": "remove",
    "client.address": "remove",
    "user_agent.original": "remove",
    # outbound HTTP
    "url.full": "url",
    "url": "url",
    # database and cache
    "db.system": "keep",
    "db.system.name": "keep",
    "db.query.text": "sql",
    "db.namespace": "optional",
    "db.name": "optional",
    "cache.hit": "keep",
    "cache.item_size": "keep",
    "cache.key": "remove",
    # gen_ai: the model, the call and its cost; never the prompts, instructions or output
    "gen_ai.operation.name": "keep",
    "gen_ai.provider.name": "keep",
    "gen_ai.system": "keep",
    "gen_ai.request.model": "keep",
    "gen_ai.request.max_tokens": "keep",
    "gen_ai.request.temperature": "keep",
    "gen_ai.response.model": "keep",
    "gen_ai.response.streaming": "keep",
    "gen_ai.response.finish_reasons": "keep",
    "gen_ai.response.id": "optional",
    "gen_ai.request.messages": "remove",
    "gen_ai.system_instructions": "remove",
    "gen_ai.response.text": "remove",
    "gen_ai.output.messages": "remove",
    # who: IDs under ID consent, the rest never
    "company_id": "ids",
    "user.id": "ids",
    "user.name": "remove",
    "user.email": "remove",
    "user.ip_address": "remove",
    # sentry-python: the host name (the event's server_name), removed by default; @sentry/node:
    # the peer's host on outbound calls (a fact through url.full anyway)
    "server.address": "remove",
    # transaction span tags (2.x)
    "status": "optional",  # the span's status again (its `status` field is the fact)
    "http.status_code": "keep",
    "subprocess.pid": "optional",
    # metric attributes the capture app sets itself
    "source": "optional",
    "topic": "remove",
    # @sentry/node (OpenTelemetry) on top of the keys above
    "express.name": "keep",  # the middleware's function name, or the handler's route
    "express.type": "keep",
    "error.type": "keep",
    "gen_ai.input.messages": "remove",
    "http.request.body.data": "remove",
    "http.request.body.size": "optional",
    "http.request.method_original": "optional",
    "http.response.status_text": "optional",
    "network.protocol.version": "keep",
    "network.transport": "optional",
    "network.local.address": "optional",
    "network.local.port": "optional",
    "network.peer.address": "remove",  # on the server span: the client's address
    "network.peer.port": "optional",
    "url.domain": "optional",  # the host is a fact through url.full
    "url.scheme": "optional",
    "os.name": "keep",
    "os.version": "keep",
    "os.kernel_version": "keep",
    "process.runtime.engine.name": "keep",
    "process.runtime.engine.version": "keep",
    "app.start_time": "optional",
    "app.memory": "optional",
    "app.free_memory": "optional",
    "culture.locale": "optional",
    "culture.timezone": "optional",
    "device.archs": "optional",
    "device.boot_time": "optional",
    "device.cpu_description": "optional",
    "device.free_memory": "optional",
    "device.memory_size": "optional",
    "device.processor_count": "optional",
    "device.processor_frequency": "optional",
    "sentry.kind": "optional",
    "sentry.sample_rate": "keep",
    "sentry.status.message": "optional",
    "sentry.timestamp.sequence": "optional",
}

# Key prefixes: every token count is a fact; request headers never leave.
PREFIXES = [
    ("gen_ai.usage.", "keep"),
    ("http.request.header.", "remove"),
]

# Log attributes (logs are raw logs and never leave; described for the account only).
LOG = {
    "code.file.path": "technical",
    "code.function.name": "technical",
    "code.line.number": "technical",
    "logger.name": "technical",
    "process.executable.name": "technical",
    "process.pid": "technical",
    "sentry.origin": "technical",
    "sentry.severity_number": "technical",
    "sentry.severity_text": "technical",
    "sentry.message.template": "message template (the code's format string)",
    "request": "repr of the request (method and path)",
    "status_code": "technical",
}
LOG_PREFIXES = [
    ("sentry.message.parameter.", "message argument (free text)"),
    ("sentry.trace.parent_span_id", "technical"),
]


def classify(key):
    """The class of an attribute / span data / tag key; KeyError when it is unknown."""
    if key in EXACT:
        return EXACT[key]
    for prefix, cls in PREFIXES:
        if key.startswith(prefix):
            return cls
    raise KeyError(key)


def classify_log(key):
    """A log attribute's class: the span table's where it has one, else the log table's."""
    try:
        return classify(key)
    except KeyError:
        pass
    if key in LOG:
        return LOG[key]
    for prefix, cls in LOG_PREFIXES:
        if key.startswith(prefix):
            return cls
    raise KeyError(key)


# Span names (descriptions) by op: which are technical facts and how to compare them.
# `None`: the name is not a fact (cache keys and command lines are data).
def name_match(op, is_segment=False, source=None):
    if is_segment or op in ("http.server",):
        return "exact" if source in ("route", "view", "component", "task") else None
    if op == "db":
        return "sql"
    if op == "http.client":
        return "url_name"
    if op.startswith("gen_ai.") or op in ("function", "event.django", "subprocess.wait", "subprocess.communicate"):
        return "exact"
    if op in ("middleware", "handler"):  # @sentry/node's Express spans: function name, route
        return "exact"
    return None
