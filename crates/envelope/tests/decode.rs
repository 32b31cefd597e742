//! Content-encoding round trips, caps and errors.

use std::io::Write;

use envelope::decode::{compress, decompress, ContentEncoding, DecodeError};

const ALL: [ContentEncoding; 5] = [
    ContentEncoding::Identity,
    ContentEncoding::Gzip,
    ContentEncoding::Deflate,
    ContentEncoding::Br,
    ContentEncoding::Zstd,
];

const MIB: usize = 1024 * 1024;

/// A realistic, compressible body: a small envelope repeated.
fn body() -> Vec<u8> {
    let line = b"{\"event_id\":\"9ec79c33ec9942ab8353589fcb2e04dc\",\"sent_at\":\"2024-05-01T10:00:00.000000Z\"}\n\
                 {\"type\":\"event\",\"length\":28}\n{\"level\":\"error\",\"x\":[1,2]}\n";
    line.repeat(200)
}

#[test]
fn header_values() {
    let cases: &[(Option<&str>, Result<ContentEncoding, DecodeError>)] = &[
        (None, Ok(ContentEncoding::Identity)),
        (Some(""), Ok(ContentEncoding::Identity)),
        (Some("  "), Ok(ContentEncoding::Identity)),
        (Some("identity"), Ok(ContentEncoding::Identity)),
        (Some("UTF-8"), Ok(ContentEncoding::Identity)),
        (Some("utf-8"), Ok(ContentEncoding::Identity)),
        (Some("gzip"), Ok(ContentEncoding::Gzip)),
        (Some(" GZip "), Ok(ContentEncoding::Gzip)),
        (Some("x-gzip"), Ok(ContentEncoding::Gzip)),
        (Some("deflate"), Ok(ContentEncoding::Deflate)),
        (Some("br"), Ok(ContentEncoding::Br)),
        (Some("ZSTD"), Ok(ContentEncoding::Zstd)),
        (Some("compress"), Err(DecodeError::UnsupportedEncoding)),
        (Some("gzip, br"), Err(DecodeError::UnsupportedEncoding)),
        (
            Some("secret@example.com"),
            Err(DecodeError::UnsupportedEncoding),
        ),
    ];
    for (value, expected) in cases {
        assert_eq!(&ContentEncoding::from_header(*value), expected, "{value:?}");
    }
    assert_eq!(
        DecodeError::UnsupportedEncoding.to_string(),
        "unsupported content encoding"
    );
    for encoding in ALL {
        assert_eq!(
            ContentEncoding::from_header(Some(encoding.as_str())),
            Ok(encoding)
        );
    }
}

#[test]
fn every_encoding_round_trips() {
    let body = body();
    // gzip 9 and br 4 are sentry-python's settings.
    for (encoding, level) in [
        (ContentEncoding::Identity, 0),
        (ContentEncoding::Gzip, 9),
        (ContentEncoding::Deflate, 6),
        (ContentEncoding::Br, 4),
        (ContentEncoding::Zstd, 3),
    ] {
        let compressed = compress(encoding, &body, level).expect("compress");
        if encoding != ContentEncoding::Identity {
            assert!(compressed.len() < body.len() / 10, "{encoding}");
        }
        let out = decompress(encoding, &compressed, body.len()).expect("decompress");
        assert_eq!(out, body, "{encoding}");
        // One byte less than needed is too large.
        assert_eq!(
            decompress(encoding, &compressed, body.len() - 1),
            Err(DecodeError::TooLarge {
                limit: body.len() - 1
            }),
            "{encoding}"
        );
    }
}

#[test]
fn empty_bodies_round_trip() {
    for encoding in ALL {
        let compressed = compress(encoding, b"", 6).expect("compress");
        assert_eq!(
            decompress(encoding, &compressed, 0).expect("decompress"),
            "",
            "{encoding}"
        );
    }
}

#[test]
fn deflate_accepts_zlib_and_raw() {
    let body = body();
    let mut raw = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    raw.write_all(&body).expect("write");
    let raw = raw.finish().expect("finish");
    let zlib = compress(ContentEncoding::Deflate, &body, 6).expect("compress");
    assert_eq!(zlib[0], 0x78, "zlib header");
    assert_ne!(raw[..2], zlib[..2]);
    for data in [&raw, &zlib] {
        assert_eq!(
            decompress(ContentEncoding::Deflate, data, MIB).expect("decompress"),
            body
        );
    }
}

#[test]
fn gzip_bomb_is_too_large_without_allocating_it() {
    // 200 MiB of zeros, streamed into the encoder 1 MiB at a time.
    let zeros = vec![0u8; MIB];
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    for _ in 0..200 {
        encoder.write_all(&zeros).expect("write");
    }
    let bomb = encoder.finish().expect("finish");
    assert!(bomb.len() < MIB, "bomb is {} bytes", bomb.len());
    assert_eq!(
        decompress(ContentEncoding::Gzip, &bomb, MIB),
        Err(DecodeError::TooLarge { limit: MIB })
    );
}

