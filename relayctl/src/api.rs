//! The operator API's client, shared by `trace`, `silence`, `pause`, `resume` and `status`:
//! where the API is (`--api`, `RELAY_OPERATOR_URL`), the token (`RELAY_OPERATOR_TOKEN` only:
//! a flag would show in `ps`), and every failure turned into one message an operator can act
//! on, with its exit status. The token is never printed, whatever goes wrong.

use opstate::silence::Problem;
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use serde::Serialize;
use shared::error_body::{root_cause, Refused};
use std::fmt;
use std::process::ExitCode;
use std::time::Duration;

/// The variable holding the bearer token.
pub const TOKEN_ENV: &str = "RELAY_OPERATOR_TOKEN";
/// Longest wait for an answer: every call is one short query or change.
const TIMEOUT: Duration = Duration::from_secs(15);
/// Most characters of a body that is not the API's JSON shown in an error.
const SNIPPET_CHARS: usize = 200;

/// Where the operator API is; global to each command group so it may follow any verb.
#[derive(Debug, Clone, clap::Args)]
pub struct ApiArgs {
    /// Base URL of the operator API (its token is read from RELAY_OPERATOR_TOKEN).
    #[arg(
        long = "api",
        value_name = "URL",
        env = "RELAY_OPERATOR_URL",
        default_value = "http://127.0.0.1:8081",
        global = true
    )]
    pub url: String,
}

/// What a call needs of the token: the API's two roles (`operate` includes `read`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Read,
    Operate,
}

impl Role {
    /// The token a call needs, in a sentence: "a read (or operate) token", "an operate token".
    fn token_needed(self) -> &'static str {
        match self {
            Role::Read => "a read (or operate) token",
            Role::Operate => "an operate token",
        }
    }
}

/// Why a call did not give its answer.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No token in the environment: nothing was sent.
    #[error("{TOKEN_ENV} is not set: this command needs {} of the operator API", .0.token_needed())]
    NoToken(Role),
    /// The URL given cannot be used.
    #[error("--api {url:?} is not a usable URL (like http://127.0.0.1:8081)")]
    BadUrl { url: String },
    /// No answer: refused, unresolvable, timed out.
    #[error("the operator API is not reachable at {url}: {why}")]
    Unreachable { url: String, why: String },
    /// The API answered with its error body.
    #[error("{0}")]
    Refused(Refusal),
    /// An answer this client cannot read (a proxy's page, another service on the port).
    #[error("unexpected answer from {url} ({status}): {why}")]
    Unreadable {
        url: String,
        status: u16,
        why: String,
    },
}

/// An error answer of the API: `{"error": {"code", "message", "fields"?}}`, and the role the
/// call needed (to say which token to set on a 401 or 403).
#[derive(Debug)]
pub struct Refusal {
    pub status: u16,
    pub code: String,
    pub message: String,
    pub fields: Vec<Problem>,
    pub role: Role,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let code = &self.code;
        match self.status {
            401 => write!(
                f,
                "the operator API refused the token in {TOKEN_ENV} ({code}: {}); set it to {}",
                self.message,
                self.role.token_needed()
            ),
            403 => write!(
                f,
                "the operator API forbids this ({code}: {}); set {TOKEN_ENV} to {}",
                self.message,
                self.role.token_needed()
            ),
            _ => {
                f.write_str(&self.headline())?;
                for field in &self.fields {
                    write!(f, "\n  {}: {}", field.field, field.message)?;
                }
                Ok(())
            }
        }
    }
}

impl Refusal {
    /// The API's message and code on one line, without the pointer to `fields` meant for
    /// programs (the fields are printed below it).
    pub fn headline(&self) -> String {
        shared::error_body::headline(self.status, &self.code, &self.message)
    }
}

impl ApiError {
    /// 2 when the command or its token must change (missing or refused token, bad URL, a
    /// request the API calls invalid), 1 for the rest (unreachable, not found, conflict,
    /// PostgreSQL away).
    pub fn exit_code(&self) -> ExitCode {
        match self {
            ApiError::NoToken(_) | ApiError::BadUrl { .. } => ExitCode::from(2),
            ApiError::Refused(r) if matches!(r.status, 400 | 401 | 403 | 422) => ExitCode::from(2),
            _ => ExitCode::FAILURE,
        }
    }

    /// The refusal, when the API answered with one.
    pub fn refusal(&self) -> Option<&Refusal> {
        match self {
            ApiError::Refused(r) => Some(r),
            _ => None,
        }
    }
}

/// Prints a failed command's error as `relayctl <command>: ...` and gives its exit status.
pub fn finish(command: &str, result: Result<ExitCode, ApiError>) -> ExitCode {
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("relayctl {command}: {error}");
            error.exit_code()
        }
    }
}

/// A client of one operator API.
pub struct Api {
    /// The base URL, without a trailing `/`.
    base: String,
    /// From [`TOKEN_ENV`]; checked per call, so the message names the role the call needs.
    token: Option<SecretString>,
    http: reqwest::Client,
}

