//! The processor end to end: signed alerts through ingest, real RabbitMQ and Redis, and the
//! Syncro simulator; what an MSP would see in Syncro and in the queues.

use relay_tests::alerts::alert;
use relay_tests::processor::{eventually, storm, Stack, TestProcessor, CATCH_ALL, CONTOSO};
use relay_tests::proxy::Proxy;
use relay_tests::wait;
use serde_json::json;
use shared::amqp::topology::{header_i64, header_str};
use shared::message::message_id;
use std::collections::HashMap;
use std::time::Duration;
use syncro_sim::{FaultKind, FaultSpec};

const LONG: Duration = Duration::from_secs(60);

fn fault(kind: FaultKind, route: &str) -> FaultSpec {
    serde_json::from_value(json!({"kind": kind.as_str(), "route": route})).expect("fault spec")
}

/// Waits until every one of `ids` is referenced in Syncro and nothing is left in any queue.
pub(crate) async fn settled(stack: &Stack, ids: &[String]) {
    eventually("every alert in Syncro", LONG, || {
        let refs = stack.references();
        ids.iter().all(|id| refs.contains(id))
    })
    .await;
    wait::until("the queues to drain", LONG, || async {
        (stack.queued().await == 0).then_some(())
    })
    .await;
}

/// Waits until the dead-letter queue holds `n` messages.
async fn dead_lettered(stack: &Stack, n: u32) {
    let dead_queue = format!("{}.alerts.dead", stack.ctx.prefix);
    wait::until("the dead-letter queue to fill", LONG, || async {
        (stack.rabbit.count(&dead_queue).await >= n).then_some(())
    })
    .await;
}

pub(crate) fn counts(refs: &[String]) -> HashMap<&str, usize> {
    let mut map = HashMap::new();
    for r in refs {
        *map.entry(r.as_str()).or_insert(0) += 1;
    }
    map
}

#[tokio::test]
async fn a_mapped_alert_becomes_a_ticket_with_its_fields_and_first_comment() {
    let stack = Stack::start(|_| {}, "").await;
    let worker = TestProcessor::spawn(&stack.config);
    let mut sent = alert("first-1");
    sent["ioc_rule"] = json!({"id": "ioc-3", "name": "Known bad ASN"});
    stack.send(&[sent]).await;
    let id = message_id("demo", "first-1");
    settled(&stack, std::slice::from_ref(&id)).await;

    let tickets = stack.tickets();
    assert_eq!(tickets.len(), 1);
    let t = &tickets[0];
    assert_eq!(t.customer_id, CONTOSO);
    assert_eq!(
        t.subject,
        "m365.impossible_travel: Impossible travel for j.doe@contoso.com"
    );
    assert_eq!(t.priority.as_deref(), Some("0 Urgent"), "IOC override");
    assert_eq!(t.status, "In Progress", "IOC override");
    assert_eq!(t.user_id, Some(1301), "Respond rule override");
    assert_eq!(t.problem_type.as_deref(), Some("Security"), "default");
    assert_eq!(t.tag_list, vec!["alert-relay".to_string()]);
    assert_eq!(t.comments.len(), 1, "the alert is the first comment");
    assert_eq!(t.hidden, vec![Some(true)], "private note");
    assert!(t.comments[0].contains("Logins from Oslo and Lima"));
    worker.stop().await.expect("stops");
    stack.finish().await;
}

#[tokio::test]
async fn alerts_with_one_subject_become_one_ticket_with_coalesced_notes() {
    let stack = Stack::start(|_| {}, "").await;
    let worker = TestProcessor::spawn(&stack.config);
    let alerts = storm("group", 30, 1);
    let ids: Vec<String> = (0..30)
        .map(|i| message_id("demo", &format!("group-{i}")))
        .collect();
    stack.send(&alerts).await;
    settled(&stack, &ids).await;
    let tickets = stack.tickets();
    assert_eq!(tickets.len(), 1, "one subject, one ticket");
    let comments = tickets[0].comments.len();
    assert!(
        comments < 30,
        "30 alerts coalesced into {comments} comments"
    );
    let refs = stack.references();
    assert!(
        counts(&refs).values().all(|&n| n == 1),
        "every alert exactly once"
    );
    assert_eq!(refs.len(), 30);
    worker.stop().await.expect("stops");
    stack.finish().await;
}

