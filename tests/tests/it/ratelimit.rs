//! The fleet-wide Syncro budget in Redis: who shares it, and who goes first. Syncro counts
//! requests per source IP, so every process behind one egress IP must draw from one budget,
//! named by `syncro.budget` (the prefix by default), and processes behind other IPs must not.
//! Within a budget, waiting requests are served by priority: new tickets before notes,
//! critical first, fair across customers.

use processor::store::ratelimit::RateLimiter;
use processor::store::Store;
use relay_tests::processor::{delete_redis_keys, redis_url};
use relay_tests::Context;
use secrecy::SecretString;
use shared::config::SyncroSettings;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use syncro::{Class, Priority};

fn limiter(prefix: &str, budget: Option<&str>) -> RateLimiter {
    limiter_at(prefix, budget, 6_000)
}

fn limiter_at(prefix: &str, budget: Option<&str>, per_minute: u32) -> RateLimiter {
    let store = Store::new(&SecretString::from(redis_url()), prefix).expect("store");
    let syncro = SyncroSettings {
        requests_per_minute: per_minute,
        budget: budget.map(str::to_string),
        ..SyncroSettings::default()
    };
    RateLimiter::from_settings(store, &syncro)
}

fn any() -> Priority {
    Priority::unscoped()
}

/// Starts one waiter per `(name, priority)`, in order, `gap` apart (each registered before
/// the next starts), and returns the names in the order the budget admitted them.
async fn admission_order(limiter: &RateLimiter, waiters: Vec<(String, Priority)>) -> Vec<String> {
    let order = Arc::new(Mutex::new(Vec::new()));
    // One admission first, so every waiter below finds the budget spent and has to queue.
    limiter.acquire(&any()).await.expect("redis");
    let mut tasks = Vec::new();
    for (name, priority) in waiters {
        let (limiter, order) = (limiter.clone(), order.clone());
        tasks.push(tokio::spawn(async move {
            limiter.acquire(&priority).await.expect("redis");
            order.lock().expect("lock").push(name);
        }));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for task in tasks {
        tokio::time::timeout(Duration::from_secs(30), task)
            .await
            .expect("every waiter is admitted in time")
            .expect("task");
    }
    let order = order.lock().expect("lock").clone();
    order
}

#[tokio::test]
async fn a_new_incidents_ticket_goes_before_notes_that_queued_earlier() {
    let ctx = Context::new();
    // 120 a minute: one admission every ~0.5 s, far slower than the waiters arrive.
    let limiter = limiter_at(&ctx.prefix, None, 120);
    let mut waiters: Vec<(String, Priority)> = (0..4)
        .map(|i| {
            let note = Priority::new(Class::Note, 0, format!("ticket:{i}"));
            (format!("note-{i}"), note)
        })
        .collect();
    waiters.push((
        "create".into(),
        Priority::new(Class::Create, 1, "customer:2"),
    ));
    let order = admission_order(&limiter, waiters).await;
    assert_eq!(order[0], "create", "admitted in the order {order:?}");
    assert_eq!(&order[1..], ["note-0", "note-1", "note-2", "note-3"]);
    delete_redis_keys(&ctx.prefix).await;
}

#[tokio::test]
async fn one_customers_storm_cannot_starve_another_and_critical_goes_first() {
    let ctx = Context::new();
    let limiter = limiter_at(&ctx.prefix, None, 120);
    let mut waiters: Vec<(String, Priority)> = (0..5)
        .map(|i| {
            let storm = Priority::new(Class::Create, 1, "customer:42");
            (format!("storm-{i}"), storm)
        })
        .collect();
    waiters.push((
        "other".into(),
        Priority::new(Class::Create, 1, "customer:7"),
    ));
    waiters.push((
        "critical".into(),
        Priority::new(Class::Create, 0, "customer:9"),
    ));
    let order = admission_order(&limiter, waiters).await;
    assert_eq!(order[0], "critical", "admitted in the order {order:?}");
    let other = order.iter().position(|n| n == "other").expect("admitted");
    assert!(
        other <= 2,
        "another customer's new incident waited behind {} storm creations: {order:?}",
        other - 1
    );
    let storm: Vec<&String> = order.iter().filter(|n| n.starts_with("storm")).collect();
    assert_eq!(
        storm,
        ["storm-0", "storm-1", "storm-2", "storm-3", "storm-4"],
        "one customer's own requests keep their order"
    );
    delete_redis_keys(&ctx.prefix).await;
}

#[tokio::test]
async fn deployments_that_name_one_budget_share_its_pause_and_others_do_not() {
    let (a, b) = (Context::new(), Context::new());
    let budget = format!("{}-egress", a.prefix);
    let first = limiter(&a.prefix, Some(&budget));
    let same_ip = limiter(&b.prefix, Some(&budget));
    let other_ip = limiter(&b.prefix, None);

    // A 429 seen by one process pauses the whole budget.
    first.pause(Duration::from_secs(30)).await.expect("pause");
    let held = tokio::time::timeout(Duration::from_secs(2), same_ip.acquire(&any())).await;
    assert!(
        held.is_err(),
        "a process on the same budget must wait out the pause"
    );
    // A process with its own budget (another egress IP) is not held back.
    tokio::time::timeout(Duration::from_secs(10), other_ip.acquire(&any()))
        .await
        .expect("another budget is free")
        .expect("redis");

    // Keys live under the budget's name: the limiter keys of a named budget are not the
    // prefix's.
    let mut conn = redis::Client::open(redis_url())
        .expect("client")
        .get_multiplexed_async_connection()
        .await
        .expect("redis");
    let pause_key = format!("{{{budget}:ratelimit}}:pause");
    let exists: bool = redis::cmd("EXISTS")
        .arg(&pause_key)
        .query_async(&mut conn)
        .await
        .expect("exists");
    assert!(exists, "the pause is recorded under the budget name");
    let _: () = redis::cmd("DEL")
        .arg(&pause_key)
        .arg(format!("{{{budget}:ratelimit}}:tat"))
        .query_async(&mut conn)
        .await
        .expect("del");
    delete_redis_keys(&a.prefix).await;
    delete_redis_keys(&b.prefix).await;
}
