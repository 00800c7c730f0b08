//! What can go wrong talking to Syncro, the loosely parsed error bodies, and the one function
//! that classifies every failure as retryable or permanent.

use std::time::{Duration, SystemTime};

use serde_json::Value;

use super::route::Route;

/// The most of an error body kept (bodies are for diagnosis, not for storage).
const MAX_RAW_BODY: usize = 16 * 1024;
/// The most of a plain-text or HTML body turned into a message.
const MAX_TEXT_MESSAGE: usize = 200;

/// A failed Syncro call. Every variant but `Config` names the operation ([`Route`]); none
/// carries the token (the token is only ever in a sensitive request header).
#[derive(Debug, thiserror::Error)]
pub enum SyncroError {
    /// The client could not be built (bad base URL, TLS set-up).
    #[error("invalid Syncro client configuration: {0}")]
    Config(String),
    /// No connection could be made: the request was never sent.
    #[error("{route}: cannot connect to Syncro: {source}")]
    Connect {
        route: Route,
        #[source]
        source: reqwest::Error,
    },
    /// The request was sent but no complete answer came within the request timeout: the change
    /// may have been applied.
    #[error("{route}: Syncro did not answer in time")]
    Timeout {
        route: Route,
        #[source]
        source: reqwest::Error,
    },
    /// The connection broke after the request was sent (reset, closed without an answer, body
    /// cut short): the change may have been applied.
    #[error("{route}: connection to Syncro lost: {source}")]
    ConnectionLost {
        route: Route,
        #[source]
        source: reqwest::Error,
    },
    /// Syncro answered with a non-2xx status.
    #[error("{route}: Syncro answered {status}{}", summary(&body.messages))]
    Status {
        route: Route,
        status: u16,
        /// From `Retry-After` (seconds or an HTTP date), when sent.
        retry_after: Option<Duration>,
        body: ApiErrorBody,
    },
    /// A 2xx answer that is not the expected JSON (an HTML login page, a missing wrapper key,
    /// a field of the wrong type).
    #[error("{route}: cannot decode Syncro's {status} answer: {message}")]
    Decode {
        route: Route,
        status: u16,
        message: String,
        /// The start of the body, for diagnosis.
        body_snippet: String,
    },
    /// A paginated read went on for more pages than allowed.
    #[error("{route}: gave up after {pages} pages (the server never signalled the end)")]
    TooManyPages { route: Route, pages: u32 },
}

fn summary(messages: &[String]) -> String {
    if messages.is_empty() {
        String::new()
    } else {
        format!(": {}", messages.join("; "))
    }
}

/// Whether to try again, and when.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Disposition {
    /// Worth retrying; `retry_after` is Syncro's own delay when it sent one.
    Retryable { retry_after: Option<Duration> },
    /// Retrying will not help (bad request, missing record, undecodable answer, …).
    Permanent,
}

impl Disposition {
    pub fn is_retryable(self) -> bool {
        matches!(self, Disposition::Retryable { .. })
    }
}

/// The single classification of every failure: retryable are timeouts, connection errors,
/// 408, 429 and 5xx except 501; everything else (other 4xx, 501, other statuses, decode and
/// configuration errors) is permanent.
pub fn classify(error: &SyncroError) -> Disposition {
    let retryable = |retry_after| Disposition::Retryable { retry_after };
    match error {
        SyncroError::Connect { .. }
        | SyncroError::Timeout { .. }
        | SyncroError::ConnectionLost { .. } => retryable(None),
        SyncroError::Status {
            status,
            retry_after,
            ..
        } => match status {
            408 | 429 => retryable(*retry_after),
            501 => Disposition::Permanent,
            500..=599 => retryable(*retry_after),
            _ => Disposition::Permanent,
        },
        SyncroError::Decode { .. } | SyncroError::Config(_) | SyncroError::TooManyPages { .. } => {
            Disposition::Permanent
        }
    }
}

