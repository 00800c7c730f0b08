//! Client ↔ simulator round trips: every operation, every 422 shape, 401, 404, 429 with and
//! without `Retry-After`, every injected fault, and the token never leaking.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::syncro_support::{client_for, client_with_timeout, eventually, seed, start_sim, TOKEN};
use secrecy::SecretString;
use syncro::{
    AssetFilter, ClientConfig, CustomerFilter, Disposition, ErrorKind, LineItemFields, NewComment,
    NewTicket, RequestEvent, RequestObserver, Route, SyncroClient, SyncroError, TicketFilter,
    TicketUpdate, NOT_CLOSED,
};
use syncro_sim::{FaultSpec, Outcome, RetryAfterFormat};

fn alert_ticket(subject: &str) -> NewTicket {
    NewTicket {
        problem_type: Some("Security".into()),
        priority: Some("1 High".into()),
        status: Some("New".into()),
        contact_id: Some(seed::JANE_DOE),
        asset_ids: vec![seed::WS07],
        comments_attributes: vec![NewComment::private_note(
            "Alert details",
            "Detector flagged ransomware behaviour on WS-07.",
        )],
        ..NewTicket::new(seed::CONTOSO, subject)
    }
}

fn status_of(e: &SyncroError) -> Option<u16> {
    e.status()
}

#[tokio::test]
async fn account_reads_return_settings_statuses_and_the_token_user() {
    let sim = start_sim(|_| {});
    let client = client_for(&sim);

    let me = client.me().await.expect("me");
    assert_eq!(me.user_id, Some(1207));

    let settings = client.settings().await.expect("settings");
    assert!(settings
        .ticket
        .problem_types
        .contains(&"Security".to_string()));
    assert_eq!(
        settings.ticket.priorities,
        ["", "0 Urgent", "1 High", "2 Normal", "3 Low"]
    );
    assert!(!settings.assets.asset_types.is_empty());

    let ticket_settings = client.ticket_settings().await.expect("ticket settings");
    assert_eq!(ticket_settings.ticket_status_list.len(), 8);
    assert!(ticket_settings
        .ticket_status_list
        .contains(&"Waiting on Customer".to_string()));
}

#[tokio::test]
async fn a_ticket_is_created_with_its_first_comment_assets_and_contract() {
    let sim = start_sim(|_| {});
    let client = client_for(&sim);
    let before = sim.counts();

    let mut new = alert_ticket("EDR: ransomware behaviour on WS-07");
    new.contract_id = Some(seed::CONTOSO_GOLD);
    let ticket = client.create_ticket(&new).await.expect("created");

    assert_eq!(
        ticket.subject.as_deref(),
        Some("EDR: ransomware behaviour on WS-07")
    );
    assert_eq!(ticket.customer_id, Some(seed::CONTOSO));
    assert_eq!(ticket.status.as_deref(), Some("New"));
    assert_eq!(ticket.priority.as_deref(), Some("1 High"));
    assert_eq!(ticket.asset_ids, [seed::WS07]);
    assert_eq!(ticket.contract_id, Some(seed::CONTOSO_GOLD));
    assert!(ticket.number.is_some());
    assert_eq!(ticket.comments.len(), 1);
    let first = &ticket.comments[0];
    assert_eq!(first.hidden, Some(true));
    assert!(first.id > i64::from(u32::MAX), "comment ids exceed 32 bits");

    let after = sim.counts();
    assert_eq!(after.tickets, before.tickets + 1);
    assert_eq!(after.comments, before.comments + 1);
    let fetched = client.get_ticket(ticket.id).await.expect("read back");
    assert_eq!(fetched.comments.len(), 1);
    assert_eq!(fetched.contract_id, Some(seed::CONTOSO_GOLD));
}

