//! The scrubbing proxy: ingest, gate, scrub, queue and send.
