//! Tickets, their comments and `GET /tickets/settings`.
//!
//! The 422 bodies differ by endpoint, exactly as the spec documents them: `POST /tickets` a
//! string under `error`, `PUT /tickets/{id}` and `POST /tickets/{id}/comment` an array under
//! `message` with `success: false`.

use std::cmp::Reverse;

use serde_json::{json, Map};

use super::json::J;
use super::render::{self, TicketView};
use super::{contains_ci, Ctx, Reply};
use crate::model::{is_closed_status, Comment, Ticket, Timestamp};
use crate::pagination::PageRequest;
use crate::params::{blank, Body};

/// The pseudo-status that only works as a list filter.
const NOT_CLOSED: &str = "Not Closed";

pub fn list(ctx: &mut Ctx<'_>) -> Reply {
    let q = ctx.query;
    let store = &*ctx.store;
    let customer_id = q.i64("customer_id");
    let contact_id = q.i64("contact_id");
    let user_id = if q.bool("mine") == Some(true) {
        Some(store.me.user_id)
    } else {
        q.i64("user_id")
    };
    let number = q.text("number").map(str::trim);
    let status = q.text("status");
    let text = q.text("query").map(str::to_lowercase);
    let created_after = q.date("created_after");
    let updated_after = q.date("since_updated_at");
    let resolved_after = q.date("resolved_after");
    let mut tickets: Vec<&Ticket> = store
        .tickets
        .values()
        .filter(|t| customer_id.is_none_or(|c| t.customer_id == c))
        .filter(|t| contact_id.is_none_or(|c| t.contact_id == Some(c)))
        .filter(|t| user_id.is_none_or(|u| t.user_id == Some(u)))
        .filter(|t| number.is_none_or(|n| t.number.to_string() == n))
        .filter(|t| match status {
            None => true,
            Some(NOT_CLOSED) => !is_closed_status(&t.status),
            Some(s) => t.status == s,
        })
        .filter(|t| created_after.is_none_or(|d| t.created_at > d))
        .filter(|t| updated_after.is_none_or(|d| t.updated_at > d))
        .filter(|t| resolved_after.is_none_or(|d| t.resolved_at.is_some_and(|r| r > d)))
        .filter(|t| {
            text.as_deref().is_none_or(|needle| {
                contains_ci(Some(&t.subject), needle)
                    || t.number.to_string() == needle
                    || contains_ci(
                        store
                            .customers
                            .get(&t.customer_id)
                            .map(|c| c.business_then_name())
                            .as_deref(),
                        needle,
                    )
            })
        })
        .collect();
    // Newest first, like Syncro's ticket list.
    tickets.sort_by_key(|t| Reverse((t.created_at, t.id)));
    let page = PageRequest::from_query(q, ctx.page_size("tickets"));
    let (items, meta) = page.cut(tickets);
    let view = TicketView::List {
        all_comments: q.bool("all_comments").unwrap_or(false),
    };
    let items: Vec<J> = items
        .into_iter()
        .map(|t| render::ticket(t, store, view))
        .collect();
    Reply::list("tickets", items, meta)
}

pub fn get(ctx: &mut Ctx<'_>) -> Reply {
    match ctx.id(0).and_then(|id| ctx.store.tickets.get(&id)) {
        Some(t) => ticket_reply(t, ctx),
        None => Reply::not_found(),
    }
}

fn ticket_reply(t: &Ticket, ctx: &Ctx<'_>) -> Reply {
    Reply::wrapped("ticket", render::ticket(t, ctx.store, TicketView::Detail))
}