#[tokio::test]
async fn a_contract_id_the_account_drops_shows_on_read_back() {
    let sim = start_sim(|o| o.ignore_contract_id = true);
    let client = client_for(&sim);
    let mut new = alert_ticket("contract check");
    new.contract_id = Some(seed::CONTOSO_GOLD);
    let ticket = client.create_ticket(&new).await.expect("created");
    assert_eq!(ticket.contract_id, None, "the answer shows it was not kept");
    let update = TicketUpdate {
        contract_id: Some(seed::CONTOSO_GOLD),
        ..TicketUpdate::default()
    };
    let updated = client
        .update_ticket(ticket.id, &update)
        .await
        .expect("updated");
    assert_eq!(updated.contract_id, None);
}

#[tokio::test]
async fn an_update_changes_only_the_fields_sent() {
    let sim = start_sim(|_| {});
    let client = client_for(&sim);
    let ticket = client
        .create_ticket(&alert_ticket("to update"))
        .await
        .expect("created");
    let update = TicketUpdate {
        status: Some("Resolved".into()),
        priority: Some("0 Urgent".into()),
        ..TicketUpdate::default()
    };
    let updated = client
        .update_ticket(ticket.id, &update)
        .await
        .expect("updated");
    assert_eq!(updated.status.as_deref(), Some("Resolved"));
    assert_eq!(updated.priority.as_deref(), Some("0 Urgent"));
    assert_eq!(updated.subject.as_deref(), Some("to update"));
    assert_eq!(updated.problem_type.as_deref(), Some("Security"));
    assert!(updated.is_closed());
    assert!(updated.resolved_at.is_some());
}

#[tokio::test]
async fn comments_are_added_and_listed_newest_first_across_pages() {
    let sim = start_sim(|_| {});
    let client = client_for(&sim);
    let ticket = client
        .create_ticket(&alert_ticket("noisy alert"))
        .await
        .expect("created");
    for i in 1..=4 {
        let note = NewComment::public_note(format!("Update {i}"), format!("Alert repeated ({i})"))
            .tech("alert-relay");
        let c = client.add_comment(ticket.id, &note).await.expect("comment");
        assert_eq!(c.ticket_id, Some(ticket.id));
        assert_eq!(c.hidden, Some(false));
        assert_eq!(c.tech.as_deref(), Some("alert-relay"));
    }
    let page = client
        .list_comments(ticket.id, 1, Some(2))
        .await
        .expect("page 1");
    assert_eq!(page.items.len(), 2);
    assert_eq!(page.meta.as_ref().and_then(|m| m.total_pages), Some(3));
    let all = client.all_comments(ticket.id, Some(2)).await.expect("all");
    let subjects: Vec<_> = all.iter().filter_map(|c| c.subject.as_deref()).collect();
    assert_eq!(
        subjects,
        [
            "Update 4",
            "Update 3",
            "Update 2",
            "Update 1",
            "Alert details"
        ]
    );
}

#[tokio::test]
async fn tickets_are_found_by_customer_status_text_and_number() {
    let sim = start_sim(|_| {});
    let client = client_for(&sim);
    let created = client
        .create_ticket(&alert_ticket("Impossible travel for j.doe"))
        .await
        .expect("created");

    let by_customer = TicketFilter {
        customer_id: Some(seed::CONTOSO),
        ..TicketFilter::default()
    };
    let contoso = client.all_tickets(&by_customer).await.expect("by customer");
    assert!(contoso.iter().all(|t| t.customer_id == Some(seed::CONTOSO)));
    assert!(contoso.iter().any(|t| t.id == created.id));

    let open = TicketFilter {
        status: Some(NOT_CLOSED.into()),
        ..TicketFilter::default()
    };
    let open = client.all_tickets(&open).await.expect("not closed");
    assert!(open.iter().all(|t| !t.is_closed()));
    assert!(!open.iter().any(|t| t.id == seed::RESOLVED_TICKET));

    let text = TicketFilter {
        query: Some("impossible travel".into()),
        ..TicketFilter::default()
    };
    let found = client.all_tickets(&text).await.expect("by text");
    assert_eq!(found.iter().map(|t| t.id).collect::<Vec<_>>(), [created.id]);

    let by_number = TicketFilter {
        number: created.number,
        ..TicketFilter::default()
    };
    let found = client.all_tickets(&by_number).await.expect("by number");
    assert_eq!(found.iter().map(|t| t.id).collect::<Vec<_>>(), [created.id]);
}

