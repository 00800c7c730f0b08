//! `GET /v1/configuration`: the workers' effective configuration, readable: the mapping's
//! catch-all, the ticket and note defaults, grouping, the overrides in the order they are
//! consulted, and the contacts, RMM-alert, contracts and billing switches. Never a secret:
//! no token, no URL, nothing of `[syncro]`, `[redis]`, `[amqp]` or `[postgres]`.
//!
//! The file stays the record (reviewed and versioned); the console shows it and explains an
//! alert against it, and edits nothing here (`docs/console.md`).

use crate::auth::Reader;
use crate::state::AppState;
use actix_web::{web, HttpResponse};
use processor::config::{OverrideLevel, ProcessorConfig};
use serde_json::{json, Map, Value};
use shared::alert::Severity;

pub async fn show(_: Reader, state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().json(view(&state.workers.config.current()))
}

/// The readable view of `config` (every value the workers decide with, no secret).
pub fn view(config: &ProcessorConfig) -> Value {
    let mapping = &config.mapping;
    let tickets = &config.tickets;
    let priorities: Map<String, Value> = Severity::ALL
        .iter()
        .map(|s| (s.as_str().to_string(), json!(tickets.priorities.get(*s))))
        .collect();
    let grouping = &config.grouping;
    let rmm = &tickets.rmm_alert;
    let billing = &config.billing;
    json!({
        "mapping": {
            "catch_all_customer_id": mapping.catch_all_customer_id,
            "unmapped": match mapping.unmapped {
                processor::config::Unmapped::CatchAll => "catch-all",
                processor::config::Unmapped::Park => "park",
            },
            "organizations": mapping.organizations.len(),
            "ignored_organizations": mapping.ignored_organizations.len(),
        },
        "tickets": {
            "problem_type": tickets.problem_type,
            "ticket_type_id": tickets.ticket_type_id,
            "status": tickets.status,
            "assignee_user_id": tickets.assignee_user_id,
            "source_tag": tickets.source_tag,
            "subject": tickets.subject.as_str(),
            "priorities": priorities,
        },
        "notes": {
            "visibility": config.notes.visibility.as_str(),
            "title": config.notes.title.as_str(),
        },
        "grouping": {
            "window_secs": grouping.window_secs,
            "on_resolved_ticket": grouping.on_resolved_ticket.as_str(),
            "reopen_window_secs": grouping.reopen_window_secs,
            "reopen_status": grouping.reopen_status,
            "resolved_alert": grouping.resolved_alert.as_str(),
            "resolve_status": grouping.resolve_status,
        },
        "overrides": overrides(config),
        "switches": {
            "contacts": tickets.contact.match_user,
            "contacts_create_missing": tickets.contact.create_missing,
            "rmm_alerts": rmm.enabled,
            "rmm_alert_event_types": rmm.event_types,
            "contracts": config.contracts.add_to_tickets,
            "contract_devices": config.contracts.attach_devices,
            "billing": billing.sync_enabled,
        },
        "billing": {
            "sync_enabled": billing.sync_enabled,
            "sync_day": billing.sync_day,
            "sync_time": billing.sync_time.format("%H:%M").to_string(),
            "time_zone": billing.time_zone.name(),
            "organizations": billing.organizations.len(),
        },
    })
}

/// Every override in the order the plan consults them (IOC rule, Respond rule, event type;
/// within a level as written), each with the fields it sets.
fn overrides(config: &ProcessorConfig) -> Vec<Value> {
    let mut out = Vec::new();
    for level in OverrideLevel::PRECEDENCE {
        for o in config.overrides.level(level) {
            let mut sets = Map::new();
            let mut put = |key: &str, value: Option<Value>| {
                if let Some(value) = value {
                    sets.insert(key.to_string(), value);
                }
            };
            put("problem_type", o.problem_type.as_ref().map(|v| json!(v)));
            put("ticket_type_id", o.ticket_type_id.map(|v| json!(v)));
            put("status", o.status.as_ref().map(|v| json!(v)));
            put("assignee_user_id", o.assignee_user_id.map(|v| json!(v)));
            put("source_tag", o.source_tag.as_ref().map(|v| json!(v)));
            put("subject", o.subject.as_ref().map(|t| json!(t.as_str())));
            put("rmm_alert", o.rmm_alert.map(|v| json!(v)));
            for severity in Severity::ALL {
                if let Some(p) = o.priorities.get(severity) {
                    put(&format!("priority.{}", severity.as_str()), Some(json!(p)));
                }
            }
            out.push(json!({
                "rule": o.label(),
                "level": level.key(),
                "match": o.matches,
                "sets": sets,
            }));
        }
    }
    out
}
