//! Syncro RMM alerts on assets (issue 16), end to end: a group of alerts raises one RMM
//! alert on the asset its device matched, muted as configured, cleared when the group's
//! alert resolves (and raised anew when it fires again); a raise whose answer is lost is found in Syncro by a later worker, never
//! raised twice; a token that may not raise them costs one refusal, not one per alert.

use relay_tests::alerts::alert;
use relay_tests::processor::{Stack, TestProcessor, CONTOSO};
use serde_json::{json, Value};
use shared::message::message_id;
use std::time::Duration;
use syncro_sim::model::RmmAlert;
use syncro_sim::FaultSpec;

const LONG: Duration = Duration::from_secs(60);
/// WS-07, Contoso's asset the sample alert's device names.
const WS07: i64 = 9_001_001;

/// RMM alerts for the sample alert's event type, muted for a day.
const RMM: &str = r#"
[tickets.rmm_alert]
enabled = true
event_types = ["m365.impossible_travel"]
description = "{event_type} ({severity})"
subject = "{title}"
mute_for = "1-day"
"#;

fn alert_titled(id: &str, title: &str) -> Value {
    let mut a = alert(id);
    a["title"] = json!(title);
    a
}

fn resolved(id: &str, title: &str) -> Value {
    let mut a = alert_titled(id, title);
    a["status"] = json!("resolved");
    a
}

/// Every RMM alert the simulator holds, oldest first.
fn rmm_alerts(stack: &Stack) -> Vec<RmmAlert> {
    stack
        .sim
        .sim()
        .with_store(|s| s.rmm_alerts.values().cloned().collect())
}

/// Waits until the simulator's RMM alerts satisfy `check` (the RMM alert follows the
/// alert's ticket or note, so it may land just after the alert is settled).
async fn rmm_alerts_until(
    stack: &Stack,
    what: &str,
    check: impl Fn(&[RmmAlert]) -> bool,
) -> Vec<RmmAlert> {
    relay_tests::wait::until(what, LONG, || {
        let alerts = rmm_alerts(stack);
        std::future::ready(check(&alerts).then_some(alerts))
    })
    .await
}

/// Waits until the worker's `rmm_alerts_total{outcome}` reaches `at_least`.
async fn outcome_reaches(worker: &TestProcessor, name: &str, at_least: f64) {
    let sample = outcome(name);
    relay_tests::wait::until(&sample.clone(), LONG, || async {
        (worker.metric(&sample).await? >= at_least).then_some(())
    })
    .await
}

fn posts(stack: &Stack) -> u64 {
    stack.sim.sim().counters().route_total("POST /rmm_alerts")
}

fn outcome(name: &str) -> String {
    format!("relay_processor_rmm_alerts_total{{outcome=\"{name}\"}}")
}

fn property<'a>(alert: &'a RmmAlert, key: &str) -> &'a Value {
    alert.properties.get(key).unwrap_or(&Value::Null)
}