#[tokio::test]
async fn unmapped_organizations_go_to_the_catch_all_and_ignored_ones_are_dropped() {
    let stack = Stack::start(|_| {}, "").await;
    let worker = TestProcessor::spawn(&stack.config);
    let mut unmapped = alert("unmapped-1");
    unmapped["organization"] =
        json!({"id": "org-new", "name": "Newco GmbH", "domain": "newco.example"});
    let mut ignored = alert("ignored-1");
    ignored["organization"] = json!({"id": "org-ignored"});
    ignored["title"] = json!("Should never be ticketed");
    stack.send(&[ignored, unmapped]).await;
    let id = message_id("demo", "unmapped-1");
    settled(&stack, std::slice::from_ref(&id)).await;

    let tickets = stack.tickets();
    assert_eq!(tickets.len(), 1, "the ignored alert made no ticket");
    assert_eq!(tickets[0].customer_id, CATCH_ALL);
    assert!(
        tickets[0].comments[0].contains("org-new"),
        "the note names the organization"
    );
    let store = processor::store::Store::new(
        &secrecy::SecretString::from(relay_tests::processor::redis_url()),
        &stack.ctx.prefix,
    )
    .expect("store");
    let unmapped = store.unmapped().await.expect("unmapped list");
    assert_eq!(unmapped.len(), 1);
    assert_eq!(unmapped[0].id, "org-new");
    assert_eq!(unmapped[0].name.as_deref(), Some("Newco GmbH"));
    assert_eq!(unmapped[0].domain.as_deref(), Some("newco.example"));
    assert_eq!(unmapped[0].count, 1);
    assert!(unmapped[0].first_seen.is_some() && unmapped[0].last_seen.is_some());
    worker.stop().await.expect("stops");
    stack.finish().await;
}

#[tokio::test]
async fn three_workers_turn_500_alerts_over_10_subjects_into_exactly_10_tickets() {
    let stack = Stack::start(|_| {}, "").await;
    let workers: Vec<TestProcessor> = (0..3)
        .map(|_| TestProcessor::spawn(&stack.config))
        .collect();
    let alerts = storm("storm", 500, 10);
    let ids: Vec<String> = (0..500)
        .map(|i| message_id("demo", &format!("storm-{i}")))
        .collect();
    stack.send(&alerts).await;
    settled(&stack, &ids).await;
    let tickets = stack.tickets();
    assert_eq!(tickets.len(), 10, "one ticket per subject");
    let refs = stack.references();
    let counted = counts(&refs);
    assert_eq!(counted.len(), 500);
    assert!(counted.values().all(|&n| n == 1), "no alert twice");
    for ticket in &tickets {
        // Every alert's reference sits in the ticket of its own subject.
        for body in &ticket.comments {
            for r in processor::plan::references_in(body) {
                let index: usize = ids.iter().position(|id| id == r).expect("known id");
                assert_eq!(
                    ticket.subject,
                    format!("m365.impossible_travel: Storm subject {}", index % 10)
                );
            }
        }
    }
    for worker in workers {
        worker.stop().await.expect("stops");
    }
    stack.finish().await;
}

#[tokio::test]
async fn a_create_or_comment_applied_then_dropped_is_not_duplicated() {
    let stack = Stack::start(|_| {}, "").await;
    let sim = stack.sim.sim();
    let mut drop_create = fault(FaultKind::DropAfterApply, "POST /tickets");
    drop_create.count = Some(1);
    let mut drop_comment = fault(FaultKind::DropAfterApply, "POST /tickets/{id}/comment");
    drop_comment.count = Some(1);
    sim.add_fault(drop_create).expect("fault");
    sim.add_fault(drop_comment).expect("fault");
    let worker = TestProcessor::spawn(&stack.config);
    stack.send(&storm("drop", 1, 1)).await;
    let first = message_id("demo", "drop-0");
    settled(&stack, std::slice::from_ref(&first)).await;
    // The group exists now: the next alert is a note, whose first POST is dropped too.
    stack.send(&[storm("drop", 2, 1)[1].clone()]).await;
    let second = message_id("demo", "drop-1");
    settled(&stack, &[first, second]).await;
    let tickets = stack.tickets();
    assert_eq!(tickets.len(), 1, "the dropped create was not repeated");
    let refs = stack.references();
    assert_eq!(
        refs.len(),
        2,
        "the dropped comment was not repeated: {refs:?}"
    );
    assert!(sim.faults().is_empty(), "both faults fired");
    worker.stop().await.expect("stops");
    stack.finish().await;
}