#[tokio::test]
async fn every_page_is_read_whatever_the_page_size() {
    let sim = start_sim(|o| o.page_size = 2);
    let client = client_for(&sim);
    for i in 0..5 {
        client
            .create_ticket(&alert_ticket(&format!("alert {i}")))
            .await
            .expect("created");
    }
    sim.clear_requests();
    let all = client
        .all_tickets(&TicketFilter::default())
        .await
        .expect("all tickets");
    // 3 seeded + 5 created, two per page: pages 1..=4, and no request past the last page.
    assert_eq!(all.len(), 8);
    let mut ids: Vec<i64> = all.iter().map(|t| t.id).collect();
    ids.dedup();
    assert_eq!(ids.len(), 8, "no ticket twice");
    assert_eq!(sim.counters().route_total("GET /tickets"), 4);
}

#[tokio::test]
async fn customers_are_searched_read_and_autocompleted() {
    let sim = start_sim(|_| {});
    let client = client_for(&sim);
    let by_name = CustomerFilter {
        business_name: Some("contoso".into()),
        ..CustomerFilter::default()
    };
    let found = client.all_customers(&by_name).await.expect("by name");
    assert_eq!(
        found.iter().map(|c| c.id).collect::<Vec<_>>(),
        [seed::CONTOSO]
    );

    let by_email = CustomerFilter {
        email: Some("ADMIN@fabrikam.com".into()),
        ..CustomerFilter::default()
    };
    let found = client.all_customers(&by_email).await.expect("by email");
    assert_eq!(
        found.iter().map(|c| c.id).collect::<Vec<_>>(),
        [seed::FABRIKAM]
    );
    assert_eq!(found[0].email_domain().as_deref(), Some("fabrikam.com"));

    let by_query = CustomerFilter {
        query: Some("northwind".into()),
        ..CustomerFilter::default()
    };
    let found = client.all_customers(&by_query).await.expect("by query");
    assert_eq!(
        found.iter().map(|c| c.id).collect::<Vec<_>>(),
        [seed::NORTHWIND]
    );

    let everyone = client
        .all_customers(&CustomerFilter::default())
        .await
        .expect("all");
    assert!(!everyone.iter().any(|c| c.id == seed::LITWARE_DISABLED));
    let with_disabled = CustomerFilter {
        include_disabled: true,
        ..CustomerFilter::default()
    };
    let everyone = client.all_customers(&with_disabled).await.expect("all");
    assert!(everyone.iter().any(|c| c.id == seed::LITWARE_DISABLED));

    let contoso = client.get_customer(seed::CONTOSO).await.expect("detail");
    assert_eq!(contoso.display_name(), "Contoso Ltd");
    assert!(contoso.contacts.iter().any(|k| k.id == seed::JANE_DOE));
    assert!(contoso.contracts.iter().any(|k| k.id == seed::CONTOSO_GOLD));

    let suggestions = client
        .autocomplete_customers("wood")
        .await
        .expect("autocomplete");
    assert_eq!(
        suggestions.iter().map(|c| c.id).collect::<Vec<_>>(),
        [seed::WOODGROVE]
    );
}

#[tokio::test]
async fn contracts_are_listed_read_bare_and_filtered_by_customer() {
    let sim = start_sim(|_| {});
    let client = client_for(&sim);
    let all = client.all_contracts().await.expect("all");
    assert_eq!(all.len(), 4);
    let mine = client
        .contracts_for_customer(seed::CONTOSO)
        .await
        .expect("filtered");
    assert_eq!(
        mine.iter().map(|k| k.id).collect::<Vec<_>>(),
        [seed::CONTOSO_GOLD]
    );
    let gold = client.get_contract(seed::CONTOSO_GOLD).await.expect("get");
    assert_eq!(gold.name.as_deref(), Some("Managed Security - Gold"));
    assert_eq!(gold.status.as_deref(), Some("Active"));
    assert_eq!(gold.contract_amount.as_deref(), Some("1200"));
}

