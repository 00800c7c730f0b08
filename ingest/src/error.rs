//! Every error ingest answers with, mapped to HTTP in one place.
//!
//! The body is always `{"error": {"code": "...", "message": "...", "fields": [...]?}}` with a
//! stable machine-readable `code` (documented in the README). Messages say what the caller can
//! fix; causes on our side go to the log, never to the caller, and never include secrets.

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use shared::alert::FieldError;
use shared::error_body::ErrorBody;
use std::fmt;

/// An error answer: status, stable code, message, and for validation the offending fields.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub fields: Vec<FieldError>,
    /// `Retry-After` seconds, for 503.
    pub retry_after: Option<u64>,
    /// `Allow`: the methods the path serves, for 405.
    pub allow: Option<&'static str>,
}

shared::error_constructors! {
    ApiError:
    malformed_json => BAD_REQUEST, "malformed_json";
    malformed_encoding => BAD_REQUEST, "malformed_encoding";
    invalid_payload => BAD_REQUEST, "invalid_payload";
    empty_batch => BAD_REQUEST, "empty_batch";
    signature_missing => UNAUTHORIZED, "signature_missing";
    signature_malformed => UNAUTHORIZED, "signature_malformed";
    signature_invalid => UNAUTHORIZED, "signature_invalid";
    token_invalid => UNAUTHORIZED, "token_invalid";
    timestamp_invalid => UNAUTHORIZED, "timestamp_invalid";
    timestamp_out_of_tolerance => UNAUTHORIZED, "timestamp_out_of_tolerance";
    metrics_unauthorized => UNAUTHORIZED, "unauthorized";
    unknown_source => NOT_FOUND, "unknown_source";
    not_found => NOT_FOUND, "not_found";
    body_timeout => REQUEST_TIMEOUT, "body_timeout";
    body_too_large => PAYLOAD_TOO_LARGE, "body_too_large";
    unsupported_media_type => UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type";
    unsupported_encoding => UNSUPPORTED_MEDIA_TYPE, "unsupported_encoding";
    internal => INTERNAL_SERVER_ERROR, "internal";
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            fields: Vec::new(),
            retry_after: None,
            allow: None,
        }
    }

    /// 400 with every offending field named.
    pub fn invalid_alert(fields: Vec<FieldError>) -> ApiError {
        let mut error = ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_alert",
            format!(
                "{} field(s) do not follow the alert schema v1; see `fields`",
                fields.len()
            ),
        );
        error.fields = fields;
        error
    }

    /// A body whose objects repeat a key: readers disagree on which value counts, so the
    /// signature cannot vouch for what the relay would read.
    pub fn duplicate_key(path: &str) -> ApiError {
        let mut error = ApiError::new(
            StatusCode::BAD_REQUEST,
            "duplicate_key",
            format!("the key {path} appears twice in one object; send each key once"),
        );
        error.fields = vec![FieldError::new(path, "appears twice in one object")];
        error
    }

    /// 400 with every offending field of a billable-user count named.
    pub fn invalid_count(fields: Vec<FieldError>) -> ApiError {
        let mut error = ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_count",
            format!(
                "{} field(s) do not follow the billable-user count schema; see `fields`",
                fields.len()
            ),
        );
        error.fields = fields;
        error
    }

    /// 405 naming the methods the path serves, in the message and in `Allow`.
    pub fn method_not_allowed(allow: &'static str) -> ApiError {
        let mut error = ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            format!("this path serves {allow} only"),
        );
        error.allow = Some(allow);
        error
    }

    /// 503: the alerts were not stored; the caller should send them again later.
    pub fn broker_unavailable(retry_after: u64) -> ApiError {
        let mut error = ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "broker_unavailable",
            "the alerts could not be stored durably; nothing was accepted, send them again",
        );
        error.retry_after = Some(retry_after);
        error
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({}): {}",
            self.status.as_u16(),
            self.code,
            self.message
        )
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status);
        if let Some(seconds) = self.retry_after {
            response.insert_header((header::RETRY_AFTER, HeaderValue::from(seconds)));
        }
        if let Some(methods) = self.allow {
            response.insert_header((header::ALLOW, HeaderValue::from_static(methods)));
        }
        response.json(ErrorBody::new(self.code, &self.message, &self.fields))
    }
}
