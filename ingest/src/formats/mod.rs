//! Payload formats: each turns a verified body into validated canonical alerts, or names
//! everything wrong with it.
//!
//! - [`canonical`]: the alert schema v1, one alert or a JSON array of them.
//! - [`alertmanager`]: Prometheus Alertmanager webhook version 4, one alert per `alerts[]`.

pub mod alertmanager;
pub mod canonical;

use crate::error::ApiError;
use crate::verify::Verified;
use shared::alert::{Alert, FieldError};
use shared::config::{PayloadFormat, SourceSettings};

/// Options of a format adapter, taken from the source's configuration.
#[derive(Debug, Clone)]
pub struct FormatOptions {
    pub format: PayloadFormat,
    pub organization_label: String,
    pub default_organization: Option<String>,
    pub severity_label: String,
}

impl FormatOptions {
    pub fn new(settings: &SourceSettings) -> Self {
        FormatOptions {
            format: settings.format,
            organization_label: settings.organization_label.clone(),
            default_organization: settings.default_organization.clone(),
            severity_label: settings.severity_label.clone(),
        }
    }

    /// Parses a body that passed verification (the [`Verified`] proof is required, so the
    /// parser cannot be reached without it).
    pub fn parse(&self, _proof: &Verified, body: &[u8]) -> Result<Vec<Alert>, ApiError> {
        let value = crate::encoding::parse_json(body)?;
        let alerts = match self.format {
            PayloadFormat::Canonical => canonical::parse(&value)?,
            PayloadFormat::Alertmanager => alertmanager::parse(&value, self)?,
        };
        if alerts.is_empty() {
            return Err(ApiError::empty_batch("the request carries no alert"));
        }
        Ok(alerts)
    }
}

/// Every alert when all are valid, else every problem of every alert (nothing is accepted
/// from a request with one bad alert).
pub(crate) fn all_or_problems(
    results: impl IntoIterator<Item = Result<Alert, Vec<FieldError>>>,
) -> Result<Vec<Alert>, ApiError> {
    let mut alerts = Vec::new();
    let mut problems = Vec::new();
    for result in results {
        match result {
            Ok(alert) => alerts.push(alert),
            Err(fields) => problems.extend(fields),
        }
    }
    if problems.is_empty() {
        Ok(alerts)
    } else {
        Err(ApiError::invalid_alert(problems))
    }
}