#[tokio::test]
async fn line_item_quantities_round_trip_and_counted_lines_ignore_them() {
    let sim = start_sim(|_| {});
    let client = client_for(&sim);
    let schedules = client
        .all_schedules(Some(seed::CONTOSO))
        .await
        .expect("list");
    assert_eq!(
        schedules.iter().map(|s| s.id).collect::<Vec<_>>(),
        [seed::CONTOSO_SCHEDULE]
    );

    let line = client
        .update_schedule_line_item(
            seed::CONTOSO_SCHEDULE,
            seed::SECURITY_SEATS,
            &LineItemFields::quantity(42.0),
        )
        .await
        .expect("updated");
    assert_eq!(line.quantity, Some(42.0));
    assert_eq!(
        line.name.as_deref(),
        Some("Security seats"),
        "other fields kept"
    );

    let counted = client
        .update_schedule_line_item(
            seed::CONTOSO_SCHEDULE,
            seed::MANAGED_ENDPOINTS_COUNTED,
            &LineItemFields::quantity(99.0),
        )
        .await
        .expect("accepted");
    assert!(counted.is_counted());
    assert_eq!(counted.quantity, Some(3.0), "Syncro keeps its own count");

    let added = client
        .add_schedule_line_item(
            seed::CONTOSO_SCHEDULE,
            &LineItemFields {
                name: Some("Incident response retainer".into()),
                quantity: Some(1.5),
                retail_cents: Some(15_000),
                recurring_type_id: Some(1),
                ..LineItemFields::default()
            },
        )
        .await
        .expect("added");
    assert_eq!(added.quantity, Some(1.5));
    assert_eq!(added.price_retail, Some(150.0));

    let schedule = client
        .get_schedule(seed::CONTOSO_SCHEDULE)
        .await
        .expect("get");
    let seats = schedule
        .lines
        .iter()
        .find(|l| l.id == seed::SECURITY_SEATS)
        .expect("seats line");
    assert_eq!(seats.quantity, Some(42.0));
    assert!(schedule.lines.iter().any(|l| l.id == added.id));
}

#[tokio::test]
async fn assets_are_listed_by_customer_and_matched_by_mac() {
    let sim = start_sim(|_| {});
    let client = client_for(&sim);
    let filter = AssetFilter {
        customer_id: Some(seed::CONTOSO),
        per_page: Some(1),
        ..AssetFilter::default()
    };
    let assets = client.all_assets(&filter).await.expect("all pages");
    assert_eq!(assets.len(), 3);
    let ws07 = assets
        .iter()
        .find(|a| a.has_mac("f8:75:a4:19:c6:22"))
        .expect("WS-07 by MAC");
    assert_eq!(ws07.id, seed::WS07);

    let by_serial = AssetFilter {
        query: Some("5CG1234".into()),
        ..AssetFilter::default()
    };
    let found = client.all_assets(&by_serial).await.expect("by serial");
    assert_eq!(found.iter().map(|a| a.id).collect::<Vec<_>>(), [seed::WS07]);

    let server = client.get_asset(seed::WOODGROVE_SERVER).await.expect("get");
    assert_eq!(server.id, 4_294_967_301, "ids beyond 32 bits survive");
    assert_eq!(server.asset_type.as_deref(), Some("Syncro Device"));
    assert!(!server.mac_addresses().is_empty());
    assert!(ws07.has_mac(seed::WS07_MAC));
}

