//! Customers: list and search, get, autocomplete.

use super::json::J;
use super::render::{self, CustomerView};
use super::{contains_ci, Ctx, Reply};
use crate::model::Customer;
use crate::pagination::PageRequest;

/// How many customers autocomplete returns at most.
const AUTOCOMPLETE_LIMIT: usize = 25;

/// Whether `query` (lower case) matches a customer's names, email or phone numbers.
fn matches_query(c: &Customer, needle: &str) -> bool {
    let digits: String = needle.chars().filter(char::is_ascii_digit).collect();
    let phone_matches = |p: &Option<String>| {
        digits.len() >= 3
            && p.as_deref().is_some_and(|p| {
                p.chars()
                    .filter(char::is_ascii_digit)
                    .collect::<String>()
                    .contains(&digits)
            })
    };
    contains_ci(c.business_name.as_deref(), needle)
        || contains_ci(c.fullname().as_deref(), needle)
        || contains_ci(c.email.as_deref(), needle)
        || phone_matches(&c.phone)
        || phone_matches(&c.mobile)
}

pub fn list(ctx: &mut Ctx<'_>) -> Reply {
    let q = ctx.query;
    let store = &*ctx.store;
    let text = q.text("query").map(str::to_lowercase);
    let likes: Vec<(&str, String)> = ["business_name", "firstname", "lastname"]
        .into_iter()
        .filter_map(|k| q.text(k).map(|v| (k, v.to_lowercase())))
        .collect();
    let email = q.text("email").map(str::trim);
    let include: Vec<i64> = q.all("id").iter().filter_map(|v| v.parse().ok()).collect();
    let exclude: Vec<i64> = q
        .all("not_id")
        .iter()
        .filter_map(|v| v.parse().ok())
        .collect();
    let include_disabled = q.bool("include_disabled").unwrap_or(false);
    let mut customers: Vec<&Customer> = store
        .customers
        .values()
        .filter(|c| include_disabled || !c.disabled)
        .filter(|c| include.is_empty() || include.contains(&c.id))
        .filter(|c| !exclude.contains(&c.id))
        .filter(|c| text.as_deref().is_none_or(|t| matches_query(c, t)))
        .filter(|c| {
            likes.iter().all(|(field, needle)| {
                let value = match *field {
                    "business_name" => c.business_name.as_deref(),
                    "firstname" => c.firstname.as_deref(),
                    _ => c.lastname.as_deref(),
                };
                contains_ci(value, needle)
            })
        })
        // `email` is an equality filter (case-insensitive); `query` covers partial matches.
        .filter(|c| {
            email.is_none_or(|e| {
                c.email
                    .as_deref()
                    .is_some_and(|ce| ce.eq_ignore_ascii_case(e))
            })
        })
        .collect();
    if let Some(sort) = q.text("sort") {
        sort_customers(&mut customers, sort);
    }
    let (items, meta) = PageRequest::from_query(q, ctx.page_size("customers")).cut(customers);
    let items: Vec<J> = items
        .into_iter()
        .map(|c| render::customer(c, store, CustomerView::List))
        .collect();
    Reply::list("customers", items, meta)
}

/// Applies `sort=field [ASC|DESC]`; unknown fields keep the default (id) order.
fn sort_customers(customers: &mut [&Customer], sort: &str) {
    let mut words = sort.split_whitespace();
    let field = words.next().unwrap_or_default();
    let descending = words.next().is_some_and(|d| d.eq_ignore_ascii_case("desc"));
    let key = |c: &Customer| -> Option<String> {
        match field {
            "business_name" => c.business_name.clone(),
            "firstname" => c.firstname.clone(),
            "lastname" => c.lastname.clone(),
            "email" => c.email.clone(),
            "city" => c.city.clone(),
            "created_at" => Some(c.created_at.to_rfc3339()),
            _ => None,
        }
        .map(|v| v.to_lowercase())
    };
    const SORTABLE: [&str; 6] = [
        "business_name",
        "firstname",
        "lastname",
        "email",
        "city",
        "created_at",
    ];
    if !SORTABLE.contains(&field) {
        return;
    }
    customers.sort_by(|a, b| {
        let order = key(a).cmp(&key(b)).then(a.id.cmp(&b.id));
        if descending {
            order.reverse()
        } else {
            order
        }
    });
}

pub fn get(ctx: &mut Ctx<'_>) -> Reply {
    match ctx.id(0).and_then(|id| ctx.store.customers.get(&id)) {
        Some(c) => Reply::wrapped(
            "customer",
            render::customer(c, ctx.store, CustomerView::Detail),
        ),
        None => Reply::not_found(),
    }
}

pub fn autocomplete(ctx: &mut Ctx<'_>) -> Reply {
    let store = &*ctx.store;
    let needle = ctx.query.text("query").map(str::to_lowercase);
    let items: Vec<J> = store
        .customers
        .values()
        .filter(|c| !c.disabled)
        .filter(|c| needle.as_deref().is_none_or(|n| matches_query(c, n)))
        .take(AUTOCOMPLETE_LIMIT)
        .map(|c| render::customer(c, store, CustomerView::List))
        .collect();
    Reply::wrapped("customers", J::Arr(items))
}
