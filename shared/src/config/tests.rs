//! The configuration's unit tests: layering, secrets, validation and redaction.

use super::{redact_url, Settings};
use secrecy::ExposeSecret;
use std::collections::HashMap;
use std::path::Path;

fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |name| map.get(name).cloned()
}

const MINIMAL: &str = r#"
    [sources.demo]
    secrets_env = ["DEMO_SECRET"]
"#;

#[test]
fn environment_overrides_the_file_and_supplies_secrets() {
    let env = env_of(&[
        ("DEMO_SECRET", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
        ("RELAY_PREFIX", "t1"),
        ("RELAY_INGEST_ADDR", "0.0.0.0:9000"),
        ("RELAY_AMQP_URL", "amqp://u:p@h:5672/%2f"),
    ]);
    let settings = Settings::from_toml(MINIMAL, &env).expect("parses");
    assert_eq!(settings.prefix, "t1");
    assert_eq!(settings.ingest.listen, "0.0.0.0:9000");
    assert_eq!(settings.sources["demo"].secrets.len(), 1);
    assert_eq!(settings.amqp.url.expose_secret(), "amqp://u:p@h:5672/%2f");
    settings
        .validate_ingest(Path::new("x.toml"))
        .expect("valid");
}

#[test]
fn environment_sets_the_metrics_port_and_the_syncro_budget_name() {
    let text = format!("{MINIMAL}\n[processor]\nprefetch = 10\n");
    let env = env_of(&[
        ("RELAY_METRICS_LISTEN", "127.0.0.1:9192"),
        ("RELAY_SYNCRO_BUDGET", "egress-a"),
    ]);
    let settings = Settings::from_toml(&text, &env).expect("parses");
    let processor = settings
        .processor_sections
        .processor
        .as_ref()
        .expect("processor table");
    assert_eq!(
        processor.get("metrics_listen").and_then(|v| v.as_str()),
        Some("127.0.0.1:9192")
    );
    assert_eq!(
        processor.get("prefetch").and_then(|v| v.as_integer()),
        Some(10),
        "the file's other keys stay"
    );
    assert_eq!(settings.syncro.budget.as_deref(), Some("egress-a"));
}

#[test]
fn a_missing_secret_variable_is_reported_by_the_binary_that_needs_it() {
    let text = format!("{MINIMAL}\n[syncro]\ntoken_env = \"SYNCRO_TOKEN_VAR\"\n");
    let settings = Settings::from_toml(&text, &env_of(&[])).expect("parses");
    let err = settings
        .validate_ingest(Path::new("x.toml"))
        .expect_err("invalid");
    let all = err.to_string();
    assert!(all.contains("DEMO_SECRET is not set"), "{all}");
    assert!(
        !all.contains("SYNCRO_TOKEN_VAR"),
        "ingest does not need the token: {all}"
    );
    assert_eq!(settings.unresolved_in(&["syncro."]).len(), 1);
}

#[test]
fn unknown_keys_are_rejected() {
    let problems =
        Settings::from_toml("[ingest]\nlisten_addr = \"x\"\n", &env_of(&[])).expect_err("fails");
    assert!(problems[0].contains("listen_addr"), "{problems:?}");
}

#[test]
fn every_problem_is_reported_at_once_without_secret_values() {
    let text = r#"
        prefix = "Bad Prefix"
        [ingest]
        listen = "nowhere"
        [sources.demo]
        secrets = ["not-a-whsec-secret"]
        [sources.GH]
        verify = "hmac-sha256"
        secrets = ["short"]
        signature_header = "bad header"
    "#;
    let settings = Settings::from_toml(text, &env_of(&[])).expect("parses");
    let err = settings
        .validate_ingest(Path::new("x.toml"))
        .expect_err("invalid");
    let all = err.to_string();
    for expected in [
        "prefix",
        "ingest.listen",
        "sources.demo: secret #1",
        "sources.GH: a source name",
        "sources.GH: secret #1 is shorter",
        "sources.GH.signature_header",
    ] {
        assert!(all.contains(expected), "{expected} missing in {all}");
    }
    assert!(!all.contains("not-a-whsec-secret") && !all.contains("short\""));
}

#[test]
fn toml_errors_locate_the_problem_without_quoting_the_file() {
    let problems = Settings::from_toml(
        "prefix = \"p\"\n[amqp]\nurl = \"amqp://u:file-password@h/\" oops\n",
        &|_| None,
    )
    .expect_err("syntax error");
    assert!(problems[0].starts_with("line 3, column "), "{problems:?}");
    assert!(!problems[0].contains("file-password"), "{problems:?}");
    let problems = Settings::from_toml(
        "[sources.demo]\nsecrets = \"whsec_not-a-list\\\"quoted\"\n",
        &|_| None,
    )
    .expect_err("type error");
    assert!(
        problems[0].contains("invalid type: a string, expected a sequence"),
        "{problems:?}"
    );
    assert!(!problems[0].contains("whsec_"), "{problems:?}");
    let problems =
        Settings::from_toml("[ingest]\nlisten_addr = 1\n", &|_| None).expect_err("unknown");
    assert!(problems[0].contains("listen_addr"), "{problems:?}");
}

#[test]
fn urls_are_redacted_for_logs() {
    assert_eq!(
        redact_url("amqp://guest:secret@host:5672/%2f"),
        "amqp://guest:***@host:5672/%2f"
    );
    assert_eq!(
        redact_url("redis://127.0.0.1:6379"),
        "redis://127.0.0.1:6379"
    );
}
