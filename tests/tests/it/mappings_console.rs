//! Mappings made through the operator API and the console's Mapping page, against the real
//! PostgreSQL, Redis and simulator: set, change, ignore and remove, each audited; refusals
//! that change nothing; the page for a reader and for an operator. What the workers make of
//! them: [`crate::mappings_workers`]. The helpers here serve both.

use opstate::store::mappings::{self, Target};
use processor::store::Store;
use relay_tests::alerts::alert;
use relay_tests::console::{TestConsole, DANA, RITA};
use relay_tests::operator::{
    Body, TestOperator, CONSOLE_NAME, OPERATE_NAME, OPERATE_TOKEN, READ_TOKEN,
};
use relay_tests::processor::{Stack, CATCH_ALL, CONTOSO};
use reqwest::Method;
use serde_json::{json, Value};
use shared::alert::Organization;
use std::time::Duration;

/// Northwind Traders in the simulator's seed.
pub(crate) const NORTHWIND: i64 = 4_101_773;
pub(crate) const LONG: Duration = Duration::from_secs(60);

pub(crate) fn org(id: &str, name: &str, domain: Option<&str>) -> Organization {
    Organization {
        id: id.into(),
        name: Some(name.into()),
        domain: domain.map(str::to_string),
    }
}

pub(crate) fn store_of(stack: &Stack) -> Store {
    Store::new(
        &secrecy::SecretString::from(relay_tests::processor::redis_url()),
        &stack.ctx.prefix,
    )
    .expect("store")
}

pub(crate) fn org_alert(id: &str, org: &str, name: &str, title: &str) -> Value {
    let mut a = alert(id);
    a["organization"] = json!({"id": org, "name": name, "domain": "newco.example"});
    a["title"] = json!(title);
    a
}

pub(crate) async fn put(
    operator: &TestOperator,
    org: &str,
    token: &str,
    body: Value,
) -> relay_tests::openapi::Reply {
    operator
        .request(
            Method::PUT,
            &format!("/v1/mappings/{org}"),
            Some(token),
            Body::Json(body),
        )
        .await
}

pub(crate) async fn delete(
    operator: &TestOperator,
    org: &str,
    token: &str,
) -> relay_tests::openapi::Reply {
    operator
        .request(
            Method::DELETE,
            &format!("/v1/mappings/{org}"),
            Some(token),
            Body::None,
        )
        .await
}

/// The audit log's mapping entries, oldest first: (action, target, actor).
pub(crate) async fn mapping_audit(operator: &TestOperator) -> Vec<(String, String, String)> {
    let reply = operator.get("/v1/audit", Some(READ_TOKEN)).await;
    let mut found: Vec<(String, String, String)> = reply.body["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter(|e| {
            e["action"]
                .as_str()
                .is_some_and(|a| a.starts_with("mapping."))
        })
        .map(|e| {
            let text = |k: &str| e[k].as_str().unwrap_or_default().to_string();
            (text("action"), text("target"), text("actor"))
        })
        .collect();
    found.reverse();
    found
}

/// Tickets of `customer` in the simulator whose subject holds `title`.
pub(crate) fn ticket_of(stack: &Stack, title: &str) -> Option<i64> {
    stack
        .tickets()
        .into_iter()
        .find(|t| t.subject.contains(title))
        .map(|t| t.customer_id)
}

