//! Contracts and devices on new tickets (issue 6), end to end: signed alerts through ingest,
//! real RabbitMQ and Redis, the processor, and the Syncro simulator with seeded assets; what
//! an MSP sees on the tickets, in the metrics, and from `check-config --online`.

use relay_tests::alerts::alert;
use relay_tests::processor::{eventually, Stack, TestProcessor, CONTOSO, FABRIKAM, SIM_TOKEN};
use relay_tests::wait;
use serde_json::{json, Value};
use shared::config::Settings;
use shared::message::message_id;
use std::time::Duration;
use syncro_sim::{FaultKind, FaultSpec, SimHandle};

const LONG: Duration = Duration::from_secs(60);
/// Contoso's contract in the simulator's seed.
const CONTOSO_CONTRACT: i64 = 155_001;
/// Fabrikam's contract in the seed.
const FABRIKAM_CONTRACT: i64 = 155_002;

const CONTRACTS: &str = r#"
[contracts]
add_to_tickets = true
asset_cache_secs = 600

[contracts.organizations."org-42"]
contract_id = 155001
"#;

/// What the simulator holds for a ticket alert-relay made.
#[derive(Debug)]
struct Made {
    subject: String,
    customer_id: i64,
    contract_id: Option<i64>,
    asset_ids: Vec<i64>,
    first_comment: String,
}

fn made(stack: &Stack) -> Vec<Made> {
    let ids: Vec<i64> = stack.tickets().iter().map(|t| t.id).collect();
    stack.sim.sim().with_store(|s| {
        ids.iter()
            .filter_map(|id| s.tickets.get(id))
            .map(|t| Made {
                subject: t.subject.clone(),
                customer_id: t.customer_id,
                contract_id: t.contract_id,
                asset_ids: t.asset_ids.clone(),
                first_comment: t
                    .comments
                    .first()
                    .map(|c| c.body.clone())
                    .unwrap_or_default(),
            })
            .collect()
    })
}

fn ticket_titled<'a>(tickets: &'a [Made], title: &str) -> &'a Made {
    tickets
        .iter()
        .find(|t| t.subject.ends_with(title))
        .unwrap_or_else(|| panic!("no ticket for {title:?} in {tickets:#?}"))
}

/// An alert for `org` with its own title (so its own ticket) and `device`.
fn alert_with(id: &str, org: &str, title: &str, device: Value) -> Value {
    let mut a = alert(id);
    a["organization"] = json!({"id": org});
    a["title"] = json!(title);
    if device.is_null() {
        if let Some(fields) = a.as_object_mut() {
            fields.remove("device");
        }
    } else {
        a["device"] = device;
    }
    a
}

/// Sends `alerts` and waits until each has its ticket and the queues are empty.
async fn send_and_settle(stack: &Stack, alerts: &[Value]) {
    stack.send(alerts).await;
    let ids: Vec<String> = alerts
        .iter()
        .map(|a| message_id("demo", a["id"].as_str().expect("id")))
        .collect();
    eventually("every alert in Syncro", LONG, || {
        let refs = stack.references();
        ids.iter().all(|id| refs.contains(id))
    })
    .await;
    wait::until("the queues to drain", LONG, || async {
        (stack.queued().await == 0).then_some(())
    })
    .await;
}

/// Adds an asset of `customer` to the simulator.
fn seed_asset(sim: &SimHandle, id: i64, customer: i64, name: &str, properties: Value) {
    let Value::Object(properties) = properties else {
        panic!("properties must be an object")
    };
    let asset: syncro_sim::model::Asset = serde_json::from_value(json!({
        "id": id, "customer_id": customer, "contact_id": null, "name": name,
        "asset_type": "Syncro Device", "asset_serial": format!("SN-{id}"),
        "properties": Value::Object(properties), "snmp_enabled": false
    }))
    .expect("asset");
    sim.sim().with_store(|s| {
        s.assets.insert(id, asset);
    });
}

/// A Syncro client for the simulator (no rate limiter).
fn client(sim: &SimHandle) -> syncro::SyncroClient {
    syncro::SyncroClient::new(&syncro::ClientConfig::new(
        sim.api_url(),
        secrecy::SecretString::from(SIM_TOKEN),
    ))
    .expect("client")
}

fn requests_on(stack: &Stack, route: &str) -> u64 {
    stack.sim.sim().counters().route_total(route)
}

