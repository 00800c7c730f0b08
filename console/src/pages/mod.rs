//! The pages, one file per page family, and what they share: the layout (landmarks, the
//! navigation, the account, the sign-out form), the answer of a page, and [`PageError`],
//! every refusal as a small page of its own.
//!
//! Pages are maud templates: every value written into them is HTML-escaped by maud, so an
//! alert's field holding markup or script shows as text. Nothing is written with
//! `PreEscaped`; no page has inline script or style (the Content-Security-Policy forbids
//! both).
//!
//! - [`sign_in`]: the sign-in (password or operator token) and sign-out.
//! - [`overview`]: the fleet at a glance, pause and resume; [`activity`]: its last 24 hours
//!   as a chart and the busiest lists.
//! - [`mapping`]: the mapping wizard: organizations without a mapping, suggestions, the
//!   console's and the file's mappings, the Syncro customers.
//! - [`silences`]: list, create, extend, expire.
//! - [`dead_letters`]: counts, filters, the list, one letter in full, replay (dry run
//!   first) and purge (confirmed first).
//! - [`trail`]: an alert's, an organization's or a ticket's steps.
//! - [`configuration`]: the effective configuration, readable, and explain an alert.
//! - [`billing`]: the billable-user sync's preview and this month's outcomes (read-only).
//! - [`audit`]: who did what.

pub mod activity;
pub mod audit;
pub mod billing;
pub mod configuration;
pub mod dead_letters;
pub mod mapping;
pub mod overview;
pub mod sign_in;
pub mod silences;
pub mod trail;

use crate::session::Signed;
use crate::state::{Account, AppState};
use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use chrono::{DateTime, Utc};
use maud::{html, Markup, DOCTYPE};
use std::fmt;

/// Which navigation entry is the current page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    Overview,
    Mapping,
    Silences,
    DeadLetters,
    Trail,
    Configuration,
    Billing,
    Audit,
    None,
}

const NAV: [(Nav, &str, &str); 8] = [
    (Nav::Overview, "/", "Overview"),
    (Nav::Mapping, "/mapping", "Mapping"),
    (Nav::Silences, "/silences", "Silences"),
    (Nav::DeadLetters, "/dead-letters", "Dead letters"),
    (Nav::Trail, "/trail", "Trail"),
    (Nav::Configuration, "/configuration", "Configuration"),
    (Nav::Billing, "/billing", "Billing"),
    (Nav::Audit, "/audit", "Audit log"),
];

/// Which account a page is of: named in its header, carried by its links and forms.
#[derive(Debug, Clone)]
pub struct Place {
    /// The account's label: checked at start to need no escaping in an address.
    pub label: String,
    /// `label (prefix, Syncro host)`, as far as known.
    pub title: String,
    /// Every account's label when several are served (the selector); empty with one.
    pub all: Vec<String>,
}

impl Place {
    /// The place of `account` for `signed` (its prefix and host asked once, then remembered).
    pub async fn of(state: &AppState, account: &Account, signed: &Signed) -> Place {
        let deployment = account.described(&signed.user).await;
        Place::known(state, account, deployment.as_ref())
    }

    /// The place of `account`, named by `deployment` when known.
    pub fn known(
        state: &AppState,
        account: &Account,
        deployment: Option<&crate::api::Deployment>,
    ) -> Place {
        let all = if state.several() {
            state.accounts.iter().map(|a| a.label.clone()).collect()
        } else {
            Vec::new()
        };
        Place {
            label: account.label.clone(),
            title: Account::title(deployment, &account.label),
            all,
        }
    }

    /// `path` as an address of this account: with `account=label` when several are served.
    pub fn href(&self, path: &str) -> String {
        if self.all.is_empty() {
            return path.to_string();
        }
        let join = if path.contains('?') { '&' } else { '?' };
        format!("{path}{join}account={}", self.label)
    }

    /// A notice, saying which account it is of when several are served.
    pub fn notice(&self, text: Option<&str>) -> Option<String> {
        let text = text?;
        Some(if self.all.is_empty() {
            text.to_string()
        } else {
            format!("{text} Account: {}.", self.title)
        })
    }
}

