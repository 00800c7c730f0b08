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
    redis_scenario(run, Restart::KeepingData).await
}

/// 5. Redis stopped and started again empty, down 5 s, while two workers process; then a
///    tenth of the storm is sent again by its source (the same alert ids).
pub async fn redis_emptied(run: &mut Run<'_>) -> anyhow::Result<Row> {
    redis_scenario(run, Restart::Empty).await
}

async fn redis_scenario(run: &mut Run<'_>, restart: Restart) -> anyhow::Result<Row> {
    let sizes = run.sizes;
    let name = match restart {
        Restart::KeepingData => "redis",
        Restart::Empty => "redis-empty",
    };
    let mut stack = run
        .stack(
            name,
            Tuning {
                retry_tiers_secs: DEFAULT_TIERS,
                prefetch: 2000,
                lock_lease_secs: 30,
            },
        )
        .await?;
    stack.start_worker(0, true).await?;
    stack.start_worker(1, true).await?;
    let over = sizes.send_over;
    let Load {
        alerts,
        wanted,
        started,
        sending,
    } = start_load(
        &stack,
        name,
        (sizes.redis_alerts, sizes.redis_subjects),
        (50, 4),
        over,
        Duration::from_secs(60),
    )?;
    tokio::time::sleep(over / 3).await;
    let before = observe::syncro(&stack.http, &stack.sim_url, &wanted)
        .await?
        .present();
    eprintln!("  restarting Redis ({before} alerts in Syncro)");
    run.redis
        .restart(Duration::from_secs(5), restart == Restart::Empty)
        .await?;
    let mut sent = sending.await.context("sender")?;
    let resent = match restart {
        Restart::KeepingData => 0,
        Restart::Empty => {
            // The source sends a tenth of the storm again: alerts Redis forgot it had handled.
            let again = &alerts[..alerts.len() / 10];
            let sender = Sender::new(&stack.ingest_url, SECRET)?;
            let answer = send_paced(
                &sender,
                again,
                50,
                2,
                Duration::from_secs(1),
                Duration::from_secs(60),
            )
            .await;
            sent.given_up += answer.given_up;
            again.len()
        }
    };
    let seen = watch(&stack, &wanted, sizes.settle, |s| {
        s.present() == wanted.len()
    })
    .await?;
    let left = drained(run.rabbit, &stack, Duration::from_secs(60), false).await?;
    let title = match restart {
        Restart::KeepingData => "3. Redis restarted during processing",
        Restart::Empty => "5. Redis restarted empty during processing, alerts sent again",
    };
    let mut r = row(
        title,
        alerts.len() + resent,
        sent.accepted.len(),
        &seen,
        started,
    );
    r.lost = lost(&sent.accepted, &seen);
    r.dead = dead_letters(&stack).await?.len();
    r.remarks.push(match restart {
        Restart::KeepingData => {
            format!("Redis down 5 s with {before} alerts in Syncro; data set kept (SHUTDOWN SAVE)")
        }
        Restart::Empty => format!(
            "Redis down 5 s with {before} alerts in Syncro, back empty (SHUTDOWN NOSAVE); {resent} alerts sent again after"
        ),
    });
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

/// The name the sentinels know the master by.
const MASTER: &str = "relay";

/// 6. Redis behind three sentinels; two workers follow the master through the sentinels. A
///    third of the way into the storm the master is killed (SIGKILL: what it had not yet sent
///    to its replica is lost); the sentinels promote the replica and the workers follow it.
pub async fn sentinel_failover(run: &mut Run<'_>) -> anyhow::Result<Row> {
    if let Err(why) = redis_server::available() {
        anyhow::bail!("cannot run redis-server for the sentinels: {why}");
    }
    let sizes = run.sizes;
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

    let mut stack = run
        .stack(
            "sentinel",
            Tuning {
                retry_tiers_secs: DEFAULT_TIERS,
                prefetch: 2000,
                lock_lease_secs: 30,
            },
        )
        .await?;
    stack.use_redis_section(format!(
        "url = \"redis://{MASTER}\"\nsentinels = [{}]\nmaster_name = \"{MASTER}\"",
        addresses.join(", ")
    ));
    stack.start_worker(0, true).await?;
    stack.start_worker(1, true).await?;
    let over = sizes.send_over;
    let Load {
        alerts,
        wanted,
        started,
        sending,
    } = start_load(
        &stack,
        "sentinel",
        (sizes.redis_alerts, sizes.redis_subjects),
        (50, 4),
        over,
        Duration::from_secs(60),
    )?;
    tokio::time::sleep(over / 3).await;
    let before = observe::syncro(&stack.http, &stack.sim_url, &wanted)
        .await?
        .present();
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
    let sent = sending.await.context("sender")?;
    let seen = watch(&stack, &wanted, sizes.settle, |s| {
        s.present() == wanted.len()
    })
    .await?;
    let left = drained(run.rabbit, &stack, Duration::from_secs(60), false).await?;
    let mut r = row(
        "6. Redis master killed, Sentinel promotes the replica",
        alerts.len(),
        sent.accepted.len(),
        &seen,
        started,
    );
    r.lost = lost(&sent.accepted, &seen);
    r.dead = dead_letters(&stack).await?.len();
    r.remarks.push(format!(
        "master SIGKILLed with {before} alerts in Syncro; replica promoted {:.1} s later; 3 sentinels",
        promoted_after.as_secs_f64()
    ));
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
    drop((replica, sentinels));
    Ok(r)
}