/// Asserts a permanent 422 carrying exactly `messages`.
fn assert_422(result: Result<impl std::fmt::Debug, SyncroError>, route: Route, messages: &[&str]) {
    let err = result.expect_err("a validation error");
    assert_eq!(err.status(), Some(422), "{err}");
    assert_eq!(err.route(), Some(route));
    assert_eq!(err.messages(), messages, "{err}");
    assert_eq!(err.disposition(), Disposition::Permanent);
}

#[tokio::test]
async fn every_422_shape_becomes_a_list_of_messages() {
    let sim = start_sim(|_| {});
    let client = client_for(&sim);

    // {"error": "..."}
    let no_customer = NewTicket::new(0, "orphan");
    assert_422(
        client.create_ticket(&no_customer).await,
        Route::CreateTicket,
        &["Customer required field"],
    );
    // {"success": false, "message": [...]}
    let blank = TicketUpdate {
        subject: Some(" ".into()),
        ..TicketUpdate::default()
    };
    assert_422(
        client.update_ticket(seed::OPEN_TICKET, &blank).await,
        Route::UpdateTicket,
        &["Subject can't be blank"],
    );
    assert_422(
        client
            .add_comment(seed::OPEN_TICKET, &NewComment::private_note("", ""))
            .await,
        Route::AddComment,
        &["Body can't be blank", "Subject can't be blank"],
    );
    // {"error": [...]}
    assert_422(
        client
            .add_schedule_line_item(seed::CONTOSO_SCHEDULE, &LineItemFields::quantity(1.0))
            .await,
        Route::AddScheduleLineItem,
        &["Name can't be blank"],
    );
    let unnamed = LineItemFields {
        name: Some(String::new()),
        ..LineItemFields::default()
    };
    assert_422(
        client
            .update_schedule_line_item(seed::CONTOSO_SCHEDULE, seed::SECURITY_SEATS, &unnamed)
            .await,
        Route::UpdateScheduleLineItem,
        &["Name can't be blank"],
    );
    assert_eq!(sim.counts().tickets, 3, "nothing was created");
}

#[tokio::test]
async fn missing_records_are_permanent_404s() {
    let sim = start_sim(|_| {});
    let client = client_for(&sim);
    let errors = [
        client.get_ticket(1).await.map(|_| ()),
        client
            .update_ticket(1, &TicketUpdate::default())
            .await
            .map(|_| ()),
        client
            .add_comment(1, &NewComment::private_note("s", "b"))
            .await
            .map(|_| ()),
        client.get_customer(1).await.map(|_| ()),
        client.get_contract(1).await.map(|_| ()),
        client.get_schedule(1).await.map(|_| ()),
        client
            .update_schedule_line_item(seed::CONTOSO_SCHEDULE, 1, &LineItemFields::quantity(1.0))
            .await
            .map(|_| ()),
        client.get_asset(1).await.map(|_| ()),
    ];
    for result in errors {
        let err = result.expect_err("404");
        assert!(err.is_not_found(), "{err}");
        assert_eq!(err.messages(), ["Not found"]);
        assert_eq!(err.disposition(), Disposition::Permanent);
    }
}

#[tokio::test]
async fn a_wrong_token_is_a_permanent_401_that_does_not_leak_the_token() {
    let sim = start_sim(|_| {});
    let wrong = "wrong-token-0000";
    let config = ClientConfig::new(sim.api_url(), SecretString::from(wrong));
    let client = SyncroClient::new(&config).expect("client");
    let err = client.me().await.expect_err("401");
    assert_eq!(err.status(), Some(401));
    assert_eq!(err.disposition(), Disposition::Permanent);
    assert!(err.messages()[0].starts_with("Not authorized"));
    let shown = format!("{err} {err:?}");
    assert!(!shown.contains(wrong) && !shown.contains(TOKEN), "{shown}");
}