#[tokio::test]
async fn mappings_are_set_changed_ignored_and_removed_through_the_api_each_audited() {
    let stack = Stack::start(|_| {}, "").await;
    let operator = TestOperator::for_stack(&stack).await;
    operator.ready().await;
    let store = store_of(&stack);
    store
        .note_unmapped(
            &org("org-nw", "Northwind Traders", None),
            chrono::Utc::now(),
        )
        .await
        .expect("recorded");
    store.count_parked("org-nw", 2).await.expect("parked");

    let listed = operator.get("/v1/mappings", Some(READ_TOKEN)).await;
    assert_eq!(listed.status, 200, "{}", listed.body);
    let body = &listed.body;
    assert_eq!(body["catch_all"]["customer_id"], CATCH_ALL);
    assert!(body["catch_all"]["customer_name"].is_string(), "{body}");
    assert_eq!(body["unmapped_policy"], "catch-all");
    let file: Vec<&str> = body["file"]
        .as_array()
        .expect("file")
        .iter()
        .filter_map(|f| f["organization"].as_str())
        .collect();
    assert!(
        file.contains(&"org-42") && file.contains(&"org-ignored"),
        "{body}"
    );
    let unmapped = &body["unmapped"][0];
    assert_eq!(unmapped["organization"], "org-nw");
    assert_eq!(unmapped["parked"], 2);
    assert_eq!(unmapped["suggestion"]["customer_id"], NORTHWIND);
    assert_eq!(unmapped["suggestion"]["reason"], "name");

    let set = put(
        &operator,
        "org-nw",
        OPERATE_TOKEN,
        json!({"customer_id": NORTHWIND}),
    )
    .await;
    assert_eq!(set.status, 200, "{}", set.body);
    assert_eq!(set.body["kind"], "customer");
    assert_eq!(set.body["customer_name"], "Northwind Traders");
    assert_eq!(set.body["set_by"], OPERATE_NAME);
    let changed = put(
        &operator,
        "org-nw",
        OPERATE_TOKEN,
        json!({"customer_id": CONTOSO}),
    )
    .await;
    assert_eq!(changed.status, 200, "{}", changed.body);
    let ignored = put(
        &operator,
        "org-spaced id",
        OPERATE_TOKEN,
        json!({"ignore": true}),
    )
    .await;
    assert_eq!(ignored.status, 200, "{}", ignored.body);
    assert_eq!(ignored.body["kind"], "ignored");

    let listed = operator.get("/v1/mappings", Some(READ_TOKEN)).await;
    let console = listed.body["console"].as_array().expect("console").clone();
    assert_eq!(console.len(), 2, "{}", listed.body);
    assert_eq!(console[0]["organization"], "org-nw");
    assert_eq!(console[0]["customer_id"], CONTOSO);
    assert_eq!(console[0]["overridden"], false);
    assert_eq!(console[1]["organization"], "org-spaced id");
    assert_eq!(
        listed.body["unmapped"],
        json!([]),
        "mapped now: no longer unmapped"
    );

    let removed = delete(&operator, "org-nw", OPERATE_TOKEN).await;
    assert_eq!(removed.status, 200, "{}", removed.body);
    assert_eq!(removed.body["customer_id"], CONTOSO);
    let again = delete(&operator, "org-nw", OPERATE_TOKEN).await;
    assert_eq!(again.status, 404);
    let listed = operator.get("/v1/mappings", Some(READ_TOKEN)).await;
    assert_eq!(listed.body["unmapped"][0]["organization"], "org-nw");

    let audit = mapping_audit(&operator).await;
    let expected = [
        ("mapping.set", "org-nw"),
        ("mapping.set", "org-nw"),
        ("mapping.set", "org-spaced id"),
        ("mapping.remove", "org-nw"),
    ];
    assert_eq!(audit.len(), expected.len(), "{audit:?}");
    for ((action, target, actor), (want_action, want_target)) in audit.iter().zip(expected) {
        assert_eq!(
            (action.as_str(), target.as_str()),
            (want_action, want_target)
        );
        assert_eq!(actor, OPERATE_NAME);
    }

    let customers = operator
        .get("/v1/syncro/customers?search=northwind", Some(READ_TOKEN))
        .await;
    assert_eq!(customers.status, 200, "{}", customers.body);
    assert_eq!(customers.body["customers"][0]["id"], NORTHWIND);
    assert_eq!(customers.body["matched"], 1);
    operator.stop().await.expect("operator stops");
    stack.finish().await;
}

#[tokio::test]
async fn mappings_refused_by_the_api_change_nothing() {
    let stack = Stack::start(|_| {}, "").await;
    let operator = TestOperator::for_stack(&stack).await;
    operator.ready().await;

    let unknown = put(
        &operator,
        "org-new",
        OPERATE_TOKEN,
        json!({"customer_id": 999_999}),
    )
    .await;
    assert_eq!(unknown.status, 422, "{}", unknown.body);
    assert_eq!(unknown.fields(), ["customer_id"]);
    assert!(
        unknown.body.to_string().contains("999999"),
        "{}",
        unknown.body
    );

    let file = put(
        &operator,
        "org-42",
        OPERATE_TOKEN,
        json!({"customer_id": NORTHWIND}),
    )
    .await;
    assert_eq!(file.status, 409, "{}", file.body);
    assert_eq!(file.code(), "decided_by_file");
    let file = put(
        &operator,
        "org-ignored",
        OPERATE_TOKEN,
        json!({"ignore": true}),
    )
    .await;
    assert_eq!(file.status, 409);

    let both = put(
        &operator,
        "org-new",
        OPERATE_TOKEN,
        json!({"customer_id": NORTHWIND, "ignore": true}),
    )
    .await;
    assert_eq!(both.status, 422);
    assert_eq!(both.fields(), ["customer_id", "ignore"]);
    let neither = put(&operator, "org-new", OPERATE_TOKEN, json!({})).await;
    assert_eq!(neither.status, 422);
    let negative = put(
        &operator,
        "org-new",
        OPERATE_TOKEN,
        json!({"customer_id": -3}),
    )
    .await;
    assert_eq!(negative.fields(), ["customer_id"]);
    let text = put(
        &operator,
        "org-new",
        OPERATE_TOKEN,
        json!({"customer_id": "4101773"}),
    )
    .await;
    assert_eq!(text.status, 400);
    let unknown_key = put(&operator, "org-new", OPERATE_TOKEN, json!({"customer": 1})).await;
    assert_eq!(unknown_key.status, 400);
    let spaced = put(
        &operator,
        "%20org-new",
        OPERATE_TOKEN,
        json!({"ignore": true}),
    )
    .await;
    assert_eq!(spaced.fields(), ["organization"]);

    let read = put(
        &operator,
        "org-new",
        READ_TOKEN,
        json!({"customer_id": NORTHWIND}),
    )
    .await;
    assert_eq!(read.status, 403);
    let read = delete(&operator, "org-new", READ_TOKEN).await;
    assert_eq!(read.status, 403);

    assert!(mappings::list(&operator.db).await.expect("read").is_empty());
    assert!(mapping_audit(&operator).await.is_empty());
    operator.stop().await.expect("operator stops");
    stack.finish().await;
}