/// The configuration with the processor's metrics on a known port.
fn with_metrics_port(config: &str) -> (String, u16) {
    let port = relay_tests::free_port();
    let text = config.replace(
        "metrics_listen = \"127.0.0.1:0\"",
        &format!("metrics_listen = \"127.0.0.1:{port}\""),
    );
    assert_ne!(text, config, "the test configuration sets metrics_listen");
    (text, port)
}

/// The value of one metric line (`name` with its labels, as exposed).
async fn metric(port: u16, name: &str) -> Option<f64> {
    let text = reqwest::get(format!("http://127.0.0.1:{port}/metrics"))
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}

#[tokio::test]
async fn devices_match_by_name_then_serial_then_mac_in_every_place_agents_store_it() {
    let stack = Stack::start(|_| {}, CONTRACTS).await;
    // One asset per MAC location, each MAC sent by the alert with other separators.
    seed_asset(
        &stack.sim,
        9_100_001,
        CONTOSO,
        "ADAPTER-ONLY",
        json!({"kabuto_information": {"network_adapters": [
            {"name": "Ethernet", "physical_address": "10-20-30-40-50-60"}]}}),
    );
    seed_asset(
        &stack.sim,
        9_100_002,
        CONTOSO,
        "GENERAL-ONLY",
        json!({"kabuto_information": {"general": {"mac": ["102030405061"]}}}),
    );
    seed_asset(
        &stack.sim,
        9_100_003,
        CONTOSO,
        "TOP-LEVEL-ONLY",
        json!({"mac": "10:20:30:40:50:62"}),
    );
    // Another customer's machine with the same name must never be attached.
    seed_asset(&stack.sim, 9_100_004, FABRIKAM, "ws-07", json!({}));
    let worker = TestProcessor::spawn(&stack.config);
    let alerts = [
        // Name (case ignored) beats the serial and MAC of another asset (WS-08's).
        alert_with(
            "dev-name",
            "org-42",
            "by name",
            json!({"name": "ws-07", "serial": "5CG5678ABC", "mac": "F8-75-A4-19-C6-23"}),
        ),
        alert_with(
            "dev-serial",
            "org-42",
            "by serial",
            json!({"name": "renamed-pc", "serial": "5cg5678abc"}),
        ),
        alert_with(
            "dev-adapter",
            "org-42",
            "by adapter MAC",
            json!({"mac": "10:20:30:40:50:60"}),
        ),
        alert_with(
            "dev-general",
            "org-42",
            "by general MAC",
            json!({"name": "old-name", "mac": "1020.3040.5061"}),
        ),
        alert_with(
            "dev-top",
            "org-42",
            "by top-level MAC",
            json!({"mac": "10-20-30-40-50-62"}),
        ),
    ];
    send_and_settle(&stack, &alerts).await;

    let tickets = made(&stack);
    assert_eq!(tickets.len(), 5);
    for (title, asset, by) in [
        ("by name", 9_001_001, "name"),
        ("by serial", 9_001_002, "serial"),
        ("by adapter MAC", 9_100_001, "MAC"),
        ("by general MAC", 9_100_002, "MAC"),
        ("by top-level MAC", 9_100_003, "MAC"),
    ] {
        let t = ticket_titled(&tickets, title);
        assert_eq!(t.asset_ids, vec![asset], "{title}");
        assert!(
            t.first_comment
                .contains(&format!("(asset {asset}), matched by {by}")),
            "{title}: {}",
            t.first_comment
        );
    }
    // Five new tickets for one customer: its asset list was read once (cached).
    assert_eq!(requests_on(&stack, "GET /customer_assets"), 1);
    worker.stop().await.expect("stops");
    stack.finish().await;
}

#[tokio::test]
async fn a_device_without_a_matching_asset_is_named_in_the_first_comment() {
    let stack = Stack::start(|_| {}, "").await;
    let worker = TestProcessor::spawn(&stack.config);
    let ghost = alert_with(
        "ghost",
        "org-42",
        "unknown machine",
        json!({"name": "GHOST-PC", "serial": "NOPE-1", "mac": "de:ad:be:ef:00:01"}),
    );
    send_and_settle(&stack, &[ghost]).await;
    let tickets = made(&stack);
    assert_eq!(tickets.len(), 1, "the ticket is created all the same");
    assert!(tickets[0].asset_ids.is_empty());
    assert!(
        tickets[0].first_comment.contains(
            "Syncro asset: none attached: no asset of this customer (3 assets) matches the \
             device the alert reported, GHOST-PC (serial NOPE-1, MAC de:ad:be:ef:00:01)"
        ),
        "{}",
        tickets[0].first_comment
    );
    worker.stop().await.expect("stops");
    stack.finish().await;
}

