//! What every request handler shares, built once by [`crate::startup`].

use crate::api::{Deployment, OperatorApi};
use crate::config::{ConsoleConfig, SecureCookies};
use crate::session::{Sessions, User};
use crate::users::Users;
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

/// Failed sign-ins of one name (or one address, for tokens) this many times in
/// [`LOCKOUT`] lock it out for the rest of that time.
const MAX_FAILURES: u32 = 5;
pub const LOCKOUT: Duration = Duration::from_secs(15 * 60);

/// One account the console serves: a deployment (one Syncro account) and its operator API.
pub struct Account {
    /// The configured label (`default` for `RELAY_OPERATOR_URL`): checked at start to be
    /// letters, digits, `.`, `_`, `-`, so it goes into addresses as it is.
    pub label: String,
    /// Every read and change of this account goes through its operator API.
    pub api: OperatorApi,
    /// Its prefix and Syncro host, once its status was read.
    deployment: Mutex<Option<Deployment>>,
}

#[derive(Deserialize)]
struct StatusHead {
    #[serde(default)]
    deployment: Option<Deployment>,
}

impl Account {
    /// Its prefix and Syncro host, as last seen.
    pub fn deployment(&self) -> Option<Deployment> {
        self.deployment
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Remembers what a status said.
    pub fn saw(&self, deployment: Option<&Deployment>) {
        if let Some(d) = deployment {
            *self.deployment.lock().unwrap_or_else(|e| e.into_inner()) = Some(d.clone());
        }
    }

    /// Its prefix and Syncro host, asking its status once when not known yet (an account
    /// that cannot be asked is shown by its label only).
    pub async fn described(&self, user: &User) -> Option<Deployment> {
        if let Some(d) = self.deployment() {
            return Some(d);
        }
        let head: StatusHead = self.api.get(user, "/v1/status", &[]).await.ok()?;
        self.saw(head.deployment.as_ref());
        head.deployment
    }

    /// `label (prefix, host)`: how pages name it.
    pub fn title(deployment: Option<&Deployment>, label: &str) -> String {
        match deployment {
            Some(Deployment {
                prefix,
                syncro_host: Some(host),
            }) => format!("{label} ({prefix}, {host})"),
            Some(Deployment { prefix, .. }) => format!("{label} ({prefix})"),
            None => label.to_string(),
        }
    }
}

/// What every request handler shares.
pub struct AppState {
    /// The accounts served, the default one first; never empty.
    pub accounts: Vec<Arc<Account>>,
    pub sessions: Sessions,
    pub users: Users,
    pub secure_cookies: SecureCookies,
    /// A Syncro ticket's address with `{id}` / `{number}`, if configured.
    pub ticket_url: Option<String>,
    /// Password checks at once: argon2 takes 19 MiB and tens of milliseconds each, so a
    /// flood of sign-ins queues here instead of exhausting the machine.
    pub hashing: Semaphore,
    /// Recent failed sign-ins by name (or `token@address`): count and first failure.
    failures: Mutex<HashMap<String, (u32, Instant)>>,
}

impl AppState {
    pub fn new(config: ConsoleConfig) -> AppState {
        AppState {
            accounts: config
                .accounts
                .into_iter()
                .map(|a| {
                    Arc::new(Account {
                        api: OperatorApi::new(&a.operator_url, a.operator_token),
                        label: a.label,
                        deployment: Mutex::new(None),
                    })
                })
                .collect(),
            sessions: Sessions::new(config.idle),
            users: config.users,
            secure_cookies: config.secure_cookies,
            ticket_url: config.ticket_url,
            hashing: Semaphore::new(2),
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// The default account (`RELAY_OPERATOR_URL`): token sign-ins are checked by its API.
    pub fn default_account(&self) -> Option<&Arc<Account>> {
        self.accounts.first()
    }

    /// The account labelled `label`.
    pub fn account(&self, label: &str) -> Option<&Arc<Account>> {
        self.accounts.iter().find(|a| a.label == label)
    }

    /// Whether more than one account is served (the pages then name and select them).
    pub fn several(&self) -> bool {
        self.accounts.len() > 1
    }

    fn failures(&self) -> std::sync::MutexGuard<'_, HashMap<String, (u32, Instant)>> {
        self.failures.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether `key` failed too often lately to be tried now.
    pub fn locked_out(&self, key: &str) -> bool {
        let mut failures = self.failures();
        failures.retain(|_, (_, first)| first.elapsed() < LOCKOUT);
        failures.get(key).is_some_and(|(n, _)| *n >= MAX_FAILURES)
    }

    pub fn failed(&self, key: &str) {
        let mut failures = self.failures();
        let entry = failures
            .entry(key.to_string())
            .or_insert((0, Instant::now()));
        entry.0 += 1;
    }

    pub fn succeeded(&self, key: &str) {
        self.failures().remove(key);
    }
}
