//! Dead letters (`/dead-letters`): the alerts the workers gave up on, from the operator
//! API's `/v1/dead-letters` (the mechanism is `relayctl dlq`'s).
//!
//! - this file: the counts (reason, organization, event type, age), the filter form and the
//!   list, and what the other pages share: the filters ([`Filter`]) and the API's answers;
//! - [`letter`]: one letter in full (`/dead-letters/{id}`): why, attempts, headers, body;
//! - [`actions`]: replay (a dry-run page showing what would happen, then the replay for
//!   real) and purge (a confirmation page, then the purge), both for `operate`.
//!
//! The filters travel in the address (links, the filter form, the dry-run and confirmation
//! pages) and as hidden fields of the change's form, so the change acts on exactly the
//! letters the person looked at. The API reads at most its cap (1,000) of the queue's first
//! letters per call; the pages say when the queue holds more.

pub mod actions;
pub mod letter;

use crate::api::ApiError;
use crate::guard::{Selected, Signed};
use crate::pages::{error_block, layout, page, when, Nav, Place};
use crate::state::AppState;
use crate::users::Role;
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use maud::{html, Markup};
use serde::Deserialize;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashMap};

/// The filters, in the order of the form: (field, label, hint).
const FILTERS: [(&str, &str, &str); 6] = [
    (
        "error_kind",
        "Reason",
        "like syncro_422, undecodable, delivery-limit",
    ),
    (
        "organization",
        "Organization",
        "its id; ? for undecodable bodies",
    ),
    ("event_type", "Event type", ""),
    (
        "since",
        "Failed since",
        "like 2h, 3d, or 2026-05-01T10:00:00Z",
    ),
    ("until", "Failed before", "same forms"),
    ("message_id", "Message id", "one letter"),
];
/// Age buckets as the API names them, youngest first.
const AGES: [&str; 5] = ["<1h", "1-24h", "1-7d", ">7d", "unknown"];

/// One letter, as the API lists it.
#[derive(Debug, Clone, Deserialize)]
pub struct Letter {
    pub message_id: String,
    pub source: Option<String>,
    pub alert_id: Option<String>,
    pub organization: String,
    pub event_type: String,
    pub error_kind: String,
    pub error: String,
    pub attempts: i64,
    pub failed_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Default, Deserialize)]
pub struct Counts {
    pub total: usize,
    pub by_error_kind: BTreeMap<String, usize>,
    pub by_organization: BTreeMap<String, usize>,
    pub by_event_type: BTreeMap<String, usize>,
    pub by_age: BTreeMap<String, usize>,
}

/// `GET /v1/dead-letters`'s answer.
#[derive(Debug, Deserialize)]
pub struct Overview {
    pub in_queue: usize,
    pub read: usize,
    pub complete: bool,
    pub matched: usize,
    pub counts: Counts,
    pub offset: usize,
    pub limit: usize,
    pub letters: Vec<Letter>,
}

/// The filters of a page or a change, as entered (trimmed); empty means not given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter(pub BTreeMap<&'static str, String>);

impl Filter {
    /// From an address's query (other parameters ignored).
    pub fn of_query(query: &HashMap<String, String>) -> Filter {
        Filter::of(|key| query.get(key).map(String::as_str))
    }

    /// From a form's fields.
    pub fn of_fields(fields: &crate::guard::Fields) -> Filter {
        Filter::of(|key| Some(fields.get(key)))
    }

    fn of<'a>(get: impl Fn(&str) -> Option<&'a str>) -> Filter {
        Filter(
            FILTERS
                .iter()
                .filter_map(|(key, _, _)| {
                    let value = get(key)?.trim();
                    (!value.is_empty()).then(|| (*key, value.to_string()))
                })
                .collect(),
        )
    }

    pub fn get(&self, key: &str) -> &str {
        self.0.get(key).map_or("", String::as_str)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// As query parameters of the API.
    pub fn params(&self) -> Vec<(&str, &str)> {
        self.0.iter().map(|(k, v)| (*k, v.as_str())).collect()
    }

    /// As fields of a JSON body.
    pub fn body(&self) -> Map<String, Value> {
        self.0
            .iter()
            .map(|(k, v)| (k.to_string(), Value::String(v.clone())))
            .collect()
    }

    /// `path` with the filters in its query, of `place`'s account.
    pub fn href(&self, place: &Place, path: &str) -> String {
        let query = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(self.params())
            .finish();
        if query.is_empty() {
            place.href(path)
        } else {
            place.href(&format!("{path}?{query}"))
        }
    }

    /// The filters as hidden fields of a change's form.
    pub fn hidden(&self) -> Markup {
        html! {
            @for (k, v) in &self.0 { input type="hidden" name=(k) value=(v); }
        }
    }

    /// The filters in words, for a heading: "reason syncro_422, organization org-42".
    pub fn describe(&self) -> String {
        if self.is_empty() {
            return "every letter".into();
        }
        let words: Vec<String> = FILTERS
            .iter()
            .filter(|(key, _, _)| !self.get(key).is_empty())
            .map(|(key, label, _)| format!("{} {}", label.to_lowercase(), self.get(key)))
            .collect();
        words.join(", ")
    }
}

