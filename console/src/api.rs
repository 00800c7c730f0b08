//! The operator API's client: every read and every change the console makes goes through it,
//! with the console's own token and the signed-in person's name in `X-Relay-On-Behalf-Of`, so
//! the operator API checks, makes and audits each change under that person's name. The token
//! is sent in the `Authorization` header only: never in a page, an error or a log line.

use crate::session::User;
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::Value;
use shared::error_body::{root_cause, Refused};
use std::time::Duration;

/// The header the operator API reads the person from (operator `auth::ON_BEHALF_OF`).
pub const ON_BEHALF_OF: &str = "x-relay-on-behalf-of";
/// Longest wait for an answer: each call is one short query or change.
const TIMEOUT: Duration = Duration::from_secs(15);

/// One problem of a request, named by its field (`reason`, `matchers[0].value`).
#[derive(Debug, Clone, Deserialize)]
pub struct FieldProblem {
    pub field: String,
    pub message: String,
}

/// Why a call gave no answer.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No answer: refused, unresolvable, timed out.
    #[error("the operator API is not reachable ({0})")]
    Unreachable(String),
    /// The API's error answer.
    #[error("{message} ({status} {code})")]
    Refused {
        status: u16,
        code: String,
        message: String,
        fields: Vec<FieldProblem>,
    },
    /// An answer that is not the API's (a proxy's page, another service on the port).
    #[error("the operator API gave an answer the console cannot read ({0})")]
    Unreadable(u16),
}

impl ApiError {
    /// The fields the API named, if it refused the request for them.
    pub fn fields(&self) -> &[FieldProblem] {
        match self {
            ApiError::Refused { fields, .. } => fields,
            _ => &[],
        }
    }

    /// The API's message without its pointer to `fields` (the page lists them).
    pub fn headline(&self) -> String {
        match self {
            ApiError::Refused {
                status,
                code,
                message,
                ..
            } => shared::error_body::headline(*status, code, message),
            other => other.to_string(),
        }
    }
}

/// Who a token is, as `GET /v1/whoami` answers.
#[derive(Debug, Deserialize)]
pub struct Whoami {
    pub name: String,
    pub role: String,
}

/// Which deployment (Syncro account) an operator API serves, as `GET /v1/status` names it.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct Deployment {
    pub prefix: String,
    #[serde(default)]
    pub syncro_host: Option<String>,
}

/// A client of one operator API.
pub struct OperatorApi {
    /// Without a trailing `/`.
    base: String,
    token: SecretString,
    http: reqwest::Client,
}

impl OperatorApi {
    pub fn new(base: &str, token: SecretString) -> OperatorApi {
        // Building fails only without a TLS backend, which is compiled in.
        let http = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .build()
            .unwrap_or_default();
        OperatorApi {
            base: base.trim_end_matches('/').to_string(),
            token,
            http,
        }
    }

    /// `GET path?query` for `user`.
    pub async fn get<T: DeserializeOwned>(
        &self,
        user: &User,
        path: &str,
        query: &[(&str, &str)],
    ) -> Result<T, ApiError> {
        let request = self.http.get(format!("{}{path}", self.base)).query(query);
        self.call(request, &self.token, Some(user)).await
    }

    /// `POST path` for `user`, with a JSON body unless `None`.
    pub async fn post<T: DeserializeOwned>(
        &self,
        user: &User,
        path: &str,
        body: Option<&Value>,
    ) -> Result<T, ApiError> {
        let mut request = self.http.post(format!("{}{path}", self.base));
        if let Some(body) = body {
            request = request.json(body);
        }
        self.call(request, &self.token, Some(user)).await
    }

    /// `PUT path` for `user`, with a JSON body.
    pub async fn put<T: DeserializeOwned>(
        &self,
        user: &User,
        path: &str,
        body: &Value,
    ) -> Result<T, ApiError> {
        let request = self.http.put(format!("{}{path}", self.base)).json(body);
        self.call(request, &self.token, Some(user)).await
    }

    /// `DELETE path` for `user`.
    pub async fn delete<T: DeserializeOwned>(
        &self,
        user: &User,
        path: &str,
    ) -> Result<T, ApiError> {
        let request = self.http.delete(format!("{}{path}", self.base));
        self.call(request, &self.token, Some(user)).await
    }

    /// Who `token` is (a token sign-in); the token is used for this call only.
    pub async fn whoami(&self, token: &SecretString) -> Result<Whoami, ApiError> {
        let request = self.http.get(format!("{}/v1/whoami", self.base));
        self.call(request, token, None).await
    }

    /// Whether the operator API answers its health check (the overview's first line).
    pub async fn healthy(&self) -> bool {
        let url = format!("{}/healthz", self.base);
        matches!(self.http.get(url).send().await, Ok(r) if r.status().is_success())
    }

    async fn call<T: DeserializeOwned>(
        &self,
        request: reqwest::RequestBuilder,
        token: &SecretString,
        user: Option<&User>,
    ) -> Result<T, ApiError> {
        let mut request = request.bearer_auth(token.expose_secret());
        if let Some(user) = user {
            request = request.header(ON_BEHALF_OF, &user.name);
        }
        let result = Self::answer(request).await;
        if let Err(e @ (ApiError::Unreachable(_) | ApiError::Unreadable(_))) = &result {
            // What an operator needs to fix the console's side; the request's path and query
            // are not logged (a trail search names organizations), nor, ever, the token.
            tracing::warn!(error = %e, "the operator API call failed");
        }
        result
    }

    async fn answer<T: DeserializeOwned>(request: reqwest::RequestBuilder) -> Result<T, ApiError> {
        let response = request.send().await.map_err(|e| unreachable(&e))?;
        let status = response.status().as_u16();
        let bytes = response.bytes().await.map_err(|e| unreachable(&e))?;
        if (200..300).contains(&status) {
            return serde_json::from_slice(&bytes).map_err(|_| ApiError::Unreadable(status));
        }
        match Refused::<FieldProblem>::parse(&bytes) {
            Some(refused) => Err(ApiError::Refused {
                status,
                code: refused.code,
                message: refused.message,
                fields: refused.fields,
            }),
            None => Err(ApiError::Unreadable(status)),
        }
    }
}

/// The innermost cause ("Connection refused"), never the URL with its query.
fn unreachable(error: &reqwest::Error) -> ApiError {
    if error.is_timeout() {
        return ApiError::Unreachable(format!("no answer within {} s", TIMEOUT.as_secs()));
    }
    ApiError::Unreachable(root_cause(error))
}
