//! The canonical format: one alert object, or an array of them (a batch).

use crate::error::ApiError;
use serde_json::Value;
use shared::alert::Alert;

/// Validates every alert of the body; all problems of all alerts are reported together.
pub fn parse(value: &Value) -> Result<Vec<Alert>, ApiError> {
    match value {
        Value::Array(items) => super::all_or_problems(
            items
                .iter()
                .enumerate()
                .map(|(i, item)| Alert::from_json(item, &format!("[{i}]"))),
        ),
        single => super::all_or_problems([Alert::from_json(single, "")]),
    }
}