#[tokio::test]
async fn a_passing_syncro_failure_is_retried_to_success() {
    let stack = Stack::start(|_| {}, "").await;
    let mut failing = fault(FaultKind::Error, "POST /tickets");
    failing.status = Some(503);
    failing.count = Some(2);
    stack.sim.sim().add_fault(failing).expect("fault");
    let worker = TestProcessor::spawn(&stack.config);
    stack.send(&[alert("retry-1")]).await;
    settled(&stack, &[message_id("demo", "retry-1")]).await;
    assert_eq!(stack.tickets().len(), 1);
    worker.stop().await.expect("stops");
    stack.finish().await;
}

#[tokio::test]
async fn permanent_failures_and_exhausted_retries_go_to_the_dead_letter_queue_with_why() {
    let stack = Stack::start(|_| {}, "").await;
    let mut refused = fault(FaultKind::Error, "POST /tickets");
    refused.status = Some(422);
    refused.body = Some(r#"{"error":"Customer required field"}"#.into());
    refused.count = Some(1);
    stack.sim.sim().add_fault(refused).expect("fault");
    let worker = TestProcessor::spawn(&stack.config);
    stack.send(&[alert("dead-422")]).await;
    let dead_queue = format!("{}.alerts.dead", stack.ctx.prefix);
    dead_lettered(&stack, 1).await;
    // Now every create fails with 500: two retry tiers, then the dead-letter queue.
    let mut failing = fault(FaultKind::Error, "POST /tickets");
    failing.status = Some(500);
    stack.sim.sim().add_fault(failing).expect("fault");
    let mut second = alert("dead-500");
    second["title"] = json!("Another subject");
    stack.send(&[second]).await;
    dead_lettered(&stack, 2).await;
    worker.stop().await.expect("stops");
    let dead = stack.rabbit.take_all(&dead_queue).await;
    let by_id: HashMap<String, _> = dead
        .iter()
        .map(|m| {
            (
                m.body["alert"]["id"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                m,
            )
        })
        .collect();
    let permanent = by_id.get("dead-422").expect("the 422 alert");
    assert_eq!(
        header_str(&permanent.headers, "x-relay-error-kind").as_deref(),
        Some("syncro_422")
    );
    assert_eq!(
        header_i64(&permanent.headers, "x-relay-attempts"),
        Some(1),
        "no retry for a 422"
    );
    assert!(header_str(&permanent.headers, "x-relay-error")
        .is_some_and(|e| e.contains("Customer required field")));
    assert!(header_str(&permanent.headers, "x-relay-failed-at").is_some());
    assert_eq!(
        permanent.message_id.as_deref(),
        Some(message_id("demo", "dead-422").as_str())
    );
    let exhausted = by_id.get("dead-500").expect("the 500 alert");
    assert_eq!(
        header_str(&exhausted.headers, "x-relay-error-kind").as_deref(),
        Some("syncro_500")
    );
    assert_eq!(
        header_i64(&exhausted.headers, "x-relay-attempts"),
        Some(3),
        "two retries, then dead"
    );
    assert!(stack.tickets().is_empty());
    stack.finish().await;
}

#[tokio::test]
async fn a_redis_outage_mid_run_loses_and_duplicates_nothing() {
    let redis_addr = "127.0.0.1:6379".parse().expect("addr");
    let proxy = Proxy::start(redis_addr).await;
    let stack = Stack::start(|_| {}, "").await;
    let config = stack.config.replace(
        &relay_tests::processor::redis_url(),
        &format!("redis://{}", proxy.addr),
    );
    let worker = TestProcessor::spawn(&config);
    let alerts = storm("redis", 60, 3);
    let ids: Vec<String> = (0..60)
        .map(|i| message_id("demo", &format!("redis-{i}")))
        .collect();
    stack.send(&alerts[..20]).await;
    eventually("the first alerts in Syncro", LONG, || {
        stack.references().len() >= 5
    })
    .await;
    proxy.cut();
    stack.send(&alerts[20..]).await;
    tokio::time::sleep(Duration::from_millis(500)).await; // let workers hit the outage
    proxy.restore().await;
    settled(&stack, &ids).await;
    let refs = stack.references();
    assert_eq!(refs.len(), 60, "every alert once");
    assert!(counts(&refs).values().all(|&n| n == 1));
    assert_eq!(stack.tickets().len(), 3);
    worker.stop().await.expect("stops");
    stack.finish().await;
}

#[tokio::test]
async fn a_429_burst_pauses_the_workers_and_every_alert_still_lands_once() {
    let stack = Stack::start(|_| {}, "").await;
    let mut burst = fault(FaultKind::RateLimitBurst, "POST /tickets/{id}/comment");
    burst.count = Some(3);
    stack.sim.sim().add_fault(burst).expect("fault");
    let worker = TestProcessor::spawn(&stack.config);
    let alerts = storm("burst", 40, 2);
    let ids: Vec<String> = (0..40)
        .map(|i| message_id("demo", &format!("burst-{i}")))
        .collect();
    // The two tickets first; the rest become notes, which meet the burst.
    stack.send(&alerts[..2]).await;
    settled(&stack, &ids[..2]).await;
    stack.send(&alerts[2..]).await;
    settled(&stack, &ids).await;
    let refs = stack.references();
    assert_eq!(refs.len(), 40);
    assert!(counts(&refs).values().all(|&n| n == 1));
    assert_eq!(
        stack
            .rabbit
            .count(&format!("{}.alerts.dead", stack.ctx.prefix))
            .await,
        0
    );
    assert_eq!(
        stack.sim.sim().counters().burst_429s,
        3,
        "the burst was answered"
    );
    worker.stop().await.expect("stops");
    stack.finish().await;
}

#[tokio::test]
async fn a_worker_killed_mid_run_hands_its_alerts_over_at_once_losing_and_duplicating_nothing() {
    let stack = Stack::start(|_| {}, "").await;
    let dir = std::env::temp_dir().join(format!("proc-{}", stack.ctx.prefix));
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("relay.toml");
    // Leases far longer than the test's deadlines: the killed worker's leases on the alerts
    // it held (and on a ticket it was creating) must be taken over because it is dead, not
    // because they expired.
    assert!(stack.config.contains("lock_lease_secs = 5"));
    let config = stack
        .config
        .replace("lock_lease_secs = 5", "lock_lease_secs = 600");
    std::fs::write(&path, config).expect("config");
    let spawn = || {
        tokio::process::Command::new(relay_tests::workspace_binary("processor"))
            .arg("run")
            .arg("--config")
            .arg(&path)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("processor starts")
    };
    let mut first = spawn();
    let alerts = storm("kill", 300, 5);
    let ids: Vec<String> = (0..300)
        .map(|i| message_id("demo", &format!("kill-{i}")))
        .collect();
    stack.send(&alerts).await;
    eventually("the worker to be mid-run", LONG, || {
        stack.references().len() >= 20
    })
    .await;
    first.start_kill().expect("SIGKILL");
    let _ = first.wait().await;
    let done_at_kill = stack.references().len();
    let mut second = spawn();
    settled(&stack, &ids).await;
    let _ = second.start_kill();
    let _ = second.wait().await;
    let refs = stack.references();
    let counted = counts(&refs);
    assert_eq!(counted.len(), 300, "nothing lost");
    assert!(counted.values().all(|&n| n == 1), "nothing twice");
    assert_eq!(stack.tickets().len(), 5, "one ticket per subject");
    assert!(
        done_at_kill < 300,
        "the kill happened mid-run ({done_at_kill} of 300 done)"
    );
    let _ = std::fs::remove_dir_all(&dir);
    stack.finish().await;
}

/// Sets a ticket's status through the simulator's API, as a technician would in Syncro.
pub(crate) async fn set_status(stack: &Stack, ticket_id: i64, status: &str) {
    let response = reqwest::Client::new()
        .put(format!("{}/tickets/{ticket_id}", stack.sim.api_url()))
        .bearer_auth(relay_tests::processor::SIM_TOKEN)
        .json(&json!({"status": status}))
        .send()
        .await
        .expect("simulator answers");
    assert!(response.status().is_success());
}

#[tokio::test]
async fn an_alert_for_a_ticket_resolved_in_syncro_starts_a_new_ticket_by_default() {
    let stack = Stack::start(|_| {}, "[grouping]\nstatus_check_secs = 0\n").await;
    let worker = TestProcessor::spawn(&stack.config);
    stack.send(&storm("closed", 1, 1)).await;
    settled(&stack, &[message_id("demo", "closed-0")]).await;
    let first = stack.tickets()[0].id;
    set_status(&stack, first, "Resolved").await;
    stack.send(&[storm("closed", 2, 1)[1].clone()]).await;
    settled(&stack, &[message_id("demo", "closed-1")]).await;
    let tickets = stack.tickets();
    assert_eq!(tickets.len(), 2, "a new ticket for the group");
    let second = tickets
        .iter()
        .find(|t| t.id != first)
        .expect("the new ticket");
    assert!(second.comments[0].contains(&message_id("demo", "closed-1")));
    worker.stop().await.expect("stops");
    stack.finish().await;
}

#[tokio::test]
async fn an_alert_for_a_recently_resolved_ticket_reopens_it_when_configured() {
    let extra = "[grouping]\nstatus_check_secs = 0\non_resolved_ticket = \"reopen\"\n";
    let stack = Stack::start(|_| {}, extra).await;
    let worker = TestProcessor::spawn(&stack.config);
    stack.send(&storm("reopen", 1, 1)).await;
    settled(&stack, &[message_id("demo", "reopen-0")]).await;
    let ticket = stack.tickets()[0].id;
    set_status(&stack, ticket, "Resolved").await;
    stack.send(&[storm("reopen", 2, 1)[1].clone()]).await;
    settled(&stack, &[message_id("demo", "reopen-1")]).await;
    let tickets = stack.tickets();
    assert_eq!(tickets.len(), 1, "the same ticket");
    assert_eq!(tickets[0].status, "In Progress", "reopened");
    assert_eq!(tickets[0].comments.len(), 2);
    worker.stop().await.expect("stops");
    stack.finish().await;
}

#[tokio::test]
async fn a_resolved_alert_adds_a_note_and_resolves_the_ticket_when_configured() {
    let stack = Stack::start(
        |_| {},
        "[grouping]\nresolved_alert = \"note-and-resolve\"\n",
    )
    .await;
    let worker = TestProcessor::spawn(&stack.config);
    let mut alerts = storm("resolve", 2, 1);
    stack.send(&alerts[..1]).await;
    settled(&stack, &[message_id("demo", "resolve-0")]).await;
    alerts[1]["status"] = json!("resolved");
    stack.send(&alerts[1..]).await;
    settled(&stack, &[message_id("demo", "resolve-1")]).await;
    let tickets = stack.tickets();
    assert_eq!(tickets.len(), 1);
    assert_eq!(tickets[0].comments.len(), 2, "the resolution is a note");
    eventually("the ticket resolved", LONG, || {
        stack.tickets()[0].status == "Resolved"
    })
    .await;
    worker.stop().await.expect("stops");
    stack.finish().await;
}

#[tokio::test]
async fn a_creation_slower_than_the_lease_still_makes_one_ticket() {
    let stack = Stack::start(|_| {}, "").await;
    // Each create takes three times the lease: without renewing it, other workers would
    // take the lock mid-creation and make tickets of their own.
    let mut slow = fault(FaultKind::Latency, "POST /tickets");
    slow.latency_ms = Some(3000);
    stack.sim.sim().add_fault(slow).expect("fault");
    let config = stack
        .config
        .replace("lock_lease_secs = 5", "lock_lease_secs = 1");
    let workers: Vec<TestProcessor> = (0..3).map(|_| TestProcessor::spawn(&config)).collect();
    let alerts = storm("slow", 30, 1);
    let ids: Vec<String> = (0..30)
        .map(|i| message_id("demo", &format!("slow-{i}")))
        .collect();
    stack.send(&alerts).await;
    settled(&stack, &ids).await;
    assert_eq!(stack.tickets().len(), 1, "one ticket for the group");
    let refs = stack.references();
    assert_eq!(refs.len(), 30);
    assert!(counts(&refs).values().all(|&n| n == 1));
    for worker in workers {
        worker.stop().await.expect("stops");
    }
    stack.finish().await;
}

#[tokio::test]
async fn the_same_alerts_queued_twice_before_a_worker_runs_are_ticketed_once() {
    // A sender retrying after a 503 (the broker went down before the confirm), or a replay
    // killed between publish and ack, leaves two copies of one alert in the queue at once.
    let stack = Stack::start(|_| {}, "").await;
    let alerts = storm("twice", 20, 2);
    stack.send(&alerts).await;
    stack.send(&alerts).await;
    let queue = format!("{}.alerts.work", stack.ctx.prefix);
    assert_eq!(
        stack.rabbit.count(&queue).await,
        40,
        "both copies are queued"
    );
    let ids: Vec<String> = (0..20)
        .map(|i| message_id("demo", &format!("twice-{i}")))
        .collect();
    let worker = TestProcessor::spawn(&stack.config);
    settled(&stack, &ids).await;
    assert_eq!(stack.tickets().len(), 2, "one ticket per subject");
    let refs = stack.references();
    let counted = counts(&refs);
    assert_eq!(counted.len(), 20);
    assert!(
        counted.values().all(|&n| n == 1),
        "every alert once in Syncro: {counted:?}"
    );
    worker.stop().await.expect("stops");
    stack.finish().await;
}
