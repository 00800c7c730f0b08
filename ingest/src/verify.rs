//! Signature verification, over the raw body and before anything is parsed.
//!
//! A [`Verifier`] is built once per source from its configuration (secrets decoded up front,
//! so a request never pays for it) and returns [`Verified`], a proof that the only way to the
//! parser went through a check. Every comparison of secret material is constant-time.

use crate::error::ApiError;
use actix_web::http::header::HeaderMap;
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use hmac::Mac;
use secrecy::{ExposeSecret, SecretBox, SecretString};
use sha2::{Digest, Sha256};
use shared::config::{SourceSettings, VerifyScheme};
use shared::signing::{decode_whsec, hmac_sha256, standard_webhooks_mac};

/// At most this many signatures of one `webhook-signature` header are tried, so a header full
/// of signatures cannot make one request cost thousands of HMACs.
const MAX_SIGNATURES: usize = 16;
/// Longest accepted `webhook-id`.
const MAX_WEBHOOK_ID: usize = 256;

type Key = SecretBox<Vec<u8>>;

/// Proof that a request's body passed its source's verification.
#[derive(Debug)]
pub struct Verified(());

pub enum Verifier {
    StandardWebhooks {
        keys: Vec<Key>,
        tolerance_secs: i64,
    },
    HmacSha256 {
        header: String,
        keys: Vec<Key>,
    },
    /// SHA-256 digests of the accepted tokens: comparing fixed-size digests in constant time
    /// hides the tokens' lengths too.
    Bearer {
        digests: Vec<[u8; 32]>,
    },
}

impl Verifier {
    /// Builds the verifier of a validated source configuration.
    pub fn new(settings: &SourceSettings, tolerance_secs: u64) -> Verifier {
        let raw = |s: &SecretString| Key::new(Box::new(s.expose_secret().as_bytes().to_vec()));
        match settings.verify {
            VerifyScheme::StandardWebhooks => Verifier::StandardWebhooks {
                keys: settings
                    .secrets
                    .iter()
                    .filter_map(|s| decode_whsec(s.expose_secret()))
                    .map(|k| Key::new(Box::new(k)))
                    .collect(),
                tolerance_secs: i64::try_from(tolerance_secs).unwrap_or(i64::MAX),
            },
            VerifyScheme::HmacSha256 => Verifier::HmacSha256 {
                header: settings.signature_header.to_ascii_lowercase(),
                keys: settings.secrets.iter().map(raw).collect(),
            },
            VerifyScheme::Bearer => Verifier::Bearer {
                digests: settings
                    .secrets
                    .iter()
                    .map(|s| digest(s.expose_secret().as_bytes()))
                    .collect(),
            },
        }
    }

    /// Checks one request; `now` is the Unix time in seconds.
    pub fn verify(&self, headers: &HeaderMap, body: &[u8], now: i64) -> Result<Verified, ApiError> {
        match self {
            Verifier::StandardWebhooks {
                keys,
                tolerance_secs,
            } => verify_standard(keys, *tolerance_secs, headers, body, now),
            Verifier::HmacSha256 { header, keys } => verify_hmac(keys, header, headers, body),
            Verifier::Bearer { digests } => verify_bearer(digests, headers),
        }
    }
}

fn header<'h>(headers: &'h HeaderMap, name: &str) -> Result<&'h str, ApiError> {
    let value = headers
        .get(name)
        .ok_or_else(|| ApiError::signature_missing(format!("header {name} is missing")))?;
    value
        .to_str()
        .map(str::trim)
        .map_err(|_| ApiError::signature_malformed(format!("header {name} is not ASCII")))
}