#[tokio::test]
async fn an_asset_lookup_failure_still_creates_the_ticket_and_says_so() {
    let stack = Stack::start(|_| {}, "").await;
    let fault: FaultSpec = serde_json::from_value(json!({
        "kind": FaultKind::Error.as_str(), "route": "GET /customer_assets", "status": 403
    }))
    .expect("fault");
    stack.sim.add_fault(fault).expect("fault added");
    let worker = TestProcessor::spawn(&stack.config);
    send_and_settle(&stack, &[alert("lookup-fails")]).await;
    let tickets = made(&stack);
    assert_eq!(tickets.len(), 1);
    assert!(tickets[0].asset_ids.is_empty());
    let comment = &tickets[0].first_comment;
    assert!(
        comment.contains("Syncro asset: none attached: the customer's assets could not be read")
            && comment.contains("the device the alert reported is WS-07"),
        "{comment}"
    );
    worker.stop().await.expect("stops");
    stack.finish().await;
}

#[tokio::test]
async fn a_mapped_contract_is_on_the_new_ticket_and_an_organization_without_one_still_gets_tickets()
{
    let stack = Stack::start(|_| {}, CONTRACTS).await;
    let worker = TestProcessor::spawn(&stack.config);
    let contoso = alert_with("k-contoso", "org-42", "contract", Value::Null);
    let fabrikam = alert_with("k-fabrikam", "org-fabrikam", "no contract", Value::Null);
    send_and_settle(&stack, &[contoso, fabrikam]).await;

    let tickets = made(&stack);
    assert_eq!(tickets.len(), 2);
    let with = ticket_titled(&tickets, ": contract");
    assert_eq!(with.customer_id, CONTOSO);
    assert_eq!(with.contract_id, Some(CONTOSO_CONTRACT));
    let without = ticket_titled(&tickets, "no contract");
    assert_eq!(without.customer_id, FABRIKAM);
    assert_eq!(without.contract_id, None);
    // The read-back through the API (what a technician's view shows).
    let client = client(&stack.sim);
    let ids: Vec<i64> = stack.tickets().iter().map(|t| t.id).collect();
    let mut read = Vec::new();
    for id in ids {
        read.push(client.get_ticket(id).await.expect("ticket").contract_id);
    }
    read.sort();
    assert_eq!(read, [None, Some(CONTOSO_CONTRACT)]);
    // The creation's answer showed the contract: no update was needed, and never a second POST.
    assert_eq!(requests_on(&stack, "PUT /tickets/{id}"), 0);
    assert_eq!(requests_on(&stack, "POST /tickets"), 2);
    worker.stop().await.expect("stops");
    stack.finish().await;
}

#[tokio::test]
async fn an_account_that_ignores_contract_ids_still_gets_tickets_and_is_reported_once() {
    let stack = Stack::start(|o| o.ignore_contract_id = true, CONTRACTS).await;
    let (config, port) = with_metrics_port(&stack.config);
    let worker = TestProcessor::spawn(&config);
    send_and_settle(
        &stack,
        &[alert_with("ign-1", "org-42", "first", Value::Null)],
    )
    .await;
    send_and_settle(
        &stack,
        &[alert_with("ign-2", "org-42", "second", Value::Null)],
    )
    .await;

    let tickets = made(&stack);
    assert_eq!(tickets.len(), 2, "no alert failed, no ticket doubled");
    assert!(tickets.iter().all(|t| t.contract_id.is_none()));
    assert_eq!(requests_on(&stack, "POST /tickets"), 2);
    // The first ticket tried an update and read it back; the second knew better.
    assert_eq!(requests_on(&stack, "PUT /tickets/{id}"), 1);
    assert_eq!(requests_on(&stack, "GET /tickets/{id}"), 1);
    let ignored = wait::until("the metrics", LONG, || {
        metric(port, "relay_processor_contract_ignored_total")
    })
    .await;
    assert_eq!(ignored, 2.0, "both tickets lack their contract");
    assert_eq!(
        metric(port, "relay_processor_contract_unsupported").await,
        Some(1.0)
    );
    worker.stop().await.expect("stops");
    stack.finish().await;
}

