//! Deciding where an alert goes: skip it, ignore or park it, reconcile an interrupted
//! attempt, hand a failure its batch recorded to the consumer, or hold it in its group's
//! batch ([`super::coalesce`]), which [`super::flush`] carries to Syncro.

use super::held::Held;
use super::*;
use crate::plan::{self, Destination};
use crate::steer::step;
use crate::store::{text_hash, Handled, Pending};
use chrono::Utc;
use opstate::trail::Step;
use shared::alert::AlertStatus;
use shared::message::AlertMessage;
use std::sync::Arc;
use std::time::Duration;

/// How long after its client gave up a request may still land in Syncro (the server was
/// still working on it).
const LANDING_MARGIN: Duration = Duration::from_secs(5);

/// What [`Handler::decide`] concluded.
pub(crate) enum Next {
    Settled(Settled),
    /// Held in its group's batch.
    Held,
}

impl Handler {
    /// Everything before Syncro: settles the alert, or holds it in its group's batch.
    pub(crate) async fn decide(
        &self,
        message: Arc<AlertMessage>,
        message_id: &str,
        acker: &Acker,
    ) -> Result<Next> {
        let s = &self.services;
        let config = s.config.current();
        let check_in = s
            .store
            .check_in(message_id, recovery_horizon(&config))
            .await?;
        if check_in.outcome.is_some() {
            s.metrics.duplicates_skipped.inc();
            return Ok(Next::Settled(Settled::Duplicate));
        }
        let plan = Arc::new(plan::plan(&config, &message));
        let customer_id = match self
            .destination(&message, message_id, &plan.route, &config)
            .await?
        {
            Ok(customer_id) => customer_id,
            Err(settled) => return Ok(Next::Settled(settled)),
        };
        let group_key = plan::group_key(customer_id, &plan.subject);
        s.steering
            .record(crate::steer::planned(&message, message_id, &plan));
        if s.steering
            .suppressing(&message, message_id, &group_key)
            .is_some()
        {
            s.store.finish(message_id, &Handled::Suppressed).await?;
            s.metrics.suppressed.inc();
            return Ok(Next::Settled(Settled::Suppressed));
        }
        let job = Job {
            group_key,
            message,
            message_id: message_id.to_string(),
            customer_id,
            plan,
            config,
            recovering: check_in.recovering,
        };
        if self.reconciled(&job).await? {
            return Ok(Next::Settled(Settled::Reconciled));
        }
        if let Some(failure) = s.store.take_failure(message_id).await? {
            return Err(HandleError::Failed(Arc::new(failure)));
        }
        self.hold(job, acker).await
    }

    /// Puts the alert on its group's list (where any worker's call finds it) and in this
    /// worker's batch (which settles its message). A group with no ticket yet is due at
    /// once: a new incident never waits for the coalescing window.
    async fn hold(&self, job: Job, acker: &Acker) -> Result<Next> {
        let s = &self.services;
        let due_now = s.store.group(&job.group_key).await?.is_none();
        let unmapped = matches!(job.plan.route, Destination::Customer { mapped: false, .. });
        let alert = &job.message.alert;
        let text = plan::alert_text(&job.message, unmapped, None);
        let entry = Pending {
            message_id: job.message_id.clone(),
            alert_id: alert.id.clone(),
            occurred_at: alert.occurred_at,
            text: text_hash(&text),
            resolved: alert.status == AlertStatus::Resolved,
            recovering: job.recovering,
        };
        s.store
            .push_pending(&job.group_key, &entry, &text, claim_ttl(&job.config))
            .await?;
        let held = Held {
            acker: acker.clone(),
            message_id: job.message_id.as_str().into(),
            received_at: job.message.received_at,
        };
        let key: Arc<str> = job.group_key.as_str().into();
        s.metrics.held.inc();
        if !self.groups.submit(key, Arc::new(job), held, due_now).await {
            s.metrics.held.dec();
            return Err(HandleError::Stopping);
        }
        Ok(Next::Held)
    }

    /// The customer the alert goes to, or how it was settled instead: ignored, or parked
    /// (unmapped organizations are remembered either way).
    async fn destination(
        &self,
        message: &AlertMessage,
        message_id: &str,
        route: &Destination,
        config: &ProcessorConfig,
    ) -> Result<std::result::Result<i64, Settled>> {
        let s = &self.services;
        let (customer_id, mapped) = match *route {
            Destination::Ignored => {
                s.store.finish(message_id, &Handled::Ignored).await?;
                s.metrics.ignored.inc();
                s.steering.record(step(Step::Ignored, message, message_id));
                return Ok(Err(Settled::Ignored));
            }
            Destination::Customer {
                customer_id,
                mapped,
            } => (customer_id, mapped),
        };
        if !mapped {
            s.metrics.unmapped.inc();
            s.store
                .note_unmapped(&message.alert.organization, Utc::now())
                .await?;
            if config.mapping.parks(&message.alert.organization.id) {
                s.steering.record(step(Step::Parked, message, message_id));
                return Ok(Err(Settled::Park));
            }
        }
        Ok(Ok(customer_id))
    }

    /// Whether an interrupted attempt of this alert (an intent left behind) turns out to
    /// have reached Syncro; its outcome is then recorded and nothing is posted again.
    ///
    /// An attempt whose outcome is unknown (Syncro timed out) may still land after the
    /// client gave up: while its intent is younger than the request timeout and
    /// [`LANDING_MARGIN`], the alert waits and reads Syncro again (after 1, 2, 4 ... s); once
    /// the intent is older and Syncro still does not show it, the intent goes and this copy
    /// does it afresh (a call taking the alert's entry would otherwise take it for an
    /// interrupted one and leave it).
    async fn reconciled(&self, job: &Job) -> Result<bool> {
        let s = &self.services;
        let Some(intent) = s.store.intent(&job.message_id).await? else {
            return Ok(false);
        };
        let in_doubt = s.syncro.request_timeout() + LANDING_MARGIN;
        let mut backoff = shared::backoff::Backoff::new(Duration::from_secs(1), in_doubt);
        let outcome = loop {
            let found = reconcile(
                s,
                &intent,
                &job.message_id,
                job.customer_id,
                &job.plan.subject,
            )
            .await?;
            if let Some(outcome) = found {
                break outcome;
            }
            let age = (Utc::now() - intent.at()).to_std().unwrap_or_default();
            if age >= in_doubt {
                s.store.clear_intents(&[job.message_id.as_str()]).await?;
                return Ok(false);
            }
            tokio::time::sleep(backoff.next_delay().min(in_doubt - age)).await;
        };
        // The failure its call may have recorded is moot now.
        let _ = s.store.take_failure(&job.message_id).await?;
        if let Handled::Created { ticket_id } = outcome {
            if s.store.group(&job.group_key).await?.is_none() {
                let group = new_group(ticket_id, None, job.customer_id, &job.plan.subject);
                s.store
                    .set_group(&job.group_key, &group, job.config.grouping.window())
                    .await?;
            }
        }
        s.store.finish(&job.message_id, &outcome).await?;
        s.metrics.reconciled.inc();
        Ok(true)
    }
}
