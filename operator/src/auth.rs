//! Who may call the API: bearer tokens from two environment variables, one per role.
//!
//! Each variable holds comma-separated entries, `name:token` or a bare `token` (named
//! `operator-N`, N counting the bare entries of both variables from 1, the operate variable
//! first). The name is what the audit log records as the actor; a token never leaves this
//! module: it is kept only as an HMAC-SHA256 digest under a key drawn at start, and a
//! presented token is compared digest to digest with a constant-time comparison against
//! every entry, so neither the time taken nor the log tells which bytes or which entry were
//! close.
//!
//! Roles: `read` may call every `GET`; `operate` may also change things; `console` (tokens
//! from [`CONSOLE_TOKENS_ENV`], held by the web console only) may operate and may also name
//! the person it acts for in [`ON_BEHALF_OF`]: the caller is then `<person> via <token name>`,
//! which is what the audit log records. The header from any other token is refused (403):
//! only a client that signs its people in itself may speak for them. Handlers ask for
//! [`Reader`] or [`Operator`] as their first argument, so the check runs before the body is
//! read.

use crate::error::ApiError;
use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpRequest};
use hmac::{Hmac, Mac};
use opstate::store::Actor;
use rand::RngCore;
use sha2::Sha256;
use shared::config::{EnvLookup, OperatorSettings};
use std::future::{ready, Ready};

type HmacSha256 = Hmac<Sha256>;

/// What a token allows; each includes the ones before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    Read,
    Operate,
    /// The web console's own token: operate, and act on behalf of a signed-in person.
    Console,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Read => "read",
            Role::Operate => "operate",
            Role::Console => "console",
        }
    }
}

/// The environment variable holding the console's tokens (`name:token`, comma-separated),
/// beside the operate and read variables the settings name. Fixed, as the settings (in
/// `shared`) have no key for it yet.
pub const CONSOLE_TOKENS_ENV: &str = "RELAY_OPERATOR_CONSOLE_TOKENS";

/// The header a console token names its signed-in person with.
pub const ON_BEHALF_OF: &str = "x-relay-on-behalf-of";

/// Shortest token accepted: a guessable token is no authentication.
pub const MIN_TOKEN_LEN: usize = 16;

/// One configured token.
struct Entry {
    /// The operator's name: the audit actor and the `operator` field of log lines.
    name: String,
    role: Role,
    /// HMAC-SHA256 of the token under [`Tokens::key`]; the token itself is not kept.
    digest: [u8; 32],
}

