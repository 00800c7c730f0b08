//! Signature verification (`ingest::verify::Verifier`) with arbitrary headers and body
//! against fixed secrets, for all three schemes.
//!
//! Properties:
//! - it never panics;
//! - soundness: whenever it accepts, an independent re-implementation of the scheme (written
//!   here with the `hmac` crate, not with the project's signing helpers) agrees that the
//!   request carries a valid signature of exactly this body with one of the secrets;
//! - completeness: a request that the input asked to be signed validly (headers replaced by
//!   correct ones, timestamp within tolerance) is accepted.
#![no_main]

use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
use arbitrary::Arbitrary;
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use hmac::{Hmac, Mac};
use ingest::verify::Verifier;
use libfuzzer_sys::fuzz_target;
use sha2::Sha256;
use shared::config::{PayloadFormat, SourceSettings, VerifyScheme};

/// `whsec_` + base64 of the 24-byte key below, and the same key for the other schemes.
const WHSEC: &str = "whsec_ZnV6ei1zdGFuZGFyZC13ZWJob29rcy1rZXk=";
const WH_KEY: &[u8] = b"fuzz-standard-webhooks-key";
const HMAC_SECRET: &str = "fuzz-hmac-secret-0123456789";
const TOKEN: &str = "fuzz-bearer-token-0123456789";
const TOLERANCE: i64 = 300;
const NOW: i64 = 1_780_000_000;

#[derive(Debug, Arbitrary)]
enum Scheme {
    Standard,
    Hmac,
    Bearer,
}

#[derive(Debug, Arbitrary)]
struct Input {
    scheme: Scheme,
    /// Arbitrary header names and values (invalid ones are skipped, as HTTP would).
    headers: Vec<(Vec<u8>, Vec<u8>)>,
    /// Names the fuzzer can hit more easily than by guessing bytes.
    known: Vec<(u8, String)>,
    body: Vec<u8>,
    /// Replace the signature headers by valid ones, signed this many seconds off `NOW`.
    sign: Option<i16>,
    webhook_id: String,
}

const KNOWN: &[&str] = &[
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
    "x-hub-signature-256",
    "authorization",
];

fn source(verify: VerifyScheme, secret: &str) -> SourceSettings {
    SourceSettings::new(verify, PayloadFormat::Canonical, &[secret])
}

fn mac(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    let mut m = Hmac::<Sha256>::new_from_slice(key).expect("any key length");
    for p in parts {
        m.update(p);
    }
    m.finalize().into_bytes().to_vec()
}

fn text<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
}

/// The reference: is this request validly signed?
fn validly_signed(scheme: &Scheme, headers: &HeaderMap, body: &[u8]) -> bool {
    match scheme {
        Scheme::Standard => {
            let (Some(id), Some(ts), Some(sigs)) = (
                text(headers, "webhook-id"),
                text(headers, "webhook-timestamp"),
                text(headers, "webhook-signature"),
            ) else {
                return false;
            };
            let Ok(sent) = ts.parse::<i64>() else {
                return false;
            };
            if (NOW - sent).abs() > TOLERANCE || id.is_empty() || id.len() > 256 {
                return false;
            }
            let expected = mac(WH_KEY, &[id.as_bytes(), b".", ts.as_bytes(), b".", body]);
            sigs.split(' ')
                .filter_map(|e| e.strip_prefix("v1,"))
                .take(16)
                .any(|b64| BASE64.decode(b64).is_ok_and(|s| s == expected))
        }
        Scheme::Hmac => text(headers, "x-hub-signature-256")
            .and_then(|v| v.strip_prefix("sha256="))
            .and_then(|h| hex::decode(h).ok())
            .is_some_and(|s| s == mac(HMAC_SECRET.as_bytes(), &[body])),
        Scheme::Bearer => text(headers, "authorization")
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .is_some_and(|t| t.trim() == TOKEN),
    }
}

fn put(headers: &mut HeaderMap, name: &str, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        headers.insert(header_name(name), value);
    }
}

fn header_name(name: &str) -> HeaderName {
    HeaderName::from_bytes(name.as_bytes()).expect("a valid header name")
}

fuzz_target!(|input: Input| {
    let verifier = match input.scheme {
        Scheme::Standard => Verifier::new(&source(VerifyScheme::StandardWebhooks, WHSEC), 300),
        Scheme::Hmac => Verifier::new(&source(VerifyScheme::HmacSha256, HMAC_SECRET), 300),
        Scheme::Bearer => Verifier::new(&source(VerifyScheme::Bearer, TOKEN), 300),
    };
    let mut headers = HeaderMap::new();
    for (name, value) in &input.headers {
        if let (Ok(name), Ok(value)) =
            (HeaderName::from_bytes(name), HeaderValue::from_bytes(value))
        {
            headers.append(name, value);
        }
    }
    for (which, value) in &input.known {
        let name = KNOWN[usize::from(*which) % KNOWN.len()];
        if let Ok(value) = HeaderValue::from_bytes(value.as_bytes()) {
            headers.append(header_name(name), value);
        }
    }
    let body = input.body.as_slice();
    let mut signed_validly = false;
    if let Some(offset) = input.sign {
        let ts = NOW + i64::from(offset);
        match input.scheme {
            Scheme::Standard => {
                let id = input.webhook_id.trim();
                let sig = mac(
                    WH_KEY,
                    &[id.as_bytes(), b".", ts.to_string().as_bytes(), b".", body],
                );
                // Standard Webhooks ids are ASCII: ingest refuses other bytes as malformed.
                let valid_id = !id.is_empty()
                    && id.len() <= 256
                    && HeaderValue::from_str(&input.webhook_id).is_ok_and(|v| v.to_str().is_ok());
                put(&mut headers, "webhook-id", &input.webhook_id);
                put(&mut headers, "webhook-timestamp", &ts.to_string());
                put(
                    &mut headers,
                    "webhook-signature",
                    &format!("v1,{}", BASE64.encode(sig)),
                );
                signed_validly = valid_id && i64::from(offset).abs() <= TOLERANCE;
            }
            Scheme::Hmac => {
                let sig = hex::encode(mac(HMAC_SECRET.as_bytes(), &[body]));
                put(
                    &mut headers,
                    "x-hub-signature-256",
                    &format!("sha256={sig}"),
                );
                signed_validly = true;
            }
            Scheme::Bearer => {
                put(&mut headers, "authorization", &format!("Bearer {TOKEN}"));
                signed_validly = true;
            }
        }
    }

    let accepted = verifier.verify(&headers, body, NOW).is_ok();
    if accepted {
        assert!(
            validly_signed(&input.scheme, &headers, body),
            "accepted a request that is not validly signed: {headers:?}"
        );
    }
    if signed_validly {
        assert!(accepted, "refused a validly signed request: {headers:?}");
    }
});
