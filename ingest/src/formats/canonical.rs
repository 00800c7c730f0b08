//! The canonical format: one alert object, or an array of them (a batch).

use crate::error::ApiError;
use serde_json::Value;
use shared::alert::Alert;

/// Validates every alert of the body; all problems of all alerts are reported together.
pub fn parse(value: &Value) -> Result<Vec<Alert>, ApiError> {
    let results: Vec<_> = match value {
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, item)| Alert::from_json(item, &format!("[{i}]")))
            .collect(),
        single => vec![Alert::from_json(single, "")],
    };
    let mut alerts = Vec::with_capacity(results.len());
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
