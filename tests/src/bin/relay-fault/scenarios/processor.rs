//! Processors SIGKILLed: 1. every 2–4 s through a storm; 7. once mid-storm at Syncro's real
//! rate limit.

use super::*;

/// 1. A storm while a processor is SIGKILLed every 2–4 s and restarted (two worker slots).
pub async fn processor_killed(run: &mut Run<'_>) -> anyhow::Result<Row> {
    let sizes = run.sizes;
    let mut stack = run
        .stack(
            "kill",
            Tuning {
                retry_tiers_secs: DEFAULT_TIERS,
                prefetch: 2000,
                lock_lease_secs: 10,
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
        "kill",
        (sizes.kill_alerts, sizes.kill_subjects),
        (100, 4),
        over,
        Duration::from_secs(60),
    )?;
    let mut kills = 0usize;
    let deadline = started + sizes.settle;
    loop {
        let pause = rand::rng().random_range(2000..=4000);
        tokio::time::sleep(Duration::from_millis(pause)).await;
        let seen = observe::syncro(&stack.http, &stack.sim_url, &wanted).await?;
        if (sending.is_finished() && seen.present() == wanted.len()) || Instant::now() > deadline {
            break;
        }
        let slot = kills % 2;
        stack.kill_worker(slot).await;
        stack.start_worker(slot, false).await?;
        kills += 1;
        if kills.is_multiple_of(5) {
            eprintln!(
                "  {kills} kills, {}/{} alerts in Syncro",
                seen.present(),
                wanted.len()
            );
        }
    }
    let sent = sending.await.context("sender")?;
    let seen = watch(&stack, &wanted, Duration::from_secs(60), |s| {
        s.present() == wanted.len()
    })
    .await?;
    let left = drained(run.rabbit, &stack, Duration::from_secs(60), false).await?;
    let seen_after = observe::syncro(&stack.http, &stack.sim_url, &wanted).await?;
    let mut r = row(
        "1. processor SIGKILLed every 2–4 s",
        alerts.len(),
        sent.accepted.len(),
        &seen_after,
        started,
    );
    r.lost = lost(&sent.accepted, &seen_after);
    r.dead = dead_letters(&stack).await?.len();
    r.remarks
        .push(format!("{kills} SIGKILLs, 2 worker slots, prefetch 2000"));
    let late = seen.present() != seen_after.present();
    check_storm(&mut r, left, late, sizes.kill_subjects, &sent, alerts.len());
    stack.stop().await;
    Ok(r)
}

/// Syncro's documented limit (180 requests a minute per address), and the workers' budget in
/// the production example configuration.
const SYNCRO_PER_MINUTE: u32 = 180;

/// Longest wait for scenario 7 to settle: at 180 calls a minute the storm takes minutes, not
/// the seconds of the other scenarios.
const SETTLE_AT_BUDGET: Duration = Duration::from_secs(600);

/// 7. A storm at Syncro's real limit (the simulator answers 429 beyond 180 requests in any
///    60 s; the workers share a budget of 180 a minute): three workers, one SIGKILLed once a
///    third of the alerts are in Syncro and started again at once. A killed worker's spent and
///    reserved budget must not let the fleet overspend: no 429 at all, besides no loss and no
///    duplicate.
pub async fn processor_killed_at_budget(run: &mut Run<'_>) -> anyhow::Result<Row> {
    let sizes = run.sizes;
    let mut stack = run
        .stack(
            "budget",
            Tuning {
                retry_tiers_secs: DEFAULT_TIERS,
                prefetch: 2000,
                lock_lease_secs: 30,
            },
        )
        .await?;
    stack.limit_syncro(SYNCRO_PER_MINUTE).await?;
    for slot in 0..3 {
        stack.start_worker(slot, true).await?;
    }
    let Load {
        alerts,
        wanted,
        started,
        sending,
    } = start_load(
        &stack,
        "budget",
        (sizes.budget_alerts, sizes.budget_subjects),
        (100, 4),
        sizes.send_over,
        Duration::from_secs(60),
    )?;
    let deadline = started + SETTLE_AT_BUDGET;
    // Mid-storm: a third of the alerts in Syncro, the rest queued or held by the workers.
    let at_kill = loop {
        let seen = observe::syncro(&stack.http, &stack.sim_url, &wanted).await?;
        if seen.present() * 3 >= wanted.len() || Instant::now() > deadline {
            break seen.present();
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let killed_after = started.elapsed().as_secs_f64();
    stack.kill_worker(1).await;
    stack.start_worker(1, false).await?;
    let sent = sending.await.context("sender")?;
    let within = deadline.saturating_duration_since(Instant::now());
    let seen = watch(&stack, &wanted, within, |s| s.present() == wanted.len()).await?;
    let left = drained(run.rabbit, &stack, Duration::from_secs(60), false).await?;
    let seen_after = observe::syncro(&stack.http, &stack.sim_url, &wanted).await?;
    let counters: Value = stack
        .http
        .get(format!("{}/_admin/counters", stack.sim_url))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let throttled = counters["total_429s"].as_u64().unwrap_or(0);
    let mut r = row(
        "7. processor SIGKILLed mid-storm at Syncro's 180/min",
        alerts.len(),
        sent.accepted.len(),
        &seen_after,
        started,
    );
    r.lost = lost(&sent.accepted, &seen_after);
    r.dead = dead_letters(&stack).await?.len();
    r.remarks.push(format!(
        "1 SIGKILL after {killed_after:.0} s with {at_kill} alerts in Syncro, 3 workers, \
         simulator and workers at {SYNCRO_PER_MINUTE}/min, prefetch 2000"
    ));
    r.remarks.push(format!(
        "Syncro calls {}, 429s {throttled}",
        counters["total"]
    ));
    let late = seen.present() != seen_after.present();
    check_storm(
        &mut r,
        left,
        late,
        sizes.budget_subjects,
        &sent,
        alerts.len(),
    );
    if throttled > 0 {
        r.failures.push(format!(
            "{throttled} 429s: the fleet overspent Syncro's limit"
        ));
    }
    stack.stop().await;
    Ok(r)
}
