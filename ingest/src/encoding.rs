//! How a signed body is read: its content encoding (the signature covers the bytes as sent,
//! so a body is verified first and decompressed after; decompression stops at the body limit,
//! so a small bomb never becomes a large allocation), then strict JSON.

use crate::error::ApiError;
use actix_web::http::header::{HeaderMap, CONTENT_ENCODING};
use actix_web::web;
use shared::json::StrictError;

/// How the body is encoded on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Identity,
    Gzip,
}

impl Encoding {
    /// `Content-Encoding`: none (or `identity`) and `gzip` are understood; anything else
    /// (another coding, or several stacked) is refused with 415 `unsupported_encoding` naming
    /// it, before the body is read.
    pub fn of(headers: &HeaderMap) -> Result<Encoding, ApiError> {
        let Some(value) = headers.get(CONTENT_ENCODING) else {
            return Ok(Encoding::Identity);
        };
        let value = value.to_str().unwrap_or("(not text)").trim();
        match value.to_ascii_lowercase().as_str() {
            "" | "identity" => Ok(Encoding::Identity),
            "gzip" | "x-gzip" => Ok(Encoding::Gzip),
            _ => {
                let shown: String = value.chars().take(40).collect();
                Err(ApiError::unsupported_encoding(format!(
                    "Content-Encoding {shown:?} is not supported; send the body as is or with gzip"
                )))
            }
        }
    }
}

/// Decompresses a gzip body (every member), refusing it once it grows past `limit` (413),
/// so a small bomb never becomes a large allocation; a corrupt stream is 400
/// `malformed_encoding`.
pub fn gunzip(body: &[u8], limit: usize) -> Result<web::Bytes, ApiError> {
    use std::io::Read;
    let mut out = Vec::with_capacity(body.len().saturating_mul(4).min(limit));
    let read = flate2::read::MultiGzDecoder::new(body)
        .take(limit as u64 + 1)
        .read_to_end(&mut out);
    match read {
        Ok(_) if out.len() > limit => Err(ApiError::body_too_large(format!(
            "the body exceeds {limit} bytes once decompressed"
        ))),
        Ok(_) => Ok(web::Bytes::from(out)),
        Err(e) => Err(ApiError::malformed_encoding(format!(
            "the body is not valid gzip: {e}"
        ))),
    }
}

/// A signed body as JSON, refusing one whose objects repeat a key (400 `duplicate_key`,
/// naming where): the signer and the relay could read different values.
pub fn parse_json(body: &[u8]) -> Result<serde_json::Value, ApiError> {
    shared::json::parse(body).map_err(|e| match e {
        StrictError::DuplicateKey { path } => ApiError::duplicate_key(&path),
        StrictError::Syntax(message) => {
            ApiError::malformed_json(format!("the body is not valid JSON: {message}"))
        }
    })
}