/// The header's account: its name, and links to the same page of each account.
fn accounts(place: &Place, nav: Nav) -> Markup {
    let path = NAV
        .iter()
        .find(|(entry, _, _)| *entry == nav)
        .map_or("/", |(_, href, _)| *href);
    html! {
        div.account {
            span { "Account: " strong { (place.title) } }
            @if !place.all.is_empty() {
                nav aria-label="Accounts" {
                    ul {
                        @for label in &place.all {
                            li {
                                a href={ (path) "?account=" (label) } aria-current=[(*label == place.label).then_some("true")] { (label) }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The page around `body`: a skip link, the header with the navigation, the account and who
/// is signed in, `main` with the title.
pub fn layout(title: &str, signed: Option<(&Signed, &Place)>, nav: Nav, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · alert-relay console" }
                link rel="stylesheet" href="/assets/console.css";
            }
            body {
                a.skip href="#main" { "Skip to the content" }
                header.top {
                    span.brand { "alert-relay" }
                    @if let Some((signed, place)) = signed {
                        nav aria-label="Main" {
                            ul {
                                @for (entry, href, label) in NAV {
                                    li {
                                        a href=(place.href(href)) aria-current=[(entry == nav).then_some("page")] { (label) }
                                    }
                                }
                            }
                        }
                        (accounts(place, nav))
                        div.who {
                            span { (signed.user.name) " · " (signed.user.role.as_str()) }
                            form method="post" action="/sign-out" {
                                input type="hidden" name="csrf" value=(signed.csrf);
                                button.link type="submit" { "Sign out" }
                            }
                        }
                    }
                }
                main id="main" tabindex="-1" {
                    h1 { (title) }
                    (body)
                }
            }
        }
    }
}

/// A page answer: HTML, never cached (it shows the fleet's state and carries a CSRF token).
pub fn page(status: StatusCode, markup: Markup) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::CONTENT_TYPE, "text/html; charset=utf-8"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(markup.into_string())
}

/// 303 to `to` (after a POST, so a reload does not repeat it).
pub fn see_other(to: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, to))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish()
}

/// A notice after a change, chosen by a fixed key of the query (`?done=created`): nothing
/// the address carries is written into the page.
pub fn notice(done: Option<&str>) -> Option<&'static str> {
    Some(match done? {
        "created" => "The silence was created.",
        "extended" => "The silence was extended.",
        "expired" => "The silence was expired.",
        "paused" => "The workers are paused: alerts wait in RabbitMQ until resumed.",
        "resumed" => "The workers are resumed.",
        _ => return None,
    })
}

/// A notice block (`role=status`, so screen readers announce it).
pub fn notice_block(text: Option<&str>) -> Markup {
    html! {
        @if let Some(text) = text {
            p.notice role="status" { (text) }
        }
    }
}

/// An error block for a failed call (`role=alert`).
pub fn error_block(text: Option<&str>) -> Markup {
    html! {
        @if let Some(text) = text {
            p.error role="alert" { (text) }
        }
    }
}

/// A time as people read it: `2026-05-01 10:00:00 UTC`.
pub fn when(at: &DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// Why a page could not be shown.
#[derive(Debug)]
pub enum PageError {
    /// Not signed in: a `GET` goes to the sign-in (and back to `next`), anything else 401.
    SignIn {
        get: bool,
        next: String,
    },
    /// 403: the CSRF token, the origin, or the role.
    Forbidden(String),
    BadRequest(String),
    NotFound,
    /// Our fault; the cause goes to the log, not the page.
    Internal(String),
}

impl fmt::Display for PageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PageError::SignIn { .. } => f.write_str("sign in first"),
            PageError::Forbidden(why) | PageError::BadRequest(why) => f.write_str(why),
            PageError::NotFound => f.write_str("no such page"),
            PageError::Internal(_) => f.write_str("something went wrong in the console"),
        }
    }
}

/// Whether `next` is a path of this console (not `//host`, not a scheme): where a sign-in
/// may send the browser back to.
pub fn local_path(next: &str) -> bool {
    next.starts_with('/')
        && !next.starts_with("//")
        && !next.contains('\\')
        && next.chars().all(|c| c.is_ascii_graphic())
}

impl ResponseError for PageError {
    fn status_code(&self) -> StatusCode {
        match self {
            PageError::SignIn { get: true, .. } => StatusCode::SEE_OTHER,
            PageError::SignIn { get: false, .. } => StatusCode::UNAUTHORIZED,
            PageError::Forbidden(_) => StatusCode::FORBIDDEN,
            PageError::BadRequest(_) => StatusCode::BAD_REQUEST,
            PageError::NotFound => StatusCode::NOT_FOUND,
            PageError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            PageError::SignIn { get: true, next } => {
                let to = if local_path(next) && next != "/" {
                    let encoded: String =
                        form_urlencoded::byte_serialize(next.as_bytes()).collect();
                    format!("/sign-in?next={encoded}")
                } else {
                    "/sign-in".to_string()
                };
                see_other(&to)
            }
            other => {
                if let PageError::Internal(cause) = other {
                    tracing::error!(cause, "console page failed");
                }
                let title = match other {
                    PageError::SignIn { .. } => "Sign in first",
                    PageError::Forbidden(_) => "Not allowed",
                    PageError::BadRequest(_) => "Bad request",
                    PageError::NotFound => "Not found",
                    PageError::Internal(_) => "Console error",
                };
                let body = html! {
                    p.error role="alert" { (other.to_string()) }
                    p { a href="/" { "Back to the overview" } }
                };
                page(self.status_code(), layout(title, None, Nav::None, body))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_carry_the_account_only_when_several_are_served() {
        let mut place = Place {
            label: "northwind".into(),
            title: "northwind (acct-nw, nw.syncromsp.com)".into(),
            all: Vec::new(),
        };
        assert_eq!(place.href("/silences?all=true"), "/silences?all=true");
        assert_eq!(
            place.notice(Some("Done.")).as_deref(),
            Some("Done."),
            "one account: nothing added"
        );
        place.all = vec!["default".into(), "northwind".into()];
        assert_eq!(place.href("/silences"), "/silences?account=northwind");
        assert_eq!(
            place.href("/?done=paused"),
            "/?done=paused&account=northwind"
        );
        assert_eq!(
            place.notice(Some("Done.")).as_deref(),
            Some("Done. Account: northwind (acct-nw, nw.syncromsp.com).")
        );
    }

    #[test]
    fn a_sign_in_returns_only_to_a_path_of_this_console() {
        for ok in ["/", "/silences", "/trail?alert=a-1"] {
            assert!(local_path(ok), "{ok}");
        }
        for bad in [
            "//evil.example",
            "https://evil.example",
            "/\\evil",
            "silences",
            "/a b",
            "",
        ] {
            assert!(!local_path(bad), "{bad}");
        }
    }
}