/// A message id as one segment of an address: every byte but `A-Z a-z 0-9 - . _ ~`
/// percent-encoded (ids come from the queue, not from us).
pub fn segment(id: &str) -> String {
    id.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

/// What the API named wrong, by field, for the filter form.
pub fn problems_by_field(error: &ApiError) -> BTreeMap<String, Vec<String>> {
    let mut by_field: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for f in error.fields() {
        by_field
            .entry(f.field.clone())
            .or_default()
            .push(f.message.clone());
    }
    by_field
}

/// The filter form (GET), each problem beside its field.
pub fn filter_form(
    place: &Place,
    filter: &Filter,
    problems: &BTreeMap<String, Vec<String>>,
) -> Markup {
    html! {
        form.search method="get" action="/dead-letters" role="search" aria-label="Filter the dead letters" {
            @if !place.all.is_empty() { input type="hidden" name="account" value=(place.label); }
            @for (key, label, hint) in FILTERS {
                @let errors = problems.get(key);
                div.field {
                    label for={ "f-" (key) } { (label) }
                    @if !hint.is_empty() { span.hint { (hint) } }
                    input id={ "f-" (key) } name=(key) type="text" value=(filter.get(key))
                        aria-invalid=[errors.map(|_| "true")] aria-describedby=[errors.map(|_| format!("f-{key}-error"))];
                    @if let Some(errors) = errors {
                        ul.field-error id={ "f-" (key) "-error" } { @for e in errors { li { (e) } } }
                    }
                }
            }
            button type="submit" { "Filter" }
            @if !filter.is_empty() { " " a href=(place.href("/dead-letters")) { "Clear the filters" } }
        }
    }
}

/// A letter's reason in a few words: its kind, and the error's text when there is one.
pub fn reason(letter: &Letter) -> String {
    if letter.error.is_empty() {
        letter.error_kind.clone()
    } else {
        format!("{}: {}", letter.error_kind, letter.error)
    }
}

pub fn failed_at(letter: &Letter) -> String {
    letter
        .failed_at
        .as_ref()
        .map_or_else(|| "unknown".into(), when)
}

/// A table of letters (each linking to its page).
pub fn letters_table(
    place: &Place,
    caption: &str,
    letters: &[Letter],
    would: Option<&[String]>,
) -> Markup {
    html! {
        div.scroll {
            table.letters {
                caption { (caption) }
                thead { tr {
                    th scope="col" { "Message" } th scope="col" { "Organization" }
                    th scope="col" { "Event type" } th scope="col" { "Reason" }
                    th scope="col" { "Attempts" } th scope="col" { "Failed at" }
                    @if would.is_some() { th scope="col" { "Would" } }
                } }
                tbody {
                    @for (i, l) in letters.iter().enumerate() {
                        tr {
                            td {
                                @if l.message_id.is_empty() { "(no id)" }
                                @else { a href=(place.href(&format!("/dead-letters/{}", segment(&l.message_id)))) { code { (l.message_id) } } }
                                @if let Some(alert) = &l.alert_id { br; span.muted { (l.source.as_deref().unwrap_or("?")) " / " (alert) } }
                            }
                            td { (l.organization) }
                            td { (l.event_type) }
                            td { (reason(l)) }
                            td { (l.attempts) }
                            td { (failed_at(l)) }
                            @if let Some(would) = would { td { (would.get(i).map_or("", String::as_str)) } }
                        }
                    }
                }
            }
        }
    }
}

fn counts_table(title: &str, id: &str, rows: Vec<(String, usize)>) -> Markup {
    html! {
        @if !rows.is_empty() {
            table.counts aria-labelledby=(id) {
                caption id=(id) { "By " (title.to_lowercase()) }
                thead { tr { th scope="col" { (title) } th scope="col" { "Letters" } } }
                tbody { @for (key, n) in rows { tr { td { (key) } td { (n) } } } }
            }
        }
    }
}

fn most_first(counts: &BTreeMap<String, usize>) -> Vec<(String, usize)> {
    let mut rows: Vec<(String, usize)> = counts.iter().map(|(k, n)| (k.clone(), *n)).collect();
    rows.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    rows
}

/// The "only the first N were read" note, when the queue holds more than the API reads.
pub fn partial_note(in_queue: usize, read: usize, complete: bool) -> Markup {
    html! {
        @if !complete {
            p.notice role="status" {
                "The queue holds " (in_queue) " letters; the first " (read)
                " were read. Counts, lists and changes cover those; after a replay or purge the next ones come."
            }
        }
    }
}

#[derive(Deserialize)]
pub struct ListQuery {
    #[serde(flatten)]
    params: HashMap<String, String>,
}

/// `GET /dead-letters?filters…&offset=&account=`
pub async fn show(
    signed: Signed,
    selected: Selected,
    state: web::Data<AppState>,
    query: web::Query<ListQuery>,
) -> HttpResponse {
    let filter = Filter::of_query(&query.params);
    let offset = query
        .params
        .get("offset")
        .and_then(|o| o.parse::<usize>().ok())
        .unwrap_or(0)
        .to_string();
    let mut params = filter.params();
    params.push(("offset", &offset));
    let found = selected
        .0
        .api
        .get::<Overview>(&signed.user, "/v1/dead-letters", &params)
        .await;
    let place = Place::of(&state, &selected.0, &signed).await;
    let problems = found
        .as_ref()
        .err()
        .map(problems_by_field)
        .unwrap_or_default();
    let status = match &found {
        Err(ApiError::Refused { status: 400, .. }) => StatusCode::BAD_REQUEST,
        _ => StatusCode::OK,
    };
    let body = html! {
        section aria-labelledby="filters" {
            h2 id="filters" { "Filters" }
            (filter_form(&place, &filter, &problems))
        }
        @match &found {
            Err(e) => (error_block(Some(&format!("The dead letters cannot be read: {}", e.headline())))),
            Ok(o) => (overview(&place, &filter, o, signed.user.may(Role::Operate))),
        }
    };
    page(
        status,
        layout(
            "Dead letters",
            Some((&signed, &place)),
            Nav::DeadLetters,
            body,
        ),
    )
}

fn overview(place: &Place, filter: &Filter, o: &Overview, operate: bool) -> Markup {
    let ages: Vec<(String, usize)> = AGES
        .iter()
        .filter_map(|a| o.counts.by_age.get(*a).map(|n| (a.to_string(), *n)))
        .collect();
    let next = o.offset + o.letters.len();
    html! {
        (partial_note(o.in_queue, o.read, o.complete))
        section aria-labelledby="counts" {
            h2 id="counts" { "Counts" }
            p { "Matching " (filter.describe()) ": " strong { (o.matched) } " of the " (o.in_queue) " letters in the queue." }
            div.counts {
                (counts_table("Reason", "by-reason", most_first(&o.counts.by_error_kind)))
                (counts_table("Organization", "by-organization", most_first(&o.counts.by_organization)))
                (counts_table("Age", "by-age", ages))
                (counts_table("Event type", "by-event-type", most_first(&o.counts.by_event_type)))
            }
        }
        section aria-labelledby="letters" {
            h2 id="letters" { "Letters" }
            @if o.letters.is_empty() { p { "No dead letter matches." } }
            @else {
                (letters_table(place, &format!("Letters {} to {} of {}, in queue order", o.offset + 1, next, o.matched), &o.letters, None))
                @if next < o.matched {
                    p { a href=(more_href(place, filter, next)) { "The next " (o.limit) } }
                }
                @if operate {
                    div.actions {
                        a.button href=(filter.href(place, "/dead-letters/replay")) { "Replay…" }
                        " "
                        a.button.danger href=(filter.href(place, "/dead-letters/purge")) { "Purge…" }
                    }
                }
            }
        }
    }
}

fn more_href(place: &Place, filter: &Filter, offset: usize) -> String {
    let base = filter.href(place, "/dead-letters");
    let join = if base.contains('?') { '&' } else { '?' };
    format!("{base}{join}offset={offset}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_ids_are_one_path_segment() {
        assert_eq!(segment("ar1-0a9f"), "ar1-0a9f");
        assert_eq!(segment("a/b c?"), "a%2Fb%20c%3F");
    }

    #[test]
    fn filters_keep_only_what_was_given() {
        let query = HashMap::from([
            ("error_kind".to_string(), " syncro_422 ".to_string()),
            ("organization".to_string(), "".to_string()),
            ("account".to_string(), "x".to_string()),
        ]);
        let filter = Filter::of_query(&query);
        assert_eq!(filter.params(), [("error_kind", "syncro_422")]);
        assert_eq!(filter.describe(), "reason syncro_422");
    }
}
