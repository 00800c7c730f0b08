//! Operators steer the workers through the operator state in PostgreSQL: silences suppress
//! matching alerts (and the groups still firing get their ticket when the silence ends), a
//! pause holds every alert in RabbitMQ until resumed, each alert's trail is recorded, and
//! a PostgreSQL that is away never holds an alert up.

use crate::processor::{counts, settled};
use opstate::silence::{Limits, SilenceSpec};
use opstate::store::fleet;
use opstate::store::silences;
use opstate::store::Actor;
use opstate::trail::{self, Step, TrailQuery};
use relay_tests::alerts::alert;
use relay_tests::processor::{eventually, storm, Stack, TestProcessor};
use relay_tests::wait;
use serde_json::json;
use shared::message::message_id;
use std::time::Duration;

const LONG: Duration = Duration::from_secs(60);

fn limits() -> Limits {
    Limits {
        max_length: chrono::Duration::hours(720),
        default_resolved_pass: true,
    }
}

fn operator() -> Actor {
    Actor("test-operator".into())
}

/// A one-hour silence of the given matchers.
fn silence_of(matchers: serde_json::Value) -> SilenceSpec {
    serde_json::from_value(json!({
        "matchers": matchers,
        "schedule": {"kind": "once", "duration": "1h"},
        "reason": "patch night",
        "author": "j.smith",
    }))
    .expect("a silence spec")
}

/// Migrates the test's schema (the workers do it too, in the background).
async fn ready_db(stack: &Stack) -> opstate::Db {
    let db = stack.db();
    wait::until("PostgreSQL migrated", LONG, || async {
        db.migrate().await.ok()
    })
    .await;
    db
}

/// Waits until the worker's `/metrics` has the sample line `name value` (a whole line: the
/// metric's HELP text may contain the same words).
async fn metric_reaches(worker: &TestProcessor, name: &str, value: &str) {
    let line = format!("{name} {value}");
    wait::until(&format!("the worker's {line}"), LONG, || async {
        let body = worker.metrics_text().await?;
        body.lines().any(|l| l == line).then_some(())
    })
    .await;
}

/// The steps recorded for one alert, polled until `step` is among them.
async fn steps_until(db: &opstate::Db, alert_id: &str, step: Step) -> Vec<trail::Event> {
    let query = TrailQuery {
        alert: Some(alert_id.to_string()),
        ..TrailQuery::default()
    };
    wait::until("the trail's step", LONG, || async {
        let events = trail::search(db, &query).await.ok()?;
        events.iter().any(|e| e.step == step).then_some(events)
    })
    .await
}

#[tokio::test]
async fn a_silenced_group_gets_no_ticket_until_its_silence_ends_then_one_saying_what_was_held() {
    let stack = Stack::start(|_| {}, "").await;
    let db = ready_db(&stack).await;
    let silence = silences::add(
        &db,
        &operator(),
        &silence_of(json!([
            {"field": "organization", "op": "=", "value": "org-42"},
            {"field": "event_type", "op": "=~", "value": "m365\\..*"},
        ])),
        &limits(),
    )
    .await
    .expect("the silence is added");
    let worker = TestProcessor::spawn(&stack.config);
    // The worker reads the silence within its refresh.
    metric_reaches(&worker, "relay_processor_silences_active", "1").await;
    let muted = storm("muted", 6, 2);
    stack.send(&muted).await;
    // Another organization's alert is not matched: it becomes a ticket meanwhile.
    let mut other = alert("other-1");
    other["organization"] = json!({"id": "org-fabrikam"});
    stack.send(&[other]).await;
    settled(&stack, &[message_id("demo", "other-1")]).await;
    for i in 0..6 {
        steps_until(&db, &format!("muted-{i}"), Step::Suppressed).await;
    }
    assert_eq!(
        stack.tickets().len(),
        1,
        "only the unmatched alert's ticket"
    );
    // The silence ends: each of the two groups, still firing, gets one ticket.
    silences::expire(&db, &operator(), silence.id)
        .await
        .expect("expired");
    eventually("the held groups' tickets", LONG, || {
        stack.tickets().len() == 3
    })
    .await;
    let tickets = stack.tickets();
    let released: Vec<_> = tickets
        .iter()
        .filter(|t| {
            t.comments
                .iter()
                .any(|c| c.contains("suppressed by a silence"))
        })
        .collect();
    assert_eq!(released.len(), 2, "one ticket per held group");
    for ticket in released {
        let first = &ticket.comments[0];
        assert!(
            first.contains("3 alert(s) of this group were suppressed"),
            "{first}"
        );
        assert!(first.contains("patch night"), "{first}");
    }
    wait::until("the queues to drain", LONG, || async {
        (stack.queued().await == 0).then_some(())
    })
    .await;
    worker.stop().await.expect("stops");
    stack.finish().await;
}

