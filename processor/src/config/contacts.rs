//! `[tickets.contact]`: a new ticket's contact, the customer's Syncro contact whose email is
//! the alert's user (case ignored), optionally created when the customer has none.
//! Everything is off by default, so a configuration without the table behaves as before.

use serde::Deserialize;
use std::time::Duration;

/// Default of `tickets.contact.lookup_timeout_ms`.
pub(crate) const DEFAULT_LOOKUP_TIMEOUT_MS: u64 = 3_000;
/// Bounds of `tickets.contact.lookup_timeout_ms`: the lookup waits for the shared budget,
/// and a new ticket never waits longer than this for its contact.
const LOOKUP_TIMEOUT_RANGE: std::ops::RangeInclusive<u64> = 100..=30_000;
/// Default of `tickets.contact.cache_secs`.
pub(crate) const DEFAULT_CONTACT_CACHE_SECS: u64 = 900;

/// `[tickets.contact]`, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactConfig {
    /// Put the contact whose email is the alert's user on new tickets.
    pub match_user: bool,
    /// Create the contact (name from the address, the email) when the customer has none
    /// with that email. Needs the token's "Customers - Edit".
    pub create_missing: bool,
    /// The longest a new ticket waits for its contact; past it the ticket goes without.
    pub lookup_timeout_ms: u64,
    /// How long a customer's contact list is reused before it is read again.
    pub cache_secs: u64,
}

impl Default for ContactConfig {
    fn default() -> Self {
        ContactConfig {
            match_user: false,
            create_missing: false,
            lookup_timeout_ms: DEFAULT_LOOKUP_TIMEOUT_MS,
            cache_secs: DEFAULT_CONTACT_CACHE_SECS,
        }
    }
}

impl ContactConfig {
    pub fn lookup_timeout(&self) -> Duration {
        Duration::from_millis(self.lookup_timeout_ms)
    }

    pub fn cache_ttl(&self) -> Duration {
        Duration::from_secs(self.cache_secs)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawContact {
    #[serde(default)]
    match_user: bool,
    #[serde(default)]
    create_missing: bool,
    #[serde(default = "default_timeout")]
    lookup_timeout_ms: u64,
    #[serde(default = "default_cache")]
    cache_secs: u64,
}

fn default_timeout() -> u64 {
    DEFAULT_LOOKUP_TIMEOUT_MS
}

fn default_cache() -> u64 {
    DEFAULT_CONTACT_CACHE_SECS
}

/// Validates `[tickets.contact]`, pushing every problem under `tickets.contact.*`.
pub(crate) fn build_contact(raw: RawContact, problems: &mut Vec<String>) -> ContactConfig {
    if raw.create_missing && !raw.match_user {
        problems.push(
            "tickets.contact.create_missing: needs match_user = true (a contact is created only \
             for the alert's user when no contact of the customer has that email)"
                .into(),
        );
    }
    if !LOOKUP_TIMEOUT_RANGE.contains(&raw.lookup_timeout_ms) {
        problems.push(format!(
            "tickets.contact.lookup_timeout_ms: must be between {} and {}",
            LOOKUP_TIMEOUT_RANGE.start(),
            LOOKUP_TIMEOUT_RANGE.end()
        ));
    }
    if !(1..=86_400).contains(&raw.cache_secs) {
        problems.push("tickets.contact.cache_secs: must be between 1 and 86400".into());
    }
    ContactConfig {
        match_user: raw.match_user,
        create_missing: raw.create_missing,
        lookup_timeout_ms: raw.lookup_timeout_ms,
        cache_secs: raw.cache_secs,
    }
}
