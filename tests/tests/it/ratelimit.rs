//! The fleet-wide Syncro budget in Redis: who shares it. Syncro counts requests per source
//! IP, so every process behind one egress IP must draw from one budget, named by
//! `syncro.budget` (the prefix by default), and processes behind other IPs must not.

use processor::store::ratelimit::RateLimiter;
use processor::store::Store;
use relay_tests::processor::{delete_redis_keys, redis_url};
use relay_tests::Context;
use secrecy::SecretString;
use shared::config::SyncroSettings;
use std::time::Duration;

fn limiter(prefix: &str, budget: Option<&str>) -> RateLimiter {
    let store = Store::new(&SecretString::from(redis_url()), prefix).expect("store");
    let syncro = SyncroSettings {
        requests_per_minute: 6_000,
        budget: budget.map(str::to_string),
        ..SyncroSettings::default()
    };
    RateLimiter::from_settings(store, &syncro)
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
    let held = tokio::time::timeout(Duration::from_secs(2), same_ip.acquire()).await;
    assert!(
        held.is_err(),
        "a process on the same budget must wait out the pause"
    );
    // A process with its own budget (another egress IP) is not held back.
    tokio::time::timeout(Duration::from_secs(10), other_ip.acquire())
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