#[tokio::test]
async fn a_group_raises_one_rmm_alert_on_its_asset_and_clears_it_when_it_resolves() {
    let stack = Stack::start(|_| {}, RMM).await;
    let worker = TestProcessor::spawn(&stack.config);
    let title = "Impossible travel for j.doe@contoso.com";
    stack
        .send_and_settle(&[alert_titled("g-1", title)], LONG)
        .await;
    let ticket = stack.tickets().pop().expect("the group's ticket");
    let raised = rmm_alerts_until(&stack, "the group's RMM alert", |a| !a.is_empty()).await;
    assert_eq!(raised.len(), 1, "{raised:#?}");
    let a = &raised[0];
    assert_eq!((a.customer_id, a.asset_id), (CONTOSO, Some(WS07)));
    assert!(!a.resolved);
    assert_eq!(
        a.description.as_deref(),
        Some("m365.impossible_travel (critical)")
    );
    assert_eq!(property(a, "subject"), &json!(title));
    assert_eq!(property(a, "skip_automation"), &json!(true));
    assert_eq!(property(a, "hidden"), &json!(true));
    assert_eq!(property(a, "do_not_email"), &json!(true));
    let body = property(a, "body").as_str().expect("a body");
    assert!(body.contains("Severity: CRITICAL"), "{body}");
    assert!(body.contains("User: j.doe@contoso.com"), "{body}");
    assert!(
        body.contains(&format!("relay-ref: {}", message_id("demo", "g-1"))),
        "{body}"
    );
    let number = stack.sim.sim().with_store(|s| s.tickets[&ticket.id].number);
    assert!(
        body.contains(&format!("Syncro ticket: #{number}")),
        "{body}"
    );
    outcome_reaches(&worker, "muted", 1.0).await;
    assert_eq!(rmm_alerts(&stack)[0].muted_for.as_deref(), Some("1-day"));

    // The same alert again (a sender's retry, a replay): a duplicate, no second RMM alert.
    stack.send(&[alert_titled("g-1", title)]).await;
    relay_tests::wait::until("the resend skipped as a duplicate", LONG, || async {
        let skipped = worker
            .metric("relay_processor_duplicates_skipped_total")
            .await?;
        (skipped >= 1.0).then_some(())
    })
    .await;
    // More of the group: a note, and still one RMM alert.
    stack
        .send_and_settle(&[alert_titled("g-2", title)], LONG)
        .await;
    assert_eq!(rmm_alerts(&stack).len(), 1);
    // The group's alert resolves: the RMM alert is cleared, and stays readable.
    stack.send_and_settle(&[resolved("g-3", title)], LONG).await;
    let after = rmm_alerts_until(&stack, "the RMM alert cleared", |a| {
        a.iter().any(|a| a.resolved)
    })
    .await;
    assert_eq!(after.len(), 1);
    // The condition comes back: a new RMM alert on the same asset, the old one stays cleared.
    stack
        .send_and_settle(&[alert_titled("g-4", title)], LONG)
        .await;
    let again = rmm_alerts_until(&stack, "a new RMM alert", |a| a.len() == 2).await;
    assert!(again[0].resolved && !again[1].resolved, "{again:#?}");
    assert_eq!(again[1].asset_id, Some(WS07));
    assert_eq!(posts(&stack), 2);
    assert_eq!(
        stack
            .sim
            .sim()
            .counters()
            .route_total("DELETE /rmm_alerts/{id}"),
        1
    );
    outcome_reaches(&worker, "muted", 2.0).await;
    assert_eq!(worker.metric(&outcome("raised")).await, Some(2.0));
    assert_eq!(worker.metric(&outcome("cleared")).await, Some(1.0));
    worker.stop().await.expect("stopped");
    stack.finish().await;
}

#[tokio::test]
async fn only_the_configured_event_types_overrides_and_matched_assets_raise_one() {
    let extra = format!(
        "{RMM}\n[[overrides.event_type]]\nmatch = \"edr.lateral_movement\"\nrmm_alert = true\n\n\
         [[overrides.ioc_rule]]\nmatch = \"ioc-quiet\"\nrmm_alert = false\n"
    );
    let stack = Stack::start(|_| {}, &extra).await;
    let worker = TestProcessor::spawn(&stack.config);
    let mut other_type = alert_titled("t-other", "Other event type");
    other_type["event_type"] = json!("edr.other");
    let mut by_override = alert_titled("t-override", "Lateral movement");
    by_override["event_type"] = json!("edr.lateral_movement");
    by_override["device"] = json!({"name": "WS-08"});
    let mut quieted = alert_titled("t-quiet", "Quieted by an IOC rule");
    quieted["ioc_rule"] = json!({"id": "ioc-quiet", "name": "quiet"});
    let mut no_asset = alert_titled("t-no-asset", "Unknown machine");
    no_asset["device"] = json!({"name": "NOT-IN-SYNCRO"});
    stack
        .send_and_settle(&[other_type, by_override, quieted, no_asset], LONG)
        .await;
    outcome_reaches(&worker, "skipped", 1.0).await;
    let raised = rmm_alerts_until(&stack, "the override's RMM alert", |a| !a.is_empty()).await;
    assert_eq!(raised.len(), 1, "{raised:#?}");
    assert_eq!(raised[0].asset_id, Some(9_001_002), "WS-08's");
    assert_eq!(worker.metric(&outcome("skipped")).await, Some(1.0));
    assert_eq!(stack.tickets().len(), 4, "every alert has its ticket");
    worker.stop().await.expect("stopped");
    stack.finish().await;
}

