//! Contract tests of the operations issue 16 added, against Syncro's OpenAPI document (the
//! helpers are [`crate::syncro_contract`]'s): contacts, RMM alerts and `GET /me`. The
//! client's bodies validate against the spec's request schemas, the simulator's answers
//! match the spec's examples (the `alert` wrapper of a creation, the string `"true"` of a
//! clear and a mute), and the spec gaps worked around are pinned.

use crate::syncro_contract::{
    case, check_answers, operation, request_schema, response_example, undeclared_keys, violations,
};
use crate::syncro_support::{client_for, seed, start_sim};
use serde_json::{json, Value};
use syncro::{ContactFilter, MuteFor, NewContact, NewRmmAlert, RmmAlertProperties, RmmAlertStatus};

/// The id the simulator gives its first RMM alert (LIVE saw ids this large).
const FIRST_RMM_ALERT: i64 = 704_649_718;

#[tokio::test]
async fn contact_and_rmm_alert_bodies_the_client_sends_match_the_spec() {
    let sim = start_sim(|o| o.log_request_bodies = true);
    let client = client_for(&sim);
    let contact = NewContact {
        customer_id: seed::CONTOSO,
        name: Some("Pat Kim".into()),
        email: Some("pat.kim@contoso.com".into()),
        phone: Some("+1 425-555-0199".into()),
        notes: Some("n".into()),
    };
    client.create_contact(&contact).await.expect("contact");
    let alert = NewRmmAlert {
        customer_id: seed::CONTOSO,
        asset_id: Some(seed::WS07),
        description: "EDR".into(),
        status: Some("active".into()),
        resolved: Some(false),
        properties: RmmAlertProperties {
            subject: Some("s".into()),
            body: Some("b".into()),
            hidden: Some(true),
            do_not_email: Some(true),
            skip_automation: Some(true),
            tech: Some("relay".into()),
            sms_body: Some("sms".into()),
        },
    };
    let raised = client.create_rmm_alert(&alert).await.expect("raised");
    client
        .mute_rmm_alert(raised.id, MuteFor::OneWeek)
        .await
        .expect("muted");

    let sent: Vec<_> = sim
        .requests()
        .into_iter()
        .filter(|e| e.body.is_some())
        .collect();
    assert_eq!(sent.len(), 3);
    for (entry, (route, spec_path)) in sent.iter().zip([
        ("POST /contacts", "/contacts"),
        ("POST /rmm_alerts", "/rmm_alerts"),
    ]) {
        assert_eq!(entry.route, Some(route));
        let body = entry.body.as_ref().expect("body");
        let schema = request_schema("post", spec_path);
        assert_eq!(
            violations(&schema, body),
            Vec::<String>::new(),
            "{route}: {body}"
        );
        assert_eq!(
            undeclared_keys(body, &schema, ""),
            Vec::<String>::new(),
            "{body}"
        );
    }
    // The mute: the spec declares `mute_for` a query parameter, working clients send it in
    // the body (syncro-api.md §8.3); the client sends both.
    let mute = &sent[2];
    assert_eq!(mute.route, Some("POST /rmm_alerts/{id}/mute"));
    assert_eq!(mute.body, Some(json!({"mute_for": "1-week"})));
    assert_eq!(mute.path, format!("/api/v1/rmm_alerts/{}/mute", raised.id));
    sim.stop().await;
}

#[tokio::test]
async fn simulator_contacts_rmm_alerts_and_me_match_the_spec_examples() {
    let sim = start_sim(|_| {});
    let alert = json!({"customer_id": seed::CONTOSO, "asset_id": seed::WS07,
        "description": "EDR", "properties": {"subject": "s", "body": "b", "hidden": true}});
    let id = FIRST_RMM_ALERT;
    let cases = [
        case(
            "get",
            "/contacts",
            200,
            &format!("/contacts?customer_id={}", seed::CONTOSO),
        ),
        case("post", "/contacts", 200, "/contacts")
            .with(json!({"customer_id": seed::CONTOSO, "name": "Pat", "email": "pat@contoso.com"})),
        case("post", "/contacts", 422, "/contacts")
            .with(json!({"customer_id": seed::CONTOSO, "name": "Bad Email", "email": "xxx"})),
        case("post", "/contacts", 404, "/contacts").with(json!({"customer_id": 999_999})),
        case("post", "/rmm_alerts", 201, "/rmm_alerts").with(alert),
        case("get", "/rmm_alerts", 200, "/rmm_alerts"),
        case("get", "/rmm_alerts/{id}", 200, &format!("/rmm_alerts/{id}")),
        case(
            "post",
            "/rmm_alerts/{id}/mute",
            200,
            &format!("/rmm_alerts/{id}/mute?mute_for=forever"),
        ),
        case(
            "delete",
            "/rmm_alerts/{id}",
            200,
            &format!("/rmm_alerts/{id}"),
        ),
        case("get", "/me", 200, "/me"),
    ];
    check_answers(&sim, cases).await;
    sim.stop().await;
}

