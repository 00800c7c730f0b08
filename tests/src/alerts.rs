//! Sample alerts and signed requests, signed with the project's own signing primitives.

use serde_json::{json, Value};
use shared::signing::{decode_whsec, hmac_sha256_header, standard_webhooks_signature};

/// A Standard Webhooks secret for tests.
pub const SECRET: &str = "whsec_dGVzdC1zZWNyZXQta2V5LWZvci1hbGVydC1yZWxheQ==";
/// A second secret, as during a rotation.
pub const SECRET_2: &str = "whsec_c2Vjb25kLXRlc3Qtc2VjcmV0LWZvci1yb3RhdGlvbg==";

/// A valid canonical alert with the given id.
pub fn alert(id: &str) -> Value {
    json!({
        "id": id,
        "event_type": "m365.impossible_travel",
        "severity": "critical",
        "organization": {"id": "org-42", "name": "Contoso Ltd", "domain": "contoso.com"},
        "title": "Impossible travel for j.doe@contoso.com",
        "description": "Logins from Oslo and Lima 12 minutes apart",
        "occurred_at": "2026-05-01T10:00:00Z",
        "respond_rule": {"id": "rr-7", "name": "Block sign-in on impossible travel"},
        "user": "j.doe@contoso.com",
        "ip": "203.0.113.9",
        "device": {"name": "WS-07", "serial": "5CG1234XYZ", "mac": "F8-75-A4-19-C6-22"},
        "details": {"country_from": "NO", "country_to": "PE"}
    })
}

/// Standard Webhooks headers for `body`, signed now with `secret`.
pub fn standard_headers(secret: &str, body: &[u8]) -> Vec<(String, String)> {
    standard_headers_at(secret, body, chrono::Utc::now().timestamp())
}

/// Standard Webhooks headers for `body`, signed with `secret` at `timestamp`.
pub fn standard_headers_at(secret: &str, body: &[u8], timestamp: i64) -> Vec<(String, String)> {
    let key = decode_whsec(secret).expect("a whsec_ secret");
    let id = format!("msg_{}", uuid::Uuid::new_v4().simple());
    let signature = standard_webhooks_signature(&key, &id, timestamp, body);
    vec![
        ("webhook-id".into(), id),
        ("webhook-timestamp".into(), timestamp.to_string()),
        ("webhook-signature".into(), signature),
    ]
}

/// The `sha256=<hex>` header value for `body`.
pub fn hmac_header(secret: &str, body: &[u8]) -> String {
    hmac_sha256_header(secret.as_bytes(), body)
}
