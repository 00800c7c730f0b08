//! A customer's contacts: `GET /contacts` (by `customer_id`, paged), `GET /contacts/{id}`
//! (a bare object) and `POST /contacts` (a bare object; 404 for an unknown customer, 422 as
//! `{"record": …, "errors": "…"}`), as the spec documents them (syncro-api.md §5.3).

use serde_json::{json, Value};

use super::json::J;
use super::render;
use super::{contains_ci, Ctx, Reply};
use crate::model::{Contact, Customer};
use crate::pagination::PageRequest;
use crate::params::{blank, Body};

/// Every contact with its customer, customer by customer, oldest contact first.
fn all(customers: &std::collections::BTreeMap<i64, Customer>) -> Vec<(i64, &Contact)> {
    customers
        .values()
        .flat_map(|c| c.contacts.iter().map(move |k| (c.id, k)))
        .collect()
}

pub fn list(ctx: &mut Ctx<'_>) -> Reply {
    let q = ctx.query;
    let customer_id = q.i64("customer_id");
    // `query` is not in the spec (whose only filter is `customer_id`); searching names,
    // emails and phones like the other lists' `query` does is what Syncro's list pages do.
    let text = q.text("query").map(str::to_lowercase);
    let contacts: Vec<(i64, &Contact)> = all(&ctx.store.customers)
        .into_iter()
        .filter(|(c, _)| customer_id.is_none_or(|id| *c == id))
        .filter(|(_, k)| {
            text.as_deref().is_none_or(|t| {
                contains_ci(Some(&k.name), t)
                    || contains_ci(k.email.as_deref(), t)
                    || contains_ci(k.phone.as_deref(), t)
                    || contains_ci(k.mobile.as_deref(), t)
            })
        })
        .collect();
    let (items, meta) = PageRequest::from_query(q, ctx.page_size("contacts")).cut(contacts);
    let items: Vec<J> = items
        .into_iter()
        .map(|(c, k)| render::contact(k, c))
        .collect();
    Reply::list("contacts", items, meta)
}

pub fn get(ctx: &mut Ctx<'_>) -> Reply {
    let id = ctx.id(0);
    match all(&ctx.store.customers)
        .into_iter()
        .find(|(_, k)| Some(k.id) == id)
    {
        Some((c, k)) => Reply::ok(render::contact(k, c)),
        None => Reply::not_found(),
    }
}

pub fn create(ctx: &mut Ctx<'_>) -> Reply {
    let body = Body::new(ctx.body);
    let mut contact = Contact {
        id: 0,
        name: body.string("name").value().unwrap_or_default(),
        email: body
            .string("email")
            .value()
            .filter(|e| !e.trim().is_empty()),
        phone: body.string("phone").value(),
        mobile: body.string("mobile").value(),
        notes: body.string("notes").value(),
        created_at: ctx.now,
        updated_at: ctx.now,
    };
    let customer_id = body.int("customer_id").value();
    let mut errors = Vec::new();
    match customer_id {
        None => errors.push("Customer can't be blank"),
        Some(id) if !ctx.store.customers.contains_key(&id) => return Reply::not_found(),
        Some(_) => {}
    }
    if contact.email.as_deref().is_some_and(|e| !is_email(e)) {
        errors.push("Email is not an email");
    }
    if blank(&Some(contact.name.clone())) {
        // Syncro's contacts always have a name; the address stands in when none is sent.
        contact.name = contact.email.clone().unwrap_or_default();
    }
    if !errors.is_empty() {
        return Reply::unprocessable(json!({
            "record": rejected(&contact, customer_id),
            "errors": errors.join(", "),
        }));
    }
    let Some(customer) = customer_id.and_then(|id| ctx.store.customers.get(&id)) else {
        return Reply::not_found();
    };
    let customer_id = customer.id;
    contact.id = ctx.store.new_contact_id();
    let reply = Reply::ok(render::contact(&contact, customer_id));
    if let Some(customer) = ctx.store.customers.get_mut(&customer_id) {
        customer.contacts.push(contact);
    }
    reply
}

/// `local@domain.tld`, loosely: what a 422 "is not an email" refuses.
fn is_email(e: &str) -> bool {
    let e = e.trim();
    e.split_once('@').is_some_and(|(local, domain)| {
        !local.is_empty() && domain.contains('.') && !e.contains(char::is_whitespace)
    })
}

/// The 422 answer's `record`: the contact as it would have been saved, `id` null.
fn rejected(contact: &Contact, customer_id: Option<i64>) -> Value {
    json!({
        "id": null, "name": contact.name, "address1": null, "address2": null, "city": null,
        "state": null, "zip": null, "email": contact.email, "phone": contact.phone,
        "mobile": contact.mobile, "latitude": null, "longitude": null,
        "customer_id": customer_id, "account_id": render::ACCOUNT_ID, "notes": contact.notes,
        "created_at": null, "updated_at": null, "vendor_id": null, "properties": {},
        "opt_out": false, "extension": null, "processed_phone": null, "processed_mobile": null,
    })
}
