//! Silences and maintenance windows: list, add, show, expire, extend, and the preview of
//! a new one (the recent alerts it would have matched).
//!
//! Every silence answered carries its `state` now (`active`, `pending`, `expired`) and how
//! many alerts it has `suppressed`. A path id that is not a UUID names no silence: 404, as
//! an unknown one.

use crate::auth::{Operator, Reader};
use crate::error::{ApiError, Result};
use crate::routes::{nul_problems, parse_time};
use crate::state::AppState;
use actix_web::http::header;
use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use opstate::silence::{parse_duration, MatcherSet, Silence, SilenceSpec, SilenceState, OPEN_END};
use opstate::store::silences;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use shared::alert::FieldError;
use std::collections::HashMap;
use uuid::Uuid;

/// A silence as the API shows it.
#[derive(Debug, Serialize)]
pub struct SilenceView<'a> {
    #[serde(flatten)]
    pub silence: &'a Silence,
    pub state: SilenceState,
    /// Alerts muted by it so far (every window, every group).
    pub suppressed: i64,
}

impl<'a> SilenceView<'a> {
    pub fn new(silence: &'a Silence, now: DateTime<Utc>, suppressed: i64) -> SilenceView<'a> {
        SilenceView {
            silence,
            state: silence.state_at(now),
            suppressed,
        }
    }
}

/// The answer of the list.
#[derive(Serialize)]
struct SilenceList<'a> {
    silences: Vec<SilenceView<'a>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    /// Also silences that are over (expired or past their end).
    #[serde(default)]
    all: bool,
}

/// Suppressed counts by silence.
async fn counts(db: &opstate::Db) -> Result<HashMap<Uuid, i64>> {
    Ok(silences::suppressed_counts(db).await?.into_iter().collect())
}

/// What one silence has muted. Read before a change (expiring or extending does not alter
/// it), so a change, once made, is always answered 200: never a 503 claiming it was not.
async fn suppressed(db: &opstate::Db, id: Uuid) -> Result<i64> {
    Ok(counts(db).await?.get(&id).copied().unwrap_or(0))
}

fn answer(silence: &Silence, suppressed: i64) -> HttpResponse {
    HttpResponse::Ok().json(SilenceView::new(silence, Utc::now(), suppressed))
}

/// `GET /v1/silences?all=`
pub async fn list(
    _: Reader,
    state: web::Data<AppState>,
    params: web::Query<ListParams>,
) -> Result<HttpResponse> {
    let db = state.db()?;
    let found = silences::list(db, params.all).await?;
    let counts = counts(db).await?;
    let now = Utc::now();
    let silences = found
        .iter()
        .map(|s| SilenceView::new(s, now, counts.get(&s.id).copied().unwrap_or(0)))
        .collect();
    Ok(HttpResponse::Ok().json(SilenceList { silences }))
}

/// `POST /v1/silences`: 201 with the silence, or 422 naming every problem (nothing stored).
pub async fn add(
    Operator(caller): Operator,
    state: web::Data<AppState>,
    body: web::Json<Value>,
) -> Result<HttpResponse> {
    let spec = spec_of(body.into_inner(), &state)?;
    let db = state.db()?;
    let silence = silences::add(db, &caller.actor(), &spec, &state.limits).await?;
    tracing::info!(
        operator = %caller.name,
        silence_id = %silence.id,
        author = %silence.checked.author,
        ends_at = %silence.checked.ends_at,
        "silence added"
    );
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/v1/silences/{}", silence.id)))
        .json(SilenceView::new(&silence, Utc::now(), 0)))
}

/// How far back a preview looks: the trail's last day.
const PREVIEW_HOURS: i64 = 24;
/// At most this many recent alerts are checked by a preview (the newest).
const PREVIEW_SCAN: i64 = 20_000;
/// Matching alerts listed by a preview (all are counted).
const PREVIEW_LISTED: usize = 20;