fn verify_standard(
    keys: &[Key],
    tolerance: i64,
    headers: &HeaderMap,
    body: &[u8],
    now: i64,
) -> Result<Verified, ApiError> {
    let id = header(headers, "webhook-id")?;
    let timestamp = header(headers, "webhook-timestamp")?;
    let signatures = header(headers, "webhook-signature")?;
    if id.is_empty() || id.len() > MAX_WEBHOOK_ID {
        return Err(ApiError::signature_malformed(
            "header webhook-id must be 1 to 256 characters",
        ));
    }
    let sent_at: i64 = timestamp.parse().map_err(|_| {
        ApiError::timestamp_invalid("header webhook-timestamp must be Unix seconds")
    })?;
    if now.saturating_sub(sent_at).abs() > tolerance {
        return Err(ApiError::timestamp_out_of_tolerance(format!(
            "webhook-timestamp is more than {tolerance} seconds away from the server's clock"
        )));
    }
    let candidates: Vec<Vec<u8>> = signatures
        .split(' ')
        .filter_map(|entry| entry.strip_prefix("v1,"))
        .take(MAX_SIGNATURES)
        .filter_map(|b64| BASE64.decode(b64).ok())
        .collect();
    if candidates.is_empty() {
        return Err(ApiError::signature_malformed(
            "header webhook-signature holds no v1 signature",
        ));
    }
    for key in keys {
        let mac = standard_webhooks_mac(key.expose_secret(), id, timestamp, body);
        // `verify_slice` compares in constant time.
        if candidates
            .iter()
            .any(|candidate| mac.clone().verify_slice(candidate).is_ok())
        {
            return Ok(Verified(()));
        }
    }
    Err(ApiError::signature_invalid(
        "no signature matches any secret of this source",
    ))
}

