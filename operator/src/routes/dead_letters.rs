//! Dead letters: counts and a page of letters, one letter in full, replay (a dry run with its
//! ticket plan, or for real) and purge (with `"confirm": true`), each over the first
//! [`CAP`] letters of the queue (see [`crate::deadletters`]).
//!
//! The mechanism is `relayctl dlq`'s ([`processor::deadletters`]); the filters are the same
//! (`organization`, `event_type`, `error_kind`, `since`, `until`, `message_id`). A replay or
//! purge that changed something is audited (`dlq.replay`, `dlq.purge`: who, which filters,
//! how many moved or removed), and each replayed alert's trail gets its `replayed` step with
//! the caller's name. Bad input is refused naming every field, before RabbitMQ is touched.

use crate::auth::{Operator, Reader};
use crate::deadletters::{CAP, CONFIRM_TIMEOUT};
use crate::error::{ApiError, Result};
use crate::routes::nul_problems;
use crate::state::AppState;
use actix_web::{web, HttpResponse};
use chrono::Utc;
use processor::deadletters::{
    self, replay, Action, Browse, Filters, FullLetter, Letter, PlanCounts, ReplayOptions, Stats,
};
use serde::Serialize;
use serde_json::{json, Map, Value};
use shared::alert::FieldError;
use shared::amqp::Broker;
use std::collections::HashMap;

/// Letters of one page of `GET /v1/dead-letters`, by default and at most.
const PAGE: usize = 50;
const MAX_PAGE: usize = 200;
/// Longest text accepted in a filter.
const MAX_TEXT: usize = 256;

/// The filter keys, as the query and the bodies name them.
const FILTER_KEYS: [&str; 6] = [
    "organization",
    "event_type",
    "error_kind",
    "since",
    "until",
    "message_id",
];

/// How much of the queue was read.
#[derive(Debug, Serialize)]
struct Reading {
    /// Messages ready in the dead-letter queue when it was read.
    in_queue: usize,
    /// Letters read: the first ones of the queue, at most `cap`.
    read: usize,
    /// Most letters one request reads, moves or removes.
    cap: u16,
    /// Whether every letter was read (`read == in_queue`).
    complete: bool,
}

impl Reading {
    fn of(browse: &Browse) -> Reading {
        Reading {
            in_queue: browse.in_queue,
            read: browse.held.len(),
            cap: CAP,
            complete: !browse.incomplete(),
        }
    }
}

/// The answer of `GET /v1/dead-letters`.
#[derive(Serialize)]
struct Overview {
    #[serde(flatten)]
    reading: Reading,
    /// Letters read that match the filters.
    matched: usize,
    /// The matching letters' counts.
    counts: Stats,
    offset: usize,
    limit: usize,
    /// The page of matching letters, in queue order.
    letters: Vec<Letter>,
}

/// One letter in a replay's answer, with what a dry run expects of it.
#[derive(Serialize)]
struct PlannedLetter {
    #[serde(flatten)]
    letter: Letter,
    /// A dry run's expectation; null for a real replay.
    would: Option<Action>,
}

#[derive(Serialize)]
struct ReplayAnswer {
    dry_run: bool,
    #[serde(flatten)]
    reading: Reading,
    matched: usize,
    replayed: usize,
    duplicates_removed: usize,
    skipped: usize,
    left: usize,
    /// Message ids moved to the work queue, in order.
    moved: Vec<String>,
    /// The matching letters (with `would` in a dry run).
    letters: Vec<PlannedLetter>,
    /// A dry run's counts; null for a real replay.
    plan: Option<PlanCounts>,
    /// Why a replay stopped before the end; what was not moved stays dead-lettered.
    stopped: Option<String>,
    /// Whether the audit log (and the trail) recorded it.
    audited: bool,
}

#[derive(Serialize)]
struct PurgeAnswer {
    #[serde(flatten)]
    reading: Reading,
    matched: usize,
    removed: usize,
    left: usize,
    stopped: Option<String>,
    audited: bool,
}

