//! What is wrong with one field of a silence: shared by the matchers' and the schedules'
//! checks and the silence's own, below all three.

use serde::{Deserialize, Serialize};
use std::fmt;

/// One problem with one field, like ingest's `FieldError`: `field` is a path such as
/// `matchers[1].value` or `schedule.time_zone`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    pub field: String,
    pub message: String,
}

impl Problem {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Problem {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}