/// The error's kind as a short label, for metrics and logs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    Config,
    Connect,
    Timeout,
    ConnectionLost,
    Status,
    Decode,
    TooManyPages,
}

impl ErrorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Config => "config",
            ErrorKind::Connect => "connect",
            ErrorKind::Timeout => "timeout",
            ErrorKind::ConnectionLost => "connection_lost",
            ErrorKind::Status => "status",
            ErrorKind::Decode => "decode",
            ErrorKind::TooManyPages => "too_many_pages",
        }
    }
}

impl SyncroError {
    /// [`classify`] applied to this error.
    pub fn disposition(&self) -> Disposition {
        classify(self)
    }

    pub fn kind(&self) -> ErrorKind {
        match self {
            SyncroError::Config(_) => ErrorKind::Config,
            SyncroError::Connect { .. } => ErrorKind::Connect,
            SyncroError::Timeout { .. } => ErrorKind::Timeout,
            SyncroError::ConnectionLost { .. } => ErrorKind::ConnectionLost,
            SyncroError::Status { .. } => ErrorKind::Status,
            SyncroError::Decode { .. } => ErrorKind::Decode,
            SyncroError::TooManyPages { .. } => ErrorKind::TooManyPages,
        }
    }

    /// The operation that failed (`None` for a configuration error).
    pub fn route(&self) -> Option<Route> {
        match self {
            SyncroError::Config(_) => None,
            SyncroError::Connect { route, .. }
            | SyncroError::Timeout { route, .. }
            | SyncroError::ConnectionLost { route, .. }
            | SyncroError::Status { route, .. }
            | SyncroError::Decode { route, .. }
            | SyncroError::TooManyPages { route, .. } => Some(*route),
        }
    }

    /// The HTTP status, when Syncro answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            SyncroError::Status { status, .. } | SyncroError::Decode { status, .. } => {
                Some(*status)
            }
            _ => None,
        }
    }

    /// A label for a metric's status dimension: the status code, or the kind of failure.
    pub fn status_label(&self) -> String {
        match self.status() {
            Some(s) => s.to_string(),
            None => self.kind().as_str().to_string(),
        }
    }

    /// Syncro's messages from an error answer (empty for other failures).
    pub fn messages(&self) -> &[String] {
        match self {
            SyncroError::Status { body, .. } => &body.messages,
            _ => &[],
        }
    }

    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404)
    }

    /// Whether Syncro may have applied the request although the caller saw a failure: the
    /// request left and the answer was lost, or a gateway error came back. Before repeating a
    /// non-idempotent call (see [`Route::is_idempotent`]), look for its effect.
    pub fn outcome_unknown(&self) -> bool {
        match self {
            SyncroError::Timeout { .. } | SyncroError::ConnectionLost { .. } => true,
            SyncroError::Status { status, .. } => (500..=599).contains(status) && *status != 501,
            _ => false,
        }
    }
}

/// An error answer's body: the messages found in it and the body itself.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ApiErrorBody {
    /// Every message found under `error`, `errors` or `message` (strings, arrays, objects of
    /// arrays, nested objects), or the text of a non-JSON body.
    pub messages: Vec<String>,
    /// The body as received (cut at 16 KiB).
    pub raw: String,
}

impl ApiErrorBody {
    /// Parses any body Syncro (or a proxy in front of it) may send with an error status.
    pub fn parse(raw: &str) -> Self {
        let messages = match serde_json::from_str::<Value>(raw) {
            Ok(value) => json_messages(&value),
            Err(_) => text_message(raw).into_iter().collect(),
        };
        Self {
            messages,
            raw: truncate(raw, MAX_RAW_BODY).to_string(),
        }
    }
}

