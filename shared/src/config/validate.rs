//! Validation: every problem of the sections a binary uses, reported together.

use super::{ConfigError, PayloadFormat, Settings, SourceSettings, VerifyScheme};
use secrecy::ExposeSecret;
use std::path::Path;

impl Settings {
    /// Problems with what every binary uses: the prefix and the broker.
    pub fn common_problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if !valid_prefix(&self.prefix) {
            problems.push(format!(
                "prefix {:?}: use 1 to 64 characters among a-z, 0-9, '-', '_' and '.'",
                self.prefix
            ));
        }
        let url = self.amqp.url.expose_secret();
        if !(url.starts_with("amqp://") || url.starts_with("amqps://")) {
            problems.push("amqp.url: must start with amqp:// or amqps://".into());
        }
        if self.amqp.publish_channels == 0 || self.amqp.publish_channels > 64 {
            problems.push("amqp.publish_channels: must be between 1 and 64".into());
        }
        if self.amqp.confirm_timeout_ms == 0 {
            problems.push("amqp.confirm_timeout_ms: must be positive".into());
        }
        problems
    }

    /// Validates what ingest uses; every problem at once.
    pub fn validate_ingest(&self, path: &Path) -> Result<(), ConfigError> {
        let mut problems = self.common_problems();
        problems.extend(self.unresolved_in(&["sources.", "ingest."]));
        if self.ingest.listen.parse::<std::net::SocketAddr>().is_err() {
            problems.push(format!(
                "ingest.listen {:?}: expected an address like 127.0.0.1:8080",
                self.ingest.listen
            ));
        }
        if self.ingest.max_body_bytes < 1024 {
            problems.push("ingest.max_body_bytes: must be at least 1024".into());
        }
        if self.ingest.max_connections == 0 {
            problems.push("ingest.max_connections: must be positive".into());
        }
        if self.sources.is_empty() {
            problems.push("sources: configure at least one source ([sources.NAME])".into());
        }
        for (name, source) in &self.sources {
            problems.extend(source.problems(name));
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ConfigError {
                path: path.to_path_buf(),
                problems,
            })
        }
    }
}

impl SourceSettings {
    fn problems(&self, name: &str) -> Vec<String> {
        let mut problems = Vec::new();
        let at = format!("sources.{name}");
        if !valid_source_name(name) {
            problems.push(format!(
                "{at}: a source name uses 1 to 64 characters among a-z, 0-9, '-' and '_'"
            ));
        }
        // With secrets_env set, a missing variable is already reported on its own.
        if self.secrets.is_empty() && self.secrets_env.is_empty() {
            problems.push(format!(
                "{at}: needs at least one secret (`secrets` or `secrets_env`)"
            ));
        }
        for (i, secret) in self.secrets.iter().enumerate() {
            let secret = secret.expose_secret();
            // Only the position is named: the value is a secret.
            match self.verify {
                VerifyScheme::StandardWebhooks => {
                    if crate::signing::decode_whsec(secret).is_none() {
                        problems.push(format!(
                            "{at}: secret #{} is not a Standard Webhooks secret (whsec_ followed by base64)",
                            i + 1
                        ));
                    }
                }
                VerifyScheme::HmacSha256 | VerifyScheme::Bearer => {
                    if secret.len() < 16 {
                        problems.push(format!(
                            "{at}: secret #{} is shorter than 16 characters",
                            i + 1
                        ));
                    }
                }
            }
        }
        if self.verify == VerifyScheme::HmacSha256
            && (self.signature_header.is_empty()
                || !self
                    .signature_header
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
        {
            problems.push(format!(
                "{at}.signature_header: must be a valid header name"
            ));
        }
        if self.format == PayloadFormat::Alertmanager && self.organization_label.is_empty() {
            problems.push(format!("{at}.organization_label: must not be empty"));
        }
        problems
    }
}

fn valid_prefix(prefix: &str) -> bool {
    (1..=64).contains(&prefix.len())
        && prefix
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-_.".contains(&b))
}

fn valid_source_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}
