//! What the console is told by its environment, checked at start with every problem
//! reported together. The console reads no configuration file: it is a client of the operator
//! API, and everything it needs is where that API is, its own token, its accounts and a few
//! choices about cookies and links.

use crate::users::Users;
use secrecy::SecretString;
use std::time::Duration;

/// Where the console listens (default `127.0.0.1:8082`).
pub const ADDR_ENV: &str = "RELAY_CONSOLE_ADDR";
/// Base URL of the operator API (default `http://127.0.0.1:8081`), as relayctl reads it.
pub const OPERATOR_URL_ENV: &str = "RELAY_OPERATOR_URL";
/// The console's own token of the operator API: an entry of `RELAY_OPERATOR_CONSOLE_TOKENS`.
pub const TOKEN_ENV: &str = "RELAY_CONSOLE_OPERATOR_TOKEN";
/// The accounts, `name:role:$argon2id$...`, separated by spaces, newlines or `;`.
pub const USERS_ENV: &str = "RELAY_CONSOLE_USERS";
/// `auto` (default: Secure when the request came over https), `always` or `never`.
pub const SECURE_COOKIES_ENV: &str = "RELAY_CONSOLE_SECURE_COOKIES";
/// Minutes without a request after which a session ends (default 30).
pub const IDLE_MINUTES_ENV: &str = "RELAY_CONSOLE_IDLE_MINUTES";
/// A Syncro ticket's address, with `{id}` and/or `{number}`, e.g.
/// `https://acme.syncromsp.com/tickets/{id}`; unset: ticket numbers are shown without a link.
pub const TICKET_URL_ENV: &str = "RELAY_CONSOLE_TICKET_URL";

/// Longest idle time accepted: a console left signed in for days is an unlocked door.
const MAX_IDLE_MINUTES: u64 = 24 * 60;

/// When a session cookie carries `Secure`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecureCookies {
    /// When the request came over https (directly or as a proxy's `X-Forwarded-Proto` says).
    Auto,
    Always,
    Never,
}

/// The console's settings.
#[derive(Debug)]
pub struct ConsoleConfig {
    pub listen: String,
    /// Without a trailing `/`.
    pub operator_url: String,
    /// Sent to the operator API only; never shown, logged or put in a page.
    pub operator_token: SecretString,
    pub users: Users,
    pub secure_cookies: SecureCookies,
    pub idle: Duration,
    pub ticket_url: Option<String>,
}

/// How the console reads a variable (the process environment, or a test's map).
pub type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

impl ConsoleConfig {
    /// Reads and checks every variable; every problem at once, never quoting a secret.
    pub fn from_env(env: Env) -> Result<ConsoleConfig, Vec<String>> {
        let mut problems = Vec::new();
        let get = |name: &str| {
            env(name)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let listen = get(ADDR_ENV).unwrap_or_else(|| "127.0.0.1:8082".into());
        if listen.parse::<std::net::SocketAddr>().is_err() {
            problems.push(format!(
                "{ADDR_ENV} {listen:?}: expected an address like 127.0.0.1:8082"
            ));
        }
        let operator_url = get(OPERATOR_URL_ENV)
            .unwrap_or_else(|| "http://127.0.0.1:8081".into())
            .trim_end_matches('/')
            .to_string();
        if !is_http_url(&operator_url) {
            problems.push(format!(
                "{OPERATOR_URL_ENV}: expected an http(s) URL like http://127.0.0.1:8081"
            ));
        }
        let operator_token = match get(TOKEN_ENV) {
            Some(token) => SecretString::from(token),
            None => {
                problems.push(format!(
                    "{TOKEN_ENV} is not set: the console needs a console token of the operator API (an entry of RELAY_OPERATOR_CONSOLE_TOKENS)"
                ));
                SecretString::from(String::new())
            }
        };
        let users = match Users::parse(&get(USERS_ENV).unwrap_or_default()) {
            Ok(users) => users,
            Err(p) => {
                problems.extend(p.into_iter().map(|p| format!("{USERS_ENV}: {p}")));
                Users::default()
            }
        };
        let secure_cookies = match get(SECURE_COOKIES_ENV).as_deref() {
            None | Some("auto") => SecureCookies::Auto,
            Some("always") | Some("true") => SecureCookies::Always,
            Some("never") | Some("false") => SecureCookies::Never,
            Some(other) => {
                problems.push(format!(
                    "{SECURE_COOKIES_ENV} {other:?}: expected auto, always or never"
                ));
                SecureCookies::Auto
            }
        };
        let idle = match get(IDLE_MINUTES_ENV).map(|v| v.parse::<u64>()) {
            None => 30,
            Some(Ok(m)) if (1..=MAX_IDLE_MINUTES).contains(&m) => m,
            Some(_) => {
                problems.push(format!(
                    "{IDLE_MINUTES_ENV}: expected a whole number of minutes from 1 to {MAX_IDLE_MINUTES}"
                ));
                30
            }
        };
        let ticket_url = get(TICKET_URL_ENV);
        if let Some(url) = &ticket_url {
            if !is_http_url(url) || !(url.contains("{id}") || url.contains("{number}")) {
                problems.push(format!(
                    "{TICKET_URL_ENV}: expected an http(s) address holding {{id}} or {{number}}, like https://acme.syncromsp.com/tickets/{{id}}"
                ));
            }
        }
        if problems.is_empty() {
            Ok(ConsoleConfig {
                listen,
                operator_url,
                operator_token,
                users,
                secure_cookies,
                idle: Duration::from_secs(idle * 60),
                ticket_url,
            })
        } else {
            Err(problems)
        }
    }
}

fn is_http_url(url: &str) -> bool {
    let lower = url.to_ascii_lowercase();
    (lower.starts_with("http://") || lower.starts_with("https://"))
        && reqwest::Url::parse(url).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_problem_is_reported_and_the_token_never_quoted() {
        let env = |name: &str| match name {
            ADDR_ENV => Some("nowhere".to_string()),
            OPERATOR_URL_ENV => Some("ftp://x".to_string()),
            USERS_ENV => Some("dana:boss:$argon2id$x".to_string()),
            SECURE_COOKIES_ENV => Some("sometimes".to_string()),
            IDLE_MINUTES_ENV => Some("0".to_string()),
            TICKET_URL_ENV => Some("javascript:alert(1)".to_string()),
            _ => None,
        };
        let problems = ConsoleConfig::from_env(&env).err().unwrap_or_default();
        assert_eq!(problems.len(), 7, "{problems:#?}");
    }

    #[test]
    fn defaults_need_only_the_token() {
        let env = |name: &str| (name == TOKEN_ENV).then(|| "console-token-0123456789".to_string());
        let config = ConsoleConfig::from_env(&env).map_err(|p| p.join("; "));
        let config = config
            .as_ref()
            .map(|c| (c.listen.as_str(), c.idle.as_secs()));
        assert_eq!(config, Ok(("127.0.0.1:8082", 1800)));
    }
}
