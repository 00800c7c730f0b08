//! The mapping wizard's endpoints: which Syncro customer each organization's alerts go to.
//!
//! - `GET /v1/mappings`: the catch-all customer, the file's mappings (read-only here), the
//!   console's (each marked `overridden` when the file decides its organization by now), and
//!   the organizations seen without a mapping, each with its suggestion and parked alerts.
//! - `GET /v1/syncro/customers?search=&refresh=`: the Syncro customers, searched.
//! - `PUT /v1/mappings/{organization}`: `{"customer_id": N}` or `{"ignore": true}`.
//! - `DELETE /v1/mappings/{organization}`: the console's mapping goes; the file's rule (or
//!   the catch-all) applies again.
//!
//! **The file decides first** ([`processor::config::MappingConfig::decide`]): a console
//! mapping of an organization the file maps or ignores is refused (409
//! `decided_by_file`). Syncro is reached only through the workers' limiter, at the lowest
//! priority, and its customers are cached ([`crate::customers`]).

use crate::auth::{Operator, Reader};
use crate::customers::{Customers, CustomersError};
use crate::error::{ApiError, Result};
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use opstate::store::mappings::{self, Mapping, Target};
use processor::config::{Decision, MappingConfig, Unmapped};
use processor::matching::{self, Org, Suggestion};
use serde::{Deserialize, Serialize};
use shared::alert::FieldError;
use std::sync::Arc;

/// Longest organization id a console mapping takes.
const ORGANIZATION_MAX_CHARS: usize = 256;
/// Most customers one search answers.
const SEARCH_LIMIT: usize = 100;

/// A customer named: its id and, when Syncro was read, its name.
#[derive(Serialize)]
struct Named {
    customer_id: i64,
    customer_name: Option<String>,
}

/// One organization the configuration file decides.
#[derive(Serialize)]
struct FileEntry {
    organization: String,
    /// `None` when the file ignores it.
    customer_id: Option<i64>,
    customer_name: Option<String>,
    ignored: bool,
}

/// One console mapping, and whether the file overrides it.
#[derive(Serialize)]
struct ConsoleEntry {
    #[serde(flatten)]
    mapping: Mapping,
    /// The file maps or ignores the organization by now: this entry has no effect.
    overridden: bool,
}

/// An organization seen without a mapping.
#[derive(Serialize)]
struct UnmappedEntry {
    organization: String,
    name: Option<String>,
    domain: Option<String>,
    alerts: u64,
    first_seen: Option<String>,
    last_seen: Option<String>,
    /// Its alerts waiting in the parked queue now.
    parked: u64,
    suggestion: Option<Suggestion>,
}

#[derive(Serialize)]
struct MappingsView {
    catch_all: Named,
    /// What unmapped organizations' alerts do: `catch-all` or `park`.
    unmapped_policy: &'static str,
    file: Vec<FileEntry>,
    console: Vec<ConsoleEntry>,
    unmapped: Vec<UnmappedEntry>,
    /// When the Syncro customers behind names and suggestions were read.
    customers_read_at: Option<DateTime<Utc>>,
    /// Why there are no names or suggestions (Syncro could not be read), when so.
    customers_problem: Option<String>,
}

/// The customers, or why not (logged; the caller gets a message without the cause).
async fn customers(state: &AppState, refresh: bool) -> std::result::Result<Customers, String> {
    let workers = &state.workers;
    workers
        .customers
        .get(&workers.syncro, refresh)
        .await
        .map_err(|e| {
            tracing::warn!(error = %e, "cannot read the Syncro customers");
            match e {
                CustomersError::Syncro(e) => format!(
                    "the Syncro customers could not be read now ({}); try again",
                    e.kind().as_str()
                ),
                other => other.to_string(),
            }
        })
}

/// The file's `[mapping]` with the console's mappings as stored now.
async fn mapping_now(state: &AppState) -> Result<(MappingConfig, Vec<Mapping>)> {
    let console = mappings::list(state.db()?).await?;
    let snapshot = console
        .iter()
        .map(|m| (m.organization.clone(), m.target.clone()))
        .collect();
    let mapping = state
        .workers
        .config
        .current()
        .mapping
        .with_console(Arc::new(snapshot));
    Ok((mapping, console))
}

