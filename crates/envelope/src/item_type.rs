//! The closed table of item types and their wire names.

/// The type of an envelope item, from its header's `type`.
///
/// Names the codec does not know are kept as [`ItemType::Unknown`] so that the
/// caller decides (the proxy drops and counts them).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ItemType {
    /// `event`: an error or message event.
    Event,
    /// `transaction`: a performance transaction with spans.
    Transaction,
    /// `span`: a standalone span.
    Span,
    /// `session`: one release-health session update.
    Session,
    /// `sessions`: aggregated sessions.
    Sessions,
    /// `client_report`: the SDK's counts of discarded events.
    ClientReport,
    /// `attachment`: a file attached to an event.
    Attachment,
    /// `user_report`: legacy user feedback.
    UserReport,
    /// `feedback`: user feedback.
    Feedback,
    /// `profile`: a transaction profile.
    Profile,
    /// `profile_chunk`: a continuous-profiling chunk.
    ProfileChunk,
    /// `check_in`: a cron monitor check-in.
    CheckIn,
    /// `log`: log records.
    Log,
    /// `otel_log`: an OpenTelemetry log record.
    OtelLog,
    /// `trace_metric`: counters, gauges and distributions tied to a trace (sentry-python's
    /// `sentry_sdk.metrics`, @sentry/node's `metrics`).
    TraceMetric,
    /// `replay_event`: session replay metadata.
    ReplayEvent,
    /// `replay_recording`: session replay recording.
    ReplayRecording,
    /// `replay_video`: session replay video.
    ReplayVideo,
    /// `form_data`: form fields of a minidump upload.
    FormData,
    /// `security`: a raw CSP/HPKP/Expect-CT report.
    RawSecurity,
    /// `statsd`: metrics in statsd format.
    Statsd,
    /// `metric_buckets`: pre-aggregated metrics.
    MetricBuckets,
    /// `nel`: a Network Error Logging report.
    Nel,
    /// Any other name, kept verbatim.
    Unknown(String),
}

/// Every known type with its wire name; the single source of truth for both directions.
static KNOWN: [(ItemType, &str); 23] = [
    (ItemType::Event, "event"),
    (ItemType::Transaction, "transaction"),
    (ItemType::Span, "span"),
    (ItemType::Session, "session"),
    (ItemType::Sessions, "sessions"),
    (ItemType::ClientReport, "client_report"),
    (ItemType::Attachment, "attachment"),
    (ItemType::UserReport, "user_report"),
    (ItemType::Feedback, "feedback"),
    (ItemType::Profile, "profile"),
    (ItemType::ProfileChunk, "profile_chunk"),
    (ItemType::CheckIn, "check_in"),
    (ItemType::Log, "log"),
    (ItemType::OtelLog, "otel_log"),
    (ItemType::TraceMetric, "trace_metric"),
    (ItemType::ReplayEvent, "replay_event"),
    (ItemType::ReplayRecording, "replay_recording"),
    (ItemType::ReplayVideo, "replay_video"),
    (ItemType::FormData, "form_data"),
    (ItemType::RawSecurity, "security"),
    (ItemType::Statsd, "statsd"),
    (ItemType::MetricBuckets, "metric_buckets"),
    (ItemType::Nel, "nel"),
];

impl ItemType {
    /// The wire name (for [`ItemType::Unknown`], the name as received).
    pub fn as_str(&self) -> &str {
        match self {
            ItemType::Unknown(name) => name,
            known => known.label(),
        }
    }

    /// The wire name for known types and `"unknown"` otherwise: a bounded set,
    /// safe as a metric label or in a log line.
    pub fn label(&self) -> &'static str {
        KNOWN
            .iter()
            .find(|(ty, _)| ty == self)
            .map_or("unknown", |(_, name)| name)
    }

    /// Parses a wire name (exact, case-sensitive match, as Sentry does).
    pub fn parse(s: &str) -> ItemType {
        KNOWN
            .iter()
            .find(|(_, name)| *name == s)
            .map_or_else(|| ItemType::Unknown(s.to_owned()), |(ty, _)| ty.clone())
    }

    /// Whether [`Limits::max_event_bytes`](crate::Limits) applies to this type.
    pub fn is_event_like(&self) -> bool {
        matches!(
            self,
            ItemType::Event | ItemType::Transaction | ItemType::Span
        )
    }
}

impl std::fmt::Display for ItemType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_known_name_round_trips() {
        for (ty, name) in &KNOWN {
            assert_eq!(&ItemType::parse(name), ty);
            assert_eq!(ty.as_str(), *name);
        }
        assert_eq!(
            ItemType::parse("Event"),
            ItemType::Unknown("Event".to_owned())
        );
        assert_eq!(ItemType::Unknown("x".into()).label(), "unknown");
    }
}
