//! HTTP content encodings: capped, streamed decompression, and compression.
//!
//! A request body is decompressed through a reader in chunks, and the output
//! buffer never grows past the cap, so a small decompression bomb costs at most
//! about `max_out` bytes of memory, never an out-of-memory.

use std::io::{Read, Write};

use bytes::Bytes;

/// An HTTP `Content-Encoding` this crate can decode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ContentEncoding {
    /// No encoding.
    Identity,
    /// `gzip` (RFC 1952).
    Gzip,
    /// `deflate`: zlib (RFC 1950) as HTTP means it, or raw deflate as some clients send it.
    Deflate,
    /// `br`: Brotli (RFC 7932).
    Br,
    /// `zstd` (RFC 8878).
    Zstd,
}

impl ContentEncoding {
    /// From the `Content-Encoding` header value (`None` is identity).
    /// Case-insensitive, trims whitespace. `identity`, `""` and `utf-8` (which
    /// some SDKs send) are identity; `gzip`/`x-gzip`, `deflate`, `br` and
    /// `zstd` are supported; anything else, including lists such as `gzip, br`,
    /// is [`DecodeError::UnsupportedEncoding`].
    pub fn from_header(value: Option<&str>) -> Result<ContentEncoding, DecodeError> {
        let value = value.unwrap_or("").trim();
        let is = |name: &str| value.eq_ignore_ascii_case(name);
        if value.is_empty() || is("identity") || is("utf-8") {
            Ok(ContentEncoding::Identity)
        } else if is("gzip") || is("x-gzip") {
            Ok(ContentEncoding::Gzip)
        } else if is("deflate") {
            Ok(ContentEncoding::Deflate)
        } else if is("br") {
            Ok(ContentEncoding::Br)
        } else if is("zstd") {
            Ok(ContentEncoding::Zstd)
        } else {
            Err(DecodeError::UnsupportedEncoding)
        }
    }

    /// The canonical header value.
    pub fn as_str(&self) -> &'static str {
        match self {
            ContentEncoding::Identity => "identity",
            ContentEncoding::Gzip => "gzip",
            ContentEncoding::Deflate => "deflate",
            ContentEncoding::Br => "br",
            ContentEncoding::Zstd => "zstd",
        }
    }
}

impl std::fmt::Display for ContentEncoding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a body could not be decoded (or encoded).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The `Content-Encoding` is not supported (its value is not echoed).
    #[error("unsupported content encoding")]
    UnsupportedEncoding,
    /// The decoded body would exceed the cap.
    #[error("decoded body exceeds {limit} bytes")]
    TooLarge {
        /// The cap, in bytes.
        limit: usize,
    },
    /// The body is not valid data for its encoding.
    #[error("corrupt {encoding} body")]
    Corrupt {
        /// The encoding that failed.
        encoding: ContentEncoding,
    },
    /// Compressing failed (not expected for in-memory buffers).
    #[error("could not compress as {encoding}")]
    Compress {
        /// The encoding that failed.
        encoding: ContentEncoding,
    },
}

impl DecodeError {
    /// A stable snake_case label for metrics and logs.
    pub fn reason(&self) -> &'static str {
        match self {
            DecodeError::UnsupportedEncoding => "unsupported_encoding",
            DecodeError::TooLarge { .. } => "decoded_too_large",
            DecodeError::Corrupt { .. } => "corrupt_body",
            DecodeError::Compress { .. } => "compress_failed",
        }
    }
}

/// Decompresses `body`, failing with [`DecodeError::TooLarge`] as soon as the
/// output would exceed `max_out` bytes (identity bodies too).
///
/// Output is read in chunks from a streaming decoder limited with
/// `Read::take(max_out + 1)`, into a buffer whose capacity never exceeds
/// `max_out + 1`. Decoder state is bounded too: zstd windows are limited to
/// about `max_out`, Brotli's to 16 MiB. For `deflate`, a valid zlib header
/// (RFC 1950 check bits) selects zlib, otherwise raw deflate; a zlib attempt
/// that fails is retried as raw deflate.
pub fn decompress(
    encoding: ContentEncoding,
    body: &[u8],
    max_out: usize,
) -> Result<Bytes, DecodeError> {
    let too_large = DecodeError::TooLarge { limit: max_out };
    match encoding {
        ContentEncoding::Identity if body.len() > max_out => Err(too_large),
        ContentEncoding::Identity => Ok(Bytes::copy_from_slice(body)),
        ContentEncoding::Gzip => read_capped(
            flate2::read::MultiGzDecoder::new(body),
            encoding,
            max_out,
            body.len(),
        ),
        ContentEncoding::Deflate => {
            if looks_like_zlib(body) {
                match read_capped(
                    flate2::read::ZlibDecoder::new(body),
                    encoding,
                    max_out,
                    body.len(),
                ) {
                    Err(DecodeError::Corrupt { .. }) => {}
                    done => return done,
                }
            }
            read_capped(
                flate2::read::DeflateDecoder::new(body),
                encoding,
                max_out,
                body.len(),
            )
        }
        ContentEncoding::Br => read_capped(
            brotli::Decompressor::new(body, 4096),
            encoding,
            max_out,
            body.len(),
        ),
        ContentEncoding::Zstd => {
            let mut decoder = zstd::stream::read::Decoder::new(body)
                .map_err(|_| DecodeError::Corrupt { encoding })?;
            // Window of at most 2^ceil(log2(max_out)), within zstd's bounds (10..=31).
            let window_log = max_out
                .max(1)
                .next_power_of_two()
                .trailing_zeros()
                .clamp(10, 31);
            decoder
                .window_log_max(window_log)
                .map_err(|_| DecodeError::Corrupt { encoding })?;
            read_capped(decoder, encoding, max_out, body.len())
        }
    }
}