impl Api {
    /// A client of the API at `args.url`, with the token of the environment.
    pub fn new(args: &ApiArgs) -> Api {
        Api::with_token(args, std::env::var(TOKEN_ENV).ok())
    }

    fn with_token(args: &ApiArgs, token: Option<String>) -> Api {
        let token = token
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty())
            .map(SecretString::from);
        // Building fails only without a TLS backend, which is compiled in; the default
        // client is then the same minus the timeout, not worth failing a command for.
        let http = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .build()
            .unwrap_or_default();
        Api {
            base: args.url.trim().trim_end_matches('/').to_string(),
            token,
            http,
        }
    }

    /// The base URL as printed (a password in it, if any, replaced).
    pub fn shown_url(&self) -> String {
        shared::config::redact_url(&self.base)
    }

    /// `GET path?query` with a read token.
    pub async fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<T, ApiError> {
        let url = self.url(path)?;
        let request = self.http.get(url).query(query);
        self.call(request, Role::Read).await
    }

    /// `POST path` with an operate token, and a JSON body unless `None`.
    pub async fn post<T: DeserializeOwned>(
        &self,
        path: &str,
        body: Option<&impl Serialize>,
    ) -> Result<T, ApiError> {
        let url = self.url(path)?;
        let mut request = self.http.post(url);
        if let Some(body) = body {
            request = request.json(body);
        }
        self.call(request, Role::Operate).await
    }

    fn url(&self, path: &str) -> Result<reqwest::Url, ApiError> {
        reqwest::Url::parse(&format!("{}{path}", self.base))
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https"))
            .ok_or_else(|| ApiError::BadUrl {
                url: self.shown_url(),
            })
    }

    async fn call<T: DeserializeOwned>(
        &self,
        request: reqwest::RequestBuilder,
        role: Role,
    ) -> Result<T, ApiError> {
        let Some(token) = &self.token else {
            return Err(ApiError::NoToken(role));
        };
        let response = request
            .bearer_auth(token.expose_secret())
            .send()
            .await
            .map_err(|e| self.unreachable(&e))?;
        let status = response.status().as_u16();
        let bytes = response.bytes().await.map_err(|e| self.unreachable(&e))?;
        let unreadable = |why: String| ApiError::Unreadable {
            url: self.shown_url(),
            status,
            why,
        };
        if (200..300).contains(&status) {
            return serde_json::from_slice(&bytes)
                .map_err(|e| unreadable(format!("not the answer expected: {e}")));
        }
        match Refused::<Problem>::parse(&bytes) {
            Some(refused) => Err(ApiError::Refused(Refusal {
                status,
                code: refused.code,
                message: refused.message,
                fields: refused.fields,
                role,
            })),
            None => Err(unreadable(snippet(&bytes))),
        }
    }

    fn unreachable(&self, error: &reqwest::Error) -> ApiError {
        let why = if error.is_timeout() {
            format!("no answer within {} s", TIMEOUT.as_secs())
        } else {
            root_cause(error)
        };
        ApiError::Unreachable {
            url: self.shown_url(),
            why,
        }
    }
}

/// The start of a body that is not the API's, on one line.
fn snippet(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let line: String = text
        .chars()
        .take(SNIPPET_CHARS)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if line.trim().is_empty() {
        "an empty body".into()
    } else {
        line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(status: u16, role: Role) -> Refusal {
        Refusal {
            status,
            code: "token_invalid".into(),
            message: "the token is not valid".into(),
            fields: vec![Problem::new("reason", "is required")],
            role,
        }
    }

    #[test]
    fn a_refused_token_names_the_role_needed_and_never_the_token() {
        let text = refusal(401, Role::Operate).to_string();
        assert!(text.contains("an operate token"), "{text}");
        assert!(text.contains(TOKEN_ENV), "{text}");
        let text = refusal(403, Role::Read).to_string();
        assert!(text.contains("a read (or operate) token"), "{text}");
    }

    #[test]
    fn validation_errors_list_every_field_on_its_own_line() {
        let text = refusal(422, Role::Operate).to_string();
        assert_eq!(text.lines().nth(1), Some("  reason: is required"), "{text}");
    }

    #[test]
    fn exit_codes_tell_fixing_the_command_from_failing() {
        let code = |e: ApiError| format!("{:?}", e.exit_code());
        let two = format!("{:?}", ExitCode::from(2));
        assert_eq!(code(ApiError::NoToken(Role::Read)), two);
        assert_eq!(
            code(ApiError::Refused(refusal(422, Role::Operate))),
            two.clone()
        );
        assert_ne!(code(ApiError::Refused(refusal(409, Role::Operate))), two);
        assert_ne!(
            code(ApiError::Unreachable {
                url: "u".into(),
                why: "w".into()
            }),
            two
        );
    }

    #[test]
    fn a_missing_or_blank_token_is_refused_before_anything_is_sent() {
        let args = ApiArgs {
            url: "http://127.0.0.1:9".into(),
        };
        assert!(Api::with_token(&args, Some("  ".into())).token.is_none());
        assert!(Api::with_token(&args, None).token.is_none());
    }
}
