//! 1. A storm while a processor is SIGKILLed every 2–4 s.

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
    r.remarks.push(format!("left queued: {left}"));
    if seen.present() != seen_after.present() {
        r.remarks
            .push("alerts still arriving after the first full count".into());
    }
    if r.tickets != sizes.kill_subjects {
        r.failures.push(format!(
            "{} tickets for {} subjects",
            r.tickets, sizes.kill_subjects
        ));
    }
    if left > 0 {
        r.failures.push(format!("{left} messages left queued"));
    }
    if sent.accepted.len() != alerts.len() {
        r.failures
            .push(format!("ingest refused alerts: {}", sent.answers_text()));
    }
    stack.stop().await;
    Ok(r)
}
