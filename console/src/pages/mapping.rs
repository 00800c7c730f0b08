//! The mapping wizard (`/mapping`): which Syncro customer each organization's alerts go to.
//!
//! Organizations seen without a mapping come first (their parked alerts, a suggested
//! customer with its reason and an "Accept" button, "Map to…" a customer of the search, and
//! "Ignore"); then the console's mappings (change, remove), the configuration file's
//! (read-only: **the file decides first**), the catch-all customer and the Syncro customers
//! with their search. Every change is the operator API's (`PUT`/`DELETE
//! /v1/mappings/{organization}`), audited as `<person> via console`; the organization travels
//! in the form's body and is percent-encoded into the API's path here.

use crate::api::ApiError;
use crate::guard::{Change, Selected, Signed};
use crate::pages::{error_block, layout, notice_block, page, see_other, Nav, PageError, Place};
use crate::state::{Account, AppState};
use crate::users::Role;
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use maud::{html, Markup};
use serde::Deserialize;
use serde_json::{json, Value};

#[derive(Deserialize)]
struct Named {
    customer_id: i64,
    customer_name: Option<String>,
}

#[derive(Deserialize)]
struct FileEntry {
    organization: String,
    customer_id: Option<i64>,
    customer_name: Option<String>,
    ignored: bool,
}

#[derive(Deserialize)]
struct ConsoleEntry {
    organization: String,
    kind: String,
    customer_id: Option<i64>,
    customer_name: Option<String>,
    set_by: String,
    set_at: DateTime<Utc>,
    overridden: bool,
}

#[derive(Deserialize)]
struct Suggestion {
    customer_id: i64,
    customer_name: String,
    reason: String,
    detail: String,
}

#[derive(Deserialize)]
struct UnmappedEntry {
    organization: String,
    name: Option<String>,
    domain: Option<String>,
    alerts: u64,
    last_seen: Option<String>,
    parked: u64,
    suggestion: Option<Suggestion>,
}

#[derive(Deserialize)]
struct Mappings {
    catch_all: Named,
    unmapped_policy: String,
    file: Vec<FileEntry>,
    console: Vec<ConsoleEntry>,
    unmapped: Vec<UnmappedEntry>,
    customers_problem: Option<String>,
}

#[derive(Deserialize)]
struct Customer {
    id: i64,
    name: String,
    email: Option<String>,
    disabled: bool,
}

#[derive(Deserialize)]
struct CustomerList {
    customers: Vec<Customer>,
    matched: usize,
    total: usize,
    read_at: DateTime<Utc>,
}

#[derive(Deserialize)]
pub struct ShowQuery {
    search: Option<String>,
    refresh: Option<String>,
    done: Option<String>,
}

/// The notice after a change (`?done=`).
fn notice(done: Option<&str>) -> Option<&'static str> {
    Some(match done? {
        "mapped" => {
            "The organization is mapped. Every worker applies it within seconds, and its parked \
             alerts are released."
        }
        "ignored" => "The organization is ignored: its alerts are acknowledged and dropped.",
        "removed" => "The console's mapping was removed.",
        _ => return None,
    })
}

/// What the rule is, said once on the page.
const RULE: &str = "The configuration file decides first: an organization its [mapping] maps \
    or ignores is decided there, and shown below as set in the configuration file. Mappings \
    made here decide every other organization. When the file later decides an organization \
    mapped here, the file wins and the mapping here is shown as overridden.";

fn customer_text(id: Option<i64>, name: Option<&str>) -> String {
    match (id, name) {
        (Some(id), Some(name)) => format!("{name} (#{id})"),
        (Some(id), None) => format!("customer #{id}"),
        (None, _) => "ignored".into(),
    }
}

/// A hidden field with the organization, and the CSRF token.
fn hidden(signed: &Signed, org: &str) -> Markup {
    html! {
        input type="hidden" name="csrf" value=(signed.csrf);
        input type="hidden" name="organization" value=(org);
    }
}

/// "Map to…": a customer of the search, then the button.
fn map_to(
    signed: &Signed,
    place: &Place,
    org: &str,
    id: &str,
    customers: &[Customer],
    button: &str,
) -> Markup {
    html! {
        form.inline method="post" action=(place.href("/mapping/set")) {
            (hidden(signed, org))
            label for=(id) { "Map to…" }
            select id=(id) name="customer_id" required {
                option value="" { "choose a customer" }
                @for c in customers {
                    option value=(c.id) { (c.name) " (#" (c.id) ")" }
                }
            }
            button type="submit" { (button) }
        }
    }
}