pub fn create(ctx: &mut Ctx<'_>) -> Reply {
    let body = Body::new(ctx.body);
    let customer_id = body
        .int("customer_id")
        .value()
        .filter(|id| ctx.store.customers.contains_key(id));
    let Some(customer_id) = customer_id else {
        return Reply::unprocessable(json!({"error": "Customer required field"}));
    };
    let mut ticket = Ticket {
        id: 0,
        number: 0,
        subject: String::new(),
        customer_id,
        contact_id: None,
        user_id: None,
        problem_type: None,
        status: "New".into(),
        priority: None,
        ticket_type_id: None,
        location_id: None,
        sla_id: None,
        contract_id: None,
        due_date: None,
        start_at: None,
        end_at: None,
        resolved_at: None,
        asset_ids: Vec::new(),
        tag_list: Vec::new(),
        properties: Map::new(),
        signature_name: None,
        comments: Vec::new(),
        created_at: ctx.now,
        updated_at: ctx.now,
    };
    let errors = apply_fields(&mut ticket, &body, ctx);
    if !errors.is_empty() {
        // POST /tickets documents a single string under `error`.
        return Reply::unprocessable(json!({"error": errors.join(", ")}));
    }
    ticket.id = ctx.store.new_ticket_id();
    // A custom number must be numeric: Syncro returns `number` as an integer.
    ticket.number = match body.int("number").value() {
        Some(n) => {
            ctx.store.note_ticket_number(n);
            n
        }
        None => ctx.store.new_ticket_number(),
    };
    for c in &mut ticket.comments {
        c.id = ctx.store.new_comment_id();
    }
    let reply = ticket_reply(&ticket, ctx);
    ctx.store.tickets.insert(ticket.id, ticket);
    reply
}

pub fn update(ctx: &mut Ctx<'_>) -> Reply {
    let Some(mut ticket) = ctx.id(0).and_then(|id| ctx.store.tickets.get(&id)).cloned() else {
        return Reply::not_found();
    };
    let body = Body::new(ctx.body);
    let mut errors = Vec::new();
    if let Some(customer_id) = body.int("customer_id").present() {
        match customer_id.filter(|id| ctx.store.customers.contains_key(id)) {
            Some(id) => ticket.customer_id = id,
            None => errors.push("Customer can't be blank".to_string()),
        }
    }
    errors.extend(apply_fields(&mut ticket, &body, ctx));
    if !errors.is_empty() {
        return Reply::unprocessable(json!({"success": false, "message": errors}));
    }
    for c in ticket.comments.iter_mut().filter(|c| c.id == 0) {
        c.id = ctx.store.new_comment_id();
    }
    ticket.updated_at = ctx.now;
    let reply = ticket_reply(&ticket, ctx);
    ctx.store.tickets.insert(ticket.id, ticket);
    reply
}

/// Applies the writable fields sent (only those) and returns the validation errors, in the
/// order Rails would list them. Shared by create and update, whose bodies are one schema.
fn apply_fields(t: &mut Ticket, body: &Body<'_>, ctx: &Ctx<'_>) -> Vec<String> {
    let mut errors = Vec::new();
    if let Some(subject) = body.string("subject").present() {
        t.subject = subject.unwrap_or_default();
    }
    if t.subject.trim().is_empty() {
        errors.push("Subject can't be blank".to_string());
    }
    body.int("contact_id").apply(&mut t.contact_id);
    body.int("user_id").apply(&mut t.user_id);
    body.int("ticket_type_id").apply(&mut t.ticket_type_id);
    body.int("location_id").apply(&mut t.location_id);
    body.int("sla_id").apply(&mut t.sla_id);
    body.string("problem_type").apply(&mut t.problem_type);
    body.string("priority").apply(&mut t.priority);
    body.string("signature_name").apply(&mut t.signature_name);
    body.time("due_date").apply(&mut t.due_date);
    body.time("start_at").apply(&mut t.start_at);
    body.time("end_at").apply(&mut t.end_at);
    if !ctx.options.ignore_contract_id {
        body.int("contract_id").apply(&mut t.contract_id);
    }
    if let Some(ids) = body.int_list("asset_ids").present() {
        // Unknown ids are dropped rather than refused.
        t.asset_ids = ids
            .unwrap_or_default()
            .into_iter()
            .filter(|id| ctx.store.assets.contains_key(id))
            .collect();
    }
    if let Some(tags) = body.string_list("tag_list").present() {
        t.tag_list = tags.unwrap_or_default();
    }
    if let Some(props) = body.object("properties").present() {
        t.properties = props.unwrap_or_default();
    }
    if let Some(status) = body.string("status").value() {
        if status == NOT_CLOSED {
            errors.push("Status \"Not Closed\" is a search filter, not a status".to_string());
        } else if !status.trim().is_empty() {
            set_status(t, status, ctx.now);
        }
    }
    // `line_items` sent with a ticket are ignored by Syncro (LIVE); so they are here.
    for attrs in body.objects("comments_attributes") {
        match build_comment(&Body::of(attrs), ctx, "Comments ") {
            Ok(c) => t.comments.push(c),
            Err(e) => errors.extend(e),
        }
    }
    errors
}

