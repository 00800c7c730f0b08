//! Redis losing its data (a restart without persistence, a failover to a replica that had not
//! caught up): Syncro is the record, so nothing on the board changes. Groups find their open
//! tickets in Syncro, alerts sent again are found in their ticket's comments, and the monthly
//! billing run, run again, writes nothing twice.
//!
//! The loss is made by deleting every key of the test's deployment prefix: what a Redis that
//! lost its data shows that deployment, without disturbing the other tests' keys.

use crate::billing::{
    billing_section, Harness, Worker, CONTOSO_SCHEDULE, CONTOSO_SEATS, FABRIKAM_SCHEDULE,
    FABRIKAM_SEATS, PUT_LINE, THREE_ORGS, WOODGROVE_SCHEDULE, WOODGROVE_SEATS,
};
use crate::processor::{counts, set_status, settled};
use processor::billing::sync::OrgResult;
use processor::store::{Handled, Store};
use relay_tests::processor::{delete_redis_keys, redis_url, storm, Stack, TestProcessor};
use relay_tests::wait;
use secrecy::SecretString;
use shared::message::message_id;
use std::collections::BTreeMap;
use std::time::Duration;

#[tokio::test]
async fn a_store_notices_each_loss_of_redis_data_at_the_next_check_in_and_once() {
    let ctx = relay_tests::Context::new();
    let losses = prometheus_client::metrics::counter::Counter::<u64>::default();
    let store = Store::new(&SecretString::from(redis_url()), &ctx.prefix)
        .expect("store")
        .counting_data_losses(losses.clone());
    let horizon = Duration::from_secs(3600);
    // An empty Redis (a new deployment) is a loss like any other, declared by the first alert.
    let first = store.check_in("m-1", horizon).await.expect("redis");
    assert_eq!((first.outcome, first.recovering), (None, true));
    let second = store.check_in("m-2", horizon).await.expect("redis");
    assert!(second.recovering, "the recovery lasts its horizon");
    assert_eq!(losses.get(), 1, "one loss, declared once");

    // Redis forgets everything again: noticed at the next check-in.
    delete_redis_keys(&ctx.prefix).await;
    let after = store.check_in("m-3", horizon).await.expect("redis");
    assert!(after.recovering);
    assert_eq!(losses.get(), 2);

    // A short horizon ends; the records themselves are read as before.
    delete_redis_keys(&ctx.prefix).await;
    let short = Duration::from_millis(300);
    assert!(
        store
            .check_in("m-4", short)
            .await
            .expect("redis")
            .recovering
    );
    store.finish("m-4", &Handled::Ignored).await.expect("redis");
    wait::until("the recovery to end", Duration::from_secs(5), || async {
        let check = store.check_in("m-4", short).await.expect("redis");
        (!check.recovering).then_some(check)
    })
    .await;
    let done = store.check_in("m-4", short).await.expect("redis");
    assert_eq!(done.outcome, Some(Handled::Ignored));
    assert_eq!(losses.get(), 3);
    delete_redis_keys(&ctx.prefix).await;
}

fn ids(tag: &str, n: usize) -> Vec<String> {
    (0..n)
        .map(|i| message_id("demo", &format!("{tag}-{i}")))
        .collect()
}

#[tokio::test]
async fn redis_losing_its_data_doubles_no_ticket_and_no_alert() {
    let stack = Stack::start(|_| {}, "").await;
    let workers: Vec<TestProcessor> = (0..2)
        .map(|_| TestProcessor::spawn(&stack.config))
        .collect();
    let first = storm("before", 80, 4);
    stack.send(&first).await;
    settled(&stack, &ids("before", 80)).await;
    assert_eq!(stack.tickets().len(), 4, "one ticket per subject");

    delete_redis_keys(&stack.ctx.prefix).await;
    // New alerts of the same four subjects, and a quarter of the first wave sent again by
    // their source (the same ids).
    let second = storm("after", 80, 4);
    stack.send(&second).await;
    stack.send(&first[..20]).await;
    let mut all = ids("before", 80);
    all.extend(ids("after", 80));
    settled(&stack, &all).await;

    assert_eq!(
        stack.tickets().len(),
        4,
        "the same four tickets, found in Syncro"
    );
    let refs = stack.references();
    let counted = counts(&refs);
    assert_eq!(counted.len(), 160, "every alert in Syncro");
    let doubled: Vec<_> = counted.iter().filter(|(_, &n)| n > 1).collect();
    assert!(doubled.is_empty(), "alerts in Syncro twice: {doubled:?}");
    for worker in workers {
        worker.stop().await.expect("stops");
    }
    stack.finish().await;
}

#[tokio::test]
async fn a_closed_ticket_is_not_taken_up_again_when_redis_forgot_its_group() {
    let stack = Stack::start(|_| {}, "").await;
    let worker = TestProcessor::spawn(&stack.config);
    let first = storm("closed", 1, 1);
    stack.send(&first).await;
    settled(&stack, &ids("closed", 1)).await;
    let ticket = stack.tickets()[0].id;
    set_status(&stack, ticket, "Resolved").await;
    delete_redis_keys(&stack.ctx.prefix).await;
    let second = storm("reopened", 1, 1);
    stack.send(&second).await;
    settled(&stack, &ids("reopened", 1)).await;
    let tickets = stack.tickets();
    assert_eq!(tickets.len(), 2, "a new ticket, not the resolved one");
    worker.stop().await.expect("stops");
    stack.finish().await;
}

#[tokio::test]
async fn a_billing_month_run_again_after_redis_lost_its_marker_writes_nothing_twice() {
    let h = Harness::start(&billing_section(true, THREE_ORGS)).await;
    let seats = [("org-a", 44), ("org-b", 18), ("org-c", 123)];
    h.seed_counts(&seats).await;
    let worker = Worker::start(&h.stack.config);
    h.wait_month_done().await;
    worker.stop().await;
    let once = BTreeMap::from([
        (crate::billing::put_path(CONTOSO_SCHEDULE, CONTOSO_SEATS), 1),
        (
            crate::billing::put_path(FABRIKAM_SCHEDULE, FABRIKAM_SEATS),
            1,
        ),
        (
            crate::billing::put_path(WOODGROVE_SCHEDULE, WOODGROVE_SEATS),
            1,
        ),
    ]);
    assert_eq!(h.requests_to(PUT_LINE), once);

    // The month marker, the outcomes and the counts are gone; the sources post their counts
    // again, and a worker finds the month not done.
    delete_redis_keys(&h.stack.ctx.prefix).await;
    h.seed_counts(&seats).await;
    let worker = Worker::start(&h.stack.config);
    h.wait_month_done().await;
    worker.stop().await;

    assert_eq!(h.requests_to(PUT_LINE), once, "no quantity written twice");
    let outcomes = h.outcomes().await;
    assert!(
        outcomes.values().all(|o| *o == OrgResult::Unchanged),
        "read back and found as written: {outcomes:?}"
    );
    h.finish().await;
}