#[tokio::test]
async fn mappings_page_of_the_console_maps_accepts_and_removes_audited_under_the_person() {
    let stack = Stack::start(|_| {}, "").await;
    let operator = TestOperator::for_stack(&stack).await;
    operator.ready().await;
    let store = store_of(&stack);
    store
        .note_unmapped(
            &org("org-nw", "Northwind Traders", None),
            chrono::Utc::now(),
        )
        .await
        .expect("recorded");
    store
        .note_unmapped(
            &org("org-<b>x</b>", "<script>alert(1)</script>", None),
            chrono::Utc::now(),
        )
        .await
        .expect("recorded");
    let console = TestConsole::spawn(&operator.base_url, &[]);
    console.ready(LONG).await;

    let mut rita = console.signed_in(RITA).await;
    let page = rita.get("/mapping").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("Northwind Traders"), "{}", page.body);
    assert!(
        page.body.contains("by name"),
        "the reason is shown: {}",
        page.body
    );
    assert!(page.body.contains("Set in the configuration file"));
    assert!(page.body.contains("org-42"));
    assert!(
        !page.body.contains("<script>alert(1)"),
        "markup shown as text"
    );
    assert!(page.body.contains("&lt;script&gt;"));
    assert!(
        !page.body.contains("action=\"/mapping/set\""),
        "no forms for a reader"
    );
    let csrf = rita.csrf().await;
    let refused = rita
        .post(
            "/mapping/set",
            &[
                ("csrf", &csrf),
                ("organization", "org-nw"),
                ("customer_id", "4101773"),
            ],
        )
        .await;
    assert_eq!(refused.status, 403);

    let mut dana = console.signed_in(DANA).await;
    let page = dana.get("/mapping?search=tailspin").await;
    assert!(page.body.contains("action=\"/mapping/set\""));
    assert!(page.body.contains("Tailspin"), "the search lists it");
    let csrf = dana.csrf().await;
    let accepted = dana
        .post(
            "/mapping/set",
            &[
                ("csrf", &csrf),
                ("organization", "org-nw"),
                ("customer_id", "4101773"),
            ],
        )
        .await;
    assert_eq!(accepted.status, 303, "{}", accepted.body);
    assert_eq!(accepted.location(), "/mapping?done=mapped");
    let page = dana.get("/mapping?done=mapped").await;
    assert!(
        page.body.contains("The organization is mapped."),
        "{}",
        page.body
    );
    assert!(page.body.contains("Mapped in the console"));
    assert!(
        page.body.contains(&format!("by {DANA} via {CONSOLE_NAME}")),
        "{}",
        page.body
    );

    let refused = dana
        .post(
            "/mapping/set",
            &[
                ("csrf", &csrf),
                ("organization", "org-42"),
                ("customer_id", "4101773"),
            ],
        )
        .await;
    assert_eq!(refused.status, 409);
    assert!(
        refused.body.contains("configuration file"),
        "{}",
        refused.body
    );
    let refused = dana
        .post(
            "/mapping/set",
            &[
                ("csrf", &csrf),
                ("organization", "org-x"),
                ("customer_id", "999999"),
            ],
        )
        .await;
    assert_eq!(refused.status, 422);
    assert!(
        refused
            .body
            .contains("customer_id: no Syncro customer has the id 999999"),
        "{}",
        refused.body
    );

    let ignored = dana
        .post(
            "/mapping/ignore",
            &[("csrf", &csrf), ("organization", "org-<b>x</b>")],
        )
        .await;
    assert_eq!(ignored.status, 303);
    let removed = dana
        .post(
            "/mapping/remove",
            &[("csrf", &csrf), ("organization", "org-nw")],
        )
        .await;
    assert_eq!(removed.status, 303);
    let stored = mappings::list(&operator.db).await.expect("read");
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].organization, "org-<b>x</b>");
    assert_eq!(stored[0].target, Target::Ignored);
    let audit = mapping_audit(&operator).await;
    assert_eq!(audit.len(), 3, "{audit:?}");
    let person = format!("{DANA} via {CONSOLE_NAME}");
    assert!(
        audit.iter().all(|(_, _, actor)| *actor == person),
        "{audit:?}"
    );
    console.stop().await.expect("console stops");
    operator.stop().await.expect("operator stops");
    stack.finish().await;
}