/// The filters of `get` (a query parameter's or a body field's text), every problem named.
fn filters_of(get: impl Fn(&str) -> Option<String>, problems: &mut Vec<FieldError>) -> Filters {
    let mut text = |key: &str| {
        let value = get(key)?;
        let value = value.trim();
        if value.is_empty() {
            return None;
        }
        if value.chars().count() > MAX_TEXT {
            problems.push(FieldError::new(
                key,
                format!("must be at most {MAX_TEXT} characters"),
            ));
            return None;
        }
        Some(value.to_string())
    };
    let (org, event_type, error_kind) =
        (text("organization"), text("event_type"), text("error_kind"));
    let (since, until, message_id) = (text("since"), text("until"), text("message_id"));
    let mut time = |key: &str, value: Option<String>| {
        let value = value?;
        match deadletters::parse_time(&value) {
            Ok(at) => Some(at),
            Err(_) => {
                problems.push(FieldError::new(
                    key,
                    "must be an RFC 3339 time (2026-05-01T10:00:00Z) or an age such as 30m, 2h, 3d, 1w",
                ));
                None
            }
        }
    };
    Filters {
        org,
        event_type,
        error_kind,
        since: time("since", since),
        until: time("until", until),
        message_id,
    }
}

/// A whole number in `range` from `text`, or a problem naming `key`.
fn number(
    key: &str,
    text: &str,
    range: std::ops::RangeInclusive<usize>,
    problems: &mut Vec<FieldError>,
) -> Option<usize> {
    match text.trim().parse::<usize>() {
        Ok(n) if range.contains(&n) => Some(n),
        _ => {
            problems.push(FieldError::new(
                key,
                format!(
                    "must be a whole number from {} to {}",
                    range.start(),
                    range.end()
                ),
            ));
            None
        }
    }
}

/// The query of `GET /v1/dead-letters`: the filters, `limit`, `offset`.
fn query_of(query: &HashMap<String, String>) -> Result<(Filters, usize, usize)> {
    let mut problems = Vec::new();
    for (key, value) in query {
        if !FILTER_KEYS.contains(&key.as_str()) && key != "limit" && key != "offset" {
            problems.push(FieldError::new(
                key.as_str(),
                "is not a parameter of this request",
            ));
        }
        if value.contains('\0') {
            problems.push(FieldError::new(key.as_str(), "must not contain NUL"));
        }
    }
    let filters = filters_of(|key| query.get(key).cloned(), &mut problems);
    let limit = query
        .get("limit")
        .and_then(|l| number("limit", l, 1..=MAX_PAGE, &mut problems))
        .unwrap_or(PAGE);
    let offset = query
        .get("offset")
        .and_then(|o| number("offset", o, 0..=usize::from(CAP), &mut problems))
        .unwrap_or(0);
    if problems.is_empty() {
        Ok((filters, limit, offset))
    } else {
        Err(ApiError::invalid_query(problems))
    }
}

/// A replay's or purge's body: the filters, `limit`, and its one boolean (`flag`).
struct Request {
    filters: Filters,
    limit: Option<usize>,
    /// `dry_run` of a replay, `confirm` of a purge; `None` when not given.
    flag: Option<bool>,
}

fn request_of(body: Value, flag: &str) -> Result<Request> {
    let mut problems = Vec::new();
    nul_problems(&body, "", &mut problems);
    let Value::Object(object) = body else {
        return Err(ApiError::malformed_json("the body must be a JSON object"));
    };
    for key in object.keys() {
        if !FILTER_KEYS.contains(&key.as_str()) && key != "limit" && key != flag {
            problems.push(FieldError::new(
                key.as_str(),
                "is not a field of this request",
            ));
        }
    }
    let mut texts = Map::new();
    for key in FILTER_KEYS {
        match object.get(key) {
            None | Some(Value::Null) => {}
            Some(Value::String(s)) => {
                texts.insert(key.to_string(), Value::String(s.clone()));
            }
            Some(_) => problems.push(FieldError::new(key, "must be a string")),
        }
    }
    let filters = filters_of(
        |key| texts.get(key).and_then(Value::as_str).map(str::to_string),
        &mut problems,
    );
    let limit = match object.get("limit") {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => {
            number("limit", &n.to_string(), 1..=usize::from(CAP), &mut problems)
        }
        Some(_) => {
            problems.push(FieldError::new(
                "limit",
                format!("must be a whole number from 1 to {CAP}"),
            ));
            None
        }
    };
    let flag = match object.get(flag) {
        None | Some(Value::Null) => None,
        Some(Value::Bool(b)) => Some(*b),
        Some(_) => {
            problems.push(FieldError::new(flag, "must be true or false"));
            None
        }
    };
    if problems.is_empty() {
        Ok(Request {
            filters,
            limit,
            flag,
        })
    } else {
        Err(ApiError::invalid_dead_letter_request(problems))
    }
}