#[tokio::test]
async fn the_rate_limit_answers_429_with_retry_after_in_seconds() {
    let sim = start_sim(|o| o.rate_limit_per_minute = 3);
    let client = client_for(&sim);
    for _ in 0..3 {
        client.me().await.expect("within the limit");
    }
    let err = client.me().await.expect_err("over the limit");
    assert_eq!(err.status(), Some(429));
    let Disposition::Retryable {
        retry_after: Some(after),
    } = err.disposition()
    else {
        panic!("retryable with a delay: {err:?}");
    };
    assert!(
        after > Duration::from_secs(50) && after <= Duration::from_secs(60),
        "{after:?}"
    );
    assert_eq!(err.messages(), ["Rate limit exceeded"]);
    assert_eq!(sim.counters().rate_limited, 1);
}

#[tokio::test]
async fn the_rate_limit_can_send_retry_after_as_an_http_date() {
    let sim = start_sim(|o| {
        o.rate_limit_per_minute = 1;
        o.retry_after_format = RetryAfterFormat::HttpDate;
    });
    let client = client_for(&sim);
    client.me().await.expect("first");
    let err = client.me().await.expect_err("429");
    let Disposition::Retryable {
        retry_after: Some(after),
    } = err.disposition()
    else {
        panic!("retryable with a delay: {err:?}");
    };
    // An HTTP date has one-second resolution.
    assert!(
        after >= Duration::from_secs(58) && after <= Duration::from_secs(60),
        "{after:?}"
    );
}

#[tokio::test]
async fn a_429_without_retry_after_and_with_a_plain_body_is_still_retryable() {
    let sim = start_sim(|o| {
        o.rate_limit_per_minute = 1;
        o.retry_after = false;
        o.rate_limit_body = "Too many requests, slow down".into();
    });
    let client = client_for(&sim);
    client.me().await.expect("first");
    let err = client.me().await.expect_err("429");
    assert_eq!(err.status(), Some(429));
    assert_eq!(
        err.disposition(),
        Disposition::Retryable { retry_after: None }
    );
    assert_eq!(err.messages(), ["Too many requests, slow down"]);
}

#[tokio::test]
async fn injected_server_errors_are_retryable_and_501_is_not() {
    let sim = start_sim(|_| {});
    let client = client_for(&sim);
    for status in [500, 502, 503, 501] {
        sim.add_fault(FaultSpec::error(status).times(1))
            .expect("fault");
        let err = client.me().await.expect_err("injected");
        assert_eq!(status_of(&err), Some(status));
        assert_eq!(err.disposition().is_retryable(), status != 501, "{status}");
        assert!(!err.messages().is_empty(), "{status}: {err}");
    }
    let mut with_delay = FaultSpec::error(503).times(1);
    with_delay.retry_after_secs = Some(7);
    sim.add_fault(with_delay).expect("fault");
    let err = client.me().await.expect_err("503");
    assert_eq!(
        err.disposition(),
        Disposition::Retryable {
            retry_after: Some(Duration::from_secs(7))
        }
    );
    client.me().await.expect("faults used up");
}

#[tokio::test]
async fn a_429_burst_hits_the_next_requests_only() {
    let sim = start_sim(|_| {});
    let client = client_for(&sim);
    sim.add_fault(FaultSpec::rate_limit_burst(2))
        .expect("fault");
    for _ in 0..2 {
        let err = client.me().await.expect_err("burst");
        assert_eq!(
            err.disposition(),
            Disposition::Retryable {
                retry_after: Some(Duration::from_secs(1))
            }
        );
    }
    client.me().await.expect("after the burst");
    assert_eq!(sim.counters().burst_429s, 2);
}

#[tokio::test]
async fn latency_below_the_timeout_only_slows_the_answer() {
    let sim = start_sim(|_| {});
    let client = client_for(&sim);
    sim.add_fault(FaultSpec::latency(50)).expect("fault");
    client.me().await.expect("answered");
    let log = sim.requests();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].faults, [syncro_sim::FaultKind::Latency]);
    assert_eq!(log[0].status, Some(200));
}

