//! Each group's Syncro RMM alert (issue 16): raised on the asset the group's first alert
//! matched, right after its ticket is created, when the plan says so (`[tickets.rmm_alert]`
//! or an override's `rmm_alert`); muted if `mute_for` is set; cleared (`DELETE`, a soft
//! resolve in Syncro) when a resolved alert of the group is carried; raised anew when the
//! group fires again after that.
//!
//! Exactly once, like tickets: the group's record (`store::rmm`) is written without an id
//! before the `POST /rmm_alerts` and completed with Syncro's id after it, all under the
//! group's lease. A record without an id is an interrupted raise (a crash, a lost answer):
//! the next call of the group reads Syncro's RMM alerts back, looking for the `relay-ref`
//! line the body carries, and raises again only when none is there. A raise Syncro refused
//! for good (4xx: a missing permission) is not tried again.
//!
//! Everything here follows the alerts' own outcome: the ticket or note is recorded first,
//! and no failure here fails, delays a retry of, or doubles an alert. Requests go at the
//! note class of the budget, fair across tickets: an RMM alert never overtakes a new
//! incident's ticket.

use super::{Job, Services};
use crate::plan::reference_line;
use crate::store::GroupRmmAlert;
use chrono::Utc;
use syncro::{
    with_priority, Class, NewRmmAlert, Priority, RmmAlert, RmmAlertProperties, RmmAlertStatus,
};

/// Longest description sent (Syncro's UI shows it as a column).
const DESCRIPTION_MAX_CHARS: usize = 255;

fn priority(job: &Job, ticket_id: i64) -> Priority {
    Priority::new(Class::Note, job.urgency(), format!("ticket:{ticket_id}"))
}

/// After the group's ticket was created (`asset_id`: the asset its first alert matched;
/// `any_resolved`: the creation carried a resolved alert, so the condition is over).
pub(crate) async fn after_creation(
    s: &Services,
    job: &Job,
    ticket: (i64, Option<i64>),
    asset_id: Option<i64>,
    any_resolved: bool,
) {
    if !job.plan.ticket.rmm_alert {
        return;
    }
    let Some(asset_id) = asset_id else {
        s.metrics.rmm_alert("skipped");
        tracing::info!(
            ticket_id = ticket.0,
            "no RMM alert: the alert's device matched no asset"
        );
        return;
    };
    if any_resolved {
        s.metrics.rmm_alert("skipped");
        return;
    }
    with_priority(priority(job, ticket.0), async {
        let record = match s.store.rmm_alert(&job.group_key).await {
            Ok(record) => record,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the group's RMM alert (Redis); none raised");
                return;
            }
        };
        match record {
            // A raise under way when its creator stopped, or one made for an earlier ticket.
            Some(record) if !record.cleared => settle(s, job, ticket.1, record, true).await,
            _ => {
                let fresh = GroupRmmAlert {
                    customer_id: job.customer_id,
                    asset_id,
                    reference: job.message_id.clone(),
                    at: Utc::now(),
                    alert_id: None,
                    abandoned: false,
                    cleared: false,
                };
                settle(s, job, ticket.1, fresh, false).await;
            }
        }
    })
    .await;
}

/// After a note on the group's ticket: clears the group's RMM alert when a resolved alert
/// was carried; otherwise finishes an interrupted raise, or raises a new one when the group
/// fires again after its alert was cleared.
pub(crate) async fn after_note(
    s: &Services,
    job: &Job,
    ticket: (i64, Option<i64>),
    resolved: bool,
) {
    // A group whose plan raises none can only have one to clear (raised before a reload).
    if !resolved && !job.plan.ticket.rmm_alert {
        return;
    }
    let record = match s.store.rmm_alert(&job.group_key).await {
        Ok(Some(record)) => record,
        Ok(None) => return,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the group's RMM alert (Redis)");
            return;
        }
    };
    with_priority(priority(job, ticket.0), async {
        if resolved {
            if !record.cleared {
                clear(s, job, record).await;
            }
        } else if record.cleared {
            let again = GroupRmmAlert {
                reference: job.message_id.clone(),
                at: Utc::now(),
                alert_id: None,
                abandoned: false,
                cleared: false,
                ..record
            };
            settle(s, job, ticket.1, again, false).await;
        } else {
            settle(s, job, ticket.1, record, true).await;
        }
    })
    .await;
}

