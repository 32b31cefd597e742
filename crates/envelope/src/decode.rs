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
            BrotliReader {
                input: body,
                decoder: brotlic::BrotliDecoder::new(),
            },
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

/// Brotli through Google's reference decoder: on SDK bodies it decodes in half the time of
/// the Rust port (12 µs against 25 µs for the average 8 KB envelope), and Brotli was the
/// largest single cost in the proxy's profile. Its window is at most 16 MiB (large windows
/// are off by default).
struct BrotliReader<'a> {
    input: &'a [u8],
    decoder: brotlic::BrotliDecoder,
}

impl Read for BrotliReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        use brotlic::decode::DecoderInfo;
        use std::io::ErrorKind;
        if buf.is_empty() {
            return Ok(0);
        }
        let done = self
            .decoder
            .decompress(self.input, buf)
            .map_err(|_| std::io::Error::from(ErrorKind::InvalidData))?;
        self.input = self.input.get(done.bytes_read..).unwrap_or_default();
        match done.info {
            _ if done.bytes_written > 0 => Ok(done.bytes_written),
            DecoderInfo::Finished => Ok(0),
            // All the input was given: the stream is truncated.
            DecoderInfo::NeedsMoreInput => Err(ErrorKind::UnexpectedEof.into()),
            // Not expected with room in `buf`; refused rather than looped on.
            DecoderInfo::NeedsMoreOutput => Err(ErrorKind::InvalidData.into()),
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
///
/// gzip, deflate and zstd reuse one compressor per thread and level: building a fresh
/// deflate or zstd context (hundreds of KiB of tables, allocated and cleared) cost more
/// than compressing a typical 5 KB scrubbed envelope.
pub fn compress(
    encoding: ContentEncoding,
    body: &[u8],
    level: u32,
) -> Result<Vec<u8>, DecodeError> {
    let failed = DecodeError::Compress { encoding };
    match encoding {
        ContentEncoding::Identity => Ok(body.to_vec()),
        ContentEncoding::Gzip => {
            let mut out = Vec::with_capacity(body.len() / 2 + 64);
            out.extend_from_slice(&GZIP_HEADER);
            deflate_into(body, level, false, &mut out).map_err(|_| failed.clone())?;
            let mut crc = flate2::Crc::new();
            crc.update(body);
            out.extend_from_slice(&crc.sum().to_le_bytes());
            // ISIZE: the input length modulo 2^32 (RFC 1952).
            out.extend_from_slice(&(body.len() as u32).to_le_bytes());
            Ok(out)
        }
        ContentEncoding::Deflate => {
            let mut out = Vec::with_capacity(body.len() / 2 + 64);
            deflate_into(body, level, true, &mut out).map_err(|_| failed.clone())?;
            Ok(out)
        }
        ContentEncoding::Br => {
            let quality = brotlic::Quality::new(level.min(11) as u8).map_err(|_| failed.clone())?;
            let window = brotlic::WindowSize::new(22).map_err(|_| failed.clone())?;
            let encoder = brotlic::BrotliEncoderOptions::new()
                .quality(quality)
                .window_size(window)
                .size_hint(u32::try_from(body.len()).unwrap_or(u32::MAX))
                .build()
                .map_err(|_| failed.clone())?;
            let mut writer = brotlic::CompressorWriter::with_encoder(encoder, Vec::new());
            writer.write_all(body).map_err(|_| failed.clone())?;
            // `into_inner` finishes the stream.
            writer.into_inner().map_err(|_| failed.clone())
        }
        ContentEncoding::Zstd => {
            let level = i32::try_from(level.clamp(1, 22)).unwrap_or(3);
            thread_local! {
                static ZSTD: std::cell::RefCell<Option<(i32, zstd::bulk::Compressor<'static>)>> =
                    const { std::cell::RefCell::new(None) };
            }
            ZSTD.with(|cell| {
                let mut cell = cell.borrow_mut();
                if cell.as_ref().is_none_or(|(l, _)| *l != level) {
                    *cell = Some((
                        level,
                        zstd::bulk::Compressor::new(level).map_err(|_| failed.clone())?,
                    ));
                }
                match cell.as_mut() {
                    Some((_, compressor)) => compressor.compress(body).map_err(|_| failed.clone()),
                    None => Err(failed.clone()),
                }
            })
        }
    }
}

/// The fixed gzip member header: deflate, no flags, no time, unknown OS (RFC 1952).
const GZIP_HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255];

/// Deflates all of `body` into `out` (after what it holds) with this thread's compressor
/// for `level` and `zlib` framing, reset before use.
fn deflate_into(body: &[u8], level: u32, zlib: bool, out: &mut Vec<u8>) -> Result<(), ()> {
    thread_local! {
        static DEFLATE: std::cell::RefCell<Vec<(u32, bool, flate2::Compress)>> =
            const { std::cell::RefCell::new(Vec::new()) };
    }
    let level = level.min(9);
    let matches = |(l, z, _): &(u32, bool, flate2::Compress)| *l == level && *z == zlib;
    DEFLATE.with(|cell| {
        let mut all = cell.borrow_mut();
        if !all.iter().any(matches) {
            let fresh = flate2::Compress::new(flate2::Compression::new(level), zlib);
            all.push((level, zlib, fresh));
        }
        let (_, _, compressor) = all.iter_mut().find(|c| matches(c)).ok_or(())?;
        compressor.reset();
        loop {
            let read = usize::try_from(compressor.total_in()).map_err(|_| ())?;
            let rest = body.get(read..).ok_or(())?;
            if out.capacity() - out.len() < 64 {
                out.reserve(out.capacity().max(1024));
            }
            match compressor.compress_vec(rest, out, flate2::FlushCompress::Finish) {
                Ok(flate2::Status::StreamEnd) => return Ok(()),
                Ok(_) => {}
                Err(_) => return Err(()),
            }
        }
    })
}