/// The configured tokens.
pub struct Tokens {
    /// Drawn at start: digests from one run are worthless to another, and an attacker
    /// cannot choose what is compared.
    key: [u8; 32],
    entries: Vec<Entry>,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokens")
            .field(
                "names",
                &self.entries.iter().map(|e| &e.name).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

impl Tokens {
    /// Reads the two variables the settings name; every problem at once, naming entries by
    /// position and never quoting a token.
    pub fn from_env(settings: &OperatorSettings, env: EnvLookup) -> Result<Tokens, Vec<String>> {
        let mut key = [0u8; 32];
        rand::rng().fill_bytes(&mut key);
        let mut tokens = Tokens {
            key,
            entries: Vec::new(),
        };
        let mut problems = Vec::new();
        let mut bare = 0;
        let mut seen: Vec<(String, [u8; 32])> = Vec::new();
        let console_var = CONSOLE_TOKENS_ENV.to_string();
        for (var, role) in [
            (&settings.operate_tokens_env, Role::Operate),
            (&settings.read_tokens_env, Role::Read),
            (&console_var, Role::Console),
        ] {
            let Some(value) = env(var) else { continue };
            for (i, raw) in value.split(',').map(str::trim).enumerate() {
                let at = format!("{var}: entry #{}", i + 1);
                if raw.is_empty() {
                    continue;
                }
                let (name, token) = match raw.split_once(':') {
                    Some((name, token)) => (name.trim().to_string(), token.trim()),
                    None => {
                        bare += 1;
                        (format!("operator-{bare}"), raw)
                    }
                };
                if !valid_name(&name) {
                    problems.push(format!(
                        "{at}: the name before ':' must be 1 to 64 letters, digits, '.', '_', '-' or '@'"
                    ));
                    continue;
                }
                if token.len() < MIN_TOKEN_LEN {
                    problems.push(format!(
                        "{at} ({name}): the token is shorter than {MIN_TOKEN_LEN} characters"
                    ));
                    continue;
                }
                let digest = tokens.digest(token);
                if let Some((other, _)) = seen.iter().find(|(_, d)| *d == digest) {
                    problems.push(format!(
                        "{at} ({name}): the same token is already given to {other}"
                    ));
                    continue;
                }
                if seen.iter().any(|(n, _)| *n == name) {
                    problems.push(format!(
                        "{at}: the name {name} is used twice; the audit log could not tell them apart"
                    ));
                    continue;
                }
                seen.push((name.clone(), digest));
                tokens.entries.push(Entry { name, role, digest });
            }
        }
        if problems.is_empty() && tokens.entries.is_empty() {
            problems.push(format!(
                "operator: no token configured; set {} (name:token, comma-separated) and/or {}",
                settings.operate_tokens_env, settings.read_tokens_env
            ));
        }
        if problems.is_empty() {
            Ok(tokens)
        } else {
            Err(problems)
        }
    }

    fn digest(&self, token: &str) -> [u8; 32] {
        self.mac(token).finalize().into_bytes().into()
    }

    fn mac(&self, token: &str) -> HmacSha256 {
        // HMAC takes a key of any length: this cannot fail.
        let mut mac = HmacSha256::new_from_slice(&self.key).unwrap_or_else(|_| unreachable!());
        mac.update(token.as_bytes());
        mac
    }

    /// The entry a presented token belongs to: every entry is compared (in constant time),
    /// whichever matches.
    fn find(&self, token: &str) -> Option<(&str, Role)> {
        let mac = self.mac(token);
        let mut found = None;
        for entry in &self.entries {
            if mac.clone().verify_slice(&entry.digest).is_ok() {
                found = Some((entry.name.as_str(), entry.role));
            }
        }
        found
    }

    /// The names configured, with their roles (for the start-up log line).
    pub fn names(&self) -> Vec<(String, Role)> {
        self.entries
            .iter()
            .map(|e| (e.name.clone(), e.role))
            .collect()
    }

    /// The caller behind a request's `Authorization`, if it may do what `needed` allows.
    pub fn authorize(&self, req: &HttpRequest, needed: Role) -> Result<Caller, ApiError> {
        let Some(value) = req.headers().get(header::AUTHORIZATION) else {
            return Err(ApiError::token_missing(
                "send Authorization: Bearer <token>",
            ));
        };
        let token = value
            .to_str()
            .ok()
            .and_then(|v| {
                let (scheme, token) = v.trim().split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
            })
            .filter(|t| !t.is_empty())
            .ok_or_else(|| ApiError::token_invalid("Authorization is not a Bearer token"))?;
        let Some((name, role)) = self.find(token) else {
            return Err(ApiError::token_invalid("the token is not valid"));
        };
        if role < needed {
            return Err(ApiError::forbidden(format!(
                "{name} holds a read token; this change needs an operate token"
            )));
        }
        let name = match on_behalf_of(req)? {
            None => name.to_string(),
            Some(_) if role != Role::Console => {
                return Err(ApiError::forbidden(format!(
                    "{name} may not act on behalf of someone: only a console token may send {ON_BEHALF_OF}"
                )))
            }
            Some(person) => format!("{person} via {name}"),
        };
        Ok(Caller { name, role })
    }
}

/// The person named in [`ON_BEHALF_OF`], if the header is there; a name the audit log
/// could not show plainly is refused.
fn on_behalf_of(req: &HttpRequest) -> Result<Option<String>, ApiError> {
    let Some(value) = req.headers().get(ON_BEHALF_OF) else {
        return Ok(None);
    };
    match value.to_str().map(str::trim) {
        Ok(person) if valid_name(person) => Ok(Some(person.to_string())),
        _ => Err(ApiError::forbidden(format!(
            "{ON_BEHALF_OF} must be 1 to 64 letters, digits, '.', '_', '-' or '@'"
        ))),
    }
}

fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-@".contains(&b))
}

/// An authenticated caller.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The name of the caller's token entry, or `<person> via <console token's name>`.
    pub name: String,
    pub role: Role,
}

