//! Contracts (bare objects, no wrapper) and recurring-invoice schedules with their line items.

use serde_json::json;

use super::json::J;
use super::render;
use super::{Ctx, Reply};
use crate::model::{LineItem, Schedule};
use crate::pagination::PageRequest;
use crate::params::{blank, Body};

/// Recurring types Syncro knows (the spec's enum stops at 6; MCP lists 1..=11).
const RECURRING_TYPES: std::ops::RangeInclusive<i64> = 1..=11;

pub fn list_contracts(ctx: &mut Ctx<'_>) -> Reply {
    // `page` is the only documented filter: a `customer_id` sent here is ignored, as the
    // client must filter contracts itself (syncro-api.md §6).
    let contracts: Vec<_> = ctx.store.contracts.values().collect();
    let (items, meta) =
        PageRequest::from_query(ctx.query, ctx.page_size("contracts")).cut(contracts);
    let items: Vec<J> = items.into_iter().map(render::contract).collect();
    Reply::list("contracts", items, meta)
}

pub fn get_contract(ctx: &mut Ctx<'_>) -> Reply {
    match ctx.id(0).and_then(|id| ctx.store.contracts.get(&id)) {
        Some(k) => Reply::ok(render::contract(k)),
        None => Reply::not_found(),
    }
}

pub fn list_schedules(ctx: &mut Ctx<'_>) -> Reply {
    let customer_id = ctx.query.i64("customer_id");
    let schedules: Vec<&Schedule> = ctx
        .store
        .schedules
        .values()
        .filter(|s| customer_id.is_none_or(|c| s.customer_id == c))
        .collect();
    let (items, meta) =
        PageRequest::from_query(ctx.query, ctx.page_size("schedules")).cut(schedules);
    let items: Vec<J> = items.into_iter().map(render::schedule).collect();
    Reply::list("schedules", items, meta)
}

pub fn get_schedule(ctx: &mut Ctx<'_>) -> Reply {
    match ctx.id(0).and_then(|id| ctx.store.schedules.get(&id)) {
        Some(s) => Reply::wrapped("schedule", render::schedule(s)),
        None => Reply::not_found(),
    }
}

/// `POST /schedules/{id}/add_line_item` and `POST /schedules/{id}/line_items`.
pub fn add_line_item(ctx: &mut Ctx<'_>) -> Reply {
    let Some(schedule_id) = ctx.id(0).filter(|id| ctx.store.schedules.contains_key(id)) else {
        return Reply::not_found();
    };
    let mut line = LineItem {
        id: 0,
        name: None,
        description: None,
        quantity: 0.0,
        retail_cents: 0,
        cost_cents: 0,
        position: None,
        product_id: None,
        product_category: None,
        taxable: false,
        one_time_charge: false,
        user_id: Some(ctx.store.me.user_id),
        asset_type_id: None,
        recurring_type_id: None,
        contact_field_type_id: None,
        contact_field_answer_id: None,
        saved_asset_search_id: None,
    };
    if let Err(reply) = apply_line_fields(&mut line, &Body::new(ctx.body)) {
        return reply;
    }
    line.id = ctx.store.new_line_item_id();
    let Some(schedule) = ctx.store.schedules.get_mut(&schedule_id) else {
        return Reply::not_found();
    };
    line.position.get_or_insert(schedule.lines.len() as i64);
    let reply = Reply::wrapped("schedule_line_item", render::line_item(schedule_id, &line));
    schedule.lines.push(line);
    reply
}

/// `PUT /schedules/{id}/line_items/{line_item_id}`: only the fields sent change.
pub fn update_line_item(ctx: &mut Ctx<'_>) -> Reply {
    let (Some(schedule_id), Some(line_id)) = (ctx.id(0), ctx.id(1)) else {
        return Reply::not_found();
    };
    let Some(line) = ctx
        .store
        .schedules
        .get_mut(&schedule_id)
        .and_then(|s| s.lines.iter_mut().find(|l| l.id == line_id))
    else {
        return Reply::not_found();
    };
    let mut updated = line.clone();
    if let Err(reply) = apply_line_fields(&mut updated, &Body::new(ctx.body)) {
        return reply;
    }
    *line = updated;
    Reply::wrapped("schedule_line_item", render::line_item(schedule_id, line))
}

/// Applies the fields sent; on a validation failure returns the schedule endpoints' 422 shape,
/// an array of messages under `error`.
fn apply_line_fields(l: &mut LineItem, body: &Body<'_>) -> Result<(), Reply> {
    let mut errors = Vec::new();
    body.string("name").apply(&mut l.name);
    body.string("description").apply(&mut l.description);
    body.string("product_category")
        .apply(&mut l.product_category);
    body.int("product_id").apply(&mut l.product_id);
    body.int("position").apply(&mut l.position);
    body.int("user_id").apply(&mut l.user_id);
    body.int("asset_type_id").apply(&mut l.asset_type_id);
    body.int("contact_field_type_id")
        .apply(&mut l.contact_field_type_id);
    body.int("contact_field_answer_id")
        .apply(&mut l.contact_field_answer_id);
    body.int("saved_asset_search_id")
        .apply(&mut l.saved_asset_search_id);
    if let Some(v) = body.bool("taxable").value() {
        l.taxable = v;
    }
    if let Some(v) = body.bool("one_time_charge").value() {
        l.one_time_charge = v;
    }
    // Cents win over the dollar mirrors when both are sent.
    let money = [
        ("retail_cents", "price_retail", &mut l.retail_cents),
        ("cost_cents", "price_cost", &mut l.cost_cents),
    ];
    for (cents_key, dollars_key, target) in money {
        if let Some(cents) = body.int(cents_key).value() {
            *target = cents;
        } else if let Some(dollars) = body.float(dollars_key).value() {
            *target = (dollars * 100.0).round() as i64;
        }
    }
    match body.int("recurring_type_id").present() {
        Some(Some(t)) if !RECURRING_TYPES.contains(&t) => {
            errors.push("Recurring type is not included in the list".to_string());
        }
        Some(t) => l.recurring_type_id = t,
        None => {}
    }
    // Syncro counts the quantity of counted types itself and ignores a sent one.
    if !l.is_counted() {
        if let Some(q) = body.float("quantity").value() {
            if q < 0.0 {
                errors.push("Quantity must be greater than or equal to 0".to_string());
            } else {
                l.quantity = q;
            }
        }
    }
    if blank(&l.name) && l.product_id.is_none() {
        errors.insert(0, "Name can't be blank".to_string());
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Reply::unprocessable(json!({"error": errors})))
    }
}
