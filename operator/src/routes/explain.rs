//! `POST /v1/explain`: the ticket one alert would make, and the rule that set each field, by
//! the workers' own plan (`processor::plan::plan`, the code a worker runs, on the workers'
//! configuration with the console's mappings as PostgreSQL has them now, as a worker's
//! would): the route and customer, the subject and group key, every ticket and note field
//! with its value and rule, the first comment, and `processor explain`'s text.
//!
//! Only pasted alerts are explained (a canonical alert, or a queue message `{"source",
//! "received_at", "alert"}`). An alert's trail keeps a summary of it (no description, no
//! details, which subjects and notes may use), not enough to plan it again faithfully;
//! its `planned` step already names the rule of each field as it was decided then.

use crate::auth::Reader;
use crate::error::{ApiError, Result};
use crate::routes::nul_problems;
use crate::state::AppState;
use actix_web::{web, HttpResponse};
use chrono::Utc;
use processor::plan::{self, explain, first_comment_body, Destination};
use serde::Serialize;
use serde_json::Value;
use shared::alert::{Alert, FieldError};
use shared::message::AlertMessage;

/// The source of a pasted canonical alert, as `processor explain` names it.
const SOURCE: &str = processor::cli::EXPLAIN_SOURCE;

/// Why an alert picked from the trail is not explained.
const TRAIL_NOT_ENOUGH: &str = "only pasted alerts are explained: the trail keeps a summary of \
    each alert (no description, no details, which subjects and notes may use), not enough to \
    plan it again; paste the alert, or see the rule of each field as it was decided in its \
    trail's planned step";

/// One field of the plan.
#[derive(Serialize)]
struct Row<'a> {
    field: &'a str,
    value: &'a str,
    /// The rule that set it, e.g. `overrides.respond_rule[match="rr-7"]`.
    set_by: &'a str,
}

#[derive(Serialize)]
struct Explained<'a> {
    message_id: String,
    source: &'a str,
    /// `customer` or `ignored`.
    route: &'static str,
    customer_id: Option<i64>,
    /// False when the customer is the catch-all, for want of a mapping.
    mapped: bool,
    subject: &'a str,
    group_key: Option<String>,
    /// Ticket fields first, then the note's (`note.…`), each with its rule.
    fields: Vec<Row<'a>>,
    /// The first comment of a new ticket (also the body of a note).
    first_comment: String,
    /// The same, told in words as `processor explain` prints it.
    text: String,
    /// Whether the console's mappings were read; false while PostgreSQL is away, when the
    /// file's mapping alone decided the customer.
    console_mappings: bool,
}

/// The alert of the body, or every problem with it.
fn message_of(body: Value) -> Result<AlertMessage> {
    let mut problems = Vec::new();
    nul_problems(&body, "", &mut problems);
    let Value::Object(object) = &body else {
        return Err(ApiError::malformed_json(
            "the body must be a JSON object: an alert",
        ));
    };
    let picked = ["message_id", "sender_id"]
        .into_iter()
        .find(|key| object.contains_key(*key) && !object.contains_key("event_type"));
    if let Some(key) = picked {
        problems.push(FieldError::new(key, TRAIL_NOT_ENOUGH));
        return Err(ApiError::invalid_alert(problems));
    }
    if !problems.is_empty() {
        return Err(ApiError::invalid_alert(problems));
    }
    let is_message = object.get("alert").is_some_and(Value::is_object)
        && object.get("source").is_some_and(Value::is_string);
    if is_message {
        let message: AlertMessage = serde_json::from_value(body)
            .map_err(|e| ApiError::malformed_json(format!("not a queue message: {e}")))?;
        let alert = message
            .alert
            .validate("alert")
            .map_err(ApiError::invalid_alert)?;
        return Ok(AlertMessage { alert, ..message });
    }
    let alert = Alert::from_json(&body, "").map_err(ApiError::invalid_alert)?;
    Ok(AlertMessage::new(SOURCE, alert, Utc::now()))
}

pub async fn explain(
    _: Reader,
    state: web::Data<AppState>,
    body: web::Json<Value>,
) -> Result<HttpResponse> {
    let message = message_of(body.into_inner())?;
    let (config, console_mappings) = state.workers_config().await;
    let config = &config;
    let plan = plan::plan(config, &message);
    let (route, customer_id, mapped) = match plan.route {
        Destination::Ignored => ("ignored", None, false),
        Destination::Customer {
            customer_id,
            mapped,
        } => ("customer", Some(customer_id), mapped),
    };
    let fields = plan
        .provenance
        .iter()
        .map(|p| Row {
            field: p.field,
            value: &p.value,
            set_by: &p.set_by,
        })
        .collect();
    Ok(HttpResponse::Ok().json(Explained {
        message_id: message.message_id(),
        source: &message.source,
        route,
        customer_id,
        mapped,
        subject: &plan.subject,
        group_key: plan.group_key(),
        fields,
        first_comment: first_comment_body(&message, &plan),
        text: explain::explain(config, &message),
        console_mappings,
    }))
}
