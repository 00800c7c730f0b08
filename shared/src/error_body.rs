//! The error every HTTP API of alert-relay answers with (ingest and the operator API):
//! `{"error": {"code": "...", "message": "...", "fields": [...]?}}`, `fields` only when there
//! are offending fields; and [`error_constructors!`](crate::error_constructors), which gives
//! an API's error type one constructor per stable code. The HTTP side (status, headers) stays
//! with each API.
//!
//! The clients' side too (`relayctl` and the console read the operator API's errors):
//! [`Refused::parse`] reads an error answer, [`headline`] puts it on one line, [`root_cause`]
//! says why a request got no answer at all.

use crate::alert::FieldError;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

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

/// An error answer as a client reads it, each offending field as an `F` (the client's own
/// type of a field's problem: `field` and `message`).
#[derive(Debug, Deserialize)]
pub struct Refused<F> {
    pub code: String,
    pub message: String,
    #[serde(default = "Vec::new")]
    pub fields: Vec<F>,
}

#[derive(Deserialize)]
struct Answer<F> {
    error: Refused<F>,
}

impl<F: DeserializeOwned> Refused<F> {
    /// The API's error answer in `bytes`; `None` when they hold something else (a proxy's
    /// page, another service on the port).
    pub fn parse(bytes: &[u8]) -> Option<Refused<F>> {
        serde_json::from_slice::<Answer<F>>(bytes)
            .ok()
            .map(|a| a.error)
    }
}

/// An error answer on one line: its message without the pointer to `fields` meant for
/// programs (a client lists the fields itself), then the status and code.
pub fn headline(status: u16, code: &str, message: &str) -> String {
    format!(
        "{} ({status} {code})",
        message.trim_end_matches("; see `fields`")
    )
}

/// The innermost cause of a failed request: "Connection refused (os error 111)" rather than
/// "error sending request" (and never the URL, which may carry a query).
pub fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = error;
    while let Some(inner) = cause.source() {
        cause = inner;
    }
    cause.to_string()
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

    #[derive(Debug, Deserialize, PartialEq)]
    struct Field {
        field: String,
        message: String,
    }

    #[test]
    fn a_client_reads_the_answer_back_and_puts_it_on_one_line() {
        let field = [FieldError::new("reason", "is required")];
        let sent = serde_json::to_vec(&ErrorBody::new(
            "invalid_silence",
            "1 problem; see `fields`",
            &field,
        ))
        .expect("json");
        let read = Refused::<Field>::parse(&sent).expect("an error answer");
        assert_eq!(read.fields[0].field, "reason");
        assert_eq!(
            headline(422, &read.code, &read.message),
            "1 problem (422 invalid_silence)"
        );
        let bare =
            serde_json::to_vec(&ErrorBody::new("not_found", "no such silence", &[])).expect("json");
        assert!(Refused::<Field>::parse(&bare).is_some_and(|r| r.fields.is_empty()));
        assert!(Refused::<Field>::parse(b"<html>502 Bad Gateway</html>").is_none());
    }
}
