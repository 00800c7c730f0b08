//! Redis Sentinel: a private master, its replica and sentinels (`redis-server --sentinel`),
//! and stores and workers configured with the sentinels instead of a server. After a
//! failover, forced or after the master died, they follow the new master without a
//! restart: the pool's calls and the presence connection both move, and a worker's run
//! across it tickets every alert exactly once. Over TLS too.

use crate::processor::{counts, settled};
use processor::store::{Handled, Store};
use prometheus_client::metrics::counter::Counter;
use relay_tests::processor::{eventually, storm, Stack, TestProcessor};
use relay_tests::redis_server::{self, with_redis_section, RedisServer, TempDir, TlsFiles};
use relay_tests::{wait, Context};
use secrecy::SecretString;
use shared::config::RedisSettings;
use shared::message::message_id;
use std::time::Duration;

const MASTER: &str = "relaymaster";
const DEADLINE: Duration = Duration::from_secs(15);

/// A master, its replica in sync, and `sentinels` sentinels watching them (a majority
/// needed to call the master down); over TLS when `tls` is given.
struct Group {
    master: RedisServer,
    replica: RedisServer,
    sentinels: Vec<RedisServer>,
    tls: Option<TlsFiles>,
    /// Last: removed after the servers are killed.
    _dir: TempDir,
}

impl Group {
    async fn start(name: &str, sentinels: usize, tls: bool) -> Group {
        let dir = TempDir::new(name);
        let tls = tls.then(|| TlsFiles::generate(dir.path(), "ca"));
        let replication: &[&str] = match tls {
            Some(_) => &["--tls-replication", "yes", "--tls-auth-clients", "yes"],
            None => &[],
        };
        let master = RedisServer::start(dir.path(), "master", tls.as_ref(), replication);
        let master_port = master.port.to_string();
        let mut replica_args = vec!["--replicaof", "127.0.0.1", &master_port];
        replica_args.extend_from_slice(replication);
        let replica = RedisServer::start(dir.path(), "replica", tls.as_ref(), &replica_args);
        redis_server::replica_in_sync(&replica.client(tls.as_ref()), DEADLINE).await;
        let quorum = (sentinels / 2 + 1) as u32;
        let sentinels = (0..sentinels)
            .map(|i| {
                RedisServer::sentinel(
                    dir.path(),
                    &format!("sentinel-{i}"),
                    MASTER,
                    master.port,
                    quorum,
                    tls.as_ref(),
                )
            })
            .collect();
        Group {
            master,
            replica,
            sentinels,
            tls,
            _dir: dir,
        }
    }

    fn tls(&self) -> Option<&TlsFiles> {
        self.tls.as_ref()
    }

    /// `[redis]` of a store following this group's master through its sentinels.
    fn settings(&self) -> RedisSettings {
        let scheme = if self.tls.is_some() {
            "rediss"
        } else {
            "redis"
        };
        RedisSettings {
            url: SecretString::from(format!("{scheme}://{MASTER}")),
            sentinels: self.sentinels.iter().map(RedisServer::address).collect(),
            master_name: Some(MASTER.into()),
            ca_file: self.tls().map(|t| t.ca.clone()),
            client_cert_file: self.tls().map(|t| t.client_cert.clone()),
            client_key_file: self.tls().map(|t| t.client_key.clone()),
            sentinel_tls: self.tls.is_some(),
            ..RedisSettings::default()
        }
    }

    /// Fails the master over to the replica with `SENTINEL FAILOVER`, through the last
    /// sentinel; returns once the sentinels name the replica.
    async fn fail_over(&self) {
        let sentinel = self.sentinels.last().expect("a sentinel");
        let new = redis_server::fail_over(
            &sentinel.client(self.tls()),
            MASTER,
            self.master.port,
            DEADLINE,
        )
        .await;
        assert_eq!(new, self.replica.port, "the replica is the new master");
    }
}

/// The keys matching `pattern` on `server`.
async fn keys(server: &redis::Client, pattern: &str) -> Vec<String> {
    let mut conn = redis_server::connect(server).await;
    redis::cmd("KEYS")
        .arg(pattern)
        .query_async(&mut conn)
        .await
        .expect("keys")
}

/// Whether `server` holds the presence of a connection open to it now: the record's run id
/// is the server's and its client id is connected.
async fn holds_live_presence(server: &redis::Client, prefix: &str) -> bool {
    let Some(key) = keys(server, &format!("{prefix}:presence:*")).await.pop() else {
        return false;
    };
    let mut conn = redis_server::connect(server).await;
    let record: String = redis::cmd("GET")
        .arg(&key)
        .query_async(&mut conn)
        .await
        .unwrap_or_default();
    let Some((run_id, client_id)) = record.split_once(' ') else {
        return false;
    };
    let info: String = redis::cmd("INFO")
        .arg("server")
        .query_async(&mut conn)
        .await
        .expect("info");
    let listed: String = redis::cmd("CLIENT")
        .arg("LIST")
        .arg("ID")
        .arg(client_id)
        .query_async(&mut conn)
        .await
        .unwrap_or_default();
    info.contains(&format!("run_id:{run_id}")) && !listed.trim().is_empty()
}

