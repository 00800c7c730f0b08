//! Account-wide reads: `GET /settings` (problem types, priorities, asset types) and `GET /me`.

use serde_json::{json, Value};

use super::{Ctx, Reply};

pub fn settings(ctx: &mut Ctx<'_>) -> Reply {
    let store = &*ctx.store;
    let asset_types: Vec<Value> = store
        .asset_types
        .iter()
        .map(|t| json!({"id": t.id, "name": t.name}))
        .collect();
    let business_hours: Vec<Value> = [
        "Sunday",
        "Monday",
        "Tuesday",
        "Wednesday",
        "Thursday",
        "Friday",
        "Saturday",
    ]
    .into_iter()
    .map(|day| {
        let weekend = matches!(day, "Saturday" | "Sunday");
        json!({"day": day, "start": "09:00", "end": "17:00", "closed": weekend})
    })
    .collect();
    Reply::ok(json!({
        "customers": {"required_fields": null, "customer_fields": [], "customer_field_answers": []},
        "assets": {"asset_types": asset_types, "asset_type_fields": [], "asset_type_field_answers": []},
        "locale": {
            "iso_code": "en", "currency_symbol": "$", "date_format": "mm-dd-yy",
            "time_format": "hh:mm tt", "time_zone": "UTC", "time_offset": "+00:00"
        },
        "ticket": {
            "ticket_types": [], "ticket_type_fields": [], "ticket_type_field_answers": [],
            "problem_types": store.problem_types,
            "priorities": store.priorities,
        },
        "business_hours_enabled": true,
        "business_hours": business_hours,
        "default_holiday_calendar": "USA",
        "msp_addon": null,
    }))
}

pub fn me(ctx: &mut Ctx<'_>) -> Reply {
    let me = &ctx.store.me;
    let all = json!({"read": true, "write": true, "delete": true});
    Reply::ok(json!({
        // Syncro returns a `user_token` here; a fixed dummy stands in for it so the API token
        // is never echoed back.
        "user_token": "00000000-0000-4000-8000-000000000000",
        "user_email": me.user_email,
        "user_name": me.user_name,
        "user_id": me.user_id,
        "admin": me.admin,
        "can_use_app": true,
        "two_factor_required": false,
        "subdomain": me.subdomain,
        "default_location": null,
        "enable_multi_locations": false,
        "locations_allowed": [],
        "permissions": {
            "asset": all, "customer": all, "ticket": all, "invoice": all, "payment": all,
            "worksheet": {"add": true, "manage": true, "delete": true},
            "script": {"execute": true}
        },
    }))
}
