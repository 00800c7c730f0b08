//! Scenario 8, PostgreSQL stopped in the middle of a storm. The alert path never waits on
//! it: no alert lost or doubled, and the storm settles about as fast as the same storm without
//! the fault, sent first in the same run. Each alert's trail, written from memory once
//! PostgreSQL is back, must then be whole, or its `trail_gap` rows must count what it dropped.

use super::*;

/// Workers of both storms, as in scenario 7.
const WORKERS: usize = 3;

/// Longest wait, once the storm settled (so PostgreSQL has answered again for a while), for
/// the processes' trail writers to write what they kept in memory: they retry every 5 s at
/// most, a batch of 1,000 steps at a time.
const TRAIL_FLUSH: Duration = Duration::from_secs(60);

/// How much slower than the same storm without the fault the storm may settle before that is
/// a failure rather than noise: 30 s plus half the storm's own time. Both storms run on a
/// shared 2-core machine whose load changes from one minute to the next. What this catches is
/// the alert path paying for PostgreSQL's absence alert by alert (a 3 s connection timeout
/// per alert or per call would take minutes); a fleet that only paused for the outage is
/// caught by the progress check instead (no alert reaching Syncro while it was down).
fn beyond_noise(baseline: Duration) -> Duration {
    Duration::from_secs(30) + baseline / 2
}

/// 8. Three workers and a storm; a third of the way into it PostgreSQL is stopped (fast
///    shutdown) for `postgres_down` and started again on the same data. The same storm runs
///    first without the fault, for the time it takes to settle.
pub async fn postgres_stopped(run: &mut Run<'_>) -> anyhow::Result<Row> {
    eprintln!("  the storm without the fault first");
    let baseline = storm(run, "pg-baseline", None).await?;
    let down = run.sizes.postgres_down;
    eprintln!(
        "  the storm with PostgreSQL stopped for {} s",
        down.as_secs()
    );
    let faulty = storm(run, "pg-stopped", Some(down)).await?;

    let mut r = faulty.row;
    if let Some(o) = &faulty.outage {
        r.remarks.insert(
            0,
            format!(
                "PostgreSQL stopped with {} alerts in Syncro, answering again {:.1} s later; \
                 meanwhile {} alerts reached Syncro and ingest answered {} batches 2xx; \
                 {WORKERS} workers",
                o.in_syncro_before,
                o.unreachable.as_secs_f64(),
                o.in_syncro_after - o.in_syncro_before,
                o.accepted_during
            ),
        );
        // Workers that waited on PostgreSQL would carry nothing while it is away, although
        // the storm kept coming: the alert path must not notice the outage.
        if o.in_syncro_after == o.in_syncro_before && o.in_syncro_before < r.sent {
            r.failures
                .push("no alert reached Syncro while PostgreSQL was down".into());
        }
    }
    match (faulty.settled, baseline.settled) {
        (Some(with), Some(without)) => {
            r.remarks.push(format!(
                "settled in {:.0} s vs {:.0} s without the fault",
                with.as_secs_f64(),
                without.as_secs_f64()
            ));
            if with > without + beyond_noise(without) {
                r.failures.push(format!(
                    "settled in {:.0} s, beyond noise over the {:.0} s without the fault",
                    with.as_secs_f64(),
                    without.as_secs_f64()
                ));
            }
        }
        (None, _) => r
            .failures
            .push(format!("not settled within {:?}", run.sizes.settle)),
        (Some(_), None) => r
            .remarks
            .push("the storm without the fault did not settle: no comparison".into()),
    }
    judge_trail(&mut r, &faulty.trail, "");
    judge_trail(&mut r, &baseline.trail, "without the fault: ");
    let b = &baseline.row;
    if b.failed() {
        r.failures.push(format!(
            "without the fault: {} lost, {} duplicates{}",
            b.lost,
            b.duplicates,
            b.failures
                .iter()
                .map(|f| format!(", {f}"))
                .collect::<String>()
        ));
    }
    Ok(r)
}