impl Caller {
    /// The caller as the audit log names them.
    pub fn actor(&self) -> Actor {
        Actor(self.name.clone())
    }
}

fn extract(req: &HttpRequest, needed: Role) -> Result<Caller, ApiError> {
    let tokens = req
        .app_data::<web::Data<Tokens>>()
        .ok_or_else(|| ApiError::internal("the tokens are missing from the application"))?;
    tokens.authorize(req, needed)
}

/// A caller holding a read or an operate token: every `GET`.
#[derive(Debug)]
pub struct Reader(pub Caller);

impl FromRequest for Reader {
    type Error = ApiError;
    type Future = Ready<Result<Reader, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(extract(req, Role::Read).map(Reader))
    }
}

/// A caller holding an operate token: every change.
#[derive(Debug)]
pub struct Operator(pub Caller);

impl FromRequest for Operator {
    type Error = ApiError;
    type Future = Ready<Result<Operator, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(extract(req, Role::Operate).map(Operator))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn tokens(operate: &str, read: &str) -> Result<Tokens, Vec<String>> {
        with_console(operate, read, "")
    }

    fn with_console(operate: &str, read: &str, console: &str) -> Result<Tokens, Vec<String>> {
        let settings = OperatorSettings::default();
        let (operate, read) = (operate.to_string(), read.to_string());
        let console = console.to_string();
        let env = move |name: &str| match name {
            "RELAY_OPERATOR_OPERATE_TOKENS" => Some(operate.clone()),
            "RELAY_OPERATOR_READ_TOKENS" => Some(read.clone()),
            CONSOLE_TOKENS_ENV => Some(console.clone()),
            _ => None,
        };
        Tokens::from_env(&settings, &env)
    }

    fn call(
        tokens: &Tokens,
        authorization: Option<&str>,
        needed: Role,
    ) -> Result<Caller, ApiError> {
        call_for(tokens, authorization, None, needed)
    }

    fn call_for(
        tokens: &Tokens,
        authorization: Option<&str>,
        person: Option<&str>,
        needed: Role,
    ) -> Result<Caller, ApiError> {
        let mut req = TestRequest::default();
        if let Some(value) = authorization {
            req = req.insert_header((header::AUTHORIZATION, value));
        }
        if let Some(person) = person {
            req = req.insert_header((ON_BEHALF_OF, person));
        }
        tokens.authorize(&req.to_http_request(), needed)
    }

    const ALICE: &str = "alice-operate-token-000000";
    const BOB: &str = "bob-read-token-0000000000";
    const CONSOLE: &str = "console-token-000000000000";

    #[test]
    fn only_a_console_token_may_act_on_behalf_of_a_person() -> Result<(), Vec<String>> {
        let tokens = with_console(
            &format!("alice:{ALICE}"),
            &format!("bob:{BOB}"),
            &format!("console:{CONSOLE}"),
        )?;
        let console = format!("Bearer {CONSOLE}");
        let caller = call_for(&tokens, Some(&console), Some("dana"), Role::Operate)
            .map_err(|e| vec![e.to_string()])?;
        assert_eq!(caller.name, "dana via console");
        assert_eq!(caller.role, Role::Console);
        let alone = call_for(&tokens, Some(&console), None, Role::Operate)
            .map_err(|e| vec![e.to_string()])?;
        assert_eq!(alone.name, "console");
        for (token, person) in [
            (ALICE, "dana"),
            (BOB, "dana"),
            (CONSOLE, "da na"),
            (CONSOLE, ""),
        ] {
            let bearer = format!("Bearer {token}");
            let code = call_for(&tokens, Some(&bearer), Some(person), Role::Read)
                .err()
                .map(|e| e.code);
            assert_eq!(code, Some("forbidden"), "{person:?}");
        }
        Ok(())
    }