/// One recent alert a preview matched.
#[derive(Serialize)]
struct PreviewAlert {
    message_id: String,
    sender_id: String,
    source: String,
    organization: String,
    event_type: String,
    severity: &'static str,
    /// When ingest received it.
    at: DateTime<Utc>,
}

/// The answer of a preview.
#[derive(Serialize)]
struct Preview {
    /// The start of the alerts looked at.
    since: DateTime<Utc>,
    /// Alerts looked at (the newest [`PREVIEW_SCAN`] at most).
    checked: usize,
    /// Whether every alert since `since` was looked at.
    complete: bool,
    /// How many of them the silence's matchers match.
    matched: usize,
    /// The newest matching ones, at most [`PREVIEW_LISTED`].
    alerts: Vec<PreviewAlert>,
}

/// `POST /v1/silences/preview`: the body of a new silence (checked as a new one, every
/// problem named, 422); the recent alerts its matchers would have matched, whatever its
/// schedule, from the trail's `received` steps. Nothing is stored or audited.
pub async fn preview(
    _: Reader,
    state: web::Data<AppState>,
    body: web::Json<Value>,
) -> Result<HttpResponse> {
    let spec = spec_of(body.into_inner(), &state)?;
    let now = Utc::now();
    let checked = spec.check(&state.limits, now).map_err(|problems| {
        ApiError::invalid_silence(
            problems
                .into_iter()
                .map(|p| FieldError::new(p.field, p.message))
                .collect(),
        )
    })?;
    let matchers = MatcherSet::compile(&checked.matchers)
        .map_err(|e| ApiError::invalid_silence(vec![FieldError::new("matchers", e)]))?;
    let since = now - chrono::Duration::hours(PREVIEW_HOURS);
    let recent = opstate::trail::activity::recent_alerts(state.db()?, since, PREVIEW_SCAN).await?;
    let checked_count = recent.len();
    let mut matched = 0;
    let mut alerts = Vec::new();
    for (event, message) in recent {
        if !matchers.matches(&message) {
            continue;
        }
        matched += 1;
        if alerts.len() < PREVIEW_LISTED {
            let alert = message.alert;
            alerts.push(PreviewAlert {
                message_id: event.message_id,
                sender_id: alert.id,
                source: message.source,
                organization: alert.organization.id,
                event_type: alert.event_type,
                severity: alert.severity.as_str(),
                at: event.at,
            });
        }
    }
    Ok(HttpResponse::Ok().json(Preview {
        since,
        checked: checked_count,
        complete: (checked_count as i64) < PREVIEW_SCAN,
        matched,
        alerts,
    }))
}

/// The keys a silence must have: absent, each is a problem reported with all the others
/// rather than a bare "missing field" from the JSON reader.
const REQUIRED: [&str; 4] = ["matchers", "schedule", "reason", "author"];

/// The body as a [`SilenceSpec`]. A body that is not an object, has unknown keys or values
/// of the wrong type is malformed (400). Missing required keys and text PostgreSQL cannot
/// store are problems (422), reported together with every problem the spec's own check
/// finds in the rest.
fn spec_of(body: Value, state: &AppState) -> Result<SilenceSpec> {
    let mut problems = Vec::new();
    nul_problems(&body, "", &mut problems);
    let Value::Object(mut object) = body else {
        return Err(ApiError::malformed_json("the body must be a JSON object"));
    };
    for key in REQUIRED {
        if object.get(key).is_none_or(Value::is_null) {
            problems.push(FieldError::new(key, "is required"));
            // A stand-in, so the rest is still read and checked: empty text and no
            // matchers are problems of their own, which `problems` already names.
            object.insert(key.to_string(), stand_in(key));
        }
    }
    let spec: SilenceSpec = serde_json::from_value(Value::Object(object))
        .map_err(|e| ApiError::malformed_json(format!("the body is not a silence: {e}")))?;
    if problems.is_empty() {
        return Ok(spec);
    }
    let mut fields = problems;
    if let Err(problems) = spec.check(&state.limits, Utc::now()) {
        for problem in problems {
            // The stand-ins' own problems are the missing keys, already named (and a field
            // named for its NUL needs no second word).
            let named = fields.iter().any(|f| {
                problem.field == f.field || problem.field.starts_with(&format!("{}.", f.field))
            });
            if !named {
                fields.push(FieldError::new(problem.field, problem.message));
            }
        }
    }
    Err(ApiError::invalid_silence(fields))
}

