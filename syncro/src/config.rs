//! The client's settings: where Syncro is, the token, and how long to wait.

use std::time::Duration;

use secrecy::SecretString;
use shared::config::SyncroSettings;

/// How long to wait for a TCP (and TLS) connection by default.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a whole request may take by default, connection included.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// The most pages a `all_*` helper reads before giving up (a guard against a server that
/// ignores `page` and never returns an empty page).
pub const DEFAULT_MAX_PAGES: u32 = 1000;

/// What [`crate::SyncroClient::new`] needs. `Debug` shows the token as `[REDACTED]`.
#[derive(Clone, Debug)]
pub struct ClientConfig {
    /// The account's API root, e.g. `https://acme.syncromsp.com/api/v1`. A URL without the
    /// `/api/v1` path gets it appended.
    pub base_url: String,
    /// The API token, sent as `Authorization: Bearer …` (never in the URL).
    pub token: SecretString,
    pub connect_timeout: Duration,
    /// Covers the whole request, from connecting to reading the last byte of the body.
    pub request_timeout: Duration,
    pub user_agent: String,
    pub max_pages: u32,
}

impl ClientConfig {
    /// Settings with the default timeouts.
    pub fn new(base_url: impl Into<String>, token: SecretString) -> Self {
        Self {
            base_url: base_url.into(),
            token,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            user_agent: format!("alert-relay/{}", env!("CARGO_PKG_VERSION")),
            max_pages: DEFAULT_MAX_PAGES,
        }
    }

    /// The one builder from a deployment's `[syncro]` settings: its URL, token and
    /// timeouts. `None` when no token is configured (the configuration check reports it).
    pub fn from_settings(settings: &SyncroSettings) -> Option<Self> {
        let token = settings.token.clone()?;
        Some(Self::new(settings.url.clone(), token).with_timeouts(
            Duration::from_millis(settings.connect_timeout_ms),
            Duration::from_millis(settings.request_timeout_ms),
        ))
    }

    pub fn with_timeouts(mut self, connect: Duration, request: Duration) -> Self {
        self.connect_timeout = connect;
        self.request_timeout = request;
        self
    }
}