#[tokio::test]
async fn a_customers_asset_list_is_read_once_per_cache_period_and_then_again() {
    let sim = relay_tests::processor::start_sim(|_| {});
    let client = client(&sim);
    let enricher = processor::handler::enrich::Enricher::new();
    let hour = Duration::from_secs(3600);
    let reads = || sim.sim().counters().route_total("GET /customer_assets");
    // Two creations at once for one customer share one read.
    let (a, b) = tokio::join!(
        enricher.assets(&client, CONTOSO, hour),
        enricher.assets(&client, CONTOSO, hour)
    );
    assert_eq!(a.expect("assets").len(), 3);
    assert_eq!(b.expect("assets").len(), 3);
    assert_eq!(reads(), 1);
    enricher
        .assets(&client, CONTOSO, hour)
        .await
        .expect("cached");
    assert_eq!(reads(), 1, "served from the cache");
    // Another customer has its own list.
    let fabrikam = enricher
        .assets(&client, FABRIKAM, hour)
        .await
        .expect("assets");
    assert!(fabrikam.iter().all(|a| a.id == 9_001_004));
    assert_eq!(reads(), 2);
    // Once the list is older than the cache period it is read again.
    enricher
        .assets(&client, CONTOSO, Duration::ZERO)
        .await
        .expect("read again");
    assert_eq!(reads(), 3);
    // A customer with more assets than a page holds (100) is read page by page.
    const TAILSPIN: i64 = 4_101_774;
    for i in 0..130 {
        seed_asset(
            &sim,
            9_200_000 + i,
            TAILSPIN,
            &format!("TS-{i:03}"),
            json!({}),
        );
    }
    let tailspin = enricher
        .assets(&client, TAILSPIN, hour)
        .await
        .expect("assets");
    assert_eq!(tailspin.len(), 130);
    assert_eq!(reads(), 5, "two pages");
    sim.stop().await;
}

fn settings(text: &str) -> Settings {
    Settings::from_toml(text, &|_| None).expect("parses")
}

#[tokio::test]
async fn contract_settings_are_validated_offline_and_online() {
    let stack = Stack::start(|_| {}, "").await;
    let bad = stack.config.clone()
        + r#"
[contracts]
add_to_tickets = true
asset_cache_secs = 0
[contracts.organizations."org-unmapped"]
contract_id = 155003
[contracts.organizations."org-42"]
contract_id = -1
"#;
    let problems =
        processor::config::ProcessorConfig::from_settings(&settings(&bad)).expect_err("invalid");
    let all = problems.join("\n");
    for expected in [
        "contracts.asset_cache_secs: must be between 1 and 86400",
        "contracts.organizations[\"org-unmapped\"]: the organization is not in mapping.organizations",
        "contracts.organizations[\"org-42\"].contract_id: must be a Syncro id",
    ] {
        assert!(all.contains(expected), "{expected:?} not in {all}");
    }

    // Valid offline; online: Fabrikam's contract on Contoso's organization, and a contract
    // that does not exist.
    let wrong = stack.config.clone()
        + &format!(
            r#"
[contracts]
add_to_tickets = true
[contracts.organizations."org-42"]
contract_id = {FABRIKAM_CONTRACT}
[contracts.organizations."org-fabrikam"]
contract_id = 999999
"#
        );
    let settings = settings(&wrong);
    let config = processor::config::ProcessorConfig::from_settings(&settings).expect("valid");
    let client_config = syncro::ClientConfig::from_settings(&settings.syncro).expect("token");
    let client = syncro::SyncroClient::new(&client_config).expect("client");
    let report = processor::config::checks::check_online_report(&config, &client).await;
    let all = report.problems.join("\n");
    for expected in [
        "contracts.organizations[\"org-42\"].contract_id: contract 155002 (Managed Security - \
         Silver) belongs to customer 4101772, not to customer 4101771",
        "contracts.organizations[\"org-fabrikam\"].contract_id: contract 999999 does not exist",
    ] {
        assert!(all.contains(expected), "{expected:?} not in {all}");
    }
    assert_eq!(report.problems.len(), 2, "{all}");
    stack.finish().await;
}