/// One storm's outcome.
struct Storm {
    row: Row,
    /// From the first alert sent to the last one in Syncro; `None` when that took longer
    /// than `settle`.
    settled: Option<Duration>,
    outage: Option<Outage>,
    /// The trail once written, or why it could not be read.
    trail: anyhow::Result<Trail>,
}

struct Outage {
    /// Alerts in Syncro when PostgreSQL was stopped, and when it answered again.
    in_syncro_before: usize,
    in_syncro_after: usize,
    /// From the stop to PostgreSQL answering again.
    unreachable: Duration,
    /// Ingest's 2xx answers in that time.
    accepted_during: usize,
}

/// A storm through a fresh stack of [`WORKERS`] workers; with `outage`, PostgreSQL is stopped
/// that long a third of the way into it. Checked as scenarios 1 and 7 are (one ticket per
/// subject, nothing refused, nothing left queued), then the trail is read.
async fn storm(run: &mut Run<'_>, name: &str, outage: Option<Duration>) -> anyhow::Result<Storm> {
    let sizes = run.sizes;
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
    for slot in 0..WORKERS {
        stack.start_worker(slot, true).await?;
    }
    let storm = (sizes.postgres_alerts, sizes.postgres_subjects);
    let Load {
        alerts,
        wanted,
        started,
        sending,
    } = start_load(
        &stack,
        name,
        storm,
        (50, 4),
        sizes.send_over,
        Duration::from_secs(60),
    )?;
    // Syncro is watched from the first alert on, through the outage, so the time to settle
    // is when the last alert arrived there, even if PostgreSQL was still down then.
    let settling = async {
        let seen = watch(&stack, &wanted, sizes.settle, |s| {
            s.present() == wanted.len()
        })
        .await;
        (seen, started.elapsed())
    };
    let postgres = &mut *run.postgres;
    let fault = async {
        let Some(down) = outage else {
            return anyhow::Ok(None);
        };
        tokio::time::sleep(sizes.send_over / 3).await;
        let in_syncro = || async {
            anyhow::Ok(
                observe::syncro(&stack.http, &stack.sim_url, &wanted)
                    .await?
                    .present(),
            )
        };
        let before = in_syncro().await?;
        eprintln!("  stopping PostgreSQL ({before} alerts in Syncro)");
        let (stopped, back) = postgres.restart(down).await?;
        let after = in_syncro().await?;
        eprintln!(
            "  PostgreSQL answers again after {:.1} s ({after} alerts in Syncro)",
            (back - stopped).as_secs_f64()
        );
        Ok(Some((before, after, stopped, back)))
    };
    let ((seen, elapsed), window) = tokio::join!(settling, fault);
    let (seen, window) = (seen?, window?);
    let settled = (seen.present() == wanted.len()).then_some(elapsed);
    let sent = sending.await.context("sender")?;
    let outage = window.map(|(before, after, stopped, back)| Outage {
        in_syncro_before: before,
        in_syncro_after: after,
        unreachable: back - stopped,
        accepted_during: sent.accepted_since(stopped) - sent.accepted_since(back),
    });
    let left = drained(run.rabbit, &stack, Duration::from_secs(60), false).await?;
    let seen_after = observe::syncro(&stack.http, &stack.sim_url, &wanted).await?;
    let title = match outage {
        None => "8. (the same storm without the fault)",
        Some(_) => "8. PostgreSQL stopped mid-storm",
    };
    let mut r = row(
        title,
        alerts.len(),
        sent.accepted.len(),
        &seen_after,
        started,
    );
    if let Some(settled) = settled {
        r.secs = settled.as_secs_f64();
    }
    r.lost = lost(&sent.accepted, &seen_after);
    r.dead = dead_letters(&stack).await?.len();
    let late = seen.present() != seen_after.present();
    check_storm(
        &mut r,
        left,
        late,
        sizes.postgres_subjects,
        &sent,
        alerts.len(),
    );
    let trail = trail_written(run.postgres, &stack.schema(), &sent.accepted, &seen_after).await;
    stack.stop().await;
    Ok(Storm {
        row: r,
        settled,
        outage,
        trail,
    })
}