#[tokio::test]
async fn the_client_reads_contacts_and_rmm_alerts_across_pages_and_clears_them() {
    let sim = start_sim(|o| {
        o.page_sizes.insert("contacts".into(), 1);
        o.page_sizes.insert("rmm_alerts".into(), 1);
    });
    let client = client_for(&sim);
    let filter = ContactFilter {
        customer_id: Some(seed::CONTOSO),
        per_page: None,
    };
    let contacts = client.all_contacts(&filter).await.expect("contacts");
    assert_eq!(contacts.len(), 2, "two pages of one");
    assert!(contacts.iter().any(|c| c.has_email("J.DOE@contoso.com")));
    let mut ids = Vec::new();
    for description in ["one", "two", "three"] {
        let alert = NewRmmAlert {
            customer_id: seed::CONTOSO,
            asset_id: Some(seed::WS07),
            description: description.into(),
            ..NewRmmAlert::default()
        };
        ids.push(client.create_rmm_alert(&alert).await.expect("raised").id);
    }
    client.clear_rmm_alert(ids[1]).await.expect("cleared");
    let active = client
        .all_rmm_alerts(RmmAlertStatus::Active)
        .await
        .expect("active");
    assert_eq!(
        active.iter().map(|a| a.id).collect::<Vec<_>>(),
        [ids[0], ids[2]]
    );
    let cleared = client.get_rmm_alert(ids[1]).await.expect("still readable");
    assert!(cleared.resolved);
    let all = client
        .all_rmm_alerts(RmmAlertStatus::All)
        .await
        .expect("all");
    assert_eq!(all.len(), 3);
    let gone = client.clear_rmm_alert(1).await.expect_err("no such alert");
    assert!(gone.is_not_found());
    sim.stop().await;
}

#[tokio::test]
async fn a_permission_the_token_lacks_is_a_permanent_refusal() {
    let sim = start_sim(|o| o.denied_permissions = vec!["Customers - Edit".into()]);
    let client = client_for(&sim);
    let me = client.me().await.expect("me");
    assert_eq!(me.permission("customer", "write"), Some(false));
    assert_eq!(me.permission("customer", "read"), Some(true));
    assert_eq!(me.permission("rmm_alert", "create"), Some(true));
    assert_eq!(me.permission("nothing", "read"), None);
    let refused = client
        .create_contact(&NewContact {
            customer_id: seed::CONTOSO,
            name: Some("x".into()),
            ..NewContact::default()
        })
        .await
        .expect_err("refused");
    assert_eq!(refused.status(), Some(401));
    assert!(!refused.outcome_unknown());
    sim.stop().await;
}

#[test]
fn the_spec_gaps_of_contacts_rmm_alerts_and_me_are_still_there() {
    // 1. The contacts list has no email filter: matching is done by the client.
    let params = operation("get", "/contacts")["parameters"]
        .as_array()
        .expect("parameters");
    let names: Vec<&str> = params.iter().filter_map(|p| p["name"].as_str()).collect();
    assert_eq!(names, ["customer_id", "page"]);

    // 2. The RMM alert list has no customer or asset filter: an interrupted raise is found
    //    by reading the list.
    let params = operation("get", "/rmm_alerts")["parameters"]
        .as_array()
        .expect("parameters");
    let names: Vec<&str> = params.iter().filter_map(|p| p["name"].as_str()).collect();
    assert_eq!(names, ["status", "page"]);

    // 3. A creation answers under `alert`, the detail under `rmm_alert`; a clear is `"true"`.
    assert!(response_example("post", "/rmm_alerts", "201")["alert"].is_object());
    assert!(response_example("get", "/rmm_alerts/{id}", "200")["rmm_alert"].is_object());
    assert_eq!(
        response_example("delete", "/rmm_alerts/{id}", "200"),
        json!({"success": "true"})
    );

    // 4. `mute_for` is a query parameter in the spec (clients send it in the body too).
    let mute = &operation("post", "/rmm_alerts/{id}/mute");
    assert!(mute["requestBody"].is_null());
    assert_eq!(mute["parameters"][1]["in"], "query");

    // 5. GET /me shows no RMM-alert permissions: the preflight reports them as unknown on an
    //    account whose /me has none (the simulator renders an `rmm_alert` group).
    let me = response_example("get", "/me", "200");
    let groups: Vec<&String> = me["permissions"]
        .as_object()
        .map(|m| m.keys().collect())
        .unwrap_or_default();
    assert!(!groups.iter().any(|g| g.contains("rmm")), "{groups:?}");
    assert_eq!(me["permissions"]["customer"]["write"], Value::Bool(true));
}