/// RFC 1950: CM = 8 (deflate), CINFO <= 7, no preset dictionary, and the
/// 16-bit header a multiple of 31.
fn looks_like_zlib(body: &[u8]) -> bool {
    match body {
        [cmf, flg, ..] => {
            cmf & 0x0f == 8
                && cmf >> 4 <= 7
                && flg & 0x20 == 0
                && (u16::from(*cmf) << 8 | u16::from(*flg)) % 31 == 0
        }
        _ => false,
    }
}

fn read_capped<R: Read>(
    reader: R,
    encoding: ContentEncoding,
    max_out: usize,
    size_hint: usize,
) -> Result<Bytes, DecodeError> {
    const CHUNK: usize = 64 * 1024;
    thread_local! {
        // One zeroed read buffer per thread, reused: allocating and zeroing 64 KiB per body
        // showed up in profiles.
        static SCRATCH: std::cell::RefCell<Vec<u8>> = std::cell::RefCell::new(vec![0u8; CHUNK]);
    }
    let cap = max_out.saturating_add(1);
    let mut reader = reader.take(u64::try_from(cap).unwrap_or(u64::MAX));
    // SDK bodies compress about 5:1; start there so most bodies need no regrowth.
    let mut out: Vec<u8> =
        Vec::with_capacity(size_hint.saturating_mul(6).clamp(1024, CHUNK).min(cap));
    SCRATCH.with(|scratch| {
        let mut scratch = scratch.borrow_mut();
        let chunk = &mut scratch[..CHUNK.min(cap)];
        loop {
            let n = match reader.read(chunk) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(read_error(&e, encoding, max_out)),
            };
            if out.len() + n > max_out {
                return Err(DecodeError::TooLarge { limit: max_out });
            }
            if out.capacity() - out.len() < n {
                // Double as Vec would, but never past the cap.
                let target = (out.capacity() * 2).max(out.len() + n).min(cap);
                out.reserve_exact(target - out.len());
            }
            out.extend_from_slice(&chunk[..n]);
        }
        Ok(())
    })?;
    Ok(Bytes::from(out))
}

/// zstd refuses frames whose window exceeds `window_log_max` with this
/// message (its only way to report it); that is a size problem, not corruption.
fn read_error(err: &std::io::Error, encoding: ContentEncoding, max_out: usize) -> DecodeError {
    if encoding == ContentEncoding::Zstd && err.to_string().contains("too much memory") {
        DecodeError::TooLarge { limit: max_out }
    } else {
        DecodeError::Corrupt { encoding }
    }
}

/// Compresses `body`: gzip and deflate (zlib) at `level` 0..=9 via flate2,
/// Brotli at quality 0..=11, zstd at level 1..=22; levels are clamped.
/// Identity returns a copy.
pub fn compress(
    encoding: ContentEncoding,
    body: &[u8],
    level: u32,
) -> Result<Vec<u8>, DecodeError> {
    let failed = |_| DecodeError::Compress { encoding };
    let flate_level = flate2::Compression::new(level.min(9));
    match encoding {
        ContentEncoding::Identity => Ok(body.to_vec()),
        ContentEncoding::Gzip => {
            let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate_level);
            encoder.write_all(body).map_err(failed)?;
            encoder.finish().map_err(failed)
        }
        ContentEncoding::Deflate => {
            let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate_level);
            encoder.write_all(body).map_err(failed)?;
            encoder.finish().map_err(failed)
        }
        ContentEncoding::Br => {
            let mut encoder = brotli::CompressorWriter::new(Vec::new(), 4096, level.min(11), 22);
            encoder.write_all(body).map_err(failed)?;
            // `into_inner` finishes the stream.
            Ok(encoder.into_inner())
        }
        ContentEncoding::Zstd => {
            let level = i32::try_from(level.clamp(1, 22)).unwrap_or(3);
            zstd::bulk::compress(body, level).map_err(failed)
        }
    }
}
