//! Sentry envelope codec: bytes in, typed envelope with item payloads as slices, bytes out.
