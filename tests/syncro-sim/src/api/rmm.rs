//! RMM alerts (syncro-api.md §8.3): `GET /rmm_alerts` (`status` = `active` [default],
//! `resolved` or `all`; paged), `GET /rmm_alerts/{id}` (`{"rmm_alert": …}`),
//! `POST /rmm_alerts` (201 `{"success": true, "alert": …}`: the wrapper is `alert`),
//! `DELETE /rmm_alerts/{id}` (a soft clear: `resolved` becomes true, the alert stays
//! readable; `{"success": "true"}`, a string) and `POST /rmm_alerts/{id}/mute` (`mute_for`
//! from the query, as the spec declares it, or the body, as working clients send it).

use serde_json::{json, Value};

use super::json::{obj, J};
use super::render::{self, ACCOUNT_ID};
use super::{Ctx, Reply};
use crate::model::RmmAlert;
use crate::pagination::PageRequest;
use crate::params::Body;
use crate::store::Store;

/// The `mute_for` values Syncro accepts.
pub const MUTE_FOR: [&str; 7] = [
    "1-hour", "1-day", "2-days", "1-week", "2-weeks", "1-month", "forever",
];

/// An alert as lists and `GET /rmm_alerts/{id}` show it (the spec's list example), or, with
/// `created`, as the creation's answer shows it (`account_id`, `ticket_id`, no ticket
/// number or status).
fn alert<'a>(a: &'a RmmAlert, store: &'a Store, created: bool) -> J<'a> {
    let computer_name = a
        .asset_id
        .and_then(|id| store.assets.get(&id))
        .map_or(J::Null, |asset| J::Str(&asset.name));
    let mut m = obj! {
        "id" => a.id,
        "customer_id" => a.customer_id,
        "computer_name" => computer_name,
        "properties" => &a.properties,
        "resolved" => a.resolved,
        "check_id" => J::Null,
        "status" => &a.status,
        "formatted_output" => &a.formatted_output,
        "description" => &a.description,
        "created_at" => render::time(&a.created_at),
        "updated_at" => render::time(&a.updated_at),
        "asset_id" => a.asset_id,
    };
    if created {
        m.push("account_id", ACCOUNT_ID);
        m.push("ticket_id", J::Null);
    } else {
        m.push("ticket_number", J::Null);
        m.push("ticket_status", J::Null);
    }
    m
}

pub fn list(ctx: &mut Ctx<'_>) -> Reply {
    let q = ctx.query;
    let store = &*ctx.store;
    let status = q.text("status").unwrap_or("active");
    let alerts: Vec<&RmmAlert> = store
        .rmm_alerts
        .values()
        .filter(|a| match status {
            "all" => true,
            "resolved" => a.resolved,
            _ => !a.resolved,
        })
        .collect();
    let (items, meta) = PageRequest::from_query(q, ctx.page_size("rmm_alerts")).cut(alerts);
    let items: Vec<J> = items.into_iter().map(|a| alert(a, store, false)).collect();
    Reply::list("rmm_alerts", items, meta)
}

pub fn get(ctx: &mut Ctx<'_>) -> Reply {
    match ctx.id(0).and_then(|id| ctx.store.rmm_alerts.get(&id)) {
        Some(a) => Reply::wrapped("rmm_alert", alert(a, ctx.store, false)),
        None => Reply::not_found(),
    }
}

pub fn create(ctx: &mut Ctx<'_>) -> Reply {
    let body = Body::new(ctx.body);
    let customer_id = body
        .int("customer_id")
        .value()
        .filter(|id| ctx.store.customers.contains_key(id));
    let Some(customer_id) = customer_id else {
        return Reply::unprocessable(json!({"errors": {"customer": ["must exist"]}}));
    };
    let asset_id = body.int("asset_id").value();
    if let Some(id) = asset_id {
        let owned = ctx
            .store
            .assets
            .get(&id)
            .is_some_and(|a| a.customer_id == customer_id);
        if !owned {
            return Reply::unprocessable(
                json!({"errors": {"asset": ["must belong to the customer"]}}),
            );
        }
    }
    // `subject`, `body`, `hidden`, `sms_body`, `do_not_email`, `tech`, `skip_automation`
    // in the spec; kept as sent.
    let properties = body.object("properties").value().unwrap_or_default();
    let a = RmmAlert {
        id: ctx.store.new_rmm_alert_id(),
        customer_id,
        asset_id,
        description: body.string("description").value(),
        formatted_output: body.string("formatted_output").value(),
        status: body.string("status").value(),
        resolved: body.bool("resolved").value().unwrap_or(false),
        properties,
        muted_for: None,
        created_at: ctx.now,
        updated_at: ctx.now,
    };
    let reply = Reply::new(
        201,
        &J::Obj(vec![
            ("success", J::Bool(true)),
            ("alert", alert(&a, ctx.store, true)),
        ]),
    );
    ctx.store.rmm_alerts.insert(a.id, a);
    reply
}

/// `DELETE`: Syncro clears the alert (it stays, `resolved`), and answers `"true"`, a string.
pub fn clear(ctx: &mut Ctx<'_>) -> Reply {
    let now = ctx.now;
    match ctx.id(0).and_then(|id| ctx.store.rmm_alerts.get_mut(&id)) {
        Some(a) => {
            a.resolved = true;
            a.updated_at = now;
            Reply::ok(json!({"success": "true"}))
        }
        None => Reply::not_found(),
    }
}

pub fn mute(ctx: &mut Ctx<'_>) -> Reply {
    let body = Body::new(ctx.body);
    let wanted = ctx
        .query
        .text("mute_for")
        .map(str::to_string)
        .or_else(|| body.string("mute_for").value());
    let Some(id) = ctx.id(0).filter(|id| ctx.store.rmm_alerts.contains_key(id)) else {
        return Reply::not_found();
    };
    let Some(mute_for) = wanted.filter(|w| MUTE_FOR.contains(&w.as_str())) else {
        return Reply::unprocessable(
            json!({"errors": {"mute_for": [format!("must be one of {}", MUTE_FOR.join(", "))]}}),
        );
    };
    if let Some(a) = ctx.store.rmm_alerts.get_mut(&id) {
        a.muted_for = Some(mute_for);
        a.updated_at = ctx.now;
    }
    Reply::ok(Value::Object(
        [("success".to_string(), json!("true"))]
            .into_iter()
            .collect(),
    ))
}
