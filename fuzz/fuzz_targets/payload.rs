//! Payload parsing: the canonical format (`shared::alert::Alert::from_json`, one alert or a
//! batch) and Alertmanager webhooks, through ingest's `FormatOptions::parse`, on any bytes.
//!
//! The first input byte picks the format; the rest is the body. Properties:
//! - it never panics;
//! - strict JSON (`shared::json`, which refuses a repeated key) reads what `serde_json` reads,
//!   as the same value, and refuses only what `serde_json` refuses or a repeated key;
//! - every alert that parses survives the queue: encoded as the wire does and decoded as the
//!   processor does (`serde`), it is the same alert;
//! - it re-encodes and re-parses to the same alert: the canonical JSON of a parsed alert,
//!   sent again (alone or as a batch), validates to exactly that alert.
#![no_main]

use actix_web::http::header::{HeaderMap, HeaderValue, AUTHORIZATION};
use ingest::formats::FormatOptions;
use ingest::verify::{Verified, Verifier};
use libfuzzer_sys::fuzz_target;
use shared::alert::Alert;
use shared::json::StrictError;
use shared::config::{PayloadFormat, SourceSettings, VerifyScheme};
use std::sync::OnceLock;

const TOKEN: &str = "fuzz-bearer-token-0123456789";

fn settings(format: PayloadFormat) -> SourceSettings {
    SourceSettings {
        default_organization: Some("org-default".into()),
        ..SourceSettings::new(VerifyScheme::Bearer, format, &[TOKEN])
    }
}

/// The parser wants a proof of verification: get a real one, as ingest does.
fn proof() -> Verified {
    let verifier = Verifier::new(&settings(PayloadFormat::Canonical), 300);
    let mut headers = HeaderMap::new();
    headers.insert(
        AUTHORIZATION,
        HeaderValue::from_str(&format!("Bearer {TOKEN}")).expect("ASCII"),
    );
    verifier
        .verify(&headers, b"", 0)
        .expect("the fixed token verifies")
}

struct Fixture {
    proof: Verified,
    canonical: FormatOptions,
    alertmanager: FormatOptions,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| Fixture {
        proof: proof(),
        canonical: FormatOptions::new(&settings(PayloadFormat::Canonical)),
        alertmanager: FormatOptions::new(&settings(PayloadFormat::Alertmanager)),
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    match (
        shared::json::parse(body),
        serde_json::from_slice::<serde_json::Value>(body),
    ) {
        (Ok(strict), Ok(plain)) => assert_eq!(strict, plain, "strict JSON read another value"),
        (Ok(_), Err(e)) => panic!("strict JSON accepted what serde_json refuses: {e}"),
        (Err(StrictError::Syntax(e)), Ok(_)) => panic!("a syntax error serde_json does not see: {e}"),
        (Err(_), _) => {}
    }
    let f = fixture();
    let options = if selector % 2 == 0 {
        &f.canonical
    } else {
        &f.alertmanager
    };
    let Ok(alerts) = options.parse(&f.proof, body) else {
        return;
    };
    assert!(!alerts.is_empty(), "an accepted request carries an alert");
    for alert in &alerts {
        // The queue: serde out, serde in (the processor's decoding).
        let wire = serde_json::to_vec(alert).expect("an alert encodes");
        let decoded: Alert = serde_json::from_slice(&wire)
            .unwrap_or_else(|e| panic!("the processor cannot decode {alert:?}: {e}"));
        assert_eq!(&decoded, alert, "the queue changed the alert");
        // Sent again as a canonical alert, it validates to itself.
        let again = f
            .canonical
            .parse(&f.proof, &wire)
            .unwrap_or_else(|e| panic!("re-parsing {alert:?} failed: {e:?}"));
        assert_eq!(again.as_slice(), std::slice::from_ref(alert));
    }
    // And the whole batch at once.
    let batch = serde_json::to_vec(&alerts).expect("a batch encodes");
    let again = f
        .canonical
        .parse(&f.proof, &batch)
        .unwrap_or_else(|e| panic!("re-parsing the batch failed: {e:?}"));
    assert_eq!(again, alerts);
});
