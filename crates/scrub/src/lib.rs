//! Default-deny scrubbing policy for Sentry envelopes: only technical data leaves.