    #[test]
    fn a_named_operate_token_may_read_and_operate_as_its_name() -> Result<(), Vec<String>> {
        let tokens = tokens(&format!("alice:{ALICE}"), &format!("bob:{BOB}"))?;
        let bearer = format!("Bearer {ALICE}");
        for needed in [Role::Read, Role::Operate] {
            let caller = call(&tokens, Some(&bearer), needed).map_err(|e| vec![e.to_string()])?;
            assert_eq!(caller.name, "alice");
        }
        Ok(())
    }

    #[test]
    fn a_read_token_is_forbidden_to_operate_but_may_read() -> Result<(), Vec<String>> {
        let tokens = tokens(&format!("alice:{ALICE}"), &format!("bob:{BOB}"))?;
        let bearer = format!("bearer {BOB}");
        let err = call(&tokens, Some(&bearer), Role::Operate)
            .err()
            .map(|e| e.code);
        assert_eq!(err, Some("forbidden"));
        let caller = call(&tokens, Some(&bearer), Role::Read).map_err(|e| vec![e.to_string()])?;
        assert_eq!(caller.name, "bob");
        Ok(())
    }

    #[test]
    fn missing_malformed_and_wrong_tokens_are_told_apart() -> Result<(), Vec<String>> {
        let tokens = tokens(&format!("alice:{ALICE}"), "")?;
        let code = |auth: Option<&str>| call(&tokens, auth, Role::Read).err().map(|e| e.code);
        assert_eq!(code(None), Some("token_missing"));
        assert_eq!(code(Some("Basic YWxpY2U6eA==")), Some("token_invalid"));
        assert_eq!(code(Some("Bearer ")), Some("token_invalid"));
        assert_eq!(
            code(Some("Bearer alice-operate-token-000001")),
            Some("token_invalid")
        );
        assert_eq!(code(Some(ALICE)), Some("token_invalid"));
        Ok(())
    }

    #[test]
    fn bare_tokens_are_numbered_operators_operate_list_first() -> Result<(), Vec<String>> {
        let tokens = with_console(ALICE, BOB, &format!("console:{CONSOLE}"))?;
        let names = tokens.names();
        assert_eq!(
            names,
            vec![
                ("operator-1".to_string(), Role::Operate),
                ("operator-2".to_string(), Role::Read),
                ("console".to_string(), Role::Console)
            ]
        );
        Ok(())
    }

    #[test]
    fn every_problem_is_reported_and_no_token_is_quoted() {
        let problems = tokens(
            &format!("alice:q7zx, bad name:{ALICE}, carol:{BOB}"),
            &format!("bob:{BOB}, alice:{ALICE}"),
        )
        .err()
        .unwrap_or_default();
        assert_eq!(problems.len(), 3, "{problems:#?}");
        let all = problems.join("\n");
        assert!(
            all.contains("entry #1 (alice)") && all.contains("shorter"),
            "{all}"
        );
        assert!(
            all.contains("entry #2") && all.contains("name before ':'"),
            "{all}"
        );
        assert!(all.contains("already given to carol"), "{all}");
        for secret in ["q7zx", ALICE, BOB] {
            assert!(!all.contains(secret), "a token is quoted: {all}");
        }
    }

    #[test]
    fn no_token_at_all_is_a_problem() {
        let problems = tokens("", " , ").err().unwrap_or_default();
        assert_eq!(problems.len(), 1);
        assert!(problems[0].contains("no token configured"));
    }
}
