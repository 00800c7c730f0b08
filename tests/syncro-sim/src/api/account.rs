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
            "ticket_types": ticket_types(store), "ticket_type_fields": [], "ticket_type_field_answers": [],
            "problem_types": store.problem_types,
            "priorities": store.priorities,
        },
        "business_hours_enabled": true,
        "business_hours": business_hours,
        "default_holiday_calendar": "USA",
        "msp_addon": null,
    }))
}

/// The account's ticket types as `{id, name}` (shared with `GET /tickets/settings`).
pub fn ticket_types(store: &crate::store::Store) -> Vec<Value> {
    store
        .ticket_types
        .iter()
        .map(|t| json!({"id": t.id, "name": t.name}))
        .collect()
}

/// One flag of a `GET /me` permissions group and the named permissions behind it.
pub type MeFlag = (&'static str, &'static [&'static str]);

/// Each `permissions` group of `GET /me` and the named token permissions behind each of its
/// flags: a flag is true when the token has every one. The spec's example shows only the
/// groups `asset` … `script`; `rmm_alert` is the simulator's rendering of the RMM-alert
/// permissions, which the example does not show (a real account may report them under
/// another name, or not at all).
pub const ME_PERMISSIONS: [(&str, &[MeFlag]); 8] = [
    (
        "asset",
        &[
            ("read", &["Assets - List/Search"]),
            ("write", &["Assets - Edit"]),
            ("delete", &["Assets - Delete"]),
        ],
    ),
    (
        "customer",
        &[
            (
                "read",
                &["Customers - List/Search", "Customers - View Detail"],
            ),
            ("write", &["Customers - Edit"]),
            ("delete", &["Customers - Delete"]),
        ],
    ),
    (
        "ticket",
        &[
            ("read", &["Tickets - List/Search", "Tickets - View Details"]),
            ("write", &["Tickets - Create", "Tickets - Edit"]),
            ("delete", &["Tickets - Delete"]),
        ],
    ),
    (
        "invoice",
        &[
            ("read", &["Recurring Invoices - List"]),
            ("write", &["Recurring Invoices - Edit"]),
            ("delete", &["Invoices - Delete"]),
        ],
    ),
    (
        "payment",
        &[
            ("read", &["Payments - List"]),
            ("write", &["Payments - Edit"]),
            ("delete", &["Payments - Delete"]),
        ],
    ),
    (
        "worksheet",
        &[
            ("add", &["Worksheets - Add"]),
            ("manage", &["Worksheets - Manage"]),
            ("delete", &["Worksheets - Delete"]),
        ],
    ),
    ("script", &[("execute", &["Scripts - Execute"])]),
    (
        "rmm_alert",
        &[
            ("read", &["RMM Alerts - List"]),
            ("create", &["RMM Alerts - Create"]),
            ("manage", &["RMM Alerts - Clear/Manage"]),
            ("delete", &["RMM Alerts - Delete"]),
        ],
    ),
];

pub fn me(ctx: &mut Ctx<'_>) -> Reply {
    let me = &ctx.store.me;
    let granted = |names: &[&str]| names.iter().all(|n| !ctx.denied.iter().any(|d| d == n));
    let permissions: serde_json::Map<String, Value> = ME_PERMISSIONS
        .iter()
        .map(|(group, flags)| {
            let flags: serde_json::Map<String, Value> = flags
                .iter()
                .map(|(flag, names)| (flag.to_string(), Value::Bool(granted(names))))
                .collect();
            (group.to_string(), Value::Object(flags))
        })
        .collect();
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
        "permissions": permissions,
    }))
}
