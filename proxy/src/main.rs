//! `sentry-scrub-proxy`: the binary.
fn main() {}