#[tokio::test]
async fn a_group_resolved_during_its_silence_gets_no_ticket_when_it_ends() {
    let stack = Stack::start(|_| {}, "").await;
    let db = ready_db(&stack).await;
    let silence = silences::add(
        &db,
        &operator(),
        &silence_of(json!([{"field": "organization", "op": "=", "value": "org-42"}])),
        &limits(),
    )
    .await
    .expect("the silence is added");
    let worker = TestProcessor::spawn(&stack.config);
    metric_reaches(&worker, "relay_processor_silences_active", "1").await;
    stack.send(&[alert("flap-1")]).await;
    steps_until(&db, "flap-1", Step::Suppressed).await;
    let mut resolved = alert("flap-2");
    resolved["status"] = json!("resolved");
    stack.send(&[resolved]).await;
    // The resolved alert passes through (the default); its group has no ticket to note.
    steps_until(&db, "flap-2", Step::Planned).await;
    silences::expire(&db, &operator(), silence.id)
        .await
        .expect("expired");
    // The release pass has run once the row is marked released.
    wait::until("the held group to be settled", LONG, || async {
        let due = silences::due_releases(&db, chrono::Utc::now(), 10)
            .await
            .ok()?;
        due.is_empty().then_some(())
    })
    .await;
    assert!(
        stack.tickets().iter().all(|t| !t
            .comments
            .iter()
            .any(|c| c.contains("suppressed by a silence"))),
        "a resolved group is not ticketed when its silence ends"
    );
    worker.stop().await.expect("stops");
    stack.finish().await;
}

#[tokio::test]
async fn a_paused_fleet_keeps_alerts_in_the_queue_and_resume_works_them_off_once_each() {
    let stack = Stack::start(|_| {}, "").await;
    let db = ready_db(&stack).await;
    let worker = TestProcessor::spawn(&stack.config);
    let (state, changed) = fleet::set_paused(&db, &operator(), true, Some("Syncro upgrade"))
        .await
        .expect("paused");
    assert!(state.paused && changed);
    metric_reaches(&worker, "relay_processor_paused", "1").await;
    let alerts = storm("paused", 30, 3);
    let ids: Vec<String> = (0..30)
        .map(|i| message_id("demo", &format!("paused-{i}")))
        .collect();
    stack.send(&alerts).await;
    wait::until("the alerts to wait in the queue", LONG, || async {
        (stack.queued().await == 30).then_some(())
    })
    .await;
    assert!(
        stack.tickets().is_empty(),
        "nothing reaches Syncro while paused"
    );
    let (_, changed) = fleet::set_paused(&db, &operator(), false, None)
        .await
        .expect("resumed");
    assert!(changed);
    settled(&stack, &ids).await;
    let refs = stack.references();
    assert_eq!(refs.len(), 30, "every alert once");
    assert!(counts(&refs).values().all(|&n| n == 1));
    assert_eq!(stack.tickets().len(), 3);
    let audit = opstate::store::audit::list(&db, None, 10)
        .await
        .expect("audit");
    let actions: Vec<&str> = audit.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["resume", "pause"], "newest first");
    assert!(audit.iter().all(|e| e.actor == "test-operator"));
    worker.stop().await.expect("stops");
    stack.finish().await;
}