/// Brings the group's record to a raised alert: nothing when it has one (or was given
/// up); an `interrupted` raise (a record without an id) looked up in Syncro first; else the
/// marker, the POST, the id.
async fn settle(
    s: &Services,
    job: &Job,
    number: Option<i64>,
    mut record: GroupRmmAlert,
    interrupted: bool,
) {
    if record.alert_id.is_some() || record.abandoned {
        return;
    }
    if interrupted {
        match find(s, &record).await {
            Ok(Some(found)) => {
                record.alert_id = Some(found.id);
                s.metrics.rmm_alert("found");
                tracing::info!(
                    rmm_alert_id = found.id,
                    "an interrupted raise's RMM alert was found in Syncro; not raised again"
                );
                save(s, job, &record).await;
                // Its raise's answer was lost, so the mute after it was never sent.
                mute(s, job, found.id).await;
                return;
            }
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(error = %e, "cannot read Syncro's RMM alerts to finish an interrupted raise; trying again with the group's next alert");
                return;
            }
        }
    }
    // The marker first: from here on, a lost answer is looked up, never raised twice.
    record.at = Utc::now();
    if !save(s, job, &record).await {
        return;
    }
    let request = request(job, &record, number);
    match s.syncro.create_rmm_alert(&request).await {
        Ok(alert) => {
            record.alert_id = Some(alert.id);
            save(s, job, &record).await;
            s.metrics.rmm_alert("raised");
            tracing::info!(
                rmm_alert_id = alert.id,
                asset_id = record.asset_id,
                "RMM alert raised on the group's asset"
            );
            mute(s, job, alert.id).await;
        }
        Err(e) if e.outcome_unknown() => {
            s.metrics.rmm_alert("failed");
            tracing::warn!(error = %e, "the RMM alert's raise may or may not have reached Syncro; the group's next call looks it up");
        }
        Err(e) => {
            s.metrics.rmm_alert("failed");
            if matches!(e.status(), Some(400..=499)) && e.status() != Some(429) {
                record.abandoned = true;
                save(s, job, &record).await;
                tracing::warn!(error = %e, "Syncro refused the group's RMM alert; not tried again (check-config --online checks the token's permissions)");
            } else {
                tracing::warn!(error = %e, "could not raise the group's RMM alert; trying again with the group's next alert");
            }
        }
    }
}

/// The `POST /rmm_alerts` body: the templates rendered for the group's alert, the ticket's
/// number, and the `relay-ref` line that finds it again.
fn request(job: &Job, record: &GroupRmmAlert, number: Option<i64>) -> NewRmmAlert {
    let config = &job.config.tickets.rmm_alert;
    let message = &job.message;
    let mut description = config
        .description
        .render_max(message, DESCRIPTION_MAX_CHARS);
    if description.is_empty() {
        description = message.alert.event_type.clone();
    }
    let mut body = config.body.render_text(message);
    if let Some(number) = number {
        body.push_str(&format!("\nSyncro ticket: #{number}"));
    }
    body.push('\n');
    body.push_str(&reference_line(&record.reference));
    NewRmmAlert {
        customer_id: record.customer_id,
        asset_id: Some(record.asset_id),
        description,
        status: None,
        resolved: None,
        properties: RmmAlertProperties {
            subject: Some(config.subject.render(message)).filter(|t| !t.is_empty()),
            body: Some(body),
            hidden: Some(config.hidden),
            do_not_email: Some(config.do_not_email),
            skip_automation: Some(config.skip_automation),
            tech: None,
            sms_body: None,
        },
    }
}

/// The group's alert in Syncro: on its asset, its body naming the record's reference.
async fn find(s: &Services, record: &GroupRmmAlert) -> syncro::Result<Option<RmmAlert>> {
    let line = reference_line(&record.reference);
    let all = s.syncro.all_rmm_alerts(RmmAlertStatus::All).await?;
    Ok(all.into_iter().find(|a| {
        a.asset_id == Some(record.asset_id)
            && a.properties
                .get("body")
                .and_then(|b| b.as_str())
                .is_some_and(|b| b.lines().any(|l| l.trim_end() == line))
    }))
}

/// Clears the group's alert (an interrupted raise is looked up first) and marks the record
/// cleared, keeping its asset for the group's next firing.
async fn clear(s: &Services, job: &Job, mut record: GroupRmmAlert) {
    if record.alert_id.is_none() && !record.abandoned {
        match find(s, &record).await {
            Ok(found) => record.alert_id = found.map(|a| a.id),
            Err(e) => {
                tracing::warn!(error = %e, "cannot look up the group's RMM alert to clear it");
                return;
            }
        }
    }
    if let Some(id) = record.alert_id {
        match s.syncro.clear_rmm_alert(id).await {
            Ok(()) => {
                s.metrics.rmm_alert("cleared");
                tracing::info!(
                    rmm_alert_id = id,
                    "RMM alert cleared: the group's alert resolved"
                );
            }
            Err(e) if e.is_not_found() => {}
            Err(e) => {
                s.metrics.rmm_alert("failed");
                tracing::warn!(rmm_alert_id = id, error = %e, "could not clear the group's RMM alert; the next resolved alert tries again");
                return;
            }
        }
    }
    record.cleared = true;
    record.alert_id = None;
    save(s, job, &record).await;
}

async fn mute(s: &Services, job: &Job, id: i64) {
    let Some(mute_for) = job.config.tickets.rmm_alert.mute_for else {
        return;
    };
    match s.syncro.mute_rmm_alert(id, mute_for).await {
        Ok(()) => s.metrics.rmm_alert("muted"),
        Err(e) => {
            tracing::warn!(rmm_alert_id = id, error = %e, "could not mute the group's RMM alert")
        }
    }
}

/// Writes the record; false (logged) when Redis does not take it.
async fn save(s: &Services, job: &Job, record: &GroupRmmAlert) -> bool {
    match s.store.set_rmm_alert(&job.group_key, record).await {
        Ok(()) => true,
        Err(e) => {
            tracing::warn!(error = %e, "cannot record the group's RMM alert (Redis)");
            false
        }
    }
}
