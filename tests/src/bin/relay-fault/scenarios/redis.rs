//! Redis restarted during a storm: with its data (scenario 3), or empty (scenario 5: a
//! restart without persistence, a failover to a replica that had not caught up), and then part
//! of the storm sent again by its source; or Redis behind Sentinel losing its master (scenario
//! 6: the master killed, the replica promoted, the last writes lost). Either way nothing on
//! the board changes: one ticket per subject, every alert once.

use super::*;
use crate::services::poll;
use relay_tests::redis_server::{self, RedisServer};

/// What Redis keeps through the restart.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Restart {
    /// `SHUTDOWN SAVE`, then the data set reloaded: a persistent Redis.
    KeepingData,
    /// `SHUTDOWN NOSAVE` and no file: a Redis that lost its data.
    Empty,
}

/// 3. Redis stopped (`SHUTDOWN SAVE`) and started again, down 5 s, while two workers process.
pub async fn redis_restarted(run: &mut Run<'_>) -> anyhow::Result<Row> {
    redis_restart(run, Restart::KeepingData).await
}

/// 5. Redis stopped and started again empty, down 5 s, while two workers process; then a
///    tenth of the storm is sent again by its source (the same alert ids).
pub async fn redis_emptied(run: &mut Run<'_>) -> anyhow::Result<Row> {
    redis_restart(run, Restart::Empty).await
}

async fn redis_restart(run: &mut Run<'_>, restart: Restart) -> anyhow::Result<Row> {
    let name = match restart {
        Restart::KeepingData => "redis",
        Restart::Empty => "redis-empty",
    };
    let (stack, load) = storm_under_way(run, name, None).await?;
    let before = in_syncro(&stack, &load).await?;
    eprintln!("  restarting Redis ({before} alerts in Syncro)");
    run.redis
        .restart(Duration::from_secs(5), restart == Restart::Empty)
        .await?;
    let mut sent = load.sending.await.context("sender")?;
    let resent = match restart {
        Restart::KeepingData => 0,
        Restart::Empty => {
            // The source sends a tenth of the storm again: alerts Redis forgot it had handled.
            let again = &load.alerts[..load.alerts.len() / 10];
            let sender = Sender::new(&stack.ingest_url, SECRET)?;
            let one_second = Duration::from_secs(1);
            let answer =
                send_paced(&sender, again, 50, 2, one_second, Duration::from_secs(60)).await;
            sent.given_up += answer.given_up;
            again.len()
        }
    };
    let (title, remark) = match restart {
        Restart::KeepingData => (
            "3. Redis restarted during processing",
            format!("Redis down 5 s with {before} alerts in Syncro; data set kept (SHUTDOWN SAVE)"),
        ),
        Restart::Empty => (
            "5. Redis restarted empty during processing, alerts sent again",
            format!(
                "Redis down 5 s with {before} alerts in Syncro, back empty (SHUTDOWN NOSAVE); {resent} alerts sent again after"
            ),
        ),
    };
    let outcome = Outcome {
        title,
        remark,
        extra_sent: resent,
        sent,
    };
    settle_and_judge(
        run,
        stack,
        load.alerts.len(),
        &load.wanted,
        load.started,
        outcome,
    )
    .await
}

/// The name the sentinels know the master by.
const MASTER: &str = "relay";

