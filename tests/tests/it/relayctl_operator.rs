//! `relayctl trace`, `silence`, `pause`, `resume` and `status`: the real binary against the
//! real operator API (in-process, its own PostgreSQL schema), with the token only in
//! `RELAY_OPERATOR_TOKEN`. What an operator reads, and the exit status a script sees.

use chrono::{DateTime, Duration, Utc};
use opstate::silence::{Op, Silence};
use opstate::store::silences;
use opstate::store::workers::{self, WorkerReport};
use opstate::trail::{Event, Step, TrailWriter};
use relay_tests::operator::{config, silence_spec, TestOperator, OPERATE_TOKEN, READ_TOKEN};
use relay_tests::{free_port, workspace_binary, Context};
use serde_json::{json, Value};

/// What one run of relayctl left.
struct Run {
    status: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.stdout))
    }

    /// Panics with what relayctl printed unless it exited with `status`.
    fn exited(&self, status: i32) -> &Run {
        assert_eq!(
            self.status, status,
            "exit status\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }
}

/// Runs relayctl against `op` with `token` in the environment (none: unset), as user `dana`.
async fn relayctl(op: &TestOperator, token: Option<&str>, args: &[&str]) -> Run {
    let mut command = tokio::process::Command::new(workspace_binary("relayctl"));
    command
        .args(args)
        .env("RELAY_OPERATOR_URL", &op.base_url)
        .env("USER", "dana")
        .env_remove("RELAY_OPERATOR_TOKEN")
        .env_remove("RELAY_CONFIG")
        .kill_on_drop(true);
    if let Some(token) = token {
        command.env("RELAY_OPERATOR_TOKEN", token);
    }
    let output = command.output().await.expect("relayctl runs");
    Run {
        status: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

async fn started() -> TestOperator {
    let op = TestOperator::spawn(&Context::new()).await;
    op.ready().await;
    op
}

async fn stored(op: &TestOperator) -> Vec<Silence> {
    silences::list(&op.db, true).await.expect("silences")
}

/// The id `silence add` printed: `added silence <uuid> (<state>)`.
fn added_id(run: &Run) -> String {
    run.stdout
        .lines()
        .next()
        .and_then(|l| l.strip_prefix("added silence "))
        .and_then(|l| l.split_whitespace().next())
        .unwrap_or_else(|| panic!("no id in: {}", run.stdout))
        .to_string()
}

#[tokio::test]
async fn a_silence_is_added_listed_extended_and_expired() {
    let op = started().await;

    let add = relayctl(
        &op,
        Some(OPERATE_TOKEN),
        &[
            "silence",
            "add",
            "--match",
            "organization=org-42",
            "--match",
            r"event_type=~m365\..*",
            "--for",
            "2h",
            "--reason",
            "patch night",
        ],
    )
    .await;
    add.exited(0);
    let id = added_id(&add);
    assert!(add.stdout.contains("(active)"), "{}", add.stdout);
    assert!(
        add.stdout
            .contains(r#"matchers  organization="org-42", event_type=~"m365\\..*""#),
        "{}",
        add.stdout
    );
    assert!(add.stdout.contains("author    dana"), "{}", add.stdout);
    let silence = stored(&op).await.pop().expect("the silence is stored");
    assert_eq!(silence.id.to_string(), id);
    assert_eq!(silence.checked.matchers[1].op, Op::Regex);
    assert_eq!(silence.checked.matchers[1].value, r"m365\..*");
    assert_eq!(silence.checked.author, "dana");
    let ends = silence.checked.ends_at;
    assert_eq!(ends - silence.checked.starts_at, Duration::hours(2));

    // A weekly window, its --until ending the recurrence; resolved alerts muted too.
    let weekly = relayctl(
        &op,
        Some(OPERATE_TOKEN),
        &[
            "silence",
            "add",
            "--match",
            "source=demo",
            "--weekly",
            "sat,sun 22:00-02:00",
            "--tz",
            "Europe/Berlin",
            "--until",
            "2099-01-01T00:00:00Z",
            "--reason",
            "weekend patching",
            "--author",
            "erin",
            "--suppress-resolved",
        ],
    )
    .await;
    weekly.exited(0);
    let weekly_id = added_id(&weekly);
    assert!(
        weekly.stdout.contains(
            "schedule  weekly sat,sun 22:00-02:00 Europe/Berlin, until 2099-01-01T00:00:00Z"
        ),
        "{}",
        weekly.stdout
    );
    assert!(
        weekly.stdout.contains("resolved  muted too"),
        "{}",
        weekly.stdout
    );

    let short = &id[..8];
    let list = relayctl(&op, Some(READ_TOKEN), &["silence", "list"]).await;
    list.exited(0);
    let header = list.stdout.lines().next().unwrap_or_default();
    for column in [
        "ID",
        "STATE",
        "MATCHERS",
        "SCHEDULE",
        "ENDS",
        "SUPPRESSED",
        "REASON",
        "AUTHOR",
    ] {
        assert!(header.contains(column), "{header}");
    }
    let row = list
        .stdout
        .lines()
        .find(|l| l.starts_with(short))
        .unwrap_or_else(|| panic!("no row for {short}: {}", list.stdout));
    for cell in [
        "active",
        "organization=\"org-42\"",
        "once for 2h",
        "patch night",
        "dana",
    ] {
        assert!(row.contains(cell), "{cell} in {row}");
    }
    assert!(
        list.stdout
            .contains("weekly sat,sun 22:00-02:00 Europe/Berlin"),
        "{}",
        list.stdout
    );
    let listed = relayctl(&op, Some(READ_TOKEN), &["silence", "list", "--json"]).await;
    listed.exited(0);
    assert_eq!(listed.json().as_array().map(Vec::len), Some(2));

    // Extended by its short id, then to a given end.
    let extend = relayctl(
        &op,
        Some(OPERATE_TOKEN),
        &["silence", "extend", short, "--by", "1h"],
    )
    .await;
    extend.exited(0);
    assert!(extend.stdout.contains(&id), "{}", extend.stdout);
    let now_ends = |silences: Vec<Silence>| {
        silences
            .into_iter()
            .find(|s| s.id.to_string() == id)
            .map(|s| s.checked.ends_at)
            .expect("still stored")
    };
    assert_eq!(now_ends(stored(&op).await), ends + Duration::hours(1));
    let until =
        (Utc::now() + Duration::hours(5)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    relayctl(
        &op,
        Some(OPERATE_TOKEN),
        &["silence", "extend", &id, "--until", &until],
    )
    .await
    .exited(0);
    let wanted: DateTime<Utc> = until.parse().expect("time");
    assert_eq!(now_ends(stored(&op).await), wanted);
    // Past the deployment's longest silence (48 h): refused, and said why.
    let too_long = relayctl(
        &op,
        Some(OPERATE_TOKEN),
        &["silence", "extend", short, "--by", "3d"],
    )
    .await;
    too_long.exited(2);
    assert!(
        too_long.stderr.contains("longer than the maximum"),
        "{}",
        too_long.stderr
    );

    // Expired: gone from the list of current silences, shown as such with --all.
    let expire = relayctl(&op, Some(OPERATE_TOKEN), &["silence", "expire", short]).await;
    expire.exited(0);
    assert!(
        expire.stdout.starts_with(&format!("expired silence {id}")),
        "{}",
        expire.stdout
    );
    let list = relayctl(&op, Some(READ_TOKEN), &["silence", "list"]).await;
    list.exited(0);
    assert!(!list.stdout.contains(short), "{}", list.stdout);
    assert!(list.stdout.contains(&weekly_id[..8]), "{}", list.stdout);
    let all = relayctl(&op, Some(READ_TOKEN), &["silence", "list", "--all"]).await;
    let row = all
        .stdout
        .lines()
        .find(|l| l.starts_with(short))
        .unwrap_or_default();
    assert!(row.contains("expired"), "{}", all.stdout);

    // Expiring it again is a conflict; an id that names nothing is said so.
    let again = relayctl(&op, Some(OPERATE_TOKEN), &["silence", "expire", &id]).await;
    again.exited(1);
    assert!(
        again.stderr.contains("409 already_ended"),
        "{}",
        again.stderr
    );
    let unknown = relayctl(&op, Some(OPERATE_TOKEN), &["silence", "expire", "fff0"]).await;
    unknown.exited(1);
    assert!(
        unknown
            .stderr
            .contains("no silence id starts with \"fff0\""),
        "{}",
        unknown.stderr
    );

    op.stop().await.expect("stops cleanly");
}

#[tokio::test]
async fn an_invalid_silence_prints_every_problem_under_its_flag_and_stores_nothing() {
    let op = started().await;
    let run = relayctl(
        &op,
        Some(OPERATE_TOKEN),
        &[
            "silence",
            "add",
            "--match",
            r"event_type=~m365\.(",
            "--match",
            "severity=urgent",
            "--weekly",
            "sat,sun 25:00-02:00",
            "--tz",
            "Mars/Olympus",
            "--reason",
            " ",
        ],
    )
    .await;
    run.exited(2);
    assert!(run.stdout.is_empty(), "{}", run.stdout);
    let first = run.stderr.lines().next().unwrap_or_default();
    assert!(
        first.contains("problem(s) with the silence (422 invalid_silence); nothing was stored"),
        "{}",
        run.stderr
    );
    let problems: Vec<&str> = run.stderr.lines().skip(1).collect();
    for (flag, field) in [
        (r"--match 'event_type=~m365\.('", "(matchers[0].value)"),
        ("--match 'severity=urgent'", "(matchers[1].value)"),
        ("--weekly", "(schedule.from)"),
        ("--tz", "(schedule.time_zone)"),
        ("--reason", "(reason)"),
    ] {
        assert!(
            problems
                .iter()
                .any(|l| l.starts_with(&format!("  {flag} {field}: "))),
            "{flag} {field} in\n{}",
            run.stderr
        );
    }
    assert_eq!(problems.len(), 5, "{}", run.stderr);
    assert!(stored(&op).await.is_empty(), "nothing was stored");

    // A matcher that does not parse never reaches the API: a usage error.
    let bad = relayctl(
        &op,
        Some(OPERATE_TOKEN),
        &[
            "silence", "add", "--match", "org=x", "--for", "1h", "--reason", "r",
        ],
    )
    .await;
    bad.exited(2);
    assert!(
        bad.stderr.contains("unknown field \"org\""),
        "{}",
        bad.stderr
    );

    op.stop().await.expect("stops cleanly");
}

#[tokio::test]
async fn pause_and_resume_print_the_state_and_whether_it_changed() {
    let op = started().await;

    let pause = relayctl(
        &op,
        Some(OPERATE_TOKEN),
        &["pause", "--reason", "Syncro maintenance"],
    )
    .await;
    pause.exited(0);
    let mut lines = pause.stdout.lines();
    let state = lines.next().unwrap_or_default();
    assert!(
        state.starts_with("state:   paused by alice since ")
            && state.ends_with(": Syncro maintenance"),
        "{}",
        pause.stdout
    );
    assert_eq!(lines.next(), Some("changed: yes"));
    let again = relayctl(&op, Some(OPERATE_TOKEN), &["pause", "--reason", "again"]).await;
    again.exited(0);
    assert!(
        again.stdout.contains(": Syncro maintenance"),
        "{}",
        again.stdout
    );
    assert!(again.stdout.contains("changed: no"), "{}", again.stdout);

    // Status shows the pause; a paused fleet is not a part down (a worker alive is needed:
    // none is).
    let alive = WorkerReport {
        paused: true,
        redis_up: true,
        broker_up: true,
        ..WorkerReport::default()
    };
    workers::report(&op.db, "w-1", "proc-a", Utc::now(), &alive)
        .await
        .expect("worker report");
    report_ingest(&op, 0).await;
    op.fully_up().await;
    let status = relayctl(&op, Some(READ_TOKEN), &["status"]).await;
    status.exited(0);
    assert!(
        status
            .stdout
            .contains("fleet     PAUSED: paused by alice since"),
        "{}",
        status.stdout
    );

    // A read token may not pause: it says which token is needed, and never shows one.
    let forbidden = relayctl(&op, Some(READ_TOKEN), &["resume"]).await;
    forbidden.exited(2);
    assert!(
        forbidden.stderr.contains("forbidden"),
        "{}",
        forbidden.stderr
    );
    assert!(
        forbidden
            .stderr
            .contains("set RELAY_OPERATOR_TOKEN to an operate token"),
        "{}",
        forbidden.stderr
    );
    assert!(
        !forbidden.stderr.contains(READ_TOKEN),
        "{}",
        forbidden.stderr
    );

    let resume = relayctl(&op, Some(OPERATE_TOKEN), &["resume"]).await;
    resume.exited(0);
    assert!(
        resume
            .stdout
            .starts_with("state:   running (resumed by alice at "),
        "{}",
        resume.stdout
    );
    assert!(resume.stdout.contains("changed: yes"), "{}", resume.stdout);
    let resumed = relayctl(&op, Some(OPERATE_TOKEN), &["resume"]).await;
    assert!(
        resumed.exited(0).stdout.contains("changed: no"),
        "{}",
        resumed.stdout
    );

    op.stop().await.expect("stops cleanly");
}

/// Writes one alert's steps, and a second alert's noted on the same ticket, through the
/// workers' trail writer, as the workers write them (a note's row has no ticket number).
async fn record_trail(op: &TestOperator) -> DateTime<Utc> {
    let (writer, task) = TrailWriter::start(op.db.clone(), 64);
    // Whole milliseconds: what PostgreSQL keeps is what the timeline prints.
    let ago = Utc::now() - Duration::minutes(10);
    let start = DateTime::from_timestamp_millis(ago.timestamp_millis()).expect("a time");
    let step = |step: Step, id: &str, alert: &str, after_ms: i64| {
        let mut event = Event::new(step, id, "demo").sender(alert, "org-42");
        event.at = start + Duration::milliseconds(after_ms);
        event
    };
    writer.record(step(Step::Received, "ar1-77", "evt-77", 0).detail(json!({
        "event_type": "m365.impossible_travel", "severity": "high", "status": "firing",
        "title": "Impossible travel",
    })));
    writer.record(step(Step::Planned, "ar1-77", "evt-77", 300).detail(json!({
        "subject": "Impossible travel",
        "fields": {
            "customer_id": ["4101771", "mapping.organizations[\"org-42\"]"],
            "priority": ["1 High", "tickets (defaults)"],
        },
    })));
    writer.record(
        step(Step::Suppressed, "ar1-77", "evt-77", 310).detail(json!({
            "silence_id": "5f0c2a9e-1b7d-4c3e-9a61-2f0b8d4e7c11", "reason": "patch night",
            "window_end": "2026-12-02T02:00:00Z",
        })),
    );
    writer.record(
        step(Step::Released, "ar1-77", "evt-77", 60_000).detail(json!({
            "silence_id": "5f0c2a9e-1b7d-4c3e-9a61-2f0b8d4e7c11", "suppressed": 3,
            "first_at": "2026-12-01T22:00:00Z", "last_at": "2026-12-01T23:00:00Z",
        })),
    );
    writer.record(
        step(Step::Retried, "ar1-77", "evt-77", 61_000).detail(json!({
            "attempt": 2, "retry_in_secs": 30, "kind": "syncro_500", "error": "HTTP 500",
        })),
    );
    writer.record(
        step(Step::TicketCreated, "ar1-77", "evt-77", 92_000).ticket(88123, Some("1004".into())),
    );
    writer.record(step(Step::Received, "ar1-78", "evt-78", 120_000));
    writer.record(step(Step::NoteAdded, "ar1-78", "evt-78", 120_500).ticket(88123, None));
    task.finish(std::time::Duration::from_secs(10)).await;
    start
}

#[tokio::test]
async fn trace_tells_an_alert_s_steps_as_a_utc_timeline() {
    let op = started().await;
    let start = record_trail(&op).await;

    let trace = relayctl(&op, Some(READ_TOKEN), &["trace", "evt-77"]).await;
    trace.exited(0);
    let lines: Vec<&str> = trace.stdout.lines().collect();
    assert_eq!(
        lines.first().copied(),
        Some("alert evt-77 (message ar1-77) from demo, organization org-42"),
        "{}",
        trace.stdout
    );
    let first_at = start.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    assert!(
        lines[1].starts_with(&format!("  {first_at}    +0.00 s  received by ingest: high m365.impossible_travel \"Impossible travel\" (firing)")),
        "{}",
        trace.stdout
    );
    for (line, text) in [
        (2, "+0.30 s  planned: customer 4101771 (mapping.organizations[\"org-42\"]), priority 1 High (tickets (defaults)), subject \"Impossible travel\""),
        (3, "+0.31 s  suppressed by silence 5f0c2a9e-1b7d-4c3e-9a61-2f0b8d4e7c11 (patch night) until 2026-12-02T02:00:00Z"),
        (4, "+1m00s  released: silence 5f0c2a9e-1b7d-4c3e-9a61-2f0b8d4e7c11 ended while its group was still firing; its ticket was queued (3 alert(s) held from 2026-12-01T22:00:00Z to 2026-12-01T23:00:00Z)"),
        (5, "+1m01s  retry in 30 s after syncro_500 (attempt 2): HTTP 500"),
        (6, "+1m32s  ticket #1004 (id 88123) created"),
    ] {
        assert!(
            lines.get(line).is_some_and(|l| l.ends_with(text)),
            "line {line} should end with {text:?}:\n{}",
            trace.stdout
        );
    }
    assert_eq!(lines.len(), 7, "{}", trace.stdout);

    // By message id, as JSON: the events as the API gives them.
    let json = relayctl(&op, Some(READ_TOKEN), &["trace", "ar1-77", "--json"]).await;
    let events = json.exited(0).json();
    let steps: Vec<&str> = events
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["step"].as_str())
        .collect();
    assert_eq!(
        steps,
        [
            "received",
            "planned",
            "suppressed",
            "released",
            "retried",
            "ticket_created"
        ]
    );

    // A ticket's alerts; an organization's, each alert in its own block (the note's row
    // names the ticket by id: its number is taken from the creation's row).
    let ticket = relayctl(&op, Some(READ_TOKEN), &["trace", "--ticket", "1004"]).await;
    assert_eq!(ticket.exited(0).stdout, trace.stdout);
    let org = relayctl(
        &op,
        Some(READ_TOKEN),
        &["trace", "--organization", "org-42", "--since", "1h"],
    )
    .await;
    org.exited(0);
    let blocks: Vec<&str> = org.stdout.split("\n\n").collect();
    assert_eq!(blocks.len(), 2, "{}", org.stdout);
    assert_eq!(format!("{}\n", blocks[0]), trace.stdout);
    assert!(
        blocks[1].starts_with("alert evt-78 (message ar1-78) from demo, organization org-42")
            && blocks[1].contains("+0.50 s  note added to ticket #1004 (id 88123)"),
        "{}",
        org.stdout
    );

    // Nothing found: exit 1 and a message saying what was looked for.
    let none = relayctl(&op, Some(READ_TOKEN), &["trace", "evt-404"]).await;
    none.exited(1);
    assert!(none.stdout.is_empty(), "{}", none.stdout);
    assert!(
        none.stderr
            .starts_with("relayctl trace: no step recorded for alert \"evt-404\""),
        "{}",
        none.stderr
    );

    op.stop().await.expect("stops cleanly");
}

#[tokio::test]
async fn status_exits_0_when_every_part_is_up_and_1_when_postgres_is_down() {
    let op = started().await;
    op.fully_up().await;
    let report = WorkerReport {
        held: 12,
        in_flight: 1,
        syncro_requests_last_minute: 45,
        redis_up: true,
        broker_up: true,
        version: "0.1.0".into(),
        ..WorkerReport::default()
    };
    workers::report(&op.db, "w-1", "proc-a", Utc::now(), &report)
        .await
        .expect("worker report");
    // Without an ingest reporting, the front door is a part down.
    let no_ingest = relayctl(&op, Some(READ_TOKEN), &["status"]).await;
    no_ingest.exited(1);
    assert!(
        no_ingest.stdout.contains("DOWN: ingest (none alive)"),
        "{}",
        no_ingest.stdout
    );
    report_ingest(&op, 5).await;
    let added = op
        .post(
            "/v1/silences",
            Some(OPERATE_TOKEN),
            silence_spec(
                json!([{"field": "organization", "op": "=", "value": "org-42"}]),
                "1h",
            ),
        )
        .await;
    assert_eq!(added.status, 201, "{}", added.body);

    let status = relayctl(&op, Some(READ_TOKEN), &["status"]).await;
    status.exited(0);
    for line in [
        "fleet     running",
        "silences  1 active, 0 pending",
        "postgres  up",
        "sources   none overdue",
        "ingest    1 alive, 5 alerts accepted since they started",
        "all up",
    ] {
        assert!(
            status.stdout.lines().any(|l| l == line),
            "{line:?} in\n{}",
            status.stdout
        );
    }
    let json = relayctl(&op, Some(READ_TOKEN), &["status", "--json"]).await;
    let json = json.exited(0).json();
    assert_eq!(json["postgres"], "up");
    let prefix = json["deployment"]["prefix"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(prefix.starts_with("t-"), "the deployment is named: {json}");
    assert!(
        status
            .stdout
            .lines()
            .any(|l| l.starts_with(&format!("account   {prefix} ("))),
        "{}",
        status.stdout
    );
    if json.get("workers").is_some() {
        // Once the API reports the workers: their load, and a lost Redis is a part down.
        assert!(
            status.stdout.contains("workers   1 alive"),
            "{}",
            status.stdout
        );
        assert!(
            status
                .stdout
                .contains("syncro    45 calls in the last minute, of a budget of 180/min (25%)"),
            "{}",
            status.stdout
        );
        let lost = WorkerReport {
            redis_up: false,
            ..report.clone()
        };
        workers::report(&op.db, "w-2", "proc-b", Utc::now(), &lost)
            .await
            .expect("worker report");
        let down = relayctl(&op, Some(READ_TOKEN), &["status"]).await;
        down.exited(1);
        assert!(
            down.stdout.contains("DOWN: redis (worker proc-b)"),
            "{}",
            down.stdout
        );
    }

    // The same API with its PostgreSQL unreachable: blank parts, and exit 1.
    let ctx = Context::new();
    let dark = TestOperator::spawn_with(&config(
        &ctx,
        "postgres://postgres@127.0.0.1:1/postgres",
        "",
    ))
    .await;
    relay_tests::wait::http_ok(
        "the operator answers",
        &dark.url("/healthz"),
        std::time::Duration::from_secs(20),
    )
    .await;
    // Its broker connection is made in the background: until it is, RabbitMQ is down too.
    relay_tests::wait::until(
        "the dark API's RabbitMQ connection",
        std::time::Duration::from_secs(30),
        || async {
            let status = dark.get("/v1/status", Some(READ_TOKEN)).await;
            (status.body["rabbitmq"] == "up").then_some(())
        },
    )
    .await;
    let down = relayctl(&dark, Some(READ_TOKEN), &["status"]).await;
    down.exited(1);
    assert!(down.stdout.contains("postgres  DOWN"), "{}", down.stdout);
    assert!(
        down.stdout
            .contains("fleet     unknown (PostgreSQL is down)"),
        "{}",
        down.stdout
    );
    assert!(down.stdout.ends_with("DOWN: postgres\n"), "{}", down.stdout);
    // Two deployments (two Syncro accounts) on one page, each under its prefix: one is down,
    // so the whole is.
    let both = relayctl(&op, Some(READ_TOKEN), &["status", "--also", &dark.base_url]).await;
    both.exited(1);
    let headings: Vec<&str> = both
        .stdout
        .lines()
        .filter(|l| l.starts_with("== "))
        .collect();
    assert_eq!(headings.len(), 2, "{}", both.stdout);
    assert!(
        headings.iter().all(|h| h.starts_with("== t-")),
        "{}",
        both.stdout
    );
    assert!(
        headings[1].ends_with(&format!("at {} ==", dark.base_url)),
        "{}",
        both.stdout
    );
    assert_eq!(
        both.stdout
            .lines()
            .filter(|l| l.starts_with("account   t-"))
            .count(),
        2,
        "{}",
        both.stdout
    );
    // Its schema never existed: the error of dropping it is not this test's subject.
    let _ = dark.stop().await;

    op.stop().await.expect("stops cleanly");
}

#[tokio::test]
async fn a_missing_wrong_or_unreachable_api_is_said_plainly() {
    let op = started().await;

    let missing = relayctl(&op, None, &["silence", "list"]).await;
    missing.exited(2);
    assert_eq!(
        missing.stderr.trim_end(),
        "relayctl silence list: RELAY_OPERATOR_TOKEN is not set: this command needs a read (or operate) token of the operator API"
    );
    let missing = relayctl(&op, None, &["pause", "--reason", "x"]).await;
    missing.exited(2);
    assert!(
        missing.stderr.contains("needs an operate token"),
        "{}",
        missing.stderr
    );

    let wrong = "not-a-real-token-5e1f0a9b";
    let refused = relayctl(&op, Some(wrong), &["status"]).await;
    refused.exited(2);
    assert!(
        refused
            .stderr
            .contains("refused the token in RELAY_OPERATOR_TOKEN (token_invalid"),
        "{}",
        refused.stderr
    );
    assert!(!refused.stderr.contains(wrong) && !refused.stdout.contains(wrong));

    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let away = relayctl(&op, Some(READ_TOKEN), &["status", "--api", &url]).await;
    away.exited(1);
    assert!(
        away.stderr.starts_with(&format!(
            "relayctl status: the operator API is not reachable at {url}: "
        )),
        "{}",
        away.stderr
    );
    assert!(
        away.stderr.to_lowercase().contains("refused"),
        "{}",
        away.stderr
    );

    op.stop().await.expect("stops cleanly");
}

/// An ingest instance's report, as a running ingest writes it every 2 s.
async fn report_ingest(op: &TestOperator, accepted: u64) {
    let report = workers::IngestReport {
        broker_up: true,
        accepted,
        version: "0.1.0".into(),
    };
    workers::report_ingest(&op.db, "ingest-1", "front-a", Utc::now(), &report)
        .await
        .expect("ingest report");
}