/// `GET /v1/dead-letters?organization=&event_type=&error_kind=&since=&until=&message_id=&limit=&offset=`
pub async fn overview(
    _: Reader,
    state: web::Data<AppState>,
    query: web::Query<HashMap<String, String>>,
) -> Result<HttpResponse> {
    let (filters, limit, offset) = query_of(&query)?;
    let answer = run(state, move |_, _, browse| async move {
        let matching: Vec<&Letter> = browse
            .held
            .iter()
            .map(|h| &h.letter)
            .filter(|l| filters.matches(l))
            .collect();
        let answer = Overview {
            reading: Reading::of(&browse),
            matched: matching.len(),
            counts: Stats::of(matching.iter().copied(), Utc::now()),
            offset,
            limit,
            letters: matching
                .into_iter()
                .skip(offset)
                .take(limit)
                .cloned()
                .collect(),
        };
        (browse, Ok(answer))
    })
    .await?;
    Ok(HttpResponse::Ok().json(answer))
}

/// `GET /v1/dead-letters/{message_id}`: the first letter of that message id, in full, and
/// how many copies of it were read.
pub async fn show(
    _: Reader,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse> {
    let id = id.into_inner();
    if id.is_empty() || id.len() > MAX_TEXT || id.contains('\0') {
        return Err(ApiError::not_found("no dead letter has that message id"));
    }
    let answer = run(state, move |_, _, browse| async move {
        let mut copies = browse.held.iter().filter(|h| h.letter.message_id == id);
        let answer = match copies.next() {
            Some(held) => {
                let full = FullLetter::read(&held.delivery.properties, &held.delivery.data);
                let mut value = json!(full);
                value["copies"] = json!(1 + copies.count());
                Ok(value)
            }
            None if browse.incomplete() => Err(ApiError::not_found(format!(
                "no dead letter has that message id among the first {} read of {}",
                browse.held.len(),
                browse.in_queue
            ))),
            None => Err(ApiError::not_found("no dead letter has that message id")),
        };
        (browse, answer)
    })
    .await?;
    Ok(HttpResponse::Ok().json(answer))
}

/// `POST /v1/dead-letters/replay` `{filters…, "limit"?, "dry_run": true|false}`
pub async fn replay(
    Operator(caller): Operator,
    state: web::Data<AppState>,
    body: web::Json<Value>,
) -> Result<HttpResponse> {
    let request = request_of(body.into_inner(), "dry_run")?;
    let Some(dry_run) = request.flag else {
        return Err(ApiError::invalid_dead_letter_request(vec![
            FieldError::new(
                "dry_run",
                "is required: true to see what would move, false to move it",
            ),
        ]));
    };
    if !dry_run {
        // A replay is audited: PostgreSQL must be there before anything moves.
        state.db()?;
    }
    let answer = run(state, move |state, broker, mut browse| async move {
        let chosen = deadletters::selected(&browse, &request.filters, request.limit);
        let letters: Vec<Letter> = chosen
            .iter()
            .map(|&i| browse.held[i].letter.clone())
            .collect();
        let reading = Reading::of(&browse);
        if dry_run {
            let refs: Vec<&Letter> = letters.iter().collect();
            let (config, _) = state.workers_config().await;
            let actions = match replay::plan(&config, &state.workers.store, &refs).await {
                Ok(actions) => actions,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot plan the dead letters' replay");
                    return (browse, Err(ApiError::workers_redis_unavailable()));
                }
            };
            let answer = ReplayAnswer {
                dry_run,
                left: reading.in_queue,
                reading,
                matched: letters.len(),
                replayed: 0,
                duplicates_removed: 0,
                skipped: 0,
                moved: Vec::new(),
                plan: Some(PlanCounts::of(&actions)),
                letters: letters
                    .into_iter()
                    .zip(actions)
                    .map(|(letter, would)| PlannedLetter {
                        letter,
                        would: Some(would),
                    })
                    .collect(),
                stopped: None,
                audited: false,
            };
            return (browse, Ok(answer));
        }
        let options = ReplayOptions {
            confirm_timeout: CONFIRM_TIMEOUT,
            rate: None,
            actor: caller.name.clone(),
        };
        let done = replay::replay(&broker, &mut browse, &chosen, &options, |_| {}).await;
        let detail = json!({
            "filters": request.filters,
            "limit": request.limit,
            "replayed": done.replayed,
            "duplicates_removed": done.duplicates_removed,
        });
        let changed = done.replayed + done.duplicates_removed;
        let audited = changed > 0 && audit(&state, &caller.name, "dlq.replay", &done.steps, &detail).await;
        tracing::info!(operator = %caller.name, replayed = done.replayed, duplicates_removed = done.duplicates_removed, stopped = ?done.stopped, "dead letters replayed");
        let answer = ReplayAnswer {
            dry_run,
            left: reading.in_queue.saturating_sub(changed),
            reading,
            matched: letters.len(),
            replayed: done.replayed,
            duplicates_removed: done.duplicates_removed,
            skipped: done.skipped,
            moved: done.moved,
            plan: None,
            letters: letters
                .into_iter()
                .map(|letter| PlannedLetter {
                    letter,
                    would: None,
                })
                .collect(),
            stopped: done.stopped,
            audited,
        };
        (browse, Ok(answer))
    })
    .await?;
    Ok(HttpResponse::Ok().json(answer))
}