fn unmapped(
    signed: &Signed,
    place: &Place,
    orgs: &[UnmappedEntry],
    customers: &[Customer],
) -> Markup {
    let operate = signed.user.may(Role::Operate);
    html! {
        section aria-labelledby="unmapped" {
            h2 id="unmapped" { "Organizations without a mapping" }
            @if orgs.is_empty() { p { "None: every organization seen is mapped or ignored." } }
            div.cards {
                @for (i, o) in orgs.iter().enumerate() {
                    article aria-label={ "Organization " (o.organization) } {
                        h3 { (o.name.as_deref().unwrap_or(&o.organization)) " " code { (o.organization) } }
                        p.muted {
                            @if let Some(d) = &o.domain { (d) " · " }
                            (o.alerts) " alert(s)"
                            @if let Some(at) = &o.last_seen { " · last seen " (seen(at)) }
                            @if o.parked > 0 { " · " strong { (o.parked) " parked now" } }
                        }
                        @match &o.suggestion {
                            Some(s) => {
                                p { "Suggested: " strong { (s.customer_name) } " (#" (s.customer_id) "), by " (s.reason) ": " (s.detail) }
                                @if operate {
                                    form.inline method="post" action=(place.href("/mapping/set")) {
                                        (hidden(signed, &o.organization))
                                        input type="hidden" name="customer_id" value=(s.customer_id);
                                        button type="submit" aria-label={ "Accept " (s.customer_name) " for " (o.organization) } { "Accept" }
                                    }
                                }
                            }
                            None => p.muted { "No suggestion." },
                        }
                        @if operate {
                            div.actions {
                                (map_to(signed, place, &o.organization, &format!("map-{i}"), customers, "Map"))
                                form.inline method="post" action=(place.href("/mapping/ignore")) {
                                    (hidden(signed, &o.organization))
                                    button.danger type="submit" aria-label={ "Ignore " (o.organization) } { "Ignore" }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn console_mappings(
    signed: &Signed,
    place: &Place,
    entries: &[ConsoleEntry],
    customers: &[Customer],
) -> Markup {
    let operate = signed.user.may(Role::Operate);
    html! {
        section aria-labelledby="console" {
            h2 id="console" { "Mapped in the console" }
            @if entries.is_empty() { p { "None yet." } }
            div.cards {
                @for (i, m) in entries.iter().enumerate() {
                    article aria-label={ "Mapping of " (m.organization) } {
                        h3 { code { (m.organization) } " → " (customer_text(m.customer_id, m.customer_name.as_deref())) }
                        @if m.overridden {
                            p { span.badge.pending { "overridden" } " The configuration file decides this organization now; this mapping has no effect." }
                        }
                        p.muted { @if m.kind == "ignored" { "ignored · " } "by " (m.set_by) " · " (crate::pages::when(&m.set_at)) }
                        @if operate {
                            div.actions {
                                (map_to(signed, place, &m.organization, &format!("change-{i}"), customers, "Change"))
                                form.inline method="post" action=(place.href("/mapping/remove")) {
                                    (hidden(signed, &m.organization))
                                    button.danger type="submit" aria-label={ "Remove the mapping of " (m.organization) } { "Remove" }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn file_mappings(entries: &[FileEntry]) -> Markup {
    html! {
        section aria-labelledby="file" {
            h2 id="file" { "Set in the configuration file" }
            p.muted { "Read-only here: change these in the configuration file's [mapping] and reload the workers." }
            @if entries.is_empty() { p { "None." } } @else {
                div.scroll {
                    table {
                        thead { tr { th scope="col" { "Organization" } th scope="col" { "Customer" } } }
                        tbody {
                            @for f in entries {
                                tr {
                                    td { code { (f.organization) } }
                                    td { @if f.ignored { "ignored" } @else { (customer_text(f.customer_id, f.customer_name.as_deref())) } }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn customer_section(place: &Place, search: &str, found: &Result<CustomerList, ApiError>) -> Markup {
    html! {
        section aria-labelledby="customers" {
            h2 id="customers" { "Syncro customers" }
            form.search method="get" action="/mapping" {
                @if !place.all.is_empty() { input type="hidden" name="account" value=(place.label); }
                label for="search" { "Search by name, email or id" }
                input id="search" name="search" type="text" value=(search);
                button type="submit" { "Search" }
            }
            @match found {
                Err(e) => (error_block(Some(&format!("The Syncro customers cannot be read: {}", e.headline())))),
                Ok(list) => {
                    p.muted {
                        (list.matched) " of " (list.total) " customer(s) match"
                        @if list.matched > list.customers.len() { "; the first " (list.customers.len()) " are listed and offered in “Map to…”" }
                        ". Read from Syncro " (crate::pages::when(&list.read_at)) ". "
                        a href=(place.href(&format!("/mapping?refresh=true&search={}", encode(search)))) { "Read them again" }
                    }
                    div.scroll {
                        table {
                            thead { tr { th scope="col" { "Id" } th scope="col" { "Name" } th scope="col" { "Email" } } }
                            tbody {
                                @for c in &list.customers {
                                    tr {
                                        td.num { (c.id) }
                                        td { (c.name) @if c.disabled { " " span.badge.expired { "disabled" } } }
                                        td { (c.email.as_deref().unwrap_or("")) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// A time the workers recorded (RFC 3339), as the console shows times.
fn seen(at: &str) -> String {
    DateTime::parse_from_rfc3339(at)
        .map(|t| crate::pages::when(&t.with_timezone(&Utc)))
        .unwrap_or_else(|_| at.to_string())
}

/// Percent-encodes every byte but unreserved ASCII: for a path segment or a query value.
fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

async fn render(
    signed: &Signed,
    state: &AppState,
    account: &Account,
    query: &ShowQuery,
    error: Option<String>,
    status: StatusCode,
) -> HttpResponse {
    let search = query.search.as_deref().unwrap_or("").trim().to_string();
    let refresh = query.refresh.as_deref() == Some("true");
    let mut params: Vec<(&str, &str)> = vec![("search", &search)];
    if refresh {
        params.push(("refresh", "true"));
    }
    let customers = account
        .api
        .get::<CustomerList>(&signed.user, "/v1/syncro/customers", &params)
        .await;
    let found = account
        .api
        .get::<Mappings>(&signed.user, "/v1/mappings", &[])
        .await;
    let place = Place::of(state, account, signed).await;
    let offered: &[Customer] = customers.as_ref().map_or(&[], |l| &l.customers);
    let body = html! {
        (notice_block(place.notice(notice(query.done.as_deref())).as_deref()))
        (error_block(error.as_deref()))
        p { (RULE) }
        @match &found {
            Err(e) => (error_block(Some(&format!("The mappings cannot be read: {}", e.headline())))),
            Ok(m) => {
                @if let Some(problem) = &m.customers_problem { (error_block(Some(problem))) }
                p {
                    "Catch-all customer: "
                    strong { (customer_text(Some(m.catch_all.customer_id), m.catch_all.customer_name.as_deref())) }
                    ", set in the configuration file (mapping.catch_all_customer_id). "
                    @if m.unmapped_policy == "park" {
                        "Alerts of organizations without a mapping wait in the parked queue until they are mapped or ignored, here or in the file."
                    } @else {
                        "Alerts of organizations without a mapping go to it, naming their organization."
                    }
                }
                (unmapped(signed, &place, &m.unmapped, offered))
                (console_mappings(signed, &place, &m.console, offered))
                (file_mappings(&m.file))
            }
        }
        (customer_section(&place, &search, &customers))
    };
    page(
        status,
        layout("Mapping", Some((signed, &place)), Nav::Mapping, body),
    )
}

/// `GET /mapping?search=&refresh=&account=`
pub async fn show(
    signed: Signed,
    selected: Selected,
    state: web::Data<AppState>,
    query: web::Query<ShowQuery>,
) -> HttpResponse {
    render(&signed, &state, &selected.0, &query, None, StatusCode::OK).await
}

/// Sends one change of `account`'s mappings; back to the page with a notice, or the page with
/// the API's refusal (each field's problem named).
async fn change(
    change: Change,
    selected: Selected,
    state: web::Data<AppState>,
    body: Option<Value>,
    done: &str,
) -> Result<HttpResponse, PageError> {
    change.signed.require(Role::Operate)?;
    let account = &selected.0;
    let org = change.fields.get("organization");
    if org.is_empty() {
        return Err(PageError::BadRequest("no organization was given".into()));
    }
    // The raw value (not trimmed): an organization id is compared exactly.
    let org = change
        .fields
        .0
        .iter()
        .find(|(k, _)| k == "organization")
        .map_or(org, |(_, v)| v.as_str());
    let path = format!("/v1/mappings/{}", encode(org));
    let user = &change.signed.user;
    let result: Result<Value, ApiError> = match &body {
        Some(body) => account.api.put(user, &path, body).await,
        None => account.api.delete(user, &path).await,
    };
    Ok(match result {
        Ok(_) => {
            let place = Place::known(&state, account, None);
            see_other(&place.href(&format!("/mapping?done={done}")))
        }
        Err(e) => {
            let mut text = format!("Organization {org:?} was not changed: {}", e.headline());
            for f in e.fields() {
                text.push_str(&format!("; {}: {}", f.field, f.message));
            }
            let status = match &e {
                ApiError::Refused { status: 409, .. } => StatusCode::CONFLICT,
                _ => StatusCode::UNPROCESSABLE_ENTITY,
            };
            let query = ShowQuery {
                search: None,
                refresh: None,
                done: None,
            };
            render(&change.signed, &state, account, &query, Some(text), status).await
        }
    })
}

/// `POST /mapping/set?account=` (`organization`, `customer_id`)
pub async fn set(
    form: Change,
    selected: Selected,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let id = form.fields.get("customer_id");
    // A number goes as a number; anything else as text, for the API to name.
    let value = id
        .parse::<i64>()
        .map(Value::from)
        .unwrap_or_else(|_| Value::from(id));
    let body = json!({ "customer_id": value });
    change(form, selected, state, Some(body), "mapped").await
}

/// `POST /mapping/ignore?account=` (`organization`)
pub async fn ignore(
    form: Change,
    selected: Selected,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    change(
        form,
        selected,
        state,
        Some(json!({ "ignore": true })),
        "ignored",
    )
    .await
}

/// `POST /mapping/remove?account=` (`organization`)
pub async fn remove(
    form: Change,
    selected: Selected,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    change(form, selected, state, None, "removed").await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn organizations_are_percent_encoded_whole() {
        assert_eq!(encode("org-42"), "org-42");
        assert_eq!(encode("a b/c?d"), "a%20b%2Fc%3Fd");
        assert_eq!(encode("ü"), "%C3%BC");
    }
}
