//! One month's billable-user sync: for each configured organization, its count onto the
//! quantity of the service line of its recurring invoice, under the fleet-wide lease.
//!
//! Per organization: no count → `no_count`; read the schedule (404 → `missing_schedule`); find
//! the service line (by product id or name); none → add it when `add_default_line` (with the
//! count as quantity: `updated`, "line added") or `missing_line`; a counted recurring type →
//! `skipped_counted_type` (Syncro ignores a quantity sent there); the same quantity →
//! `unchanged` (no PUT); else `PUT /schedules/{id}/line_items/{id}` → `updated`. Every outcome
//! is recorded for the month right away, so a run that dies resumes where it stopped, and an
//! organization whose change was applied but not recorded is found `unchanged` by the next
//! run's read-back: never a second update. Errors are retried by later checks, at most
//! [`MAX_ATTEMPTS`] times in a month.
//!
//! [`decide`] is the pure decision (also what `relayctl billing preview` prints); [`Runner`]
//! reads, decides, applies and records.

pub use super::outcome::{OrgOutcome, OrgResult, MAX_ATTEMPTS};
use super::store::BillingStore;
use crate::config::billing::{BillingConfig, OrgBilling};
use crate::metrics::Metrics;
use crate::store::StoreError;
use chrono::Utc;
use serde::Serialize;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use syncro::{LineItemFields, Schedule, SyncroClient, SyncroError};

/// The Syncro change a decision needs.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    None,
    SetQuantity { line_id: i64 },
    AddLine(LineItemFields),
}

/// What to do for one organization, given its count and its schedule (`None`: Syncro has no
/// such schedule). Pure: no I/O.
pub fn decide(
    config: &BillingConfig,
    org_id: &str,
    org: &OrgBilling,
    count: Option<u64>,
    schedule: Option<&Schedule>,
) -> (OrgOutcome, Change) {
    let sid = org.schedule_id;
    let Some(count) = count else {
        let message = "no billable-user count has been received for this organization".into();
        return (
            OrgOutcome::new(org_id, sid, OrgResult::NoCount, message),
            Change::None,
        );
    };
    let Some(schedule) = schedule else {
        let message = format!("schedule {sid} does not exist in Syncro");
        let mut o = OrgOutcome::new(org_id, sid, OrgResult::MissingSchedule, message);
        o.new_quantity = Some(count);
        return (o, Change::None);
    };
    let Some(service) = config.service_of(org) else {
        let message = "no service configured (billing.default_service)".into();
        return (
            OrgOutcome::new(org_id, sid, OrgResult::MissingLine, message),
            Change::None,
        );
    };
    let line = schedule.lines.iter().find(|l| service.matches(l));
    let Some(line) = line else {
        if !org.add_default_line {
            let message =
                format!("schedule {sid} has no {service} and add_default_line is off; nothing set");
            let mut o = OrgOutcome::new(org_id, sid, OrgResult::MissingLine, message);
            o.new_quantity = Some(count);
            return (o, Change::None);
        }
        let mut fields = LineItemFields {
            quantity: Some(count as f64),
            retail_cents: org.retail_cents,
            cost_cents: org.cost_cents,
            ..LineItemFields::default()
        };
        match service {
            crate::config::billing::ServiceRef::Product(id) => fields.product_id = Some(*id),
            crate::config::billing::ServiceRef::Name(name) => fields.name = Some(name.clone()),
        }
        let message = format!("adds {service} to schedule {sid} with quantity {count}");
        let mut o = OrgOutcome::new(org_id, sid, OrgResult::Updated, message);
        o.new_quantity = Some(count);
        o.added_line = true;
        o.line_name = fields.name.clone();
        return (o, Change::AddLine(fields));
    };
    let mut o = OrgOutcome::new(org_id, sid, OrgResult::Unchanged, String::new());
    o.line_id = Some(line.id);
    o.line_name = line.name.clone();
    o.old_quantity = line.quantity;
    o.new_quantity = Some(count);
    let name = line.name.as_deref().unwrap_or("(unnamed)");
    if line.is_counted() {
        o.outcome = OrgResult::SkippedCountedType;
        o.message = format!(
            "line {} {name:?} has recurring type {}, whose quantity Syncro counts itself; not set",
            line.id,
            line.recurring_type_id.unwrap_or_default()
        );
        return (o, Change::None);
    }
    if line
        .quantity
        .is_some_and(|q| (q - count as f64).abs() < 1e-9)
    {
        o.message = format!("line {} {name:?} already has quantity {count}", line.id);
        return (o, Change::None);
    }
    o.outcome = OrgResult::Updated;
    o.message = format!(
        "line {} {name:?}: quantity {} -> {count}",
        line.id,
        line.quantity.map_or("none".to_string(), |q| q.to_string())
    );
    (o, Change::SetQuantity { line_id: line.id })
}

