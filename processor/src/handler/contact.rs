//! The contact of a new ticket (issue 16): the customer's Syncro contact whose email is the
//! alert's user, case ignored; created when missing if `tickets.contact.create_missing`.
//!
//! Contact lists are read whole (`GET /contacts?customer_id=`, paged, through the shared
//! rate limiter under the creation's priority) and cached per customer for
//! `tickets.contact.cache_secs`, like asset lists. Only alerts of mapped organizations are
//! looked up: the catch-all customer's contacts are nobody the alert is about.
//!
//! The lookup never holds a ticket back for long, nor fails it: it runs beside the asset
//! lookup, is cut off after `tickets.contact.lookup_timeout_ms`, and any failure leaves the
//! ticket without a contact (counted as `failed` in `contact_lookups_total`). A failed read
//! is not cached, so the next ticket tries again. A creation whose answer was lost drops the
//! cached list, so the next lookup reads the contact it may have made instead of making
//! another.

use crate::config::ContactConfig;
use crate::metrics::Metrics;
use shared::alert::Alert;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use syncro::{ContactFilter, NewContact, SyncroClient};

/// Page size asked for when listing contacts (Syncro's cap, unconfirmed, is 100).
const CONTACT_PAGE_SIZE: u32 = 100;

/// What became of a ticket's contact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContactOutcome {
    Found(i64),
    Created(i64),
    /// No contact has the user's email (and none was created).
    None,
    /// Syncro could not be asked in time, or refused.
    Failed(String),
}

impl ContactOutcome {
    /// The metric label.
    pub fn label(&self) -> &'static str {
        match self {
            ContactOutcome::Found(_) => "found",
            ContactOutcome::Created(_) => "created",
            ContactOutcome::None => "none",
            ContactOutcome::Failed(_) => "failed",
        }
    }

    pub fn contact_id(&self) -> Option<i64> {
        match self {
            ContactOutcome::Found(id) | ContactOutcome::Created(id) => Some(*id),
            _ => None,
        }
    }
}

/// One customer's contacts, reduced to what matching needs: id and lower-case email.
struct Cached {
    fetched: Instant,
    contacts: Vec<(i64, String)>,
}

type Slot = Arc<tokio::sync::Mutex<Option<Cached>>>;

/// A worker's contact cache. Configuration is passed to every call, so a reload applies at
/// once.
#[derive(Default)]
pub struct Contacts {
    /// Per customer: a slot whose async lock makes concurrent creations for one customer
    /// share one read (and one contact creation).
    cache: Mutex<HashMap<i64, Slot>>,
}

/// The alert's user as an email address, lower case, when it is one.
pub fn user_email(alert: &Alert) -> Option<String> {
    let user = alert.user.as_deref()?.trim();
    let (local, domain) = user.split_once('@')?;
    let plausible =
        !local.is_empty() && domain.contains('.') && !user.contains(char::is_whitespace);
    plausible.then(|| user.to_lowercase())
}

/// A contact's name for an address: its local part, dots and underscores as spaces
/// (`j.doe@contoso.com` → `j doe`); Syncro shows the email beside it.
fn name_for(email: &str) -> String {
    let local = email.split('@').next().unwrap_or(email);
    let name = local.replace(['.', '_'], " ");
    if name.trim().is_empty() {
        email.to_string()
    } else {
        name.trim().to_string()
    }
}

impl Contacts {
    /// The contact for a new ticket of `alert` routed to `customer_id` (`mapped`: by its
    /// organization's mapping). `None` when off, when the alert names no email, or when the
    /// lookup found, made or could read nothing in time. Never fails, never waits longer
    /// than `lookup_timeout_ms`.
    pub async fn for_ticket(
        &self,
        client: &SyncroClient,
        metrics: &Metrics,
        config: &ContactConfig,
        customer_id: i64,
        mapped: bool,
        alert: &Alert,
    ) -> Option<i64> {
        if !config.match_user || !mapped {
            return None;
        }
        let email = user_email(alert)?;
        let lookup = self.lookup(client, config, customer_id, &email);
        let outcome = match tokio::time::timeout(config.lookup_timeout(), lookup).await {
            Ok(outcome) => outcome,
            Err(_) => {
                ContactOutcome::Failed(format!("no answer within {} ms", config.lookup_timeout_ms))
            }
        };
        metrics.contact_lookup(outcome.label());
        match &outcome {
            ContactOutcome::Failed(error) => tracing::warn!(customer_id, error = %error,
                "could not look up the ticket's contact; the ticket goes without one"),
            ContactOutcome::Created(id) => {
                tracing::info!(
                    customer_id,
                    contact_id = id,
                    "created the alert's user as a contact"
                )
            }
            _ => {}
        }
        outcome.contact_id()
    }