/// Writes outcomes through `store` until one lands on `server`, within [`DEADLINE`].
async fn writes_reach(store: &Store, server: &redis::Client, what: &str) {
    let mut n = 0;
    wait::until(what, DEADLINE, || {
        n += 1;
        let id = format!("after-{n}");
        async move {
            store.finish(&id, &Handled::Ignored).await.ok()?;
            let mut conn = server.get_multiplexed_async_connection().await.ok()?;
            let here: bool = redis::cmd("EXISTS")
                .arg(format!("{}:done:{id}", store.prefix()))
                .query_async(&mut conn)
                .await
                .ok()?;
            here.then_some(())
        }
    })
    .await
}

#[tokio::test]
async fn a_store_follows_the_master_the_sentinels_name_across_a_failover() {
    if !redis_server::or_skip("redis_sentinel") {
        return;
    }
    let mut group = Group::start("sentinel-store", 3, false).await;
    let prefix = Context::new().prefix;
    let changes = Counter::<u64>::default();
    let store = Store::connect(&group.settings(), &prefix)
        .expect("store")
        .counting_master_changes(changes.clone());
    let presence = tokio::spawn(store.clone().keep_presence());
    let (master, replica) = (group.master.client(None), group.replica.client(None));

    store
        .finish("before", &Handled::Ignored)
        .await
        .expect("the master answers");
    assert_eq!(
        keys(&master, &format!("{prefix}:done:before")).await.len(),
        1
    );
    wait::until("the presence on the master", DEADLINE, || async {
        holds_live_presence(&master, &prefix).await.then_some(())
    })
    .await;

    // The first sentinel the store knows is gone: the others answer.
    group.sentinels[0].kill();
    group.fail_over().await;

    writes_reach(&store, &replica, "writes to reach the new master").await;
    assert_eq!(changes.get(), 1, "the move to the new master is counted");
    assert_eq!(
        store.outcome("before").await.expect("read"),
        Some(Handled::Ignored),
        "what was written before the failover is read from the new master"
    );
    let lease = store
        .lock("after-failover", Duration::from_secs(30))
        .await
        .expect("redis")
        .expect("a lease on the new master");
    assert_eq!(keys(&replica, &format!("{prefix}:lock:*")).await.len(), 1);
    store.unlock(lease).await.expect("unlock");
    // The presence moved with it: recorded on the new master, for a connection to it.
    wait::until("the presence on the new master", DEADLINE, || async {
        holds_live_presence(&replica, &prefix).await.then_some(())
    })
    .await;
    presence.abort();
}

#[tokio::test]
async fn a_worker_run_across_the_death_of_the_master_tickets_every_alert_exactly_once() {
    if !redis_server::or_skip("redis_sentinel") {
        return;
    }
    let mut group = Group::start("sentinel-worker", 1, false).await;
    let stack = Stack::start(|_| {}, "").await;
    let settings = group.settings();
    let config = with_redis_section(
        &stack.config,
        &format!(
            "url = \"redis://{MASTER}\"\nsentinels = [\"{}\"]\nmaster_name = \"{MASTER}\"",
            settings.sentinels.join("\", \"")
        ),
    );
    let worker = TestProcessor::spawn(&config);
    let alerts = storm("sentinel", 60, 3);
    let ids: Vec<String> = (0..60)
        .map(|i| message_id("demo", &format!("sentinel-{i}")))
        .collect();
    stack.send(&alerts[..20]).await;
    eventually("the first alerts in Syncro", DEADLINE, || {
        stack.references().len() >= 10
    })
    .await;

    // The master dies mid-run; the sentinel promotes the replica after it is down for 1 s.
    group.master.kill();
    stack.send(&alerts[20..]).await;
    let sentinel = group.sentinels[0].client(None);
    wait::until("the sentinel to promote the replica", DEADLINE, || async {
        let mut conn = sentinel.get_multiplexed_async_connection().await.ok()?;
        let master: Option<(String, u16)> = redis::cmd("SENTINEL")
            .arg("GET-MASTER-ADDR-BY-NAME")
            .arg(MASTER)
            .query_async(&mut conn)
            .await
            .ok()?;
        (master?.1 == group.replica.port).then_some(())
    })
    .await;

    settled(&stack, &ids).await;
    let refs = stack.references();
    assert_eq!(refs.len(), 60, "every alert once");
    assert!(counts(&refs).values().all(|&n| n == 1));
    assert_eq!(stack.tickets().len(), 3, "one ticket per group");
    let outcomes = keys(
        &group.replica.client(None),
        &format!("{}:done:*", stack.ctx.prefix),
    )
    .await;
    assert!(
        outcomes.len() >= 40,
        "the alerts after the death are recorded on the new master ({})",
        outcomes.len()
    );
    worker.stop().await.expect("stops");
    stack.finish().await;
}

#[tokio::test]
async fn sentinels_and_servers_over_tls_are_followed_too() {
    if !redis_server::or_skip("redis_sentinel") {
        return;
    }
    let group = Group::start("sentinel-tls", 1, true).await;
    let prefix = Context::new().prefix;
    let store = Store::connect(&group.settings(), &prefix).expect("store");
    let presence = tokio::spawn(store.clone().keep_presence());
    let (master, replica) = (
        group.master.client(group.tls()),
        group.replica.client(group.tls()),
    );
    store
        .finish("before", &Handled::Ignored)
        .await
        .expect("the master answers over TLS");
    assert_eq!(
        keys(&master, &format!("{prefix}:done:before")).await.len(),
        1
    );

    group.fail_over().await;
    writes_reach(&store, &replica, "writes to reach the new master over TLS").await;
    wait::until("the presence on the new master", DEADLINE, || async {
        holds_live_presence(&replica, &prefix).await.then_some(())
    })
    .await;
    presence.abort();
}