/// `GET /v1/mappings`
pub async fn list(_: Reader, state: web::Data<AppState>) -> Result<HttpResponse> {
    let (mapping, console) = mapping_now(&state).await?;
    let seen = state
        .workers
        .store
        .unmapped()
        .await
        .map_err(|_| ApiError::workers_redis_unavailable())?;
    let read = customers(&state, false).await;
    let known = read.as_ref().ok();
    let name = |id: i64| known.and_then(|c| c.name_of(id));
    let candidates = known
        .map(|c| matching::candidates(&c.list, mapping.catch_all_customer_id))
        .unwrap_or_default();
    let mut unmapped: Vec<UnmappedEntry> = seen
        .into_iter()
        .filter(|o| mapping.decide(&o.id) == Decision::Unmapped)
        .map(|o| {
            let org = Org {
                name: o.name.clone(),
                domain: o.domain.clone(),
                phone: None,
            };
            UnmappedEntry {
                suggestion: matching::suggest(&org, &candidates, matching::DEFAULT_MIN_SCORE),
                organization: o.id,
                name: o.name,
                domain: o.domain,
                alerts: o.count,
                first_seen: o.first_seen,
                last_seen: o.last_seen,
                parked: o.parked,
            }
        })
        .collect();
    // Parked alerts first (they wait for this page), then the most alerts.
    unmapped.sort_by(|a, b| {
        (b.parked, b.alerts, &a.organization).cmp(&(a.parked, a.alerts, &b.organization))
    });
    let file = mapping
        .organizations
        .iter()
        .map(|(org, &id)| FileEntry {
            organization: org.clone(),
            customer_id: Some(id),
            customer_name: name(id),
            ignored: false,
        })
        .chain(mapping.ignored_organizations.iter().map(|org| FileEntry {
            organization: org.clone(),
            customer_id: None,
            customer_name: None,
            ignored: true,
        }))
        .collect();
    let console = console
        .into_iter()
        .map(|m| ConsoleEntry {
            overridden: mapping.file_decides(&m.organization),
            mapping: m,
        })
        .collect();
    let view = MappingsView {
        catch_all: Named {
            customer_id: mapping.catch_all_customer_id,
            customer_name: name(mapping.catch_all_customer_id),
        },
        unmapped_policy: match mapping.unmapped {
            Unmapped::CatchAll => "catch-all",
            Unmapped::Park => "park",
        },
        file,
        console,
        unmapped,
        customers_read_at: known.map(|c| c.read_at),
        customers_problem: read.err(),
    };
    Ok(HttpResponse::Ok().json(view))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchParams {
    #[serde(default)]
    search: Option<String>,
    /// Read Syncro again rather than the customers held.
    #[serde(default)]
    refresh: bool,
}

/// One customer in a search's answer.
#[derive(Serialize)]
struct CustomerEntry {
    id: i64,
    name: String,
    email: Option<String>,
    disabled: bool,
}

#[derive(Serialize)]
struct CustomerList {
    customers: Vec<CustomerEntry>,
    /// Customers matching the search (at most 100 are listed).
    matched: usize,
    /// Customers in the account.
    total: usize,
    read_at: DateTime<Utc>,
}

/// `GET /v1/syncro/customers?search=&refresh=`: every customer whose name or email holds
/// the search (case ignored), or whose id it is; by name.
pub async fn customer_list(
    _: Reader,
    state: web::Data<AppState>,
    params: web::Query<SearchParams>,
) -> Result<HttpResponse> {
    let read = customers(&state, params.refresh).await.map_err(|message| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "syncro_unavailable",
            message,
        )
    })?;
    let search = super::given(&params.search).map(str::to_lowercase);
    let mut found: Vec<CustomerEntry> = read
        .list
        .iter()
        .filter(|c| match &search {
            None => true,
            Some(s) => {
                c.id.to_string() == *s
                    || c.display_name().to_lowercase().contains(s)
                    || c.email
                        .as_deref()
                        .is_some_and(|e| e.to_lowercase().contains(s))
            }
        })
        .map(|c| CustomerEntry {
            id: c.id,
            name: c.display_name(),
            email: c.email.clone(),
            disabled: c.disabled == Some(true),
        })
        .collect();
    found.sort_by_key(|a| (a.name.to_lowercase(), a.id));
    let matched = found.len();
    found.truncate(SEARCH_LIMIT);
    Ok(HttpResponse::Ok().json(CustomerList {
        customers: found,
        matched,
        total: read.list.len(),
        read_at: read.read_at,
    }))
}

