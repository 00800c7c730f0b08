//! Fixtures other modules' tests share (a good configuration, its sections) and the
//! configuration's own tests.

use super::*;
use shared::alert::Severity;

/// A complete, valid set of processor sections (no `[syncro]`).
pub(crate) const GOOD: &str = r#"
    [mapping]
    catch_all_customer_id = 4101776
    organizations = { "org-42" = 4101771, "org-7" = 4101772 }
    ignored_organizations = ["org-test"]

    [tickets]
    problem_type = "Security"
    ticket_type_id = 42
    status = "New"
    assignee_user_id = 1302
    source_tag = "alert-relay"
    subject = "[{severity_upper}] {title} ({organization.name})"

    [tickets.priorities]
    critical = "0 Urgent"
    high = "1 High"
    medium = "2 Normal"
    low = "3 Low"
    info = "3 Low"

    [notes]
    visibility = "private"
    title = "Alert: {title}"

    [[overrides.event_type]]
    match = "m365.impossible_travel"
    problem_type = "Account"
    status = "In Progress"
    priority = "1 High"
    source_tag = "travel"

    [[overrides.respond_rule]]
    match = "rr-7"
    assignee_user_id = 1301
    priorities = { critical = "1 High" }
    problem_type = "Respond"

    [[overrides.ioc_rule]]
    match = "ioc-3"
    status = "Waiting on Customer"
    subject = "IOC {ioc_rule.name}: {title}"
"#;

pub(crate) fn sections(text: &str) -> ProcessorSections {
    let settings = Settings::from_toml(text, &|_| None).expect("parses as settings");
    settings.processor_sections
}

pub(crate) fn good() -> ProcessorConfig {
    ProcessorConfig::from_sections(&sections(GOOD)).expect("valid")
}

fn problems_of(text: &str) -> Vec<String> {
    ProcessorConfig::from_sections(&sections(text)).expect_err("invalid")
}

fn assert_has(problems: &[String], expected: &str) {
    assert!(
        problems.iter().any(|p| p.contains(expected)),
        "{expected:?} not in {problems:#?}"
    );
}

#[test]
fn a_complete_configuration_parses_with_defaults_filled_in() {
    let c = good();
    assert_eq!(c.worker, WorkerConfig::default());
    assert_eq!(c.worker.retry_tiers().len(), 5);
    assert_eq!(c.grouping, GroupingConfig::default());
    assert_eq!(c.mapping.unmapped, Unmapped::CatchAll);
    assert_eq!(c.mapping.organizations["org-42"], 4_101_771);
    assert_eq!(c.tickets.priorities.get(Severity::Info), "3 Low");
    assert_eq!(c.notes.visibility, Visibility::Private);
    assert_eq!(c.overrides.event_type.len(), 1);
    let travel = &c.overrides.event_type[0];
    assert_eq!(travel.priorities.get(Severity::Low), Some("1 High"));
    let rr = &c.overrides.respond_rule[0];
    assert_eq!(rr.priorities.get(Severity::Critical), Some("1 High"));
    assert_eq!(rr.priorities.get(Severity::High), None);
    assert_eq!(rr.label(), "overrides.respond_rule[match=\"rr-7\"]");
    assert_eq!(c.customer_ids(), [4_101_776, 4_101_771, 4_101_772]);
}

#[test]
fn parking_holds_only_organizations_neither_mapped_nor_ignored() {
    let mut mapping = good().mapping;
    assert!(!mapping.parks("org-new"), "catch-all never parks");
    mapping.unmapped = Unmapped::Park;
    assert!(mapping.parks("org-new"));
    assert!(!mapping.parks("org-42"), "mapped");
    assert!(!mapping.parks("org-test"), "ignored: dropped as before");
}

