//! Several Syncro accounts in one deployment: one prefix per account on the same RabbitMQ,
//! Redis and PostgreSQL, each with its own Syncro URL and token, mapping, defaults and
//! overrides, and the request budget of the egress IP they share (Syncro counts per IP).
//! Each source is routed to its account by the ingest it posts to.

use crate::processor::settled;
use relay_tests::alerts::alert;
use relay_tests::processor::{
    delete_redis_keys, redis_url, Stack, TestProcessor, CONTOSO, FABRIKAM,
};
use shared::message::message_id;

/// The processor configuration of `stack`, drawing on the named shared budget.
fn sharing(stack: &Stack, budget: &str) -> String {
    stack.config.replace(
        "requests_per_minute = 10000",
        &format!("requests_per_minute = 10000\nbudget = \"{budget}\""),
    )
}

async fn redis_has(key: &str) -> bool {
    let client = redis::Client::open(redis_url()).expect("redis url");
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .expect("redis");
    redis::cmd("EXISTS")
        .arg(key)
        .query_async::<i64>(&mut conn)
        .await
        .expect("EXISTS")
        == 1
}

#[tokio::test]
async fn two_accounts_share_the_infrastructure_and_the_egress_budget_but_nothing_else() {
    let a = Stack::start(|_| {}, "").await;
    let b = Stack::start(|_| {}, "").await;
    let budget = format!("egress-{}", &a.ctx.prefix[2..]);
    // Account B maps the same organization to another customer and words its subjects its
    // own way: its mapping and defaults are its own.
    let b_config = sharing(&b, &budget)
        .replace(
            &format!("\"org-42\" = {CONTOSO}"),
            &format!("\"org-42\" = {FABRIKAM}"),
        )
        .replace(
            "subject = \"{event_type}: {title}\"",
            "subject = \"[B] {event_type}: {title}\"",
        );
    assert_ne!(b_config, sharing(&b, &budget), "account B's tweaks applied");
    let worker_a = TestProcessor::spawn(&sharing(&a, &budget));
    let worker_b = TestProcessor::spawn(&b_config);

    // The same sender id reaches both accounts (two sources of two customers may well
    // collide): each account makes its own ticket from it.
    let mut second = alert("acct-2");
    second["title"] = serde_json::json!("Mailbox rule forwarding to an outside address");
    a.send(&[alert("acct-1")]).await;
    b.send(&[alert("acct-1"), second]).await;
    settled(&a, &[message_id("demo", "acct-1")]).await;
    settled(
        &b,
        &[message_id("demo", "acct-1"), message_id("demo", "acct-2")],
    )
    .await;

    let in_a = a.tickets();
    let in_b = b.tickets();
    assert_eq!(in_a.len(), 1, "account A: one ticket: {in_a:#?}");
    assert_eq!(in_b.len(), 2, "account B: two tickets: {in_b:#?}");
    assert_eq!(in_a[0].customer_id, CONTOSO, "A's mapping");
    assert!(
        in_b.iter().all(|t| t.customer_id == FABRIKAM),
        "B's mapping: {in_b:#?}"
    );
    assert!(
        !in_a[0].subject.starts_with("[B]"),
        "A's subject: {}",
        in_a[0].subject
    );
    assert!(
        in_b.iter().all(|t| t.subject.starts_with("[B] ")),
        "B's subjects: {in_b:#?}"
    );
    assert_eq!(a.references(), vec![message_id("demo", "acct-1")]);
    let mut b_refs = b.references();
    b_refs.sort();
    let mut b_expected = vec![message_id("demo", "acct-1"), message_id("demo", "acct-2")];
    b_expected.sort();
    assert_eq!(b_refs, b_expected, "B's alerts, each once, none of A's");

    // Both drew on the egress IP's one budget, neither on a budget of its own prefix.
    let shared_key = format!("{{{budget}:ratelimit}}:tat");
    assert!(redis_has(&shared_key).await, "{shared_key} is missing");
    for stack in [&a, &b] {
        let own = format!("{{{}:ratelimit}}:tat", stack.ctx.prefix);
        assert!(!redis_has(&own).await, "{own} exists: a budget of its own");
    }

    worker_a.stop().await.expect("worker A stops");
    worker_b.stop().await.expect("worker B stops");
    delete_redis_keys(&budget).await;
    a.finish().await;
    b.finish().await;
}
