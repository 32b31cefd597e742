//! Decoding a body per its `Content-Encoding`, as the upstream ingest would.

use std::io::Read;

/// Decoded bodies larger than this are refused: the upstream is a test double, and a
/// decompression bomb reaching it is a bug to report, not to buffer.
const MAX_DECODED: u64 = 64 * 1024 * 1024;

/// Decodes `raw` per a `Content-Encoding` value: `gzip` (`x-gzip`), `deflate` (zlib, or raw
/// deflate as some clients send), `br`, `zstd`, `identity`, or a comma-separated list of
/// them (applied in order, so undone in reverse). Missing or empty means identity.
pub fn decode(content_encoding: Option<&str>, raw: &[u8]) -> Result<Vec<u8>, String> {
    let codings: Vec<String> = content_encoding
        .unwrap_or("")
        .split(',')
        .map(|c| c.trim().to_ascii_lowercase())
        .filter(|c| !c.is_empty())
        .collect();
    let mut body = raw.to_vec();
    for coding in codings.iter().rev() {
        body = decode_one(coding, &body)?;
    }
    Ok(body)
}

fn decode_one(coding: &str, input: &[u8]) -> Result<Vec<u8>, String> {
    match coding {
        "identity" => Ok(input.to_vec()),
        "gzip" | "x-gzip" => read_capped(flate2::read::MultiGzDecoder::new(input), coding),
        "deflate" => read_capped(flate2::read::ZlibDecoder::new(input), coding)
            .or_else(|_| read_capped(flate2::read::DeflateDecoder::new(input), coding)),
        "br" => read_capped(brotli::Decompressor::new(input, 4096), coding),
        "zstd" => {
            let decoder =
                zstd::stream::read::Decoder::new(input).map_err(|e| format!("zstd: {e}"))?;
            read_capped(decoder, coding)
        }
        other => Err(format!("unsupported content-encoding {other:?}")),
    }
}

fn read_capped(reader: impl Read, coding: &str) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    reader
        .take(MAX_DECODED + 1)
        .read_to_end(&mut out)
        .map_err(|e| format!("{coding}: {e}"))?;
    if out.len() as u64 > MAX_DECODED {
        return Err(format!(
            "{coding}: decoded body exceeds {MAX_DECODED} bytes"
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    const TEXT: &[u8] = b"{\"event_id\":\"0123\"}\n{\"type\":\"event\"}\n{}\n";

    fn gzip(input: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(input).expect("gzip");
        e.finish().expect("gzip")
    }

    #[test]
    fn every_supported_coding_round_trips() {
        let mut zlib = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        zlib.write_all(TEXT).expect("zlib");
        let mut raw =
            flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
        raw.write_all(TEXT).expect("deflate");
        let mut br = Vec::new();
        brotli::BrotliCompress(&mut &TEXT[..], &mut br, &Default::default()).expect("br");
        let cases: Vec<(Option<&str>, Vec<u8>)> = vec![
            (None, TEXT.to_vec()),
            (Some("identity"), TEXT.to_vec()),
            (Some("gzip"), gzip(TEXT)),
            (Some("X-Gzip"), gzip(TEXT)),
            (Some("deflate"), zlib.finish().expect("zlib")),
            (Some("deflate"), raw.finish().expect("deflate")),
            (Some("br"), br),
            (Some("zstd"), zstd::encode_all(TEXT, 3).expect("zstd")),
            (Some("gzip, identity"), gzip(TEXT)),
        ];
        for (coding, encoded) in cases {
            assert_eq!(decode(coding, &encoded).as_deref(), Ok(TEXT), "{coding:?}");
        }
    }

    #[test]
    fn stacked_codings_are_undone_in_reverse() {
        let encoded = zstd::encode_all(&gzip(TEXT)[..], 3).expect("zstd");
        assert_eq!(decode(Some("gzip, zstd"), &encoded).as_deref(), Ok(TEXT));
    }

    #[test]
    fn unknown_or_corrupt_input_is_an_error() {
        assert!(decode(Some("compress"), TEXT).is_err());
        assert!(decode(Some("gzip"), TEXT).is_err());
        assert!(decode(Some("zstd"), TEXT).is_err());
    }
}
