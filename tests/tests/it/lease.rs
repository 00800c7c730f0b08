//! Leases and their holders' presence, against the real Redis: a lease whose holder's process
//! is gone is taken over at once; a lease whose holder may be alive is left to its TTL.

use processor::store::{Lease, Store};
use relay_tests::processor::{delete_redis_keys, redis_url};
use relay_tests::{wait, Context};
use secrecy::SecretString;
use std::time::Duration;

/// Far longer than any test waits: a lease taken here was taken over, never expired.
const LONG_LEASE: Duration = Duration::from_secs(600);
const DEADLINE: Duration = Duration::from_secs(20);

fn store(prefix: &str) -> Store {
    Store::new(&SecretString::from(redis_url()), prefix).expect("store")
}

/// `store`'s attempt at the lease `name` (far longer than the test).
async fn take(store: &Store, name: &str) -> Option<Lease> {
    store.lock(name, LONG_LEASE).await.expect("redis")
}

async fn redis() -> redis::aio::MultiplexedConnection {
    redis::Client::open(redis_url())
        .expect("url")
        .get_multiplexed_async_connection()
        .await
        .expect("redis")
}

async fn keys(pattern: &str) -> Vec<String> {
    let mut conn = redis().await;
    redis::cmd("KEYS")
        .arg(pattern)
        .query_async(&mut conn)
        .await
        .expect("keys")
}

/// The instance id in the token of the only lock under `prefix`.
async fn holder_instance(prefix: &str) -> String {
    let locks = keys(&format!("{prefix}:lock:*")).await;
    assert_eq!(locks.len(), 1, "one lock: {locks:?}");
    let mut conn = redis().await;
    let token: String = redis::cmd("GET")
        .arg(&locks[0])
        .query_async(&mut conn)
        .await
        .expect("get");
    let (instance, _) = token.split_once(':').expect("token names its holder");
    instance.to_string()
}

/// Writes a presence record as a process would (`"{run id} {client id}"`).
async fn record_presence(key: &str, record: &str) {
    let mut conn = redis().await;
    let _: () = redis::cmd("SET")
        .arg(key)
        .arg(record)
        .query_async(&mut conn)
        .await
        .expect("set");
}

async fn server_run_id() -> String {
    let mut conn = redis().await;
    let info: String = redis::cmd("INFO")
        .arg("server")
        .query_async(&mut conn)
        .await
        .expect("info");
    info.lines()
        .find_map(|l| l.strip_prefix("run_id:"))
        .expect("run_id")
        .trim()
        .to_string()
}

#[tokio::test]
async fn a_lease_is_taken_over_once_its_holders_process_is_gone_and_not_before() {
    let ctx = Context::new();
    let (holder, other) = (store(&ctx.prefix), store(&ctx.prefix));
    let presence = tokio::spawn(holder.clone().keep_presence());
    wait::until("the holder's presence in Redis", DEADLINE, || async {
        (!keys(&format!("{}:presence:*", ctx.prefix)).await.is_empty()).then_some(())
    })
    .await;
    let held = take(&holder, "group-a")
        .await
        .expect("a free lease is taken");

    // The holder lives: however often asked, the lease stays its own.
    for _ in 0..3 {
        assert!(
            take(&other, "group-a").await.is_none(),
            "a live holder's lease is not taken"
        );
        tokio::time::sleep(processor::store::lease::ALIVE_FOR).await;
    }
    assert!(holder.renew(&held, LONG_LEASE).await.expect("redis"));

    // The holder's process goes (its presence connection closes, as on SIGKILL).
    presence.abort();
    let _ = presence.await;
    let taken = wait::until("the lease to be taken over", DEADLINE, || async {
        take(&other, "group-a").await
    })
    .await;
    assert!(
        !holder.renew(&held, LONG_LEASE).await.expect("redis"),
        "the old holder no longer holds it"
    );
    other.unlock(taken).await.expect("redis");
    assert!(
        take(&other, "group-a").await.is_some(),
        "a released lease is free"
    );
    delete_redis_keys(&ctx.prefix).await;
}

#[tokio::test]
async fn without_a_sure_answer_the_holder_is_deemed_alive() {
    let ctx = Context::new();
    // No presence task: the holder never said where it lives.
    let (holder, other) = (store(&ctx.prefix), store(&ctx.prefix));
    let _held = take(&holder, "group-b").await.expect("taken");
    assert!(take(&other, "group-b").await.is_none());

    // A presence recorded during another Redis run (before a restart or a failover) says
    // nothing of the client ids of this one.
    let instance = holder_instance(&ctx.prefix).await;
    let presence_key = format!("{}:presence:{instance}", ctx.prefix);
    let gone_client = 999_999_999u64;
    record_presence(&presence_key, &format!("0123456789abcdef {gone_client}")).await;
    tokio::time::sleep(processor::store::lease::ALIVE_FOR).await;
    assert!(
        take(&other, "group-b").await.is_none(),
        "a record from another Redis run is not trusted"
    );

    // The same record from this run, naming a connection that is gone: the holder is dead.
    record_presence(
        &presence_key,
        &format!("{} {gone_client}", server_run_id().await),
    )
    .await;
    tokio::time::sleep(processor::store::lease::ALIVE_FOR).await;
    assert!(
        take(&other, "group-b").await.is_some(),
        "a holder whose connection is gone has its lease taken over"
    );
    delete_redis_keys(&ctx.prefix).await;
}