#[test]
fn the_file_decides_first_then_the_console_then_nothing() {
    use opstate::store::mappings::{ConsoleMappings, Target};
    let to = |customer_id| Target::Customer {
        customer_id,
        customer_name: None,
    };
    let console = ConsoleMappings::from([
        ("org-42".to_string(), to(9)),
        ("org-test".to_string(), to(9)),
        ("org-console".to_string(), to(8)),
        ("org-quiet".to_string(), Target::Ignored),
    ]);
    let mut mapping = good().mapping.with_console(std::sync::Arc::new(console));
    let file = DecidedBy::File;
    let by_console = DecidedBy::Console;
    assert_eq!(
        mapping.decide("org-42"),
        Decision::Mapped {
            customer_id: 4_101_771,
            by: file
        },
        "the file's mapping wins over the console's"
    );
    assert_eq!(mapping.decide("org-test"), Decision::Ignored { by: file });
    assert_eq!(
        mapping.decide("org-console"),
        Decision::Mapped {
            customer_id: 8,
            by: by_console
        }
    );
    assert_eq!(
        mapping.decide("org-quiet"),
        Decision::Ignored { by: by_console }
    );
    assert_eq!(mapping.decide("org-new"), Decision::Unmapped);
    assert_eq!(
        mapping.decide("org-console").rule("org-console"),
        "console mapping \"org-console\""
    );
    assert!(mapping.file_decides("org-42") && !mapping.file_decides("org-console"));
    mapping.unmapped = Unmapped::Park;
    assert!(!mapping.parks("org-console") && !mapping.parks("org-quiet"));
    assert!(mapping.parks("org-new"));
}

#[test]
fn every_problem_is_reported_at_once_with_its_key() {
    let text = r#"
        [processor]
        prefetch = 0
        retry_tiers_secs = [30, 5, 0]
        coalesce_max_alerts = 0
        [mapping]
        organizations = { "org-1" = 0, "org-2" = 5 }
        ignored_organizations = ["org-2", ""]
        unmapped = "park"
        [tickets]
        problem_type = ""
        status = "Not Closed"
        subject = "{titel}"
        [tickets.priorities]
        critical = "0 Urgent"
        medium = "2 Normal"
        [notes]
        title = "Note {title"
        [[overrides.ioc_rule]]
        match = "ioc-1"
        [[overrides.ioc_rule]]
        match = "ioc-2"
        status = "New"
        [[overrides.ioc_rule]]
        match = "ioc-2"
        status = "New"
        [[overrides.event_type]]
        status = "New"
        [[overrides.event_type]]
        match = "x"
        priority = "1 High"
        priorities = { low = "3 Low" }
        [[overrides.respond_rule]]
        match = "rr-1"
        colour = "red"
        [grouping]
        window_secs = 0
        reopen_status = "Resolved"
        resolve_status = "In Progress"
        [contracts]
        add_to_tickets = true
        [billing]
        sync_day = 31
    "#;
    let problems = problems_of(text);
    for expected in [
        "processor.prefetch: must be between 1 and 65535",
        "processor.retry_tiers_secs: every tier must be at least 1",
        "processor.retry_tiers_secs: tiers must be strictly increasing",
        "processor.coalesce_max_alerts",
        "mapping.catch_all_customer_id: required",
        "mapping.organizations[\"org-1\"]: must be a Syncro id",
        "mapping.ignored_organizations: \"org-2\" is also mapped",
        "mapping.ignored_organizations: \"\"",
        "tickets.problem_type: must not be empty",
        "tickets.ticket_type_id: required",
        "tickets.status: \"Not Closed\" is a Syncro list filter",
        "tickets.assignee_user_id: required",
        "tickets.source_tag: required",
        "tickets.subject: unknown placeholder {titel}",
        "tickets.priorities.high: required",
        "tickets.priorities.low: required",
        "tickets.priorities.info: required",
        "notes.visibility: required",
        "notes.title: unclosed '{'",
        "overrides.ioc_rule[match=\"ioc-1\"]: sets nothing",
        "overrides.ioc_rule[match=\"ioc-2\"]: duplicate match",
        "overrides.event_type[0].match: required",
        "overrides.event_type[match=\"x\"]: set either priority",
        "overrides.respond_rule[match=\"rr-1\"]: unknown field `colour`",
        "grouping.window_secs: must be at least 1",
        "grouping.reopen_status: \"Resolved\" is a closed status",
        "grouping.resolve_status: \"In Progress\" is not a closed status",
        "contracts.add_to_tickets: on, but no organization has a contract",
        "billing.sync_day: 31 is out of range",
    ] {
        assert_has(&problems, expected);
    }
    // Each missing severity is its own problem; critical and medium are set.
    assert!(!problems.iter().any(|p| p.contains("priorities.critical")));
    assert!(!problems.iter().any(|p| p.contains("priorities.medium")));
}