#[tokio::test]
async fn latency_beyond_the_timeout_and_hangs_are_retryable_timeouts() {
    let sim = start_sim(|_| {});
    let client = client_with_timeout(&sim, Duration::from_millis(300));
    sim.add_fault(FaultSpec::latency(2_000).on("GET /me").times(1))
        .expect("fault");
    let err = client.me().await.expect_err("too slow");
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");

    sim.add_fault(FaultSpec::hang().on("POST /tickets/{id}/comment").times(1))
        .expect("fault");
    let err = client
        .add_comment(seed::OPEN_TICKET, &NewComment::private_note("s", "b"))
        .await
        .expect_err("hung");
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
    assert_eq!(err.route(), Some(Route::AddComment));
    assert!(err.disposition().is_retryable());
    assert!(err.outcome_unknown());
    eventually(Duration::from_secs(5), "the hang in the log", || async {
        sim.requests()
            .iter()
            .any(|e| e.outcome == Outcome::Hung)
            .then_some(())
    })
    .await;
    client.me().await.expect("other requests still answered");
}

#[tokio::test]
async fn a_dropped_connection_after_the_change_is_retryable_with_an_unknown_outcome() {
    let sim = start_sim(|_| {});
    let client = client_for(&sim);
    sim.add_fault(FaultSpec::drop_after_apply().on("POST /tickets").times(1))
        .expect("fault");
    let before = sim.counts().tickets;
    let err = client
        .create_ticket(&alert_ticket("created but unseen"))
        .await
        .expect_err("connection dropped");
    assert_eq!(err.kind(), ErrorKind::ConnectionLost, "{err}");
    assert!(err.disposition().is_retryable());
    assert!(err.outcome_unknown());
    assert!(!Route::CreateTicket.is_idempotent());
    // The ticket exists although the client saw an error: exactly the duplicate risk.
    assert_eq!(sim.counts().tickets, before + 1);
    let found = client
        .all_tickets(&TicketFilter {
            query: Some("created but unseen".into()),
            ..TicketFilter::default()
        })
        .await
        .expect("search");
    assert_eq!(found.len(), 1);
    let dropped = sim.requests();
    assert!(dropped
        .iter()
        .any(|e| e.outcome == Outcome::Dropped && e.status == Some(200)));
}

#[tokio::test]
async fn a_fault_on_one_route_leaves_the_others_alone() {
    let sim = start_sim(|_| {});
    let client = client_for(&sim);
    sim.add_fault(FaultSpec::error(503).on("POST /tickets/{id}/comment"))
        .expect("fault");
    client.me().await.expect("other route");
    client
        .get_ticket(seed::OPEN_TICKET)
        .await
        .expect("other route");
    let err = client
        .add_comment(seed::OPEN_TICKET, &NewComment::private_note("s", "b"))
        .await
        .expect_err("targeted");
    assert_eq!(err.status(), Some(503));
    assert_eq!(err.messages(), ["503 Service Unavailable"]);
}

#[tokio::test]
async fn a_non_json_success_is_a_permanent_decode_error() {
    let sim = start_sim(|_| {});
    let client = client_for(&sim);
    let mut login_page = FaultSpec::error(200).times(1);
    login_page.body = Some("<html><title>Sign in</title></html>".into());
    sim.add_fault(login_page).expect("fault");
    let err = client
        .get_ticket(seed::OPEN_TICKET)
        .await
        .expect_err("html");
    assert_eq!(err.kind(), ErrorKind::Decode, "{err}");
    assert_eq!(err.disposition(), Disposition::Permanent);
    assert!(err.to_string().contains("not JSON"), "{err}");
}

#[tokio::test]
async fn an_unreachable_server_is_a_retryable_connect_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    let config = ClientConfig::new(format!("http://{addr}"), SecretString::from(TOKEN));
    let client = SyncroClient::new(&config).expect("client");
    let err = client.me().await.expect_err("nothing listens");
    assert_eq!(err.kind(), ErrorKind::Connect, "{err}");
    assert!(err.disposition().is_retryable());
    assert!(!err.outcome_unknown());
}