/// The shapes syncro-api.md §1.5 lists: `{"error": "…"}`, `{"error": ["…"]}`,
/// `{"errors": "…" | [...] | {"field": ["…"]}}`, `{"success": false, "message": […]}`, and a
/// bare string or array.
fn json_messages(value: &Value) -> Vec<String> {
    let mut out = Vec::new();
    match value {
        Value::Object(map) => {
            for key in ["error", "errors", "message"] {
                if let Some(v) = map.get(key) {
                    flatten(v, None, &mut out);
                }
            }
        }
        other => flatten(other, None, &mut out),
    }
    out
}

fn flatten(value: &Value, field: Option<&str>, out: &mut Vec<String>) {
    let push = |text: String, out: &mut Vec<String>| {
        let text = text.trim().to_string();
        if !text.is_empty() {
            out.push(match field {
                Some(f) => format!("{f}: {text}"),
                None => text,
            });
        }
    };
    match value {
        Value::String(s) => push(s.clone(), out),
        Value::Number(n) => push(n.to_string(), out),
        Value::Array(items) => items.iter().for_each(|i| flatten(i, field, out)),
        Value::Object(map) => {
            for (k, v) in map {
                let path = match field {
                    Some(f) => format!("{f}.{k}"),
                    None => k.clone(),
                };
                flatten(v, Some(&path), out);
            }
        }
        Value::Bool(_) | Value::Null => {}
    }
}

/// A message from a non-JSON body: the `<title>` or first `<h1>` of an HTML page, or the
/// first line of plain text.
fn text_message(raw: &str) -> Option<String> {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return None;
    }
    if trimmed.starts_with('<') {
        let lower = trimmed.to_ascii_lowercase();
        return ["title", "h1"].into_iter().find_map(|tag| {
            let start = lower.find(&format!("<{tag}"))?;
            let open_end = start + lower[start..].find('>')? + 1;
            let close = open_end + lower[open_end..].find(&format!("</{tag}"))?;
            let text = trimmed[open_end..close].trim();
            (!text.is_empty()).then(|| truncate(text, MAX_TEXT_MESSAGE).to_string())
        });
    }
    let line = trimmed.lines().next().unwrap_or_default();
    Some(truncate(line, MAX_TEXT_MESSAGE).to_string())
}

