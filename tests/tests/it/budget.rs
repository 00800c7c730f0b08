//! The Syncro budget spent on what matters, end to end: a new incident of another customer is
//! not queued behind one customer's storm, a storm's alerts are held cheaply and carried by
//! one call per group whichever worker holds them, and a stopping worker gives its held
//! alerts back at once.

use crate::processor::settled;
use processor::store::ratelimit::RateLimiter;
use processor::store::Store;
use relay_tests::alerts::alert;
use relay_tests::processor::{eventually, redis_url, storm, Stack, TestProcessor, FABRIKAM};
use relay_tests::wait;
use secrecy::SecretString;
use shared::config::SyncroSettings;
use shared::message::message_id;
use std::collections::HashSet;
use std::time::Duration;

const LONG: Duration = Duration::from_secs(90);

/// Every alert of `ids` is in Syncro exactly once.
fn each_once(stack: &Stack, ids: &[String]) {
    let refs = stack.references();
    let unique: HashSet<&String> = refs.iter().collect();
    assert_eq!(refs.len(), unique.len(), "an alert is in Syncro twice");
    assert!(
        ids.iter().all(|id| unique.contains(id)),
        "an alert is missing"
    );
}

#[tokio::test]
async fn a_new_incident_of_another_customer_is_not_queued_behind_a_storm() {
    // 120 requests a minute: the storm's 20 new tickets take about ten seconds of budget.
    let stack = Stack::start(|_| {}, "").await;
    let config = stack
        .config
        .replace("requests_per_minute = 10000", "requests_per_minute = 120");
    let worker = TestProcessor::spawn(&config);
    let alerts = storm("wave", 20, 20);
    let mut ids: Vec<String> = (0..20)
        .map(|i| message_id("demo", &format!("wave-{i}")))
        .collect();
    stack.send(&alerts).await;
    eventually("the storm's first tickets", LONG, || {
        stack.tickets().len() >= 2
    })
    .await;
    let made_before = stack.tickets().len();
    let mut incident = alert("incident-1");
    incident["organization"] = serde_json::json!({"id": "org-fabrikam", "name": "Fabrikam"});
    incident["severity"] = serde_json::json!("critical");
    incident["title"] = serde_json::json!("Ransomware behaviour on a file server");
    stack.send(&[incident]).await;
    ids.push(message_id("demo", "incident-1"));
    settled(&stack, &ids).await;

    let mut tickets = stack.tickets();
    tickets.sort_by_key(|t| t.id);
    assert_eq!(
        tickets.len(),
        21,
        "one ticket per subject and one for the incident"
    );
    let position = tickets
        .iter()
        .position(|t| t.customer_id == FABRIKAM)
        .expect("the incident's ticket");
    // The storm's tickets made after the incident arrived and before its own. Both are
    // critical, so the customers share the budget fairly: the incident's creation takes three
    // calls (its customer's open tickets, its assets, the POST), each waiting behind at most
    // one storm call, and one storm POST may have been in flight when it arrived. Without
    // fairness, it would wait for all of the storm's remaining tickets.
    let overtaken = position - made_before.min(position);
    assert!(
        overtaken <= 4,
        "{overtaken} storm tickets were made between the incident's arrival and its ticket \
         ({} of the storm's 20 still to make when it arrived)",
        20 - made_before
    );
    each_once(&stack, &ids);
    worker.stop().await.expect("stops");
    stack.finish().await;
}

#[tokio::test]
async fn alerts_held_by_two_workers_are_carried_once_each_in_few_calls() {
    let stack = Stack::start(|_| {}, "").await;
    let (a, b) = (
        TestProcessor::spawn(&stack.config),
        TestProcessor::spawn(&stack.config),
    );
    let alerts = storm("pair", 400, 4);
    let ids: Vec<String> = (0..400)
        .map(|i| message_id("demo", &format!("pair-{i}")))
        .collect();
    stack.send(&alerts).await;
    settled(&stack, &ids).await;
    let tickets = stack.tickets();
    assert_eq!(tickets.len(), 4);
    each_once(&stack, &ids);
    // Every sender id is in Syncro (a technician searching for it finds the ticket).
    let sender_ids: Vec<String> = (0..400).map(|i| format!("pair-{i}")).collect();
    let all_text: String = tickets.iter().flat_map(|t| t.comments.clone()).collect();
    assert!(sender_ids.iter().all(|id| all_text.contains(id.as_str())));
    // A storm's repeats are listed by kind: far fewer comments than alerts.
    let comments: usize = tickets.iter().map(|t| t.comments.len()).sum();
    assert!(comments < 100, "{comments} comments for 400 alerts");
    a.stop().await.expect("stops");
    b.stop().await.expect("stops");
    stack.finish().await;
}

#[tokio::test]
async fn a_stopping_worker_gives_its_held_alerts_back_at_once_and_another_carries_them() {
    let stack = Stack::start(|_| {}, "").await;
    let alerts = storm("handover", 30, 1);
    let ids: Vec<String> = (0..30)
        .map(|i| message_id("demo", &format!("handover-{i}")))
        .collect();
    // The group's ticket first, by a worker on the deployment's budget.
    let first = TestProcessor::spawn(&stack.config);
    stack.send(&alerts[..1]).await;
    settled(&stack, &ids[..1]).await;
    first.stop().await.expect("stops");

    // A worker on a budget of its own, one request a minute, spent already: the group's
    // note cannot go, and the worker holds the alerts.
    let budget = format!("{}:slow", stack.ctx.prefix);
    let slow_settings = SyncroSettings {
        requests_per_minute: 1,
        budget: Some(budget.clone()),
        ..SyncroSettings::default()
    };
    let limiter_store =
        Store::new(&SecretString::from(redis_url()), &stack.ctx.prefix).expect("store");
    RateLimiter::from_settings(limiter_store, &slow_settings)
        .acquire(&syncro::Priority::unscoped())
        .await
        .expect("redis");
    let slow = stack.config.replace(
        "requests_per_minute = 10000",
        &format!("requests_per_minute = 1\nbudget = \"{budget}\""),
    );
    let holder = TestProcessor::spawn(&slow);
    stack.send(&alerts[1..]).await;
    wait::until("the slow worker to hold the other 29", LONG, || async {
        (stack.queued().await == 0).then_some(())
    })
    .await;
    // Its call for the group is under way (it holds the group's lease) and waits for the
    // budget.
    let ticket = &stack.tickets()[0];
    let group = processor::plan::group_key(ticket.customer_id, &ticket.subject);
    let store = Store::new(&SecretString::from(redis_url()), &stack.ctx.prefix).expect("store");
    wait::until(
        "the slow worker's note to wait for the budget",
        LONG,
        || async {
            store
                .is_locked(&group)
                .await
                .ok()
                .filter(|l| *l)
                .map(|_| ())
        },
    )
    .await;
    assert_eq!(stack.references().len(), 1, "the note could not go");

    // Stopped, it gives them back; a worker on the deployment's budget carries them.
    holder.stop().await.expect("stops");
    let second = TestProcessor::spawn(&stack.config);
    settled(&stack, &ids).await;
    each_once(&stack, &ids);
    assert_eq!(stack.tickets().len(), 1);
    second.stop().await.expect("stops");
    stack.finish().await;
}