fn set_status(t: &mut Ticket, status: String, now: Timestamp) {
    if is_closed_status(&status) {
        t.resolved_at.get_or_insert(now);
    } else {
        t.resolved_at = None;
    }
    t.status = status;
}

/// A comment from request fields (id 0 until stored), or its validation errors with `prefix`
/// ("Comments " for nested attributes, as Rails names them).
fn build_comment(body: &Body<'_>, ctx: &Ctx<'_>, prefix: &str) -> Result<Comment, Vec<String>> {
    let subject = body.string("subject").value();
    let text = body.string("body").value();
    let mut errors = Vec::new();
    if blank(&text) {
        errors.push(format!("{prefix}Body can't be blank"));
    }
    if blank(&subject) {
        errors.push(format!("{prefix}Subject can't be blank"));
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    // `do_not_email` is accepted and not stored: Syncro never returns it (LIVE).
    Ok(Comment {
        id: 0,
        subject: subject.unwrap_or_default(),
        body: text.unwrap_or_default(),
        tech: body.string("tech").value(),
        hidden: body.bool("hidden").value().unwrap_or(false),
        sms_body: body.string("sms_body").value(),
        user_id: Some(ctx.store.me.user_id),
        created_at: ctx.now,
        updated_at: ctx.now,
    })
}

pub fn add_comment(ctx: &mut Ctx<'_>) -> Reply {
    let Some(ticket_id) = ctx.id(0).filter(|id| ctx.store.tickets.contains_key(id)) else {
        return Reply::not_found();
    };
    let mut comment = match build_comment(&Body::new(ctx.body), ctx, "") {
        Ok(c) => c,
        Err(errors) => {
            return Reply::unprocessable(json!({"success": false, "message": errors}));
        }
    };
    comment.id = ctx.store.new_comment_id();
    let reply = Reply::wrapped("comment", render::comment(&comment, ticket_id));
    if let Some(ticket) = ctx.store.tickets.get_mut(&ticket_id) {
        ticket.comments.push(comment);
        ticket.updated_at = ctx.now;
    }
    reply
}

pub fn list_comments(ctx: &mut Ctx<'_>) -> Reply {
    let Some(ticket) = ctx.id(0).and_then(|id| ctx.store.tickets.get(&id)) else {
        return Reply::not_found();
    };
    let q = ctx.query;
    let by_updated = q.get("sort_by") == Some("updated_at");
    let ascending = q
        .get("sort_direction")
        .is_some_and(|d| d.eq_ignore_ascii_case("asc"));
    let bounds = [
        (q.date("created_after"), q.date("created_before")),
        (q.date("updated_after"), q.date("updated_before")),
    ];
    let mut comments: Vec<&Comment> = ticket
        .comments
        .iter()
        .filter(|c| {
            let times = [c.created_at, c.updated_at];
            times.iter().zip(&bounds).all(|(t, (after, before))| {
                after.is_none_or(|a| *t > a) && before.is_none_or(|b| *t < b)
            })
        })
        .collect();
    // Newest first unless asked otherwise (LIVE saw newest first by default).
    comments.sort_by_key(|c| {
        (
            if by_updated {
                c.updated_at
            } else {
                c.created_at
            },
            c.id,
        )
    });
    if !ascending {
        comments.reverse();
    }
    let (items, meta) = PageRequest::from_query(q, ctx.page_size("comments")).cut(comments);
    let items: Vec<J> = items
        .into_iter()
        .map(|c| render::listed_comment(c, ticket.id, ctx.store))
        .collect();
    Reply::list("comments", items, meta)
}

pub fn settings(ctx: &mut Ctx<'_>) -> Reply {
    let store = &*ctx.store;
    let users: Vec<serde_json::Value> = store
        .users
        .iter()
        .map(|u| json!({"id": u.id, "name": u.name}))
        .collect();
    Reply::ok(json!({
        "ticket_status_list": store.ticket_statuses,
        "default_labor_product_id": null,
        "ticket_timer_charge_by_default": null,
        "saved_searches": [],
        "ticket_types": super::account::ticket_types(ctx.store),
        "ticket_type_fields": [],
        "ticket_type_field_answers": [],
        "appointment_types": [],
        "users": users,
        "dashboard_settings": null,
        "worksheet_templates": [],
        "require_ticket_type": null,
        "require_intake_form_with_ticket": null,
        "require_outtake_form_with_ticket": null,
        "ticket_workflow_default_id": null,
    }))
}
