//! The error every HTTP API of alert-relay answers with (ingest and the operator API):
//! `{"error": {"code": "...", "message": "...", "fields": [...]?}}`, `fields` only when there
//! are offending fields; and [`error_constructors!`](crate::error_constructors), which gives
//! an API's error type one constructor per stable code. The HTTP side (status, headers) stays
//! with each API.

use crate::alert::FieldError;
use serde::Serialize;

/// The body of an error answer, borrowed from the API's own error value.
#[derive(Debug, Serialize)]
pub struct ErrorBody<'a> {
    error: Inner<'a>,
}

#[derive(Debug, Serialize)]
struct Inner<'a> {
    code: &'a str,
    message: &'a str,
    #[serde(skip_serializing_if = "<[FieldError]>::is_empty")]
    fields: &'a [FieldError],
}

impl<'a> ErrorBody<'a> {
    pub fn new(code: &'a str, message: &'a str, fields: &'a [FieldError]) -> ErrorBody<'a> {
        ErrorBody {
            error: Inner {
                code,
                message,
                fields,
            },
        }
    }
}

/// `error_constructors! { ApiError: not_found => NOT_FOUND, "not_found"; ... }`: for each
/// line, `ApiError::not_found(message)`, which calls `ApiError::new(StatusCode::NOT_FOUND,
/// "not_found", message)`. `StatusCode` and the type's `new` are the caller's.
#[macro_export]
macro_rules! error_constructors {
    ($ty:ident: $($name:ident => $status:ident, $code:literal;)*) => {
        impl $ty {
            $(
                pub fn $name(message: impl Into<String>) -> $ty {
                    $ty::new(StatusCode::$status, $code, message)
                }
            )*
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_appear_only_when_there_are_some() {
        let none = serde_json::to_value(ErrorBody::new("not_found", "no such silence", &[]))
            .expect("json");
        assert_eq!(
            none,
            serde_json::json!({"error": {"code": "not_found", "message": "no such silence"}})
        );
        let field = [FieldError::new("reason", "is required")];
        let some =
            serde_json::to_value(ErrorBody::new("invalid", "1 problem", &field)).expect("json");
        assert_eq!(some["error"]["fields"][0]["field"], "reason");
    }
}