/// Cuts `s` to at most `max` bytes on a character boundary.
pub(crate) fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Reads `Retry-After`: whole seconds, or an HTTP date (a date in the past means "now").
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status_error(status: u16, retry_after: Option<Duration>) -> SyncroError {
        SyncroError::Status {
            route: Route::CreateTicket,
            status,
            retry_after,
            body: ApiErrorBody::default(),
        }
    }

    fn retryable(after: Option<Duration>) -> Disposition {
        Disposition::Retryable { retry_after: after }
    }

    #[test]
    fn statuses_are_classified_case_by_case() {
        let secs = Some(Duration::from_secs(7));
        let cases: &[(u16, Option<Duration>, Disposition)] = &[
            (408, None, retryable(None)),
            (429, None, retryable(None)),
            (429, secs, retryable(secs)),
            (500, None, retryable(None)),
            (502, None, retryable(None)),
            (503, secs, retryable(secs)),
            (504, None, retryable(None)),
            (599, None, retryable(None)),
            (501, None, Disposition::Permanent),
            (400, None, Disposition::Permanent),
            (401, None, Disposition::Permanent),
            (403, None, Disposition::Permanent),
            (404, None, Disposition::Permanent),
            (409, None, Disposition::Permanent),
            (422, None, Disposition::Permanent),
            (302, None, Disposition::Permanent),
        ];
        for (status, after, expected) in cases {
            assert_eq!(
                classify(&status_error(*status, *after)),
                *expected,
                "status {status}"
            );
        }
    }

    #[test]
    fn decode_config_and_paging_errors_are_permanent() {
        let decode = SyncroError::Decode {
            route: Route::GetTicket,
            status: 200,
            message: "expected key `ticket`".into(),
            body_snippet: "<html>".into(),
        };
        assert_eq!(classify(&decode), Disposition::Permanent);
        assert_eq!(
            classify(&SyncroError::Config("bad url".into())),
            Disposition::Permanent
        );
        let pages = SyncroError::TooManyPages {
            route: Route::ListTickets,
            pages: 1000,
        };
        assert_eq!(classify(&pages), Disposition::Permanent);
    }

    #[test]
    fn outcome_is_unknown_only_when_the_request_may_have_landed() {
        assert!(status_error(502, None).outcome_unknown());
        assert!(!status_error(501, None).outcome_unknown());
        assert!(!status_error(422, None).outcome_unknown());
        assert!(!status_error(429, None).outcome_unknown());
    }

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_777_777_777);
        assert_eq!(
            parse_retry_after(" 30 ", now),
            Some(Duration::from_secs(30))
        );
        let later = httpdate::fmt_http_date(now + Duration::from_secs(90));
        assert_eq!(
            parse_retry_after(&later, now),
            Some(Duration::from_secs(90))
        );
        let earlier = httpdate::fmt_http_date(now - Duration::from_secs(90));
        assert_eq!(parse_retry_after(&earlier, now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-5", now), None);
    }

    #[test]
    fn every_documented_error_shape_yields_its_messages() {
        let cases: &[(&str, &[&str])] = &[
            (
                r#"{"error":"Customer required field"}"#,
                &["Customer required field"],
            ),
            (
                r#"{"success":false,"message":["Subject can't be blank"]}"#,
                &["Subject can't be blank"],
            ),
            (
                r#"{"success":false,"message":["Body can't be blank","Subject can't be blank"]}"#,
                &["Body can't be blank", "Subject can't be blank"],
            ),
            (
                r#"{"success":false,"message":["Email is invalid"],"params":{"email":"x"}}"#,
                &["Email is invalid"],
            ),
            (
                r#"{"record":{"id":null},"errors":"Customer can't be blank"}"#,
                &["Customer can't be blank"],
            ),
            (
                r#"{"error":["Name can't be blank"]}"#,
                &["Name can't be blank"],
            ),
            (
                r#"{"errors":{"mute_for":["is not included in the list"]}}"#,
                &["mute_for: is not included in the list"],
            ),
            (
                r#"{"success":false,"errors":{"ticket":{"subject":["can't be blank"]}}}"#,
                &["ticket.subject: can't be blank"],
            ),
            (r#"{"message":"Not found"}"#, &["Not found"]),
            (r#"["a","b"]"#, &["a", "b"]),
            (r#""plain json string""#, &["plain json string"]),
            ("Rate limit exceeded\nretry later", &["Rate limit exceeded"]),
            (
                "<html><head><title>502 Bad Gateway</title></head><body></body></html>",
                &["502 Bad Gateway"],
            ),
            (
                "<html><body><h1>503 Service Unavailable</h1></body></html>",
                &["503 Service Unavailable"],
            ),
            ("", &[]),
            (r#"{"success":false}"#, &[]),
        ];
        for (raw, expected) in cases {
            let body = ApiErrorBody::parse(raw);
            assert_eq!(body.messages, *expected, "body {raw}");
            assert_eq!(body.raw, *raw);
        }
    }

    #[test]
    fn long_bodies_are_cut_on_a_character_boundary() {
        let raw = "é".repeat(MAX_RAW_BODY);
        let body = ApiErrorBody::parse(&raw);
        assert!(body.raw.len() <= MAX_RAW_BODY);
        assert!(body.messages[0].len() <= MAX_TEXT_MESSAGE);
    }

    #[test]
    fn status_errors_show_route_status_and_messages() {
        let e = SyncroError::Status {
            route: Route::AddComment,
            status: 422,
            retry_after: None,
            body: ApiErrorBody::parse(r#"{"success":false,"message":["Body can't be blank"]}"#),
        };
        assert_eq!(
            e.to_string(),
            "POST /tickets/{id}/comment: Syncro answered 422: Body can't be blank"
        );
        assert_eq!(e.route(), Some(Route::AddComment));
        assert_eq!(e.status_label(), "422");
    }
}