#[test]
fn missing_required_sections_are_named() {
    let problems = problems_of("");
    assert_has(&problems, "mapping.catch_all_customer_id: required");
    assert_has(&problems, "tickets: section missing");
    assert_has(&problems, "notes: section missing");
}

#[test]
fn type_errors_and_unknown_keys_name_their_path() {
    let text = GOOD.replace("ticket_type_id = 42", "ticket_type_id = \"42\"")
        + "\n[processor]\nprefetch_count = 3\n";
    let problems = problems_of(&text);
    assert_has(&problems, "tickets.ticket_type_id: invalid type");
    assert_has(&problems, "processor: unknown field `prefetch_count`");
    let text = GOOD.replace("info = \"3 Low\"", "informational = \"3 Low\"");
    assert_has(
        &problems_of(&text),
        "tickets.priorities: unknown field `informational`",
    );
}

#[test]
fn a_new_ticket_status_must_be_open() {
    let text = GOOD.replace("status = \"New\"", "status = \"Resolved\"");
    assert_has(
        &problems_of(&text),
        "tickets.status: \"Resolved\" is a closed status",
    );
}

#[test]
fn visibilities_map_to_syncro_flags() {
    let flags = |v: Visibility| (v.hidden(), v.do_not_email());
    assert_eq!(flags(Visibility::Private), (true, true));
    assert_eq!(flags(Visibility::Public), (false, true));
    assert_eq!(flags(Visibility::Email), (false, false));
    let text = GOOD.replace("visibility = \"private\"", "visibility = \"internal\"");
    assert_has(
        &problems_of(&text),
        "notes.visibility: unknown variant `internal`",
    );
}

fn settings_with(extra: &str, env: &[(&str, &str)]) -> Settings {
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let lookup = move |name: &str| env.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    Settings::from_toml(&format!("{extra}\n{GOOD}"), &lookup).expect("parses")
}

#[test]
fn the_syncro_connection_is_checked_without_printing_the_token() {
    let settings = settings_with(
        "[syncro]\nurl = \"ftp://example.com\"\ntoken_env = \"MY_TOKEN\"\nrequests_per_minute = 0",
        &[],
    );
    let problems = ProcessorConfig::from_settings(&settings).expect_err("invalid");
    assert_has(&problems, "syncro.url: must start with http:// or https://");
    assert_has(
        &problems,
        "syncro.token_env: environment variable MY_TOKEN is not set",
    );
    assert_has(&problems, "syncro.requests_per_minute");

    let settings = settings_with("[syncro]\nurl = \"\"", &[]);
    let problems = ProcessorConfig::from_settings(&settings).expect_err("invalid");
    assert_has(&problems, "syncro.url: required");
    assert_has(&problems, "syncro.token: not set");

    let secret = "tok-5f1e-very-secret";
    let settings = settings_with(
        "prefix = \"BAD\"\n[syncro]\nurl = \"https://acme.syncromsp.com/api/v1\"",
        &[("RELAY_SYNCRO_TOKEN", secret)],
    );
    let problems = ProcessorConfig::from_settings(&settings).expect_err("bad prefix");
    assert_has(&problems, "prefix");
    assert!(!problems.join("\n").contains(secret));

    let settings = settings_with(
        "[syncro]\nurl = \"https://acme.syncromsp.com/api/v1\"",
        &[("RELAY_SYNCRO_TOKEN", secret)],
    );
    let config = ProcessorConfig::from_settings(&settings).expect("valid");
    assert_eq!(config.mapping.catch_all_customer_id, 4_101_776);
    let client = ClientConfig::from_settings(&settings.syncro).expect("token set");
    assert!(!format!("{client:?}").contains(secret));
}

#[test]
fn toml_error_paths_become_key_paths() {
    assert_eq!(
        describe_toml_error(
            "tickets",
            "invalid type: string \"x\", expected i64\nin `ticket_type_id`\n"
        ),
        "tickets.ticket_type_id: invalid type: string \"x\", expected i64"
    );
    assert_eq!(
        describe_toml_error("processor", "unknown field `x`, expected `a`\n"),
        "processor: unknown field `x`, expected `a`"
    );
}