#[tokio::test]
async fn a_raise_whose_answer_was_lost_is_found_by_the_next_worker_not_raised_again() {
    let stack = Stack::start(|_| {}, RMM).await;
    // Syncro makes the alert, then the connection drops before its answer.
    stack
        .sim
        .sim()
        .add_fault(
            FaultSpec::drop_after_apply()
                .on("POST /rmm_alerts")
                .times(1),
        )
        .expect("fault");
    let first = TestProcessor::spawn(&stack.config);
    let title = "Lost answer";
    stack
        .send_and_settle(&[alert_titled("l-1", title)], LONG)
        .await;
    outcome_reaches(&first, "failed", 1.0).await;
    assert_eq!(rmm_alerts(&stack).len(), 1, "Syncro made it");
    first.stop().await.expect("stopped");

    // Another worker carries the group's next alert: it looks the raise up in Syncro.
    let second = TestProcessor::spawn(&stack.config);
    stack
        .send_and_settle(&[alert_titled("l-2", title)], LONG)
        .await;
    outcome_reaches(&second, "muted", 1.0).await;
    assert_eq!(rmm_alerts(&stack).len(), 1, "not raised twice");
    assert_eq!(posts(&stack), 1);
    assert_eq!(second.metric(&outcome("found")).await, Some(1.0));
    assert_eq!(rmm_alerts(&stack)[0].muted_for.as_deref(), Some("1-day"));
    // And it is the one the resolve clears.
    stack.send_and_settle(&[resolved("l-3", title)], LONG).await;
    rmm_alerts_until(&stack, "the RMM alert cleared", |a| {
        a.iter().all(|a| a.resolved)
    })
    .await;
    second.stop().await.expect("stopped");
    stack.finish().await;
}

#[tokio::test]
async fn a_raise_that_never_reached_syncro_is_raised_again_once() {
    let stack = Stack::start(|_| {}, RMM).await;
    // The first raise hangs until the client gives up: Syncro never made it.
    stack
        .sim
        .sim()
        .add_fault(FaultSpec::hang().on("POST /rmm_alerts").times(1))
        .expect("fault");
    let worker = TestProcessor::spawn(&stack.config);
    let title = "Never arrived";
    stack
        .send_and_settle(&[alert_titled("h-1", title)], LONG)
        .await;
    outcome_reaches(&worker, "failed", 1.0).await;
    assert!(rmm_alerts(&stack).is_empty());
    // The group's next call looks it up, finds nothing, and raises it: one in the end.
    stack
        .send_and_settle(&[alert_titled("h-2", title)], LONG)
        .await;
    outcome_reaches(&worker, "raised", 1.0).await;
    let raised = rmm_alerts(&stack);
    assert_eq!(raised.len(), 1, "{raised:#?}");
    assert!(property(&raised[0], "body")
        .as_str()
        .is_some_and(|b| b.contains(&message_id("demo", "h-1"))));
    assert_eq!(posts(&stack), 2);
    assert_eq!(worker.metric(&outcome("raised")).await, Some(1.0));
    assert_eq!(
        worker.metric(&outcome("found")).await,
        Some(0.0),
        "nothing found: it was never raised"
    );
    worker.stop().await.expect("stopped");
    stack.finish().await;
}

#[tokio::test]
async fn a_token_that_may_not_raise_rmm_alerts_costs_one_refusal_and_leaves_tickets_alone() {
    let stack = Stack::start(
        |o| o.denied_permissions = vec!["RMM Alerts - Create".into()],
        RMM,
    )
    .await;
    let worker = TestProcessor::spawn(&stack.config);
    let title = "Refused RMM alert";
    stack
        .send_and_settle(&[alert_titled("p-1", title)], LONG)
        .await;
    outcome_reaches(&worker, "failed", 1.0).await;
    stack
        .send_and_settle(&[alert_titled("p-2", title)], LONG)
        .await;
    assert!(rmm_alerts(&stack).is_empty());
    assert_eq!(posts(&stack), 1, "refused once, not tried again");
    assert_eq!(
        stack.tickets().len(),
        1,
        "the ticket and its note are unaffected"
    );
    assert_eq!(stack.tickets()[0].comments.len(), 2);
    assert_eq!(worker.metric(&outcome("failed")).await, Some(1.0));
    worker.stop().await.expect("stopped");
    stack.finish().await;
}
