//! Arbitrary bytes into `decompress` for every encoding: never panics and
//! never returns more than the cap. The first two bytes choose the cap.
#![no_main]

use envelope::decode::{decompress, ContentEncoding};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (max_out, body) = match data {
        [a, b, rest @ ..] => (usize::from(u16::from_le_bytes([*a, *b])), rest),
        _ => (0, data),
    };
    for encoding in [
        ContentEncoding::Identity,
        ContentEncoding::Gzip,
        ContentEncoding::Deflate,
        ContentEncoding::Br,
        ContentEncoding::Zstd,
    ] {
        if let Ok(out) = decompress(encoding, body, max_out) {
            assert!(
                out.len() <= max_out,
                "{encoding}: {} > {max_out}",
                out.len()
            );
        }
    }
});
