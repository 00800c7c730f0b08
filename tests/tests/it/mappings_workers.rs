//! What the workers make of mappings made through the operator API (the console's), against
//! the real PostgreSQL, Redis, RabbitMQ, simulator and workers: the next alert of a
//! console-mapped organization routed within seconds and after a restart; parked alerts
//! released once mapped; the file deciding first; `relayctl mappings` leaving out what the
//! console maps.

use crate::mappings_console::{delete, org, org_alert, put, store_of, ticket_of, LONG, NORTHWIND};
use opstate::store::mappings::{self, Target};
use opstate::store::Actor;
use relay_tests::operator::{TestOperator, OPERATE_TOKEN, READ_TOKEN};
use relay_tests::processor::{eventually, Stack, TestProcessor, CATCH_ALL, CONTOSO};
use relay_tests::{wait, workspace_binary};
use serde_json::{json, Value};
use std::time::Duration;

#[tokio::test]
async fn mappings_made_in_the_console_reach_the_workers_within_seconds_and_survive_a_restart() {
    let stack = Stack::start(|_| {}, "").await;
    let operator = TestOperator::for_stack(&stack).await;
    operator.ready().await;
    let worker = TestProcessor::spawn(&stack.config);
    let mapped = put(
        &operator,
        "org-console",
        OPERATE_TOKEN,
        json!({"customer_id": NORTHWIND}),
    )
    .await;
    assert_eq!(mapped.status, 200, "{}", mapped.body);
    // The worker polls the generation every second: the alert may arrive a moment before.
    // Each try is a new alert, so a try decided before the poll makes a catch-all ticket of
    // its own and the next one shows the mapping.
    let mut tries = 0;
    wait::until(
        "a console-mapped alert ticketed for its customer",
        LONG,
        || {
            tries += 1;
            let title = format!("Console mapped {tries} end");
            let stack = &stack;
            async move {
                stack
                    .send(&[org_alert(
                        &format!("console-{tries}"),
                        "org-console",
                        "Newco",
                        &title,
                    )])
                    .await;
                for _ in 0..40 {
                    if let Some(customer) = ticket_of(stack, &title) {
                        return (customer == NORTHWIND).then_some(());
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                None
            }
        },
    )
    .await;
    assert!(tries <= 10, "it took {tries} alerts");
    worker.stop().await.expect("worker stops");

    // A new worker reads it from PostgreSQL before its first alert.
    let worker = TestProcessor::spawn(&stack.config);
    stack
        .send_and_settle(
            &[org_alert(
                "console-restarted",
                "org-console",
                "Newco",
                "After restart",
            )],
            LONG,
        )
        .await;
    assert_eq!(ticket_of(&stack, "After restart"), Some(NORTHWIND));

    // Removed: the catch-all again.
    let removed = delete(&operator, "org-console", OPERATE_TOKEN).await;
    assert_eq!(removed.status, 200);
    let mut tries = 0;
    wait::until(
        "an alert of the unmapped organization at the catch-all",
        LONG,
        || {
            tries += 1;
            let title = format!("Unmapped again {tries} end");
            let stack = &stack;
            async move {
                stack
                    .send(&[org_alert(
                        &format!("unmapped-{tries}"),
                        "org-console",
                        "Newco",
                        &title,
                    )])
                    .await;
                for _ in 0..40 {
                    if let Some(customer) = ticket_of(stack, &title) {
                        return (customer == CATCH_ALL).then_some(());
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                None
            }
        },
    )
    .await;
    worker.stop().await.expect("worker stops");
    operator.stop().await.expect("operator stops");
    stack.finish().await;
}

/// The test configuration with `unmapped = "park"`.
fn parking(config: &str) -> String {
    config.replace(
        "ignored_organizations = [\"org-ignored\"]",
        "ignored_organizations = [\"org-ignored\"]\nunmapped = \"park\"",
    )
}

#[tokio::test]
async fn mappings_made_in_the_console_release_the_parked_alerts_of_their_organization() {
    let mut stack = Stack::start(|_| {}, "").await;
    stack.config = parking(&stack.config);
    let operator = TestOperator::for_stack(&stack).await;
    operator.ready().await;
    let worker = TestProcessor::spawn(&stack.config);
    let store = store_of(&stack);
    let parked: Vec<Value> = (0..2)
        .map(|i| {
            org_alert(
                &format!("parked-{i}"),
                "org-parked",
                "Newco",
                &format!("Parked {i}"),
            )
        })
        .collect();
    stack.send(&parked).await;
    let parked_queue = format!("{}.alerts.parked", stack.ctx.prefix);
    wait::until("both alerts parked", LONG, || async {
        (stack.rabbit.count(&parked_queue).await == 2).then_some(())
    })
    .await;
    assert!(stack.tickets().is_empty(), "nothing ticketed while parked");
    let listed = operator.get("/v1/mappings", Some(READ_TOKEN)).await;
    assert_eq!(listed.body["unmapped_policy"], "park");
    assert_eq!(listed.body["unmapped"][0]["organization"], "org-parked");
    assert_eq!(listed.body["unmapped"][0]["parked"], 2);

    let mapped = put(
        &operator,
        "org-parked",
        OPERATE_TOKEN,
        json!({"customer_id": NORTHWIND}),
    )
    .await;
    assert_eq!(mapped.status, 200, "{}", mapped.body);
    eventually("the parked alerts in a Northwind ticket", LONG, || {
        ["Parked 0", "Parked 1"]
            .iter()
            .all(|title| ticket_of(&stack, title) == Some(NORTHWIND))
    })
    .await;
    assert_eq!(stack.rabbit.count(&parked_queue).await, 0);
    let orgs = store.unmapped().await.expect("unmapped");
    let seen = orgs.iter().find(|o| o.id == "org-parked").expect("seen");
    assert_eq!(seen.parked, 0, "released alerts are counted out");
    worker.stop().await.expect("worker stops");
    stack.rabbit.delete_queue(&parked_queue).await;
    operator.stop().await.expect("operator stops");
    stack.finish().await;
}

#[tokio::test]
async fn mappings_of_the_file_win_over_the_console_and_relayctl_leaves_out_console_mappings() {
    let stack = Stack::start(|_| {}, "").await;
    let db = stack.db();
    db.migrate().await.expect("migrated");
    let actor = Actor("tester".into());
    let nw = Target::Customer {
        customer_id: NORTHWIND,
        customer_name: None,
    };
    // As if the file gained org-42 after the console mapped it.
    mappings::set(&db, &actor, "org-42", &nw)
        .await
        .expect("set");
    mappings::set(&db, &actor, "org-cm", &nw)
        .await
        .expect("set");
    let store = store_of(&stack);
    for id in ["org-cm", "org-open"] {
        store
            .note_unmapped(&org(id, "Somebody", None), chrono::Utc::now())
            .await
            .expect("recorded");
    }

    let operator = TestOperator::for_stack(&stack).await;
    operator.ready().await;
    let listed = operator.get("/v1/mappings", Some(READ_TOKEN)).await;
    let console = listed.body["console"].as_array().expect("console").clone();
    let overridden = |org: &str| {
        console
            .iter()
            .find(|c| c["organization"] == org)
            .map(|c| c["overridden"].clone())
    };
    assert_eq!(overridden("org-42"), Some(json!(true)));
    assert_eq!(overridden("org-cm"), Some(json!(false)));

    let worker = TestProcessor::spawn(&stack.config);
    stack
        .send_and_settle(
            &[
                org_alert("file-wins", "org-42", "Contoso", "File wins"),
                org_alert("console-maps", "org-cm", "Somebody", "Console maps"),
            ],
            LONG,
        )
        .await;
    assert_eq!(ticket_of(&stack, "File wins"), Some(CONTOSO));
    assert_eq!(ticket_of(&stack, "Console maps"), Some(NORTHWIND));
    worker.stop().await.expect("worker stops");

    // relayctl reads the console's mappings too: org-cm is mapped, org-open is not.
    let path = std::env::temp_dir().join(format!("{}.toml", stack.ctx.prefix));
    let text = format!(
        "{}\n[postgres]\nurl = \"{}\"\n",
        stack.config,
        relay_tests::operator::postgres_url()
    );
    std::fs::write(&path, text).expect("config written");
    let output = tokio::process::Command::new(workspace_binary("relayctl"))
        .arg("--config")
        .arg(&path)
        .args(["mappings", "unmapped", "--json"])
        .output()
        .await
        .expect("relayctl runs");
    let _ = std::fs::remove_file(&path);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let orgs: Vec<Value> = serde_json::from_slice(&output.stdout).expect("JSON");
    let ids: Vec<&str> = orgs.iter().filter_map(|o| o["id"].as_str()).collect();
    assert_eq!(ids, ["org-open"]);
    operator.stop().await.expect("operator stops");
    stack.finish().await;
}
