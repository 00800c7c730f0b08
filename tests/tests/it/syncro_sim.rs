//! The simulator over plain HTTP: authentication forms, pagination, rate limiting, the admin
//! API (faults, log, counters, state, tickets, reset, options), seeds, and Syncro's quirks.

use crate::syncro_support::{http, seed, start_sim, TOKEN};
use reqwest::StatusCode;
use serde_json::{json, Value};
use syncro_sim::{SimConfig, SimHandle};

async fn get(sim: &SimHandle, path: &str) -> (StatusCode, Value) {
    let response = http()
        .get(format!("{}{path}", sim.api_url()))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("answer");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn send(sim: &SimHandle, method: &str, path: &str, body: Value) -> (StatusCode, Value) {
    let response = http()
        .request(
            method.parse().expect("method"),
            format!("{}{path}", sim.api_url()),
        )
        .bearer_auth(TOKEN)
        .json(&body)
        .send()
        .await
        .expect("answer");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn admin(
    sim: &SimHandle,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut request = http().request(
        method.parse().expect("method"),
        format!("{}/_admin{path}", sim.base_url()),
    );
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("answer");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn the_three_token_forms_are_accepted_and_anything_else_is_401() {
    let sim = start_sim(|_| {});
    let url = format!("{}/me", sim.api_url());
    let c = http();
    let accepted = [
        c.get(&url)
            .header("Authorization", format!("Bearer {TOKEN}")),
        c.get(&url)
            .header("Authorization", format!("bearer {TOKEN}")),
        c.get(&url).header("Authorization", TOKEN),
        c.get(format!("{url}?api_key={TOKEN}")),
    ];
    for request in accepted {
        assert_eq!(
            request.send().await.expect("answer").status(),
            StatusCode::OK
        );
    }
    let refused = [
        c.get(&url),
        c.get(&url).header("Authorization", "Bearer nope"),
        c.get(&url)
            .header("Authorization", format!("Token {TOKEN}")),
        c.get(format!("{url}?api_key=nope")),
    ];
    for request in refused {
        let response = request.send().await.expect("answer");
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        let body: Value = response.json().await.expect("JSON");
        assert_eq!(
            body,
            json!({"error": "Not authorized. Please ask account admin to update your group permissions."})
        );
    }
    // The log keeps paths without the query, so an api_key never lands there.
    assert!(sim.requests().iter().all(|e| !e.path.contains(TOKEN)));
}

#[tokio::test]
async fn lists_carry_full_meta_clamp_per_page_and_are_empty_past_the_end() {
    let sim = start_sim(|o| {
        o.page_sizes.insert("customers".into(), 3);
    });
    let (_, body) = get(&sim, "/customers").await;
    assert_eq!(body["customers"].as_array().map(Vec::len), Some(3));
    assert_eq!(
        body["meta"],
        json!({"total_pages": 3, "total_entries": 7, "per_page": 3, "page": 1})
    );
    let (_, body) = get(&sim, "/customers?per_page=1000").await;
    assert_eq!(body["meta"]["per_page"], 100);
    assert_eq!(body["customers"].as_array().map(Vec::len), Some(7));
    let (_, body) = get(&sim, "/customers?per_page=0").await;
    assert_eq!(body["meta"]["per_page"], 1);
    let (status, body) = get(&sim, "/customers?page=99").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["customers"], json!([]));
    assert_eq!(body["meta"]["page"], 99);
    // Comments default to 10 per page, contracts to 50, as the spec's parameter texts say.
    let (_, body) = get(&sim, &format!("/tickets/{}/comments", seed::OPEN_TICKET)).await;
    assert_eq!(body["meta"]["per_page"], 10);
    let (_, body) = get(&sim, "/contracts").await;
    assert_eq!(body["meta"]["per_page"], 50);
}

#[tokio::test]
async fn unknown_routes_ids_and_bad_json_get_plain_errors() {
    let sim = start_sim(|_| {});
    assert_eq!(
        get(&sim, "/nowhere").await,
        (StatusCode::NOT_FOUND, json!({"message": "Not found"}))
    );
    assert_eq!(get(&sim, "/tickets/abc").await.0, StatusCode::NOT_FOUND);
    let response = http()
        .post(format!("{}/tickets", sim.api_url()))
        .bearer_auth(TOKEN)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .expect("answer");
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let counters = sim.counters();
    assert_eq!(counters.by_route["unmatched"]["404"], 1);
    assert_eq!(counters.by_route["GET /tickets/{id}"]["404"], 1);
}

#[tokio::test]
async fn quantities_come_back_as_strings_and_both_add_routes_work() {
    let sim = start_sim(|_| {});
    let path = format!(
        "/schedules/{}/line_items/{}",
        seed::CONTOSO_SCHEDULE,
        seed::SECURITY_SEATS
    );
    let (status, body) = send(&sim, "PUT", &path, json!({"quantity": 42})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["schedule_line_item"]["quantity"], "42.0");
    for route in ["add_line_item", "line_items"] {
        let path = format!("/schedules/{}/{route}", seed::CONTOSO_SCHEDULE);
        let (status, body) = send(
            &sim,
            "POST",
            &path,
            json!({"name": route, "quantity": "2.5", "retail_cents": 100}),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{route}");
        assert_eq!(body["schedule_line_item"]["quantity"], "2.5");
        assert_eq!(body["schedule_line_item"]["price_retail"], 1.0);
    }
    let (_, body) = get(&sim, &format!("/schedules/{}", seed::CONTOSO_SCHEDULE)).await;
    assert_eq!(body["schedule"]["lines"].as_array().map(Vec::len), Some(5));
}

#[tokio::test]
async fn not_closed_is_a_filter_and_never_a_status() {
    let sim = start_sim(|_| {});
    let (status, body) = send(
        &sim,
        "POST",
        "/tickets",
        json!({"customer_id": seed::CONTOSO, "subject": "s", "status": "Not Closed"}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body["error"].is_string());
    let (_, body) = get(&sim, "/tickets?status=Not%20Closed").await;
    let statuses: Vec<&str> = body["tickets"]
        .as_array()
        .expect("tickets")
        .iter()
        .filter_map(|t| t["status"].as_str())
        .collect();
    assert_eq!(statuses, ["New", "In Progress"]);
}

#[tokio::test]
async fn the_rate_limit_is_per_client_and_can_be_switched_off_at_run_time() {
    let sim = start_sim(|o| {
        o.rate_limit_per_minute = 2;
        o.rate_limit_key_header = Some("x-sim-client".into());
    });
    let me = format!("{}/me", sim.api_url());
    let call = |client: &'static str| {
        http()
            .get(&me)
            .bearer_auth(TOKEN)
            .header("x-sim-client", client)
            .send()
    };
    let mut a = Vec::new();
    for _ in 0..3 {
        a.push(call("a").await.expect("answer").status());
    }
    assert_eq!(
        a,
        [
            StatusCode::OK,
            StatusCode::OK,
            StatusCode::TOO_MANY_REQUESTS
        ]
    );
    assert_eq!(call("b").await.expect("answer").status(), StatusCode::OK);
    let limited = call("a").await.expect("answer");
    assert!(limited.headers().contains_key("retry-after"));
    assert_eq!(
        limited.text().await.expect("body"),
        r#"{"error":"Rate limit exceeded"}"#
    );

    let (status, options) = admin(
        &sim,
        "PATCH",
        "/options",
        Some(json!({"rate_limit_per_minute": 0})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(options["rate_limit_per_minute"], 0);
    assert_eq!(call("a").await.expect("answer").status(), StatusCode::OK);
    assert_eq!(sim.counters().rate_limited, 2);
    let (status, _) = admin(&sim, "PATCH", "/options", Some(json!({"page_size": 500}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn faults_are_added_listed_and_removed_over_http() {
    let sim = start_sim(|_| {});
    let (status, body) = admin(
        &sim,
        "POST",
        "/faults",
        Some(json!({"kind": "error", "status": 502, "route": "GET /me"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let id = body["id"].as_u64().expect("fault id");
    assert_eq!(get(&sim, "/me").await.0, StatusCode::BAD_GATEWAY);
    assert_eq!(get(&sim, "/settings").await.0, StatusCode::OK);
    let (_, list) = admin(&sim, "GET", "/faults", None).await;
    assert_eq!(list["faults"][0]["applied"], 1);
    let (status, _) = admin(&sim, "DELETE", &format!("/faults/{id}"), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(get(&sim, "/me").await.0, StatusCode::OK);

    let (status, body) = admin(
        &sim,
        "POST",
        "/faults",
        Some(json!({"kind": "hang", "route": "GET /nowhere"})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["error"]
        .as_str()
        .expect("message")
        .contains("known routes"));
    let (status, _) = admin(&sim, "POST", "/faults", Some(json!({"kind": "latency"}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    admin(&sim, "POST", "/faults", Some(json!({"kind": "error"}))).await;
    admin(&sim, "DELETE", "/faults", None).await;
    assert!(sim.faults().is_empty());
}

#[tokio::test]
async fn a_share_of_errors_hits_about_that_share_of_requests() {
    let sim = start_sim(|o| o.fault_rng_seed = Some(7));
    admin(
        &sim,
        "POST",
        "/faults",
        Some(json!({"kind": "error", "status": 500, "share": 0.5})),
    )
    .await;
    let mut errors = 0;
    for _ in 0..200 {
        if get(&sim, "/me").await.0 == StatusCode::INTERNAL_SERVER_ERROR {
            errors += 1;
        }
    }
    assert!((60..=140).contains(&errors), "{errors} of 200");
    assert_eq!(sim.counters().faults["error"], errors);
}

#[tokio::test]
async fn the_request_log_and_counters_count_by_route_and_status() {
    let sim = start_sim(|_| {});
    get(&sim, "/me").await;
    get(&sim, "/tickets/1").await;
    send(
        &sim,
        "POST",
        &format!("/tickets/{}/comment", seed::OPEN_TICKET),
        json!({}),
    )
    .await;
    let (_, log) = admin(&sim, "GET", "/requests", None).await;
    let entries = log["requests"].as_array().expect("entries");
    let seen: Vec<(&str, &str, u64)> = entries
        .iter()
        .map(|e| {
            (
                e["method"].as_str().unwrap_or_default(),
                e["route"].as_str().unwrap_or_default(),
                e["status"].as_u64().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("GET", "GET /me", 200),
            ("GET", "GET /tickets/{id}", 404),
            ("POST", "POST /tickets/{id}/comment", 422)
        ]
    );
    assert_eq!(entries[1]["path"], "/api/v1/tickets/1");
    assert!(entries[0]["at"].is_string());
    let since = entries[1]["seq"].as_u64().expect("seq");
    let (_, later) = admin(&sim, "GET", &format!("/requests?since={since}"), None).await;
    assert_eq!(later["requests"].as_array().map(Vec::len), Some(1));

    let (_, counters) = admin(&sim, "GET", "/counters", None).await;
    assert_eq!(counters["total"], 3);
    assert_eq!(counters["by_route"]["POST /tickets/{id}/comment"]["422"], 1);
    assert_eq!(counters["by_status"]["404"], 1);
    assert_eq!(counters["total_429s"], 0);

    // Health checks and admin calls are not counted.
    let health = http()
        .get(format!("{}/healthz", sim.base_url()))
        .send()
        .await
        .expect("answer");
    assert_eq!(health.status(), StatusCode::OK);
    assert_eq!(sim.counters().total, 3);
    admin(&sim, "DELETE", "/requests", None).await;
    assert_eq!(sim.counters().total, 0);
    assert!(sim.requests().is_empty());
}

#[tokio::test]
async fn state_shows_what_changed_and_reset_returns_to_the_seed() {
    let sim = start_sim(|_| {});
    let (_, state) = admin(&sim, "GET", "/state", None).await;
    let tickets = state["counts"]["tickets"].as_u64().expect("count");
    let comments = state["counts"]["comments"].as_u64().expect("count");
    send(
        &sim,
        "POST",
        "/tickets",
        json!({"customer_id": seed::CONTOSO, "subject": "s",
               "comments_attributes": [{"subject": "a", "body": "b"}]}),
    )
    .await;
    let (_, state) = admin(&sim, "GET", "/state", None).await;
    assert_eq!(state["counts"]["tickets"], tickets + 1);
    assert_eq!(state["counts"]["comments"], comments + 1);
    assert!(state["data"]["tickets"]
        .as_array()
        .expect("tickets")
        .iter()
        .any(|t| t["subject"] == "s"));
    sim.add_fault(syncro_sim::FaultSpec::latency(1))
        .expect("fault");

    let (status, _) = admin(&sim, "POST", "/reset", None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(sim.counts().tickets as u64, tickets);
    assert!(sim.faults().is_empty());
    assert_eq!(sim.counters().total, 0);
}

#[tokio::test]
async fn tickets_are_found_by_a_text_in_one_of_their_comments() {
    let sim = start_sim(|_| {});
    for (subject, body) in [
        ("one", "opened\nrelay-ref: ar1-aaa"),
        ("two", "relay-ref: ar1-bbb"),
    ] {
        send(
            &sim,
            "POST",
            "/tickets",
            json!({"customer_id": seed::CONTOSO, "subject": subject,
                   "comments_attributes": [{"subject": "a", "body": body}]}),
        )
        .await;
    }

    let (status, found) = admin(&sim, "GET", "/tickets?comment_contains=ar1-bbb", None).await;
    assert_eq!(status, StatusCode::OK);
    let tickets = found["tickets"].as_array().expect("tickets");
    assert_eq!(tickets.len(), 1);
    assert_eq!(tickets[0]["subject"], "two");
    assert_eq!(tickets[0]["comments"][0]["body"], "relay-ref: ar1-bbb");
    assert!(tickets[0]["created_at"].is_string());
    let (_, none) = admin(&sim, "GET", "/tickets?comment_contains=ar1-zzz", None).await;
    assert_eq!(none["tickets"], json!([]));
    let (status, _) = admin(&sim, "GET", "/tickets", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_seed_file_sets_data_and_options_and_state_round_trips_as_a_seed() {
    let dir = std::env::temp_dir().join(format!("syncro-sim-seed-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("seed.json");
    let seed_json = json!({
        "options": {"token": "seeded", "rate_limit_per_minute": 0,
                    "faults": [{"kind": "error", "status": 503, "route": "GET /settings"}]},
        "me": {"user_id": 9, "user_name": "Seed", "user_email": "s@example.com", "subdomain": "seed"},
        "customers": [{"id": 1, "business_name": "Only Customer", "email": "a@only.example"}],
        "tickets": [{"id": 5, "number": 77, "subject": "seeded", "customer_id": 1}]
    });
    std::fs::write(&path, seed_json.to_string()).expect("write seed");
    let config = SimConfig::from_seed_file(&path).expect("seed file");
    let sim = syncro_sim::spawn_local(config).expect("starts");
    let c = http();
    let me: Value = c
        .get(format!("{}/me", sim.api_url()))
        .bearer_auth("seeded")
        .send()
        .await
        .expect("answer")
        .json()
        .await
        .expect("JSON");
    assert_eq!(me["user_id"], 9);
    let settings = c
        .get(format!("{}/settings", sim.api_url()))
        .bearer_auth("seeded")
        .send()
        .await
        .expect("answer");
    assert_eq!(
        settings.status(),
        StatusCode::SERVICE_UNAVAILABLE,
        "start-up fault"
    );

    // What /_admin/state returns is itself a valid seed for the same account.
    let state = sim.state();
    let again = serde_json::to_string(&state.data).expect("encode");
    let reloaded = SimConfig::from_seed_str(&again, "state").expect("state is a seed");
    assert_eq!(reloaded.data, state.data);
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test]
async fn contacts_are_listed_by_customer_in_pages_and_created_with_syncros_errors() {
    let sim = start_sim(|_| {});
    let contoso = seed::CONTOSO;
    let (status, page) = get(&sim, &format!("/contacts?customer_id={contoso}&per_page=1")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page["contacts"].as_array().map(Vec::len), Some(1));
    assert_eq!(page["contacts"][0]["id"], json!(seed::JANE_DOE));
    assert_eq!(
        page["meta"],
        json!({"total_pages": 2, "total_entries": 2, "per_page": 1, "page": 1})
    );
    let (_, past) = get(&sim, &format!("/contacts?customer_id={contoso}&page=9")).await;
    assert_eq!(past["contacts"], json!([]));
    let (_, found) = get(&sim, "/contacts?query=WILBER").await;
    assert_eq!(found["contacts"][0]["email"], json!("a.wilber@contoso.com"));
    let (status, bare) = get(&sim, &format!("/contacts/{}", seed::JANE_DOE)).await;
    assert_eq!(
        (status, &bare["customer_id"]),
        (StatusCode::OK, &json!(contoso))
    );

    let (status, made) = send(
        &sim,
        "POST",
        "/contacts",
        json!({"customer_id": contoso, "name": "Pat Kim", "email": "pat.kim@contoso.com"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(made["name"], json!("Pat Kim"), "a bare object: {made}");
    let (_, all) = get(&sim, &format!("/contacts?customer_id={contoso}")).await;
    assert_eq!(all["meta"]["total_entries"], json!(3));
    let (status, refused) = send(&sim, "POST", "/contacts", json!({"name": "x"})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(refused["errors"], json!("Customer can't be blank"));
    assert!(refused["record"]["id"].is_null());
    let (status, _) = send(&sim, "POST", "/contacts", json!({"customer_id": 1})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    sim.stop().await;
}

#[tokio::test]
async fn rmm_alerts_are_raised_cleared_softly_and_muted_as_syncro_does() {
    let sim = start_sim(|_| {});
    let (status, raised) = send(
        &sim,
        "POST",
        "/rmm_alerts",
        json!({"customer_id": seed::CONTOSO, "asset_id": seed::WS07, "description": "EDR",
               "properties": {"subject": "s", "body": "b", "skip_automation": true}}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(raised["success"], json!(true));
    let id = raised["alert"]["id"].as_i64().expect("wrapped in `alert`");
    assert_eq!(raised["alert"]["computer_name"], json!("WS-07"));
    let (_, active) = get(&sim, "/rmm_alerts").await;
    assert_eq!(active["rmm_alerts"][0]["id"], json!(id));

    let (status, muted) = send(
        &sim,
        "POST",
        &format!("/rmm_alerts/{id}/mute"),
        json!({"mute_for": "1-day"}),
    )
    .await;
    assert_eq!(
        (status, muted),
        (StatusCode::OK, json!({"success": "true"}))
    );
    let (status, bad) = send(
        &sim,
        "POST",
        &format!("/rmm_alerts/{id}/mute?mute_for=2-years"),
        json!({}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad["errors"]["mute_for"].is_array(), "{bad}");

    let (status, cleared) = send(&sim, "DELETE", &format!("/rmm_alerts/{id}"), json!({})).await;
    assert_eq!(
        (status, cleared),
        (StatusCode::OK, json!({"success": "true"}))
    );
    let (_, active) = get(&sim, "/rmm_alerts").await;
    assert_eq!(active["rmm_alerts"], json!([]), "no longer active");
    let (_, resolved) = get(&sim, "/rmm_alerts?status=resolved").await;
    assert_eq!(resolved["rmm_alerts"][0]["resolved"], json!(true));
    let (status, kept) = get(&sim, &format!("/rmm_alerts/{id}")).await;
    assert_eq!(
        (status, &kept["rmm_alert"]["resolved"]),
        (StatusCode::OK, &json!(true))
    );
    let (status, _) = send(&sim, "DELETE", "/rmm_alerts/1", json!({})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // Another customer's asset is refused.
    let (status, _) = send(
        &sim,
        "POST",
        "/rmm_alerts",
        json!({"customer_id": seed::FABRIKAM, "asset_id": seed::WS07, "description": "x"}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    sim.stop().await;
}

#[tokio::test]
async fn a_token_without_a_permission_is_refused_and_me_reports_it() {
    let restricted = "restricted-token-91d2";
    let sim = start_sim(|o| {
        o.extra_tokens
            .insert(restricted.into(), vec!["RMM Alerts - Create".into()]);
    });
    let (_, me) = get(&sim, "/me").await;
    assert_eq!(me["permissions"]["rmm_alert"]["create"], json!(true));
    let as_restricted = |path: &str| {
        http()
            .request(reqwest::Method::GET, format!("{}{path}", sim.api_url()))
            .bearer_auth(restricted)
    };
    let me: Value = as_restricted("/me")
        .send()
        .await
        .expect("answer")
        .json()
        .await
        .expect("json");
    assert_eq!(me["permissions"]["rmm_alert"]["create"], json!(false));
    assert_eq!(me["permissions"]["rmm_alert"]["read"], json!(true));
    let listed = as_restricted("/rmm_alerts").send().await.expect("answer");
    assert_eq!(listed.status(), StatusCode::OK);
    let refused = http()
        .post(format!("{}/rmm_alerts", sim.api_url()))
        .bearer_auth(restricted)
        .json(&json!({"customer_id": seed::CONTOSO, "description": "x"}))
        .send()
        .await
        .expect("answer");
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    let body: Value = refused.json().await.expect("json");
    assert!(body["error"]
        .as_str()
        .is_some_and(|e| e.starts_with("Not authorized")));
    sim.stop().await;
}
