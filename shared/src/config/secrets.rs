//! Secrets: resolved from the environment variables the file names, and kept out of logs.

use super::{env, EnvLookup, Settings};
use secrecy::SecretString;

impl Settings {
    /// Adds the secrets named by environment variable. A missing variable is a problem,
    /// reported with the others by the binary that needs it, rather than leaving a source
    /// silently without its secret.
    pub(super) fn resolve_secrets(&mut self, env: EnvLookup) {
        for (name, source) in &mut self.sources {
            for var in &source.secrets_env {
                match env(var) {
                    Some(secret) => source.secrets.push(SecretString::from(secret)),
                    None => self.unresolved.push(format!(
                        "sources.{name}.secrets_env: environment variable {var} is not set"
                    )),
                }
            }
        }
        if let Some(var) = &self.ingest.metrics_token_env {
            match env(var) {
                Some(token) => self.ingest.metrics_token = Some(SecretString::from(token)),
                None => self.unresolved.push(format!(
                    "ingest.metrics_token_env: environment variable {var} is not set"
                )),
            }
        }
        if let Some(token) = env(env::SYNCRO_TOKEN) {
            self.syncro.token = Some(SecretString::from(token));
        } else if let Some(var) = &self.syncro.token_env {
            match env(var) {
                Some(token) => self.syncro.token = Some(SecretString::from(token)),
                None => self.unresolved.push(format!(
                    "syncro.token_env: environment variable {var} is not set"
                )),
            }
        }
    }

    /// Unresolved secrets of the given sections (e.g. `["sources.", "ingest."]`).
    pub fn unresolved_in(&self, sections: &[&str]) -> Vec<String> {
        self.unresolved
            .iter()
            .filter(|p| sections.iter().any(|s| p.starts_with(s)))
            .cloned()
            .collect()
    }
}

/// A URL with its password replaced, for logs.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let creds = &url[scheme_end + 3..at];
            let user = creds.split(':').next().unwrap_or_default();
            format!("{}{user}:***{}", &url[..scheme_end + 3], &url[at..])
        }
        _ => url.to_string(),
    }
}