/// Why a run did not happen or stopped.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("another worker holds the billing sync lease; try again later")]
    Busy,
    #[error("the billing sync lease was lost (Redis unreachable for longer than the lease)")]
    LeaseLost,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// One run's report.
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    pub month: String,
    /// Every organization of the run, with what became of it (done earlier or now).
    pub organizations: Vec<OrgOutcome>,
    /// Organizations this run handled (the others were done earlier this month).
    pub handled: usize,
    /// Every organization of the month is done (the month marker is set).
    pub complete: bool,
}

/// Reads, decides, applies and records; shared by the workers' scheduler and `relayctl`.
#[derive(Clone)]
pub struct Runner {
    pub config: Arc<BillingConfig>,
    pub store: BillingStore,
    pub syncro: SyncroClient,
    pub metrics: Arc<Metrics>,
}

impl Runner {
    /// What the sync would do for each organization (or only `only`), without changing
    /// anything in Syncro (reads schedules through the shared rate limiter).
    pub async fn preview(&self, only: Option<&str>) -> Result<Vec<OrgOutcome>, StoreError> {
        let mut plans = Vec::new();
        for (org_id, org) in self.organizations(only) {
            let (outcome, _) = self.plan(org_id, org).await?;
            plans.push(outcome);
        }
        Ok(plans)
    }

    fn organizations<'a>(
        &'a self,
        only: Option<&'a str>,
    ) -> impl Iterator<Item = (&'a String, &'a OrgBilling)> + 'a {
        self.config
            .organizations
            .iter()
            .filter(move |(id, _)| only.is_none_or(|o| o == id.as_str()))
    }

    /// Reads the count and the schedule and decides. A Syncro failure other than a missing
    /// schedule becomes an `error` outcome.
    async fn plan(
        &self,
        org_id: &str,
        org: &OrgBilling,
    ) -> Result<(OrgOutcome, Change), StoreError> {
        let count = self.store.count(org_id).await?.map(|c| c.users);
        if count.is_none() {
            return Ok(decide(&self.config, org_id, org, None, None));
        }
        match self.syncro.get_schedule(org.schedule_id).await {
            Ok(schedule) => Ok(decide(&self.config, org_id, org, count, Some(&schedule))),
            Err(e) if e.status() == Some(404) => Ok(decide(&self.config, org_id, org, count, None)),
            Err(e) => Ok((syncro_failure(org_id, org, &e), Change::None)),
        }
    }

    /// Runs `month` now: takes the lease (or fails with [`RunError::Busy`]), handles every
    /// organization not done yet (only `only`, when given), and marks the month done when all
    /// are. The lease is renewed in the background while the run goes on.
    pub async fn run_month(&self, month: &str, only: Option<&str>) -> Result<RunReport, RunError> {
        let length = self.config.lease;
        let lease = self.store.lease(length).await?.ok_or(RunError::Busy)?;
        let lost = AtomicBool::new(false);
        self.metrics.billing.runs.inc();
        tracing::info!(month, "billing sync run starting");
        // A runner that is cancelled (its worker killed) stops renewing with it, so the lease
        // expires and another worker resumes.
        // Its Syncro calls wait behind every alert's: nobody waits for a billing run.
        let run = syncro::with_priority(
            syncro::Priority::new(syncro::Class::Background, 4, "billing"),
            self.run_locked(month, only, &lost),
        );
        let result = self.store.hold(&lease, length, &lost, run).await;
        if let Err(e) = self.store.release(lease).await {
            tracing::warn!(error = %e, "cannot release the billing sync lease (it expires)");
        }
        if let Ok(report) = &result {
            tracing::info!(
                month,
                handled = report.handled,
                complete = report.complete,
                "billing sync run finished"
            );
        }
        result
    }

    async fn run_locked(
        &self,
        month: &str,
        only: Option<&str>,
        lost: &AtomicBool,
    ) -> Result<RunReport, RunError> {
        let done = self.store.outcomes(month).await?;
        let mut report = RunReport {
            month: month.to_string(),
            organizations: Vec::new(),
            handled: 0,
            complete: false,
        };
        for (org_id, org) in self.organizations(only) {
            if let Some(previous) = done.get(org_id).filter(|o| o.is_final()) {
                report.organizations.push(previous.clone());
                continue;
            }
            if lost.load(Ordering::SeqCst) {
                return Err(RunError::LeaseLost);
            }
            let (mut outcome, change) = self.plan(org_id, org).await?;
            let applied = match change {
                Change::None => Ok(()),
                Change::SetQuantity { line_id } => {
                    let fields =
                        LineItemFields::quantity(outcome.new_quantity.unwrap_or_default() as f64);
                    self.syncro
                        .update_schedule_line_item(org.schedule_id, line_id, &fields)
                        .await
                        .map(|_| ())
                }
                Change::AddLine(fields) => self
                    .syncro
                    .add_schedule_line_item(org.schedule_id, &fields)
                    .await
                    .map(|line| outcome.line_id = Some(line.id)),
            };
            if let Err(e) = applied {
                outcome = syncro_failure(org_id, org, &e);
            }
            if outcome.outcome == OrgResult::Error {
                outcome.attempts = done.get(org_id).map_or(0, |o| o.attempts) + 1;
            }
            self.store.set_outcome(month, &outcome).await?;
            self.metrics.billing.count(outcome.outcome.as_str());
            log_outcome(&outcome);
            report.handled += 1;
            report.organizations.push(outcome);
        }
        let all_done = self.store.outcomes(month).await?;
        report.complete = self
            .config
            .organizations
            .keys()
            .all(|org| all_done.get(org).is_some_and(OrgOutcome::is_final));
        if report.complete {
            let summary = serde_json::json!({
                "completed_at": Utc::now().to_rfc3339(),
                "organizations": all_done.len(),
            });
            self.store
                .mark_month_done(month, &summary.to_string())
                .await?;
        }
        Ok(report)
    }
}

