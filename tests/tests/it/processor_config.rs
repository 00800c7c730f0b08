//! `processor check-config [--online]` and `processor explain`, run as the real binary: a good
//! file passes, a bad one lists every problem and exits 1, `explain` shows each field with
//! the rule that set it, and the online check finds what the Syncro simulator lacks.

use std::path::{Path, PathBuf};
use std::process::Output;

use relay_tests::workspace_binary;
use syncro_sim::{SimConfig, SimHandle};

/// The token the test simulators accept.
const TOKEN: &str = "check-config-token-51c0";

fn repo_file(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(relative)
}

fn example_config() -> String {
    std::fs::read_to_string(repo_file("deploy/config.example.toml")).expect("example config")
}

/// A file removed when the test ends.
struct TempFile(PathBuf);

impl TempFile {
    fn new(name: &str, text: &str) -> TempFile {
        let path = std::env::temp_dir().join(format!(
            "relay-{}-{name}",
            &uuid::Uuid::new_v4().simple().to_string()[..12]
        ));
        std::fs::write(&path, text).expect("temp file written");
        TempFile(path)
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Runs the processor binary with only the given environment (none of the caller's
/// `RELAY_*` variables leak in).
async fn processor(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = tokio::process::Command::new(workspace_binary("processor"));
    command.args(args).env_clear();
    for (key, value) in env {
        command.env(key, value);
    }
    command.output().await.expect("processor runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn start_sim() -> SimHandle {
    let mut config = SimConfig::builtin();
    config.options.token = TOKEN.to_string();
    config.options.rate_limit_per_minute = 0;
    syncro_sim::spawn_local(config).expect("simulator starts")
}

#[tokio::test]
async fn the_example_configuration_passes_the_offline_check() {
    let path = repo_file("deploy/config.example.toml");
    let out = processor(
        &["check-config", path.to_str().expect("utf-8 path")],
        &[("RELAY_SYNCRO_TOKEN", TOKEN)],
    )
    .await;
    assert!(
        out.status.success(),
        "stdout: {}\nstderr: {}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert!(text(&out.stdout).contains("no problems found"));
}

#[tokio::test]
async fn a_bad_configuration_lists_every_problem_and_exits_1() {
    let file = TempFile::new(
        "bad.toml",
        r#"
        prefix = "Not Valid"
        [syncro]
        url = "ftp://syncro.example"
        token_env = "UNSET_SYNCRO_TOKEN"
        [processor]
        prefetch = 0
        retry_tiers_secs = [60, 10]
        [mapping]
        organizations = { "org-1" = 4101771 }
        ignored_organizations = ["org-1"]
        [tickets]
        problem_type = "Security"
        status = "Not Closed"
        subject = "{title"
        [tickets.priorities]
        critical = "0 Urgent"
        [notes]
        visibility = "loud"
        title = "x"
        [[overrides.ioc_rule]]
        match = "ioc-1"
        [grouping]
        on_resolved_ticket = "reopen"
        reopen_status = "Resolved"
        [billing]
        sync_day = 40
        "#,
    );
    let out = processor(&["check-config", file.0.to_str().expect("utf-8")], &[]).await;
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    let expected = [
        "prefix",
        "syncro.url: must start with http:// or https://",
        "syncro.token_env: environment variable UNSET_SYNCRO_TOKEN is not set",
        "processor.prefetch: must be between 1 and 65535",
        "processor.retry_tiers_secs: tiers must be strictly increasing",
        "mapping.catch_all_customer_id: required",
        "mapping.ignored_organizations: \"org-1\" is also mapped",
        "tickets.ticket_type_id: required",
        "tickets.status: \"Not Closed\" is a Syncro list filter",
        "tickets.assignee_user_id: required",
        "tickets.source_tag: required",
        "tickets.subject: unclosed '{'",
        "tickets.priorities.high: required",
        "tickets.priorities.medium: required",
        "tickets.priorities.low: required",
        "tickets.priorities.info: required",
        "notes.visibility: unknown variant `loud`",
        "overrides.ioc_rule[match=\"ioc-1\"]: sets nothing",
        "grouping.reopen_status: \"Resolved\" is a closed status",
        "billing.sync_day: 40 is out of range",
    ];
    for problem in expected {
        assert!(
            stderr.contains(problem),
            "{problem:?} missing from:\n{stderr}"
        );
    }
    assert!(
        stderr.contains(&format!("{} problem(s)", expected.len())),
        "every problem counted once:\n{stderr}"
    );
}

#[tokio::test]
async fn explain_shows_each_field_with_the_rule_that_set_it() {
    let config = repo_file("deploy/config.example.toml");
    let alert = repo_file("deploy/sample-alert.json");
    let out = processor(
        &[
            "explain",
            config.to_str().expect("utf-8"),
            alert.to_str().expect("utf-8"),
        ],
        &[],
    )
    .await;
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
    for expected in [
        "Route: customer 4101771 (mapped by mapping.organizations[\"org-42\"])",
        "Subject: [CRITICAL] Impossible travel for j.doe@contoso.com",
        "Group key: 4101771:[critical] impossible travel for j.doe@contoso.com",
        "<- overrides.ioc_rule[match=\"ioc-3\"]",
        "<- overrides.respond_rule[match=\"rr-7\"]",
        "<- overrides.event_type[match=\"m365.impossible_travel\"]",
        "<- tickets (defaults)",
        "private (hidden: true, do_not_email: true)",
        "| relay-ref: ar1-",
    ] {
        assert!(
            stdout.contains(expected),
            "{expected:?} missing from:\n{stdout}"
        );
    }

    let bad_alert = TempFile::new("alert.json", r#"{"id": "x", "severity": "loud"}"#);
    let out = processor(
        &[
            "explain",
            config.to_str().expect("utf-8"),
            bad_alert.0.to_str().expect("utf-8"),
        ],
        &[],
    )
    .await;
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("severity:") && stderr.contains("title:"),
        "{stderr}"
    );
}

#[tokio::test]
async fn the_online_check_passes_against_the_simulator_for_the_example() {
    let sim = start_sim();
    let path = repo_file("deploy/config.example.toml");
    let url = sim.api_url();
    let out = processor(
        &["check-config", "--online", path.to_str().expect("utf-8")],
        &[("RELAY_SYNCRO_TOKEN", TOKEN), ("RELAY_SYNCRO_URL", &url)],
    )
    .await;
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
    assert!(stdout.contains("matches the Syncro account"), "{stdout}");
    assert!(
        stdout.contains("note: ticket_type_id not checked"),
        "{stdout}"
    );
}

#[tokio::test]
async fn the_online_check_reports_missing_customers_and_unknown_names() {
    let sim = start_sim();
    let text_with_mistakes = example_config()
        .replace("\"org-northwind\" = 4101773", "\"org-gone\" = 999999")
        .replace("\"org-fabrikam\" = 4101772", "\"org-litware\" = 4101777")
        .replace("status = \"New\"", "status = \"Triage\"")
        .replace("assignee_user_id = 1302", "assignee_user_id = 4242")
        .replace("critical = \"0 Urgent\"", "critical = \"0 urgent\"");
    let file = TempFile::new("online.toml", &text_with_mistakes);
    let url = sim.api_url();
    let out = processor(
        &["check-config", "--online", file.0.to_str().expect("utf-8")],
        &[("RELAY_SYNCRO_TOKEN", TOKEN), ("RELAY_SYNCRO_URL", &url)],
    )
    .await;
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    for expected in [
        "mapping.organizations[\"org-gone\"]: customer 999999 does not exist in Syncro",
        "mapping.organizations[\"org-litware\"]: customer 4101777 (Litware Inc) is disabled",
        "tickets.status: status \"Triage\" does not exist in Syncro",
        "tickets.assignee_user_id: user 4242 is not a technician",
        "tickets.priorities.critical: priority \"0 urgent\" does not exist in Syncro; did you mean \"0 Urgent\"?",
    ] {
        assert!(stderr.contains(expected), "{expected:?} missing from:\n{stderr}");
    }
    assert!(stderr.contains("5 problem(s)"), "{stderr}");

    // A wrong token is one clear problem, not one per customer.
    let out = processor(
        &["check-config", "--online", file.0.to_str().expect("utf-8")],
        &[
            ("RELAY_SYNCRO_TOKEN", "wrong-token"),
            ("RELAY_SYNCRO_URL", &url),
        ],
    )
    .await;
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("1 problem(s)"), "{stderr}");
    assert!(
        stderr.contains("syncro: cannot use the account"),
        "{stderr}"
    );
    assert!(!stderr.contains("wrong-token"), "{stderr}");
}
