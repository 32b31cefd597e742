//! `sentry-scrub-proxy scrub FILE`: one raw request body in, the scrubbed envelope on stdout
//! and the removal report (JSON, counts only) on stderr. The SecOps reviewer's way to see
//! exactly what would leave, with the server's own code path.

use std::io::{Read, Write};
use std::sync::Arc;

use bytes::Bytes;
use envelope::decode::{self, ContentEncoding};
use envelope::Envelope;

use crate::config::cli::ScrubArgs;
use crate::config::{consent_config, parse_size, policy};
use crate::consent_view::{load_file, ConsentView};
use crate::ingest::{self, Reject};
use crate::pipeline::gate;

/// Exit code for bad flags (EX_USAGE).
pub const EXIT_USAGE: u8 = 64;
/// Exit code for a body that cannot be read, decoded or parsed (EX_DATAERR).
pub const EXIT_DATA: u8 = 65;
/// Exit code for an unreadable input file (EX_NOINPUT).
pub const EXIT_NOINPUT: u8 = 66;

/// Runs the subcommand; returns the exit code. Errors are written to `stderr` and never
/// quote the input.
pub fn run(
    args: &ScrubArgs,
    stdin: &mut dyn Read,
    stdout: &mut dyn Write,
    stderr: &mut dyn Write,
) -> u8 {
    let mut errs = Vec::new();
    let max_envelope = parse_size(&args.max_envelope_size);
    let max_event = parse_size(&args.max_event_size);
    if max_envelope.is_none() {
        errs.push("--max-envelope-size: expected a positive size such as 100MiB".to_owned());
    }
    if max_event.is_none() {
        errs.push("--max-event-size: expected a positive size such as 1MiB".to_owned());
    }
    let encoding = match ContentEncoding::from_header(Some(&args.content_encoding)) {
        Ok(e) => Some(e),
        Err(_) => {
            errs.push(
                "--content-encoding: expected gzip, deflate, br, zstd or identity".to_owned(),
            );
            None
        }
    };
    let policy = policy(&args.policy, &mut errs);
    let consent = consent_config(&args.consent, true, &mut errs);
    if consent.url.is_some() {
        errs.push(
            "--consent-url: the scrub subcommand reads consent from --consent-file only".into(),
        );
    }
    let view = match &consent.file {
        Some(path) => match load_file(path) {
            Ok(doc) => Some(ConsentView::Document(Arc::new(doc))),
            Err(e) => {
                errs.push(format!("--consent-file {e}"));
                None
            }
        },
        None => Some(ConsentView::Assumed),
    };
    let (Some(max_envelope), Some(max_event), Some(encoding), Some(policy), Some(view), true) = (
        max_envelope,
        max_event,
        encoding,
        policy,
        view,
        errs.is_empty(),
    ) else {
        for e in errs {
            let _ = writeln!(stderr, "error: {e}");
        }
        return EXIT_USAGE;
    };

    let mut raw = Vec::new();
    let read = if args.file.as_os_str() == "-" {
        stdin.take(max_envelope as u64 + 1).read_to_end(&mut raw)
    } else {
        std::fs::File::open(&args.file)
            .and_then(|f| f.take(max_envelope as u64 + 1).read_to_end(&mut raw))
    };
    if let Err(e) = read {
        let _ = writeln!(
            stderr,
            "error: cannot read {}: {}",
            args.file.display(),
            e.kind()
        );
        return EXIT_NOINPUT;
    }
    let limits = envelope::Limits {
        max_envelope_bytes: max_envelope,
        max_event_bytes: max_event,
        ..envelope::Limits::default()
    };
    let parsed = decode_and_parse(raw, encoding, args.store, &limits);
    let envelope = match parsed {
        Ok(e) => e,
        Err(reject) => {
            let _ = writeln!(stderr, "error: {} ({})", reject.detail(), reject.reason());
            return EXIT_DATA;
        }
    };
    let out = scrub::scrub_envelope(
        &envelope,
        &policy,
        scrub::Upstream::default(),
        |_, attribution| {
            gate::decide(
                &view,
                attribution.and_then(|a| a.company),
                consent.unattributed,
            )
        },
    );
    let bytes = out.envelope.to_bytes();
    if stdout
        .write_all(&bytes)
        .and_then(|()| stdout.flush())
        .is_err()
    {
        // A closed pipe (`| head`) is the reader's choice, not an error worth a message.
        return 0;
    }
    let _ = writeln!(stderr, "{}", out.report.to_json());
    0
}

fn decode_and_parse(
    raw: Vec<u8>,
    encoding: ContentEncoding,
    store: bool,
    limits: &envelope::Limits,
) -> Result<Envelope, Reject> {
    if raw.len() > limits.max_envelope_bytes {
        return Err(Reject::EnvelopeTooLarge);
    }
    let body = match encoding {
        ContentEncoding::Identity => Bytes::from(raw),
        enc => decode::decompress(enc, &raw, limits.max_envelope_bytes)?,
    };
    if store {
        ingest::store_to_envelope(body, limits)
    } else {
        Ok(Envelope::parse_with(body, limits)?)
    }
}