fn verify_hmac(
    keys: &[Key],
    header_name: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Verified, ApiError> {
    let value = header(headers, header_name)?;
    let hex_sig = value.strip_prefix("sha256=").ok_or_else(|| {
        ApiError::signature_malformed(format!("header {header_name} must be sha256=<hex>"))
    })?;
    let signature = hex::decode(hex_sig).map_err(|_| {
        ApiError::signature_malformed(format!("header {header_name} must be sha256=<hex>"))
    })?;
    for key in keys {
        if hmac_sha256(key.expose_secret(), &[body])
            .verify_slice(&signature)
            .is_ok()
        {
            return Ok(Verified(()));
        }
    }
    Err(ApiError::signature_invalid(
        "the signature matches no secret of this source",
    ))
}

fn verify_bearer(digests: &[[u8; 32]], headers: &HeaderMap) -> Result<Verified, ApiError> {
    let value = header(headers, "authorization")?;
    let token = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
        .ok_or_else(|| {
            ApiError::signature_malformed("header Authorization must be Bearer <token>")
        })?;
    let presented = digest(token.trim().as_bytes());
    // Check every token (no early exit) so timing says nothing about which one matched.
    let matched = digests
        .iter()
        .fold(false, |found, d| found | constant_time_eq(d, &presented));
    if matched {
        Ok(Verified(()))
    } else {
        Err(ApiError::token_invalid(
            "the bearer token is not valid for this source",
        ))
    }
}

fn digest(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

fn constant_time_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::{HeaderName, HeaderValue};
    use shared::config::PayloadFormat;
    use shared::signing::{hmac_sha256_header, standard_webhooks_signature};

    // The Standard Webhooks specification's published example.
    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const TS: i64 = 1614265330;
    const BODY: &[u8] = br#"{"test": 2432232314}"#;
    const SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    fn source(verify: VerifyScheme, secrets: &[&str]) -> SourceSettings {
        SourceSettings {
            verify,
            secrets: secrets.iter().map(|s| SecretString::from(*s)).collect(),
            secrets_env: vec![],
            format: PayloadFormat::Canonical,
            signature_header: "X-Hub-Signature-256".into(),
            organization_label: "organization".into(),
            default_organization: None,
            severity_label: "severity".into(),
            expected_interval_secs: None,
        }
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.insert(
                HeaderName::from_bytes(k.as_bytes()).expect("name"),
                HeaderValue::from_str(v).expect("value"),
            );
        }
        map
    }

    fn code(result: Result<Verified, ApiError>) -> &'static str {
        result.err().map(|e| e.code).unwrap_or("ok")
    }

    #[test]
    fn the_published_standard_webhooks_example_verifies() {
        let verifier = Verifier::new(&source(VerifyScheme::StandardWebhooks, &[SECRET]), 300);
        let ts = TS.to_string();
        let h = headers(&[
            ("webhook-id", ID),
            ("webhook-timestamp", &ts),
            ("webhook-signature", SIGNATURE),
        ]);
        assert_eq!(code(verifier.verify(&h, BODY, TS)), "ok");
        // Among other signatures, in any position.
        let several = format!("v1,Zm9vYmFy v2,abc {SIGNATURE}");
        let h = headers(&[
            ("webhook-id", ID),
            ("webhook-timestamp", &ts),
            ("webhook-signature", &several),
        ]);
        assert_eq!(code(verifier.verify(&h, BODY, TS)), "ok");
        // Tampered body, id or timestamp: invalid.
        assert_eq!(
            code(verifier.verify(&h, br#"{"test": 2432232315}"#, TS)),
            "signature_invalid"
        );
        let h = headers(&[
            ("webhook-id", "msg_other"),
            ("webhook-timestamp", &ts),
            ("webhook-signature", SIGNATURE),
        ]);
        assert_eq!(code(verifier.verify(&h, BODY, TS)), "signature_invalid");
    }

    #[test]
    fn timestamps_outside_the_tolerance_are_refused_both_ways() {
        let verifier = Verifier::new(&source(VerifyScheme::StandardWebhooks, &[SECRET]), 300);
        let ts = TS.to_string();
        let h = headers(&[
            ("webhook-id", ID),
            ("webhook-timestamp", &ts),
            ("webhook-signature", SIGNATURE),
        ]);
        assert_eq!(code(verifier.verify(&h, BODY, TS + 300)), "ok");
        assert_eq!(
            code(verifier.verify(&h, BODY, TS + 301)),
            "timestamp_out_of_tolerance"
        );
        assert_eq!(
            code(verifier.verify(&h, BODY, TS - 301)),
            "timestamp_out_of_tolerance"
        );
    }

    #[test]
    fn every_active_secret_of_a_rotation_is_accepted() {
        let other = "whsec_c2Vjb25kLXNlY3JldC1rZXktZm9yLXJvdGF0aW9u";
        let verifier = Verifier::new(
            &source(VerifyScheme::StandardWebhooks, &[SECRET, other]),
            300,
        );
        let key = decode_whsec(other).expect("key");
        let signature = standard_webhooks_signature(&key, ID, TS, BODY);
        let ts = TS.to_string();
        let h = headers(&[
            ("webhook-id", ID),
            ("webhook-timestamp", &ts),
            ("webhook-signature", &signature),
        ]);
        assert_eq!(code(verifier.verify(&h, BODY, TS)), "ok");
    }

    #[test]
    fn hmac_headers_are_checked_for_shape_and_value() {
        let secret = "a-github-style-secret";
        let verifier = Verifier::new(&source(VerifyScheme::HmacSha256, &[secret]), 300);
        let good = hmac_sha256_header(secret.as_bytes(), BODY);
        let check = |value: &str| {
            code(verifier.verify(&headers(&[("x-hub-signature-256", value)]), BODY, 0))
        };
        assert_eq!(check(&good), "ok");
        assert_eq!(
            check(&good.replace("sha256=", "sha1=")),
            "signature_malformed"
        );
        assert_eq!(check("sha256=zz"), "signature_malformed");
        assert_eq!(
            check(&format!("sha256={}", "00".repeat(32))),
            "signature_invalid"
        );
        assert_eq!(
            code(verifier.verify(&HeaderMap::new(), BODY, 0)),
            "signature_missing"
        );
    }

    #[test]
    fn bearer_tokens_must_match_exactly() {
        let verifier = Verifier::new(&source(VerifyScheme::Bearer, &["token-one-0123456789"]), 0);
        let check =
            |value: &str| code(verifier.verify(&headers(&[("authorization", value)]), BODY, 0));
        assert_eq!(check("Bearer token-one-0123456789"), "ok");
        assert_eq!(check("Bearer token-one-012345678"), "token_invalid");
        assert_eq!(check("Basic dXNlcjpwYXNz"), "signature_malformed");
    }
}