/// What a deployment's trail says about a storm's alerts.
struct Trail {
    /// 2xx'd alerts with a `received` step, and all 2xx'd alerts.
    received: usize,
    accepted: usize,
    /// Alerts in Syncro with a `ticket_created` or `note_added` step, and all in Syncro.
    carried: usize,
    present: usize,
    /// Steps the `trail_gap` rows say were dropped.
    dropped: u64,
    /// From the first look, once the storm settled, to the last.
    waited: Duration,
}

impl Trail {
    /// Steps of the two kinds counted that are not in the trail.
    fn missing(&self) -> usize {
        (self.accepted - self.received) + (self.present - self.carried)
    }
}

/// Reads the trail of the deployment in `schema` until every 2xx'd alert has its `received`
/// step and every alert in Syncro its `ticket_created` or `note_added` step, or
/// [`TRAIL_FLUSH`] passes; the last reading.
async fn trail_written(
    postgres: &Postgres,
    schema: &str,
    accepted: &HashSet<String>,
    seen: &Seen,
) -> anyhow::Result<Trail> {
    let start = Instant::now();
    loop {
        let reading = read_trail(postgres, schema, accepted, seen).await;
        let whole = matches!(&reading, Ok(t) if t.missing() == 0);
        if whole || start.elapsed() > TRAIL_FLUSH {
            return reading.map(|t| Trail {
                waited: start.elapsed(),
                ..t
            });
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

async fn read_trail(
    postgres: &Postgres,
    schema: &str,
    accepted: &HashSet<String>,
    seen: &Seen,
) -> anyhow::Result<Trail> {
    // The schema is the prefix made an identifier: letters, digits and underscores.
    let steps = postgres
        .query(&format!(
            "SELECT step, message_id FROM \"{schema}\".trail
              WHERE step IN ('received', 'ticket_created', 'note_added')
              GROUP BY step, message_id"
        ))
        .await?;
    let mut received = HashSet::new();
    let mut carried = HashSet::new();
    for line in steps.lines() {
        match line.split_once('\t') {
            Some(("received", id)) => received.insert(id),
            Some((_, id)) => carried.insert(id),
            None => false,
        };
    }
    let dropped = postgres
        .query(&format!(
            "SELECT COALESCE(SUM((detail->>'dropped')::bigint), 0) FROM \"{schema}\".trail
              WHERE step = 'trail_gap'"
        ))
        .await?;
    let dropped = dropped
        .trim()
        .parse()
        .with_context(|| format!("the trail_gap sum {dropped:?}"))?;
    Ok(Trail {
        received: accepted
            .iter()
            .filter(|id| received.contains(id.as_str()))
            .count(),
        accepted: accepted.len(),
        carried: seen
            .refs
            .keys()
            .filter(|id| carried.contains(id.as_str()))
            .count(),
        present: seen.present(),
        dropped,
        waited: Duration::ZERO,
    })
}

/// The trail's remark, and a failure when it is missing steps its gaps do not account for
/// (or could not be read).
fn judge_trail(r: &mut Row, trail: &anyhow::Result<Trail>, label: &str) {
    let t = match trail {
        Ok(t) => t,
        Err(e) => {
            r.failures
                .push(format!("{label}the trail could not be read: {e:#}"));
            return;
        }
    };
    r.remarks.push(format!(
        "{label}trail: {}/{} received, {}/{} carried, {} dropped (waited {:.0} s)",
        t.received,
        t.accepted,
        t.carried,
        t.present,
        t.dropped,
        t.waited.as_secs_f64()
    ));
    let missing = t.missing();
    if missing as u64 > t.dropped {
        r.failures.push(format!(
            "{label}the trail lost steps silently: {missing} missing, {} counted as dropped",
            t.dropped
        ));
    }
}