/// 6. Redis behind three sentinels; two workers follow the master through the sentinels. A
///    third of the way into the storm the master is killed (SIGKILL: what it had not yet sent
///    to its replica is lost); the sentinels promote the replica and the workers follow it.
pub async fn sentinel_failover(run: &mut Run<'_>) -> anyhow::Result<Row> {
    if let Err(why) = redis_server::available() {
        anyhow::bail!("cannot run redis-server for the sentinels: {why}");
    }
    let dir = run.work.join("sentinel");
    std::fs::create_dir_all(&dir)?;
    let mut master = RedisServer::start(&dir, "master", None, &[]);
    let master_port = master.port.to_string();
    let replica = RedisServer::start(
        &dir,
        "replica",
        None,
        &["--replicaof", "127.0.0.1", &master_port],
    );
    redis_server::replica_in_sync(&replica.client(None), Duration::from_secs(30)).await;
    let sentinels: Vec<RedisServer> = (0..3)
        .map(|i| {
            RedisServer::sentinel(&dir, &format!("sentinel-{i}"), MASTER, master.port, 2, None)
        })
        .collect();
    let addresses: Vec<String> = sentinels
        .iter()
        .map(|s| format!("\"{}\"", s.address()))
        .collect();
    let section = format!(
        "url = \"redis://{MASTER}\"\nsentinels = [{}]\nmaster_name = \"{MASTER}\"",
        addresses.join(", ")
    );
    let (stack, load) = storm_under_way(run, "sentinel", Some(section)).await?;
    let before = in_syncro(&stack, &load).await?;
    eprintln!("  killing the Redis master ({before} alerts in Syncro)");
    let killed = Instant::now();
    master.kill();
    let sentinel = sentinels[0].client(None);
    let replica_port = replica.port;
    poll(
        "the sentinels to promote the replica",
        Duration::from_secs(60),
        || {
            let sentinel = sentinel.clone();
            async move {
                let Ok(mut conn) = sentinel.get_multiplexed_async_connection().await else {
                    return false;
                };
                let master: ::redis::RedisResult<Option<(String, u16)>> = ::redis::cmd("SENTINEL")
                    .arg("GET-MASTER-ADDR-BY-NAME")
                    .arg(MASTER)
                    .query_async(&mut conn)
                    .await;
                matches!(master, Ok(Some((_, port))) if port == replica_port)
            }
        },
    )
    .await?;
    let promoted_after = killed.elapsed();
    let sent = load.sending.await.context("sender")?;
    let outcome = Outcome {
        title: "6. Redis master killed, Sentinel promotes the replica",
        remark: format!(
            "master SIGKILLed with {before} alerts in Syncro; replica promoted {:.1} s later; 3 sentinels",
            promoted_after.as_secs_f64()
        ),
        extra_sent: 0,
        sent,
    };
    let row = settle_and_judge(
        run,
        stack,
        load.alerts.len(),
        &load.wanted,
        load.started,
        outcome,
    )
    .await;
    drop((replica, sentinels));
    row
}

/// Two workers (with `redis_section` for their `[redis]` keys, else the run's Redis) and the
/// storm a third of the way in: the moment every Redis scenario does its damage.
async fn storm_under_way(
    run: &mut Run<'_>,
    name: &str,
    redis_section: Option<String>,
) -> anyhow::Result<(Stack, Load)> {
    let sizes = run.sizes;
    let tuning = Tuning {
        retry_tiers_secs: DEFAULT_TIERS,
        prefetch: 2000,
        lock_lease_secs: 30,
    };
    let mut stack = run.stack(name, tuning).await?;
    if let Some(section) = redis_section {
        stack.use_redis_section(section);
    }
    stack.start_worker(0, true).await?;
    stack.start_worker(1, true).await?;
    let storm = (sizes.redis_alerts, sizes.redis_subjects);
    let load = start_load(
        &stack,
        name,
        storm,
        (50, 4),
        sizes.send_over,
        Duration::from_secs(60),
    )?;
    tokio::time::sleep(sizes.send_over / 3).await;
    Ok((stack, load))
}

/// Alerts of the storm already in Syncro.
async fn in_syncro(stack: &Stack, load: &Load) -> anyhow::Result<usize> {
    Ok(observe::syncro(&stack.http, &stack.sim_url, &load.wanted)
        .await?
        .present())
}

/// How a Redis scenario went, for its row.
struct Outcome {
    title: &'static str,
    remark: String,
    /// Alerts sent again after the storm (the same ids).
    extra_sent: usize,
    sent: Sent,
}

/// Waits until every alert is in Syncro and the queues are drained, then judges: no loss, no
/// duplicate, one ticket per subject, nothing left queued.
async fn settle_and_judge(
    run: &mut Run<'_>,
    stack: Stack,
    storm: usize,
    wanted: &HashSet<String>,
    started: Instant,
    outcome: Outcome,
) -> anyhow::Result<Row> {
    let sizes = run.sizes;
    let seen = watch(&stack, wanted, sizes.settle, |s| {
        s.present() == wanted.len()
    })
    .await?;
    let left = drained(run.rabbit, &stack, Duration::from_secs(60), false).await?;
    let sent = &outcome.sent;
    let mut r = row(
        outcome.title,
        storm + outcome.extra_sent,
        sent.accepted.len(),
        &seen,
        started,
    );
    r.lost = lost(&sent.accepted, &seen);
    r.dead = dead_letters(&stack).await?.len();
    r.remarks.push(outcome.remark);
    if r.tickets != sizes.redis_subjects {
        r.failures.push(format!(
            "{} tickets for {} subjects",
            r.tickets, sizes.redis_subjects
        ));
    }
    if left > 0 {
        r.failures.push(format!("{left} messages left queued"));
    }
    stack.stop().await;
    Ok(r)
}
