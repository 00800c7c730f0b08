//! Every error the operator API answers with, mapped to HTTP in one place.
//!
//! The body is always `{"error": {"code": "...", "message": "...", "fields": [...]?}}`, the
//! same shape as ingest's, with a stable machine-readable `code` (listed in
//! `docs/openapi/operator.json`). Messages say what the caller can fix; causes on our side go
//! to the log, never to the caller, and never carry a token or a connection URL.

use actix_web::error::{JsonPayloadError, PathError, QueryPayloadError};
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, ResponseError};
use opstate::store::silences::ChangeError;
use opstate::DbError;
use shared::alert::FieldError;
use shared::error_body::ErrorBody;
use std::fmt;

/// `Retry-After` of a 503 while PostgreSQL is away: long enough not to hammer it, short
/// enough that a console polling status sees it come back soon.
pub const RETRY_AFTER_SECS: u64 = 5;

pub type Result<T, E = ApiError> = std::result::Result<T, E>;

/// An error answer: status, stable code, message, and for validation every offending field.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub fields: Vec<FieldError>,
    /// `Retry-After` seconds, for 503.
    pub retry_after: Option<u64>,
}

shared::error_constructors! {
    ApiError:
    malformed_json => BAD_REQUEST, "malformed_json";
    query_too_broad => BAD_REQUEST, "query_too_broad";
    token_missing => UNAUTHORIZED, "token_missing";
    token_invalid => UNAUTHORIZED, "token_invalid";
    forbidden => FORBIDDEN, "forbidden";
    not_found => NOT_FOUND, "not_found";
    method_not_allowed => METHOD_NOT_ALLOWED, "method_not_allowed";
    already_ended => CONFLICT, "already_ended";
    body_too_large => PAYLOAD_TOO_LARGE, "body_too_large";
    unsupported_media_type => UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type";
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
        }
    }

    /// An error naming every offending field; the message counts them.
    fn with_fields(
        status: StatusCode,
        code: &'static str,
        what: &str,
        fields: Vec<FieldError>,
    ) -> ApiError {
        let mut error = ApiError::new(
            status,
            code,
            format!("{} problem(s) with {what}; see `fields`", fields.len()),
        );
        error.fields = fields;
        error
    }

    /// 400: query parameters that do not parse or are out of range, every one named.
    pub fn invalid_query(fields: Vec<FieldError>) -> ApiError {
        ApiError::with_fields(
            StatusCode::BAD_REQUEST,
            "invalid_query",
            "the query",
            fields,
        )
    }

    /// 422: a silence (new, or as an extension would leave it) with problems, every one named;
    /// nothing was stored.
    pub fn invalid_silence(fields: Vec<FieldError>) -> ApiError {
        ApiError::with_fields(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_silence",
            "the silence",
            fields,
        )
    }

    /// 422: an extension request that is not exactly one of `ends_at` and `by`, or whose `by`
    /// is not a duration.
    pub fn invalid_extension(fields: Vec<FieldError>) -> ApiError {
        ApiError::with_fields(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_extension",
            "the extension",
            fields,
        )
    }

    /// 422: an alert to explain that is not a valid canonical alert, every problem named.
    pub fn invalid_alert(fields: Vec<FieldError>) -> ApiError {
        ApiError::with_fields(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_alert",
            "the alert",
            fields,
        )
    }

    /// 422: a pause without a usable reason.
    pub fn invalid_pause(fields: Vec<FieldError>) -> ApiError {
        ApiError::with_fields(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_pause",
            "the pause",
            fields,
        )
    }

    /// 503: the operator state cannot be read or written now; nothing was changed.
    pub fn postgres_unavailable() -> ApiError {
        let mut error = ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "postgres_unavailable",
            "the operator state (PostgreSQL) is unavailable; nothing was changed, try again",
        );
        error.retry_after = Some(RETRY_AFTER_SECS);
        error
    }
}

/// The dead letters' errors (`routes::dead_letters`).
impl ApiError {
    /// 503 with `Retry-After`: something the request needs is away; nothing was changed.
    fn unavailable(code: &'static str, message: &str) -> ApiError {
        let mut error = ApiError::new(StatusCode::SERVICE_UNAVAILABLE, code, message);
        error.retry_after = Some(RETRY_AFTER_SECS);
        error
    }