#[tokio::test]
async fn each_alert_leaves_a_trail_from_its_plan_to_its_ticket_number() {
    let stack = Stack::start(|_| {}, "").await;
    let db = ready_db(&stack).await;
    let worker = TestProcessor::spawn(&stack.config);
    stack.send(&[alert("trail-1")]).await;
    settled(&stack, &[message_id("demo", "trail-1")]).await;
    let events = steps_until(&db, "trail-1", Step::TicketCreated).await;
    let planned = events
        .iter()
        .find(|e| e.step == Step::Planned)
        .expect("a planned step");
    assert_eq!(planned.organization.as_deref(), Some("org-42"));
    assert!(
        planned.detail["fields"]["priority"].is_array(),
        "{:?}",
        planned.detail
    );
    let created = events
        .iter()
        .find(|e| e.step == Step::TicketCreated)
        .expect("a ticket step");
    let ticket = &stack.tickets()[0];
    assert_eq!(created.ticket_id, Some(ticket.id));
    let number = created.ticket_number.clone().expect("its number");
    // Found again by the ticket's number.
    let by_ticket = trail::search(
        &db,
        &TrailQuery {
            ticket_number: Some(number),
            ..TrailQuery::default()
        },
    )
    .await
    .expect("search");
    assert!(by_ticket
        .iter()
        .any(|e| e.sender_id.as_deref() == Some("trail-1")));
    worker.stop().await.expect("stops");
    stack.finish().await;
}

#[tokio::test]
async fn with_postgresql_away_alerts_still_become_tickets() {
    let port = relay_tests::free_port();
    let stack = Stack::start(|_| {}, "").await;
    let config = format!(
        "{}\n[postgres]\nurl = \"postgres://postgres@127.0.0.1:{port}/postgres\"\ntimeout_ms = 300\n",
        stack.config
    );
    let worker = TestProcessor::spawn(&config);
    let alerts = storm("nopg", 20, 2);
    let ids: Vec<String> = (0..20)
        .map(|i| message_id("demo", &format!("nopg-{i}")))
        .collect();
    stack.send(&alerts).await;
    settled(&stack, &ids).await;
    assert_eq!(stack.tickets().len(), 2);
    worker.stop().await.expect("stops");
    stack.finish().await;
}

#[tokio::test]
async fn a_quiet_feed_opens_a_ticket_and_its_heartbeat_notes_that_it_is_back() {
    let stack = Stack::start(|_| {}, "").await;
    ready_db(&stack).await;
    let config = stack.config.replacen(
        "[sources.demo]\n",
        "[sources.demo]\nexpected_interval_secs = 2\n",
        1,
    );
    assert_ne!(config, stack.config, "the source is watched");
    let worker = TestProcessor::spawn(&config);
    let silent = |t: &relay_tests::processor::SimTicket| t.subject.contains("\"demo\" is silent");
    eventually("the quiet feed's ticket", LONG, || {
        stack.tickets().iter().any(silent)
    })
    .await;
    let ticket = stack
        .tickets()
        .into_iter()
        .find(silent)
        .expect("the feed's ticket");
    assert_eq!(ticket.customer_id, relay_tests::processor::CATCH_ALL);
    assert!(ticket.comments[0].contains("No alert and no heartbeat from source"));
    // The source's signed heartbeat: the feed is back, and the ticket says so.
    let response = stack
        .ingest
        .heartbeat(
            "demo",
            b"",
            &relay_tests::alerts::standard_headers(relay_tests::alerts::SECRET, b""),
        )
        .await;
    assert_eq!(response.status().as_u16(), 202);
    eventually("the note saying the feed is back", LONG, || {
        stack
            .tickets()
            .iter()
            .any(|t| t.id == ticket.id && t.comments.iter().any(|c| c.contains("is sending again")))
    })
    .await;
    worker.stop().await.expect("stops");
    stack.finish().await;
}