/// `POST /v1/dead-letters/purge` `{filters…, "limit"?, "confirm": true}`: without `confirm`
/// 422 and nothing removed.
pub async fn purge(
    Operator(caller): Operator,
    state: web::Data<AppState>,
    body: web::Json<Value>,
) -> Result<HttpResponse> {
    let request = request_of(body.into_inner(), "confirm")?;
    if request.flag != Some(true) {
        return Err(ApiError::confirmation_required(
            "confirm",
            "must be true: a purge removes the matching letters for good (GET /v1/dead-letters with the same filters counts them); nothing was removed",
        ));
    }
    state.db()?;
    let answer = run(state, move |state, _, mut browse| async move {
        let chosen = deadletters::selected(&browse, &request.filters, request.limit);
        let reading = Reading::of(&browse);
        let (removed, failure) = deadletters::purge(&mut browse, &chosen).await;
        let detail = json!({
            "filters": request.filters,
            "limit": request.limit,
            "removed": removed,
        });
        let audited = removed > 0 && audit(&state, &caller.name, "dlq.purge", &[], &detail).await;
        tracing::info!(operator = %caller.name, removed, "dead letters purged");
        let answer = PurgeAnswer {
            left: reading.in_queue.saturating_sub(removed),
            reading,
            matched: chosen.len(),
            removed,
            stopped: failure.map(|e| format!("stopped after {removed}: {e}")),
            audited,
        };
        (browse, Ok(answer))
    })
    .await?;
    Ok(HttpResponse::Ok().json(answer))
}

/// Records a change made in RabbitMQ; a failure is logged and answered as `audited: false`
/// (the change is made: it is never answered as if it were not).
async fn audit(
    state: &AppState,
    actor: &str,
    action: &str,
    steps: &[opstate::trail::Event],
    detail: &Value,
) -> bool {
    let written = match state.db() {
        Ok(db) => deadletters::record(db, actor, action, steps, detail)
            .await
            .map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    match written {
        Ok(()) => true,
        Err(e) => {
            tracing::error!(error = %e, action, "a dead-letter change is made but not audited");
            false
        }
    }
}

/// Runs `work` on the first [`CAP`] letters of the dead-letter queue, alone, in a task of its
/// own (so a client hanging up cannot drop it half-way), and closes the browse whatever `work`
/// answers, giving back every letter it did not remove.
async fn run<T, W, F>(state: web::Data<AppState>, work: W) -> std::result::Result<T, ApiError>
where
    T: Send + 'static,
    W: FnOnce(web::Data<AppState>, Broker, Browse) -> F + Send + 'static,
    F: std::future::Future<Output = (Browse, std::result::Result<T, ApiError>)> + Send,
{
    let task = tokio::spawn(async move {
        let (alone, broker, browse) = state.dead_letters.open().await?;
        let (browse, answer) = work(state.clone(), broker, browse).await;
        browse.close().await;
        drop(alone);
        answer
    });
    task.await.unwrap_or_else(|e| {
        tracing::error!(error = %e, "a dead-letter operation failed");
        Err(ApiError::internal(
            "the dead-letter operation failed; see the operator's log",
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_fields_are_named_and_unknown_ones_refused() {
        let error = request_of(
            json!({"since": "yesterday", "limit": 0, "dry_run": "yes", "org": "x", "organization": 5}),
            "dry_run",
        )
        .err()
        .expect("refused");
        let mut fields: Vec<&str> = error.fields.iter().map(|f| f.field.as_str()).collect();
        fields.sort_unstable();
        assert_eq!(fields, ["dry_run", "limit", "org", "organization", "since"]);
        let ok = request_of(
            json!({"organization": "org-42", "since": "2h", "limit": 3, "dry_run": true}),
            "dry_run",
        )
        .expect("accepted");
        assert_eq!(ok.filters.org.as_deref(), Some("org-42"));
        assert!(ok.filters.since.is_some());
        assert_eq!((ok.limit, ok.flag), (Some(3), Some(true)));
    }
}
