//! The table of kept attribute keys and their rules.

use super::Rule;

/// The kept keys and their rules, sorted by key (binary search). Derived from what
/// sentry-python 2.x/3.x and @sentry/node send (tests/spans/README.md, `span_classes.py`):
/// what a transaction-era SDK kept as a span's op, description, data or tags. Prompts,
/// messages, answers, request headers and bodies, the client's address and user agent,
/// query strings and cache keys are not here, so they never leave.
#[rustfmt::skip]
pub const KEYS: &[(&str, Rule)] = &[
    ("blocking", Rule::Flag),
    ("cache.hit", Rule::Flag),
    ("cache.item_size", Rule::Num),
    ("code.file.path", Rule::Text),
    ("code.filepath", Rule::Text),
    ("code.function", Rule::Code),
    ("code.function.name", Rule::Code),
    ("code.line.number", Rule::Num),
    ("code.lineno", Rule::Num),
    ("code.namespace", Rule::Code),
    ("db.collection.name", Rule::Code),
    ("db.operation", Rule::Token),
    ("db.operation.name", Rule::Token),
    ("db.query.text", Rule::Sql),
    ("db.statement", Rule::Sql),
    ("db.system", Rule::Token),
    ("db.system.name", Rule::Token),
    ("error.type", Rule::Code),
    ("express.name", Rule::Code),
    ("express.type", Rule::Token),
    ("gen_ai.agent.name", Rule::Code),
    ("gen_ai.operation.name", Rule::Token),
    ("gen_ai.provider.name", Rule::Token),
    ("gen_ai.request.frequency_penalty", Rule::Num),
    ("gen_ai.request.max_tokens", Rule::Num),
    ("gen_ai.request.model", Rule::Token),
    ("gen_ai.request.presence_penalty", Rule::Num),
    ("gen_ai.request.temperature", Rule::Num),
    ("gen_ai.request.top_k", Rule::Num),
    ("gen_ai.request.top_p", Rule::Num),
    ("gen_ai.response.finish_reasons", Rule::Tokens),
    ("gen_ai.response.model", Rule::Token),
    ("gen_ai.response.streaming", Rule::Flag),
    ("gen_ai.response.time_to_first_token", Rule::Num),
    ("gen_ai.system", Rule::Token),
    ("gen_ai.tool.name", Rule::Code),
    ("gen_ai.tool.type", Rule::Token),
    ("gen_ai.usage.cache_creation.input_tokens", Rule::Num),
    ("gen_ai.usage.cache_read.input_tokens", Rule::Num),
    ("gen_ai.usage.completion_tokens", Rule::Num),
    ("gen_ai.usage.input_tokens", Rule::Num),
    ("gen_ai.usage.input_tokens.cache_write", Rule::Num),
    ("gen_ai.usage.input_tokens.cached", Rule::Num),
    ("gen_ai.usage.output_tokens", Rule::Num),
    ("gen_ai.usage.output_tokens.reasoning", Rule::Num),
    ("gen_ai.usage.prompt_tokens", Rule::Num),
    ("gen_ai.usage.reasoning.output_tokens", Rule::Num),
    ("gen_ai.usage.total_tokens", Rule::Num),
    ("graphql.field.name", Rule::Code),
    ("graphql.field.path", Rule::Code),
    ("graphql.field.type", Rule::Code),
    ("graphql.operation.name", Rule::Code),
    ("graphql.operation.type", Rule::Token),
    ("http.method", Rule::Token),
    ("http.request.method", Rule::Token),
    ("http.response.body.size", Rule::Num),
    ("http.response.status_code", Rule::Num),
    ("http.response_content_length", Rule::Num),
    ("http.route", Rule::Route),
    ("http.status_code", Rule::Num),
    ("http.url", Rule::Url),
    ("messaging.batch.message_count", Rule::Num),
    ("messaging.destination.name", Rule::Code),
    ("messaging.message.body.size", Rule::Num),
    ("messaging.message.id", Rule::Token),
    ("messaging.message.receive.latency", Rule::Num),
    ("messaging.message.retry.count", Rule::Num),
    ("messaging.operation.name", Rule::Token),
    ("messaging.operation.type", Rule::Token),
    ("messaging.system", Rule::Token),
    ("network.protocol.name", Rule::Token),
    ("network.protocol.version", Rule::Token),
    ("os.kernel_version", Rule::Text),
    ("os.name", Rule::Text),
    ("os.version", Rule::Text),
    ("process.runtime.engine.name", Rule::Token),
    ("process.runtime.engine.version", Rule::Version),
    ("process.runtime.name", Rule::Token),
    ("process.runtime.version", Rule::Version),
    ("rpc.grpc.status_code", Rule::Num),
    ("rpc.method", Rule::Code),
    ("rpc.service", Rule::Code),
    ("rpc.system", Rule::Token),
    ("sentry.dist", Rule::Dist),
    ("sentry.environment", Rule::Environment),
    ("sentry.exclusive_time", Rule::Num),
    ("sentry.op", Rule::Token),
    ("sentry.origin", Rule::Token),
    ("sentry.platform", Rule::Token),
    ("sentry.release", Rule::Release),
    ("sentry.sample_rate", Rule::Num),
    ("sentry.sdk.name", Rule::Token),
    ("sentry.sdk.version", Rule::Version),
    ("sentry.segment.id", Rule::Id),
    ("sentry.segment.name", Rule::SegmentName),
    ("sentry.segment.name.source", Rule::Token),
    ("sentry.source", Rule::Token),
    ("sentry.trace_lifecycle", Rule::Token),
    ("server.address", Rule::Host),
    ("thread.id", Rule::Text),
    ("thread.name", Rule::Text),
    ("url", Rule::Url),
    ("url.full", Rule::Url),
    ("user.id", Rule::UserId),
];

/// The table's own spelling of a kept key and its rule.
pub fn rule_of(key: &str) -> Option<(&'static str, Rule)> {
    KEYS.binary_search_by(|(k, _)| (*k).cmp(key))
        .ok()
        .map(|i| KEYS[i])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_sorted_for_binary_search() {
        assert!(
            KEYS.windows(2).all(|w| w[0].0 < w[1].0),
            "KEYS must be sorted"
        );
    }
}