#[test]
fn bombs_in_every_encoding_are_too_large() {
    let zeros = vec![0u8; 8 * MIB];
    for encoding in [
        ContentEncoding::Gzip,
        ContentEncoding::Deflate,
        ContentEncoding::Br,
        ContentEncoding::Zstd,
    ] {
        let bomb = compress(encoding, &zeros, 1).expect("compress");
        assert_eq!(
            decompress(encoding, &bomb, MIB),
            Err(DecodeError::TooLarge { limit: MIB }),
            "{encoding}"
        );
    }
    assert_eq!(
        decompress(ContentEncoding::Identity, &zeros, MIB),
        Err(DecodeError::TooLarge { limit: MIB })
    );
}

#[test]
fn concatenated_gzip_members_are_one_body() {
    let mut data = compress(ContentEncoding::Gzip, b"hello ", 9).expect("compress");
    data.extend(compress(ContentEncoding::Gzip, b"world", 9).expect("compress"));
    assert_eq!(
        decompress(ContentEncoding::Gzip, &data, 100).expect("decompress"),
        "hello world"
    );
}

#[test]
fn corrupt_data_is_corrupt() {
    let garbage = b"this is not compressed at all, not even a little";
    for encoding in [
        ContentEncoding::Gzip,
        ContentEncoding::Deflate,
        ContentEncoding::Br,
        ContentEncoding::Zstd,
    ] {
        assert_eq!(
            decompress(encoding, garbage, MIB),
            Err(DecodeError::Corrupt { encoding }),
            "{encoding}"
        );
    }
}

#[test]
fn truncated_data_is_corrupt() {
    let body = body();
    for encoding in [
        ContentEncoding::Gzip,
        ContentEncoding::Deflate,
        ContentEncoding::Br,
        ContentEncoding::Zstd,
    ] {
        let compressed = compress(encoding, &body, 6).expect("compress");
        let truncated = &compressed[..compressed.len() / 2];
        assert_eq!(
            decompress(encoding, truncated, MIB),
            Err(DecodeError::Corrupt { encoding }),
            "{encoding}"
        );
    }
}

#[test]
fn reasons_are_stable() {
    assert_eq!(
        DecodeError::UnsupportedEncoding.reason(),
        "unsupported_encoding"
    );
    assert_eq!(
        DecodeError::TooLarge { limit: 1 }.reason(),
        "decoded_too_large"
    );
    assert_eq!(
        DecodeError::Corrupt {
            encoding: ContentEncoding::Br
        }
        .to_string(),
        "corrupt br body"
    );
}

#[test]
fn zstd_window_larger_than_the_cap_is_too_large() {
    // A streamed frame (no content size) declaring a 4 MiB window: decoding it
    // needs that much memory whatever the output, so a 1 MiB cap refuses it up front.
    let mut encoder = zstd::stream::write::Encoder::new(Vec::new(), 3).expect("encoder");
    encoder.window_log(22).expect("window");
    encoder.include_contentsize(false).expect("contentsize");
    encoder.write_all(&body()).expect("write");
    let frame = encoder.finish().expect("finish");
    assert_eq!(
        decompress(ContentEncoding::Zstd, &frame, MIB),
        Err(DecodeError::TooLarge { limit: MIB })
    );
    assert_eq!(
        decompress(ContentEncoding::Zstd, &frame, 4 * MIB).expect("decompress"),
        body()
    );
}

/// Compressors are reused per thread and level: interleaved levels, sizes and encodings
/// must each give a complete, independent stream (nothing left over from the previous
/// body), which a strict single-stream decoder accepts with its checksums.
#[test]
fn reused_compressors_give_independent_streams() {
    use std::io::Read;
    let bodies: Vec<Vec<u8>> = vec![
        body(),
        b"x".to_vec(),
        Vec::new(),
        (0..200_000u32).flat_map(|i| i.to_le_bytes()).collect(),
        body()[..777].to_vec(),
    ];
    for round in 0..3 {
        for (i, body) in bodies.iter().enumerate() {
            for encoding in [
                ContentEncoding::Gzip,
                ContentEncoding::Deflate,
                ContentEncoding::Zstd,
                ContentEncoding::Br,
            ] {
                let level = [1, 3, 9][(i + round) % 3];
                let compressed = compress(encoding, body, level).expect("compress");
                let plain = match encoding {
                    // One gzip member, CRC-32 and ISIZE checked by flate2.
                    ContentEncoding::Gzip => {
                        let mut out = Vec::new();
                        let mut reader = flate2::read::GzDecoder::new(&compressed[..]);
                        reader.read_to_end(&mut out).expect("gzip member");
                        assert!(reader.into_inner().is_empty(), "one member, no trailer");
                        out
                    }
                    // zlib framing with its Adler-32.
                    ContentEncoding::Deflate => {
                        let mut out = Vec::new();
                        flate2::read::ZlibDecoder::new(&compressed[..])
                            .read_to_end(&mut out)
                            .expect("zlib stream");
                        out
                    }
                    ContentEncoding::Zstd => {
                        zstd::stream::decode_all(&compressed[..]).expect("zstd frame")
                    }
                    _ => decompress(encoding, &compressed, body.len())
                        .expect("decompress")
                        .to_vec(),
                };
                assert!(plain == *body, "{encoding} level {level} body {i}");
            }
        }
    }
}