fn syncro_failure(org_id: &str, org: &OrgBilling, error: &SyncroError) -> OrgOutcome {
    OrgOutcome::new(
        org_id,
        org.schedule_id,
        OrgResult::Error,
        format!("Syncro: {error}"),
    )
}

fn log_outcome(o: &OrgOutcome) {
    let outcome = o.outcome.as_str();
    match o.outcome {
        OrgResult::Updated | OrgResult::Unchanged => {
            tracing::info!(organization = %o.organization_id, schedule_id = o.schedule_id, outcome, "{}", o.message)
        }
        _ => {
            tracing::warn!(organization = %o.organization_id, schedule_id = o.schedule_id, outcome, "{}", o.message)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::billing::ServiceRef;
    use syncro::ScheduleLineItem;

    fn line(
        id: i64,
        name: &str,
        product: Option<i64>,
        qty: f64,
        rtype: Option<i64>,
    ) -> ScheduleLineItem {
        serde_json::from_value(serde_json::json!({
            "id": id, "name": name, "product_id": product, "quantity": qty.to_string(),
            "recurring_type_id": rtype
        }))
        .expect("line")
    }

    fn schedule(lines: Vec<ScheduleLineItem>) -> Schedule {
        let mut s: Schedule =
            serde_json::from_value(serde_json::json!({"id": 7})).expect("schedule");
        s.lines = lines;
        s
    }

    fn setup(add: bool) -> (BillingConfig, OrgBilling) {
        let config = BillingConfig {
            sync_enabled: true,
            default_service: Some(ServiceRef::Product(456)),
            ..BillingConfig::default()
        };
        let org = OrgBilling {
            schedule_id: 7,
            add_default_line: add,
            retail_cents: Some(450),
            cost_cents: None,
            service: None,
        };
        (config, org)
    }

    #[test]
    fn each_case_gets_its_outcome() {
        let (config, org) = setup(false);
        let other = line(1, "Other", Some(1), 3.0, None);
        let seats = line(2, "Seats", Some(456), 40.0, None);
        let decide_with = |count, lines: Option<Vec<ScheduleLineItem>>| {
            let s = lines.map(schedule);
            decide(&config, "o", &org, count, s.as_ref())
        };
        assert_eq!(decide_with(None, None).0.outcome, OrgResult::NoCount);
        assert_eq!(
            decide_with(Some(4), None).0.outcome,
            OrgResult::MissingSchedule
        );
        assert_eq!(
            decide_with(Some(4), Some(vec![other.clone()])).0.outcome,
            OrgResult::MissingLine
        );
        let (o, change) = decide_with(Some(40), Some(vec![other.clone(), seats.clone()]));
        assert_eq!((o.outcome, change), (OrgResult::Unchanged, Change::None));
        let (o, change) = decide_with(Some(42), Some(vec![other, seats]));
        assert_eq!(o.outcome, OrgResult::Updated);
        assert_eq!(o.old_quantity, Some(40.0));
        assert_eq!(change, Change::SetQuantity { line_id: 2 });
        let counted = line(3, "M365", Some(456), 9.0, Some(10));
        assert_eq!(
            decide_with(Some(42), Some(vec![counted])).0.outcome,
            OrgResult::SkippedCountedType
        );
    }

    #[test]
    fn a_missing_line_is_added_when_configured() {
        let (config, org) = setup(true);
        let s = schedule(vec![]);
        let (o, change) = decide(&config, "o", &org, Some(5), Some(&s));
        assert!(o.added_line);
        assert_eq!(o.outcome, OrgResult::Updated);
        let Change::AddLine(fields) = change else {
            panic!("adds a line")
        };
        assert_eq!(
            (fields.product_id, fields.quantity, fields.retail_cents),
            (Some(456), Some(5.0), Some(450))
        );
    }

    #[test]
    fn errors_are_final_only_after_the_last_attempt() {
        let mut o = OrgOutcome::new("o", 1, OrgResult::Error, String::new());
        o.attempts = 1;
        assert!(!o.is_final());
        o.attempts = MAX_ATTEMPTS;
        assert!(o.is_final());
        assert!(OrgOutcome::new("o", 1, OrgResult::NoCount, String::new()).is_final());
    }
}
