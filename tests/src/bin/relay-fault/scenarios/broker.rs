//! 2. The RabbitMQ node restarted under concurrent signed POSTs.

use super::*;

/// 2. The broker node restarted during a concurrent ingest load; no processor runs until the
///    load is over, so the work queue shows exactly what was stored.
pub async fn broker_restarted(run: &mut Run<'_>) -> anyhow::Result<Row> {
    let sizes = run.sizes;
    let mut stack = run
        .stack(
            "broker",
            Tuning {
                retry_tiers_secs: DEFAULT_TIERS,
                prefetch: 2000,
                lock_lease_secs: 30,
            },
        )
        .await?;
    let over = sizes.send_over + Duration::from_secs(10);
    let Load {
        alerts,
        wanted,
        started,
        sending,
    } = start_load(
        &stack,
        "broker",
        (sizes.broker_alerts, sizes.broker_subjects),
        (10, 16),
        over,
        Duration::from_secs(120),
    )?;
    tokio::time::sleep(over / 3).await;
    let down_at = Instant::now();
    eprintln!("  restarting the RabbitMQ node");
    // On a loaded machine rabbitmqctl itself takes seconds, and ingest may well be answering
    // 202 again before `restart` returns: what proves it recovered without a restart is a 202
    // after the node was down (each 202 waited for a confirm from the restarted node).
    let stopped_at = run.rabbit.restart().await?;
    let up_at = Instant::now();
    eprintln!(
        "  RabbitMQ back after {:.1} s",
        (up_at - down_at).as_secs_f64()
    );
    let ready_at = {
        let start = Instant::now();
        while !stack.ingest_ready().await && start.elapsed() < Duration::from_secs(60) {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        stack.ingest_ready().await.then(Instant::now)
    };
    let sent = sending.await.context("sender")?;
    let in_queue = observe::peek(&stack.amqp_url, &format!("{}.alerts.work", stack.prefix)).await?;
    let copies = in_queue.len();
    let queued: HashSet<String> = in_queue.into_iter().map(|q| q.message_id).collect();
    let not_queued = sent
        .accepted
        .iter()
        .filter(|id| !queued.contains(*id))
        .count();
    stack.start_worker(0, true).await?;
    stack.start_worker(1, true).await?;
    let seen = watch(&stack, &wanted, sizes.settle, |s| {
        sent.accepted.iter().all(|id| s.refs.contains_key(id))
    })
    .await?;
    let left = drained(run.rabbit, &stack, Duration::from_secs(60), false).await?;
    let mut r = row(
        "2. RabbitMQ restarted under ingest load",
        alerts.len(),
        sent.accepted.len(),
        &seen,
        started,
    );
    r.lost = lost(&sent.accepted, &seen).max(not_queued);
    r.dead = dead_letters(&stack).await?.len();
    r.remarks.push(format!(
        "broker down {:.1} s; answers {}; 2xx not in the queue: {not_queued}",
        (up_at - down_at).as_secs_f64(),
        sent.answers_text()
    ));
    match ready_at {
        Some(t) => r.remarks.push(format!(
            "ingest ready {:.1} s after the node; {} 202s after the node was down",
            (t - up_at).as_secs_f64(),
            sent.accepted_since(stopped_at)
        )),
        None => r
            .failures
            .push("ingest not ready within 60 s of the node's restart".into()),
    }
    r.remarks.push(format!(
        "{copies} messages in the queue for {} alerts",
        queued.len()
    ));
    if seen.duplicates() > 0 {
        r.remarks.push(format!(
            "{} of the duplicates are an alert listed twice in one note",
            seen.repeats_in_one_comment
        ));
    }
    if sent.accepted_since(stopped_at) == 0 {
        r.failures.push("no 202 after the restart".into());
    }
    if not_queued > 0 {
        r.failures
            .push(format!("{not_queued} alerts answered 2xx but not queued"));
    }
    if sent.given_up > 0 {
        r.remarks.push(format!(
            "{} batches still refused after 120 s",
            sent.given_up
        ));
    }
    if left > 0 {
        r.failures.push(format!("{left} messages left queued"));
    }
    stack.stop().await;
    Ok(r)
}
