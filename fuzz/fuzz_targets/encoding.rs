//! Gzip bodies: `ingest::encoding::gunzip` on any bytes, against a 4 KiB limit. Properties:
//! - it never panics, and never returns more than the limit;
//! - what it returns is what the compressed stream holds: the input, compressed by `flate2`
//!   and decompressed again, is the input when it fits the limit, and refused when it does not.
#![no_main]

use ingest::encoding::gunzip;
use libfuzzer_sys::fuzz_target;
use std::io::Write;

const LIMIT: usize = 4096;

fuzz_target!(|data: &[u8]| {
    if let Ok(out) = gunzip(data, LIMIT) {
        assert!(out.len() <= LIMIT, "{} bytes past the limit", out.len());
    }
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(data).expect("gzip");
    let compressed = encoder.finish().expect("gzip");
    match gunzip(&compressed, LIMIT) {
        Ok(out) => assert_eq!(&out[..], data, "the round trip changed the body"),
        Err(e) => assert!(data.len() > LIMIT, "refused a {}-byte body: {e:?}", data.len()),
    }
});
