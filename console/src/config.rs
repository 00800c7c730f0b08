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

/// More accounts (Syncro deployments), each its own operator API: comma-separated
/// `label=URL`; each label's token from [`TOKEN_ENV`]`_<LABEL>` (uppercased, every other
/// character than a letter or digit as `_`), or else [`TOKEN_ENV`].
pub const ACCOUNTS_ENV: &str = "RELAY_CONSOLE_ACCOUNTS";
/// The label of the account of [`OPERATOR_URL_ENV`] (the default account).
pub const DEFAULT_LABEL: &str = "default";
/// Longest label: it is shown in the header and carried in addresses (`?account=`).
const MAX_LABEL: usize = 32;

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

/// One account the console serves: one deployment (prefix) and its operator API.
#[derive(Debug)]
pub struct AccountConfig {
    /// What the console calls it: in the header, the selector and `?account=`; letters,
    /// digits, `.`, `_`, `-`.
    pub label: String,
    /// The operator API, without a trailing `/`.
    pub operator_url: String,
    /// Sent to that operator API only; never shown, logged or put in a page.
    pub operator_token: SecretString,
}

/// The console's settings.
#[derive(Debug)]
pub struct ConsoleConfig {
    pub listen: String,
    /// The default account (`RELAY_OPERATOR_URL` and the console token) first, then those of
    /// `RELAY_CONSOLE_ACCOUNTS` in their order; never empty.
    pub accounts: Vec<AccountConfig>,
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
        let mut accounts = vec![AccountConfig {
            label: DEFAULT_LABEL.to_string(),
            operator_url,
            operator_token: operator_token.clone(),
        }];
        if let Some(list) = get(ACCOUNTS_ENV) {
            let default_token = get(TOKEN_ENV).map(SecretString::from);
            accounts.extend(more_accounts(&list, default_token, &get, &mut problems));
        }
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
                accounts,
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

/// The variable holding `label`'s token: `RELAY_CONSOLE_OPERATOR_TOKEN_<LABEL>`.
pub fn token_env_of(label: &str) -> String {
    let suffix: String = label
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    format!("{TOKEN_ENV}_{suffix}")
}

fn valid_label(label: &str) -> bool {
    (1..=MAX_LABEL).contains(&label.len())
        && label
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

/// The accounts of `RELAY_CONSOLE_ACCOUNTS` (`label=URL,...`), every problem noted; a
/// problem names the entry by its label or position, never a token.
fn more_accounts(
    list: &str,
    default_token: Option<SecretString>,
    get: &dyn Fn(&str) -> Option<String>,
    problems: &mut Vec<String>,
) -> Vec<AccountConfig> {
    let mut accounts = Vec::new();
    let mut labels = vec![DEFAULT_LABEL.to_string()];
    let mut token_vars: Vec<(String, String)> = Vec::new();
    for (n, entry) in list.split(',').map(str::trim).enumerate() {
        let n = n + 1;
        if entry.is_empty() {
            problems.push(format!("{ACCOUNTS_ENV}: entry #{n} is empty"));
            continue;
        }
        let Some((label, url)) = entry.split_once('=') else {
            problems.push(format!(
                "{ACCOUNTS_ENV}: entry #{n}: expected label=URL, like contoso=http://127.0.0.1:8091"
            ));
            continue;
        };
        let (label, url) = (label.trim(), url.trim().trim_end_matches('/'));
        let mut ok = true;
        if !valid_label(label) {
            problems.push(format!(
                "{ACCOUNTS_ENV}: entry #{n}: the label must be 1 to {MAX_LABEL} letters, digits, '.', '_' or '-'"
            ));
            ok = false;
        } else if labels.iter().any(|l| l.eq_ignore_ascii_case(label)) {
            problems.push(format!(
                "{ACCOUNTS_ENV}: the label {label:?} is used twice (\"{DEFAULT_LABEL}\" is the account of {OPERATOR_URL_ENV})"
            ));
            ok = false;
        }
        if !is_http_url(url) {
            problems.push(format!(
                "{ACCOUNTS_ENV}: entry #{n} ({label}): expected an http(s) URL like http://127.0.0.1:8091"
            ));
            ok = false;
        }
        if !ok {
            continue;
        }
        let var = token_env_of(label);
        if let Some((other, _)) = token_vars.iter().find(|(_, v)| *v == var) {
            problems.push(format!(
                "{ACCOUNTS_ENV}: the labels {other:?} and {label:?} would share the token variable {var}"
            ));
            continue;
        }
        token_vars.push((label.to_string(), var.clone()));
        labels.push(label.to_string());
        let token = get(&var).map(SecretString::from).or(default_token.clone());
        let Some(operator_token) = token else {
            problems.push(format!(
                "{ACCOUNTS_ENV}: the account {label:?} has no token: set {var} (or {TOKEN_ENV})"
            ));
            continue;
        };
        accounts.push(AccountConfig {
            label: label.to_string(),
            operator_url: url.to_string(),
            operator_token,
        });
    }
    accounts
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

    #[test]
    fn more_accounts_each_with_its_token_or_the_default_one() {
        let env = |name: &str| match name {
            TOKEN_ENV => Some("console-token-0123456789".to_string()),
            ACCOUNTS_ENV => Some(
                "contoso=http://127.0.0.1:8091/, north-wind=https://relay.example.com/nw"
                    .to_string(),
            ),
            "RELAY_CONSOLE_OPERATOR_TOKEN_NORTH_WIND" => {
                Some("northwind-token-0123456789".to_string())
            }
            _ => None,
        };
        let config = ConsoleConfig::from_env(&env).map_err(|p| p.join("; "));
        let accounts: Result<Vec<(String, String, String)>, String> = config.map(|c| {
            c.accounts
                .iter()
                .map(|a| {
                    (
                        a.label.clone(),
                        a.operator_url.clone(),
                        secrecy::ExposeSecret::expose_secret(&a.operator_token).to_string(),
                    )
                })
                .collect()
        });
        let expected = [
            (
                "default",
                "http://127.0.0.1:8081",
                "console-token-0123456789",
            ),
            (
                "contoso",
                "http://127.0.0.1:8091",
                "console-token-0123456789",
            ),
            (
                "north-wind",
                "https://relay.example.com/nw",
                "northwind-token-0123456789",
            ),
        ]
        .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
        .to_vec();
        assert_eq!(accounts, Ok(expected));
    }

    #[test]
    fn bad_accounts_are_every_one_reported_without_a_token() {
        let env = |name: &str| {
            match name {
            ACCOUNTS_ENV => Some(
                "a=ftp://x, a=http://127.0.0.1:1, b c=http://127.0.0.1:2, x-y=http://h:1, x_y=http://h:2, nothing"
                    .to_string(),
            ),
            "RELAY_CONSOLE_OPERATOR_TOKEN_X_Y" => Some("secret-token-0123456789".to_string()),
            _ => None,
        }
        };
        let problems = ConsoleConfig::from_env(&env).err().unwrap_or_default();
        let text = problems.join("\n");
        for expected in [
            "RELAY_CONSOLE_OPERATOR_TOKEN is not set",
            "entry #1 (a): expected an http(s) URL",
            "the account \"a\" has no token",
            "entry #3: the label must be",
            "would share the token variable",
            "entry #6: expected label=URL",
        ] {
            assert!(text.contains(expected), "{expected}: {text}");
        }
        assert!(!text.contains("secret-token"), "{text}");
        // The first "a" was refused for its URL, so the second is not a duplicate.
        let env = |name: &str| match name {
            TOKEN_ENV => Some("console-token-0123456789".to_string()),
            ACCOUNTS_ENV => Some("a=http://h:1, A=http://h:2, default=http://h:3".to_string()),
            _ => None,
        };
        let problems = ConsoleConfig::from_env(&env).err().unwrap_or_default();
        assert_eq!(problems.len(), 2, "{problems:#?}");
        assert!(problems.iter().all(|p| p.contains("used twice")));
    }
}
