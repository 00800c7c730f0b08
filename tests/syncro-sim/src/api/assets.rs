//! Customer assets: list (by customer, type, search text) and get (`{"asset": …}`).

use super::json::J;

use super::render;
use super::{contains_ci, Ctx, Reply};
use crate::model::Asset;
use crate::pagination::PageRequest;

pub fn list(ctx: &mut Ctx<'_>) -> Reply {
    let q = ctx.query;
    let store = &*ctx.store;
    let customer_id = q.i64("customer_id");
    let asset_type_id = q.i64("asset_type_id");
    let snmp_enabled = q.bool("snmp_enabled");
    // `query` searches names and serials; MAC addresses are matched by the client, which
    // reads them from `properties` (syncro-api.md §8.2).
    let text = q.text("query").map(str::to_lowercase);
    let assets: Vec<&Asset> = store
        .assets
        .values()
        .filter(|a| customer_id.is_none_or(|c| a.customer_id == c))
        .filter(|a| asset_type_id.is_none_or(|t| store.asset_type_id(&a.asset_type) == Some(t)))
        .filter(|a| snmp_enabled.is_none_or(|s| a.snmp_enabled.unwrap_or(false) == s))
        .filter(|a| {
            text.as_deref().is_none_or(|t| {
                contains_ci(Some(&a.name), t) || contains_ci(a.asset_serial.as_deref(), t)
            })
        })
        .collect();
    let (items, meta) = PageRequest::from_query(q, ctx.page_size("assets")).cut(assets);
    let items: Vec<J> = items.into_iter().map(|a| render::asset(a, store)).collect();
    Reply::list("assets", items, meta)
}

pub fn get(ctx: &mut Ctx<'_>) -> Reply {
    // The spec's schema for this operation shows no wrapper; every client that works reads
    // `asset` (syncro-api.md §8.2, [C2]).
    match ctx.id(0).and_then(|id| ctx.store.assets.get(&id)) {
        Some(a) => Reply::wrapped("asset", render::asset(a, ctx.store)),
        None => Reply::not_found(),
    }
}
