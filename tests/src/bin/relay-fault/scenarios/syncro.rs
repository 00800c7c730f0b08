//! 4. Syncro misbehaving, then the dead letters replayed.

use super::*;

/// 4. Syncro misbehaving: 30 % 503s, 10 % of POSTs applied then dropped, 429 bursts; retry
///    tiers [1, 2] so some alerts really dead-letter. Then Syncro heals and the dead letters
///    are replayed with `relayctl dlq replay`.
pub async fn syncro_misbehaving(run: &mut Run<'_>) -> anyhow::Result<Row> {
    let sizes = run.sizes;
    let mut stack = run
        .stack(
            "syncro",
            Tuning {
                retry_tiers_secs: "[1, 2]",
                prefetch: 2000,
                lock_lease_secs: 10,
            },
        )
        .await?;
    use reqwest::Method;
    stack
        .admin(
            Method::POST,
            "/_admin/faults",
            Some(json!({"kind": "error", "status": 503, "share": 0.3})),
        )
        .await?;
    stack
        .admin(
            Method::POST,
            "/_admin/faults",
            Some(json!({"kind": "drop_after_apply", "method": "POST", "share": 0.1})),
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
        "syncro",
        (sizes.syncro_alerts, sizes.syncro_subjects),
        (50, 4),
        over,
        Duration::from_secs(60),
    )?;
    // A burst of five 429s every 5 s while the alerts arrive.
    let bursts = {
        let (http, url) = (
            stack.http.clone(),
            format!("{}/_admin/faults", stack.sim_url),
        );
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(5)).await;
                let burst = json!({"kind": "rate_limit_burst", "count": 5, "retry_after_secs": 1});
                let _ = http.post(&url).json(&burst).send().await;
            }
        })
    };
    let sent = sending.await.context("sender")?;
    bursts.abort();
    // Settled: every alert in Syncro or dead-lettered, and nothing else queued or in flight.
    let settle_start = Instant::now();
    let (mut seen, mut dead) = loop {
        let seen = observe::syncro(&stack.http, &stack.sim_url, &wanted).await?;
        let dead = dead_letters(&stack).await?;
        let dead_ids: HashSet<&str> = dead.iter().map(|d| d.message_id.as_str()).collect();
        let all = sent
            .accepted
            .iter()
            .all(|id| seen.refs.contains_key(id) || dead_ids.contains(id.as_str()));
        if (all && drained(run.rabbit, &stack, Duration::ZERO, true).await? == 0)
            || settle_start.elapsed() > sizes.settle
        {
            break (seen, dead);
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    };
    let unsettled = drained(run.rabbit, &stack, Duration::ZERO, true).await?;
    let counters: Value = stack
        .http
        .get(format!("{}/_admin/counters", stack.sim_url))
        .send()
        .await?
        .json()
        .await?;
    stack.admin(Method::DELETE, "/_admin/faults", None).await?;
    let dead_count = dead.len();
    let mut r = row(
        "4. Syncro: 30 % 503, 10 % POSTs dropped after applying, 429 bursts",
        alerts.len(),
        sent.accepted.len(),
        &seen,
        started,
    );
    r.dead = dead_count;
    let mut kinds: BTreeMap<String, usize> = BTreeMap::new();
    for d in &dead {
        *kinds
            .entry(d.error_kind.clone().unwrap_or_else(|| "(none)".into()))
            .or_insert(0) += 1;
    }
    let unexplained = dead
        .iter()
        .filter(|d| d.error_kind.is_none() || d.error.as_deref().unwrap_or("").is_empty())
        .count();
    if unexplained > 0 {
        r.failures
            .push(format!("{unexplained} dead letters without a reason"));
    }
    r.remarks.push(format!(
        "Syncro saw {} calls, faults {}, 429 bursts {}",
        counters["total"], counters["faults"], counters["burst_429s"]
    ));
    if dead_count > 0 {
        r.remarks.push(format!(
            "dead-lettered by kind: {}",
            kinds
                .iter()
                .map(|(k, n)| format!("{k} {n}"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let dead_ids: HashSet<String> = dead.drain(..).map(|d| d.message_id).collect();
    let missing_not_dead = sent
        .accepted
        .iter()
        .filter(|id| !seen.refs.contains_key(*id) && !dead_ids.contains(*id))
        .count();
    // Still queued when the wait ended is not lost, but it is a failure to settle.
    r.lost = missing_not_dead.saturating_sub(unsettled as usize);
    if unsettled > 0 {
        r.failures.push(format!(
            "{unsettled} messages still queued after {:?}",
            sizes.settle
        ));
    }
    if dead_count == 0 {
        r.remarks
            .push("nothing dead-lettered: no replay needed".into());
    } else if relayctl_can_replay(stack.bin()) {
        let config = stack.ops_config()?;
        let output = tokio::process::Command::new(stack.bin().join("relayctl"))
            .args(["--config", &config, "dlq", "replay"])
            .output()
            .await?;
        std::fs::write(
            stack.dir().join("relayctl-replay.log"),
            [&output.stdout[..], &output.stderr[..]].concat(),
        )?;
        if !output.status.success() {
            r.failures
                .push(format!("relayctl dlq replay failed ({})", output.status));
        }
        seen = watch(&stack, &wanted, sizes.settle, |s| {
            sent.accepted.iter().all(|id| s.refs.contains_key(id))
        })
        .await?;
        let left = drained(run.rabbit, &stack, Duration::from_secs(60), false).await?;
        r.remarks.push(format!(
            "replayed with relayctl dlq replay; left queued after: {left}"
        ));
        if left > 0 {
            r.failures
                .push(format!("{left} messages left queued after the replay"));
        }
        r.present = seen.present();
        r.duplicates = seen.duplicates();
        r.tickets = seen.tickets;
        r.notes = seen.notes();
        r.lost = lost(&sent.accepted, &seen);
    } else {
        r.remarks
            .push("replay: pending (relayctl has no `dlq replay` yet)".into());
    }
    r.secs = started.elapsed().as_secs_f64();
    stack.stop().await;
    Ok(r)
}

/// Whether `relayctl` exists beside the other binaries and has `dlq replay`.
fn relayctl_can_replay(bin: &Path) -> bool {
    let relayctl = bin.join("relayctl");
    relayctl.exists()
        && std::process::Command::new(&relayctl)
            .args(["dlq", "replay", "--help"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
}