    /// 503: RabbitMQ cannot be reached now (the dead-letter queue is there).
    pub fn rabbitmq_unavailable() -> ApiError {
        ApiError::unavailable(
            "rabbitmq_unavailable",
            "RabbitMQ (the dead-letter queue) is unavailable; nothing was changed, try again",
        )
    }

    /// 503: the workers' Redis (the grouping state a dry run reads) cannot be read now.
    pub fn workers_redis_unavailable() -> ApiError {
        ApiError::unavailable(
            "redis_unavailable",
            "the workers' Redis is unavailable; nothing was changed, try again",
        )
    }

    /// 503: another dead-letter operation of this API is still running.
    pub fn dead_letters_busy() -> ApiError {
        ApiError::unavailable(
            "dead_letters_busy",
            "another dead-letter operation is still running; nothing was changed, try again",
        )
    }

    /// 422: a dead-letter request's fields with problems, every one named; nothing changed.
    pub fn invalid_dead_letter_request(fields: Vec<FieldError>) -> ApiError {
        ApiError::with_fields(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_dead_letter_request",
            "the request",
            fields,
        )
    }

    /// 422: a purge without `"confirm": true`; nothing was removed.
    pub fn confirmation_required(field: &str, message: &str) -> ApiError {
        let mut error = ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "confirmation_required",
            message,
        );
        error.fields = vec![FieldError::new(field, message)];
        error
    }
}

/// A database error: PostgreSQL away is 503 (and logged at `warn`); state that cannot be
/// read back is our fault, 500 (logged at `error`). opstate's messages never carry the URL.
impl From<DbError> for ApiError {
    fn from(e: DbError) -> ApiError {
        match e {
            DbError::Unavailable(_) => {
                tracing::warn!(error = %e, "PostgreSQL is unavailable");
                ApiError::postgres_unavailable()
            }
            DbError::Url(_)
            | DbError::Schema(_)
            | DbError::Migrate(_)
            | DbError::Corrupt(_)
            | DbError::Refused(_) => {
                tracing::error!(error = %e, "operator state error");
                ApiError::internal("the operator state could not be used; see the operator's log")
            }
        }
    }
}

impl From<ChangeError> for ApiError {
    fn from(e: ChangeError) -> ApiError {
        match e {
            ChangeError::Invalid(problems) => ApiError::invalid_silence(
                problems
                    .into_iter()
                    .map(|p| FieldError::new(p.field, p.message))
                    .collect(),
            ),
            ChangeError::NotFound => ApiError::not_found("no silence has that id"),
            ChangeError::Ended => {
                ApiError::already_ended("the silence has already ended (expired or over)")
            }
            ChangeError::Db(e) => e.into(),
        }
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
        if self.status == StatusCode::UNAUTHORIZED {
            response.insert_header((header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer")));
        }
        response.json(ErrorBody::new(self.code, &self.message, &self.fields))
    }
}

/// Largest request body: a silence with many matchers is a few KiB.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// actix's JSON extractor errors as this API's errors (installed by `JsonConfig`). The
/// message names what serde found, never the body itself.
pub fn json_error(e: JsonPayloadError, _: &HttpRequest) -> actix_web::Error {
    let error = match &e {
        JsonPayloadError::Overflow { limit }
        | JsonPayloadError::OverflowKnownLength { limit, .. } => {
            ApiError::body_too_large(format!("the body is larger than {limit} bytes"))
        }
        JsonPayloadError::ContentType => {
            ApiError::unsupported_media_type("send the body as Content-Type: application/json")
        }
        JsonPayloadError::Deserialize(de) => {
            ApiError::malformed_json(format!("the body does not fit this request: {de}"))
        }
        _ => ApiError::malformed_json("the body could not be read as JSON"),
    };
    error.into()
}

/// actix's query extractor errors as this API's errors (installed by `QueryConfig`).
pub fn query_error(e: QueryPayloadError, _: &HttpRequest) -> actix_web::Error {
    let message = match &e {
        QueryPayloadError::Deserialize(de) => de.to_string(),
        _ => "the query string could not be read".to_string(),
    };
    ApiError::invalid_query(vec![FieldError::new("query", message)]).into()
}

/// actix's path extractor errors: a path that names nothing.
pub fn path_error(_: PathError, _: &HttpRequest) -> actix_web::Error {
    ApiError::not_found("no such resource").into()
}