    async fn lookup(
        &self,
        client: &SyncroClient,
        config: &ContactConfig,
        customer_id: i64,
        email: &str,
    ) -> ContactOutcome {
        let slot = {
            // Poisoning needs a panic while the map is held, which nothing here can do.
            let mut map = self.cache.lock().unwrap_or_else(|e| e.into_inner());
            map.entry(customer_id).or_default().clone()
        };
        let mut cached = slot.lock().await;
        let fresh = cached
            .as_ref()
            .is_some_and(|c| c.fetched.elapsed() < config.cache_ttl());
        if !fresh {
            let filter = ContactFilter {
                customer_id: Some(customer_id),
                per_page: Some(CONTACT_PAGE_SIZE),
            };
            let listed = match client.all_contacts(&filter).await {
                Ok(listed) => listed,
                Err(e) => return ContactOutcome::Failed(e.to_string()),
            };
            // Never another customer's contact, even if an account ignored the filter.
            let contacts = listed
                .iter()
                .filter(|c| c.customer_id.is_none_or(|c| c == customer_id))
                .filter_map(|c| Some((c.id, c.email.as_deref()?.trim().to_lowercase())))
                .collect();
            *cached = Some(Cached {
                fetched: Instant::now(),
                contacts,
            });
        }
        let Some(list) = cached.as_mut() else {
            return ContactOutcome::Failed("no contact list".into());
        };
        if let Some((id, _)) = list.contacts.iter().find(|(_, e)| e == email) {
            return ContactOutcome::Found(*id);
        }
        if !config.create_missing {
            return ContactOutcome::None;
        }
        let new = NewContact {
            customer_id,
            name: Some(name_for(email)),
            email: Some(email.to_string()),
            notes: Some("Created by alert-relay for a security alert's user".into()),
            ..NewContact::default()
        };
        match client.create_contact(&new).await {
            Ok(contact) => {
                list.contacts.push((contact.id, email.to_string()));
                ContactOutcome::Created(contact.id)
            }
            Err(e) => {
                if e.outcome_unknown() {
                    // It may exist now: read the list again next time rather than make a
                    // second one.
                    *cached = None;
                }
                ContactOutcome::Failed(e.to_string())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert_with_user(user: Option<&str>) -> Alert {
        let mut a: Alert = serde_json::from_value(serde_json::json!({
            "id": "a", "event_type": "e", "severity": "high",
            "organization": {"id": "org-42"}, "title": "t",
            "occurred_at": "2026-05-01T10:00:00Z"
        }))
        .expect("alert");
        a.user = user.map(str::to_string);
        a
    }

    #[test]
    fn only_an_email_shaped_user_is_looked_up() {
        let email = |u| user_email(&alert_with_user(u));
        assert_eq!(
            email(Some(" J.Doe@Contoso.com ")).as_deref(),
            Some("j.doe@contoso.com")
        );
        assert_eq!(email(Some("CONTOSO\\jdoe")), None);
        assert_eq!(email(Some("@contoso.com")), None);
        assert_eq!(email(Some("j doe@contoso.com")), None);
        assert_eq!(email(None), None);
    }

    #[test]
    fn a_created_contact_is_named_after_the_address() {
        assert_eq!(name_for("j.doe@contoso.com"), "j doe");
        assert_eq!(name_for("first_last@x.io"), "first last");
        assert_eq!(name_for("._@x.io"), "._@x.io");
    }

    #[test]
    fn outcomes_have_their_metric_labels() {
        assert_eq!(ContactOutcome::Found(1).contact_id(), Some(1));
        assert_eq!(ContactOutcome::Created(2).label(), "created");
        assert_eq!(ContactOutcome::None.contact_id(), None);
        assert_eq!(ContactOutcome::Failed("x".into()).label(), "failed");
    }
}