/// The body of a change: exactly one of the two.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MappingRequest {
    #[serde(default)]
    customer_id: Option<i64>,
    #[serde(default)]
    ignore: Option<bool>,
}

/// 422: a mapping with problems, every one named; nothing changed.
fn invalid(fields: Vec<FieldError>) -> ApiError {
    let mut error = ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_mapping",
        format!("{} problem(s) with the mapping; see `fields`", fields.len()),
    );
    error.fields = fields;
    error
}

/// The organization id's problem, if it has one (the file's rule, and what PostgreSQL and a
/// page can hold).
fn organization_problem(org: &str) -> Option<FieldError> {
    let message = if org.trim().is_empty() || org.trim() != org {
        "an organization id must not be empty or start or end with white space"
    } else if org.chars().count() > ORGANIZATION_MAX_CHARS {
        "an organization id is at most 256 characters"
    } else if org.chars().any(char::is_control) {
        "an organization id must not contain control characters"
    } else {
        return None;
    };
    Some(FieldError::new("organization", message))
}

/// `PUT /v1/mappings/{organization}`: 200 with the console mapping as stored.
pub async fn set(
    Operator(caller): Operator,
    state: web::Data<AppState>,
    organization: web::Path<String>,
    body: web::Json<MappingRequest>,
) -> Result<HttpResponse> {
    let org = organization.into_inner();
    let mut problems: Vec<FieldError> = organization_problem(&org).into_iter().collect();
    let wanted = match (body.customer_id, body.ignore.unwrap_or(false)) {
        (Some(id), false) if id > 0 => Some(id),
        (Some(_), false) => {
            problems.push(FieldError::new(
                "customer_id",
                "must be a Syncro customer id (a positive whole number)",
            ));
            None
        }
        (None, true) => None,
        (Some(_), true) | (None, false) => {
            let message = "give exactly one of customer_id and \"ignore\": true";
            problems.push(FieldError::new("customer_id", message));
            problems.push(FieldError::new("ignore", message));
            None
        }
    };
    if !problems.is_empty() {
        return Err(invalid(problems));
    }
    let (mapping, _) = mapping_now(&state).await?;
    if mapping.file_decides(&org) {
        return Err(decided_by_file(&org));
    }
    let target = match wanted {
        None => Target::Ignored,
        Some(id) => {
            let workers = &state.workers;
            let customer = workers
                .customers
                .customer(&workers.syncro, id)
                .await
                .map_err(|e| {
                    tracing::warn!(error = %e, "cannot read a Syncro customer");
                    ApiError::new(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "syncro_unavailable",
                        "Syncro could not be asked whether the customer exists; nothing was \
                         changed, try again",
                    )
                })?;
            let Some(customer) = customer else {
                return Err(invalid(vec![FieldError::new(
                    "customer_id",
                    format!("no Syncro customer has the id {id}"),
                )]));
            };
            Target::Customer {
                customer_id: id,
                customer_name: Some(customer.display_name()),
            }
        }
    };
    let (stored, before) = mappings::set(state.db()?, &caller.actor(), &org, &target).await?;
    tracing::info!(
        operator = %caller.name,
        organization = %org,
        customer_id = ?target.customer_id(),
        replaced = before.is_some(),
        "console mapping set"
    );
    Ok(HttpResponse::Ok().json(ConsoleEntry {
        mapping: stored,
        overridden: false,
    }))
}

fn decided_by_file(org: &str) -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "decided_by_file",
        format!(
            "the configuration file's [mapping] decides organization {org:?} (it maps or \
             ignores it); change it there, or remove it there to map it in the console"
        ),
    )
}

/// `DELETE /v1/mappings/{organization}`: 200 with the mapping removed; 404 when the console
/// has none for it.
pub async fn remove(
    Operator(caller): Operator,
    state: web::Data<AppState>,
    organization: web::Path<String>,
) -> Result<HttpResponse> {
    let org = organization.into_inner();
    let removed = mappings::remove(state.db()?, &caller.actor(), &org)
        .await?
        .ok_or_else(|| ApiError::not_found("the console has no mapping of that organization"))?;
    tracing::info!(operator = %caller.name, organization = %org, "console mapping removed");
    let overridden = state.workers.config.current().mapping.file_decides(&org);
    Ok(HttpResponse::Ok().json(ConsoleEntry {
        mapping: removed,
        overridden,
    }))
}