#[derive(Default)]
struct Recorder(Mutex<Vec<RequestEvent>>);

impl RequestObserver for Recorder {
    fn observe(&self, event: &RequestEvent) {
        self.0.lock().expect("lock").push(event.clone());
    }
}

#[tokio::test]
async fn the_observer_sees_every_request_with_route_and_status() {
    let sim = start_sim(|_| {});
    let recorder = Arc::new(Recorder::default());
    let client =
        client_with_timeout(&sim, Duration::from_millis(300)).with_observer(recorder.clone());
    client.me().await.expect("ok");
    let _ = client.get_ticket(1).await;
    sim.add_fault(FaultSpec::hang().times(1)).expect("fault");
    let _ = client.me().await;
    let events = recorder.0.lock().expect("lock").clone();
    let seen: Vec<(&str, String)> = events
        .iter()
        .map(|e| (e.route.as_str(), e.status_label()))
        .collect();
    assert_eq!(
        seen,
        [
            ("GET /me", "200".to_string()),
            ("GET /tickets/{id}", "404".to_string()),
            ("GET /me", "timeout".to_string()),
        ]
    );
}

/// Collects everything every tracing layer writes, at every level.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("lock").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "current_thread")]
async fn the_token_never_appears_in_logs_errors_or_debug_output() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let sim = start_sim(|o| o.rate_limit_per_minute = 4);
    let client = client_with_timeout(&sim, Duration::from_millis(300));
    let mut shown = format!("{client:?}");
    let ticket = client
        .create_ticket(&alert_ticket("secret check"))
        .await
        .expect("created");
    shown.push_str(&format!("{ticket:?}"));
    sim.add_fault(FaultSpec::hang().times(1)).expect("fault");
    let outcomes = [
        client.me().await.map(|_| ()),
        client.get_ticket(1).await.map(|_| ()),
        client.me().await.map(|_| ()),
        client.me().await.map(|_| ()),
    ];
    for outcome in &outcomes {
        if let Err(e) = outcome {
            shown.push_str(&format!("{e} {e:?} {:?}", e.disposition()));
        }
    }
    assert!(outcomes.iter().any(|o| o.is_err()));
    let logs = String::from_utf8_lossy(&captured.0.lock().expect("lock")).to_string();
    assert!(
        logs.contains("syncro request"),
        "client events were captured"
    );
    assert!(!logs.contains(TOKEN), "token in logs");
    assert!(!shown.contains(TOKEN), "token in errors or Debug: {shown}");
}

/// Counts admissions and remembers 429s, as the shared limiter would.
#[derive(Default)]
struct CountingGate {
    admitted: Mutex<Vec<Route>>,
    throttled: Mutex<Vec<Option<Duration>>>,
}

impl syncro::RequestGate for CountingGate {
    fn admit(
        &self,
        route: Route,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + '_>> {
        self.admitted.lock().expect("lock").push(route);
        Box::pin(async {})
    }

    fn throttled(&self, retry_after: Option<Duration>) {
        self.throttled.lock().expect("lock").push(retry_after);
    }
}

#[tokio::test]
async fn the_gate_admits_every_page_and_hears_of_every_429() {
    let sim = start_sim(|o| o.page_size = 2);
    let gate = Arc::new(CountingGate::default());
    let client = client_for(&sim).with_gate(gate.clone());
    let tickets = client
        .all_tickets(&TicketFilter::default())
        .await
        .expect("all pages");
    assert_eq!(tickets.len(), 3);
    sim.add_fault(FaultSpec::rate_limit_burst(1))
        .expect("fault");
    client.me().await.expect_err("429");
    let admitted = gate.admitted.lock().expect("lock").clone();
    assert_eq!(
        admitted,
        [Route::ListTickets, Route::ListTickets, Route::Me],
        "one admission per request, pages included"
    );
    assert_eq!(
        *gate.throttled.lock().expect("lock"),
        [Some(Duration::from_secs(1))]
    );
}