fn stand_in(key: &str) -> Value {
    match key {
        "matchers" => Value::Array(Vec::new()),
        "schedule" => {
            let mut once = Map::new();
            once.insert("kind".into(), Value::String("once".into()));
            once.insert("duration".into(), Value::String("1h".into()));
            Value::Object(once)
        }
        _ => Value::String(String::new()),
    }
}

fn parse_id(id: &str) -> Result<Uuid> {
    Uuid::parse_str(id).map_err(|_| ApiError::not_found("no silence has that id"))
}

/// `GET /v1/silences/{id}`
pub async fn get(
    _: Reader,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse> {
    let id = parse_id(&id)?;
    let db = state.db()?;
    let silence = silences::get(db, id)
        .await?
        .ok_or_else(|| ApiError::not_found("no silence has that id"))?;
    Ok(answer(&silence, suppressed(db, id).await?))
}

/// `POST /v1/silences/{id}/expire`: ends it now; 409 when it already ended.
pub async fn expire(
    Operator(caller): Operator,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse> {
    let id = parse_id(&id)?;
    let db = state.db()?;
    let suppressed = suppressed(db, id).await?;
    let silence = silences::expire(db, &caller.actor(), id).await?;
    tracing::info!(operator = %caller.name, silence_id = %id, "silence expired");
    Ok(answer(&silence, suppressed))
}

/// The body of an extension: exactly one of the two.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Extension {
    /// The new end, RFC 3339.
    #[serde(default)]
    ends_at: Option<String>,
    /// How much later than its current end, like `2h` or `1d12h`.
    #[serde(default)]
    by: Option<String>,
}

/// `POST /v1/silences/{id}/extend`: moves its end (a one-off's end, a recurring one's
/// `until`); checked against the limits as a new silence would be.
pub async fn extend(
    Operator(caller): Operator,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: web::Json<Extension>,
) -> Result<HttpResponse> {
    let id = parse_id(&id)?;
    let db = state.db()?;
    let mut problems = Vec::new();
    let ends_at = match (body.ends_at.as_deref(), body.by.as_deref()) {
        (Some(_), Some(_)) | (None, None) => {
            let message = "give exactly one of ends_at and by";
            problems.push(FieldError::new("ends_at", message));
            problems.push(FieldError::new("by", message));
            None
        }
        (Some(at), None) => parse_time("ends_at", Some(at), &mut problems),
        (None, Some(by)) => {
            let Some(by) = parse_duration(by.trim()).filter(|d| *d > chrono::Duration::zero())
            else {
                return Err(ApiError::invalid_extension(vec![FieldError::new(
                    "by",
                    "must be a positive duration such as 90m, 2h, 1d or 1h30m",
                )]));
            };
            let current = silences::get(db, id)
                .await?
                .ok_or_else(|| ApiError::not_found("no silence has that id"))?;
            let moved = current
                .checked
                .ends_at
                .checked_add_signed(by)
                .filter(|_| current.checked.ends_at < OPEN_END);
            if moved.is_none() {
                problems.push(FieldError::new(
                    "by",
                    "the silence has no end to move; give ends_at",
                ));
            }
            moved
        }
    };
    let Some(ends_at) = ends_at.filter(|_| problems.is_empty()) else {
        return Err(ApiError::invalid_extension(problems));
    };
    let suppressed = suppressed(db, id).await?;
    let silence = silences::extend(db, &caller.actor(), id, ends_at, &state.limits).await?;
    tracing::info!(
        operator = %caller.name,
        silence_id = %id,
        ends_at = %silence.checked.ends_at,
        "silence extended"
    );
    Ok(answer(&silence, suppressed))
}
