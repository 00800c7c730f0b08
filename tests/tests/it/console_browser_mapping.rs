//! The console's Mapping page in a real browser (headless Chromium over WebDriver) against
//! the whole stack with `[mapping] unmapped = "park"`: a person signs in, opens Mapping, sees
//! an organization whose alerts are parked with a suggested customer, maps it with "Map to…",
//! and its parked alerts become a ticket of that customer in the simulator.
//!
//! With `RELAY_CONSOLE_SCREENSHOTS=1` the page is also saved as `docs/console/mapping.png`
//! and `docs/console/mapping-phone.png`.

use crate::browser::{click, fill, heading, navigate, screenshot, with_browser, LONG};
use anyhow::bail;
use fantoccini::{Client, Locator};
use relay_tests::alerts::alert;
use relay_tests::console::{TestConsole, DANA, PASSWORD};
use relay_tests::operator::TestOperator;
use relay_tests::processor::{Stack, TestProcessor};
use relay_tests::wait;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// Northwind Traders in the simulator's seed.
const NORTHWIND: i64 = 4_101_773;
const ORG: &str = "org-browser-parked";

fn parked_alert(i: usize) -> Value {
    let mut a = alert(&format!("browser-parked-{i}"));
    a["organization"] =
        json!({"id": ORG, "name": "Northwind Traders", "domain": "northwind.example"});
    a["title"] = json!(format!("Parked in the browser {i}"));
    a
}

#[tokio::test]
async fn in_a_browser_a_person_maps_an_organization_and_its_parked_alerts_become_a_ticket(
) -> anyhow::Result<()> {
    let mut stack = Stack::start(|_| {}, "").await;
    stack.config = stack.config.replace(
        "ignored_organizations = [\"org-ignored\"]",
        "ignored_organizations = [\"org-ignored\"]\nunmapped = \"park\"",
    );
    let worker = TestProcessor::spawn(&stack.config);
    let operator = TestOperator::for_stack(&stack).await;
    operator.ready().await;
    let console = TestConsole::spawn(&operator.base_url, &[]);
    console.ready(LONG).await;
    stack.send(&[parked_alert(0), parked_alert(1)]).await;
    let parked = format!("{}.alerts.parked", stack.ctx.prefix);
    wait::until("both alerts parked", LONG, || async {
        (stack.rabbit.count(&parked).await == 2).then_some(())
    })
    .await;

    with_browser(|client| {
        let (console, stack) = (&console, &stack);
        async move { clicks(&client, console, stack).await }
    })
    .await?;

    console.stop().await?;
    operator.stop().await?;
    worker.stop().await?;
    stack.rabbit.delete_queue(&parked).await;
    stack.finish().await;
    Ok(())
}

async fn clicks(client: &Client, console: &TestConsole, stack: &Stack) -> anyhow::Result<()> {
    let base = &console.base_url;
    client.goto(&format!("{base}/mapping")).await?;
    assert_eq!(heading(client).await?, "Sign in");
    fill(client, "#name", DANA).await?;
    fill(client, "#password", PASSWORD).await?;
    let password = client.find(Locator::Css("#password")).await?;
    navigate(client, password.send_keys("\u{E007}")).await?;
    assert_eq!(
        heading(client).await?,
        "Mapping",
        "back where they were going"
    );

    // The organization, its parked alerts and the suggestion with its reason.
    let card = format!("article[aria-label=\"Organization {ORG}\"]");
    let deadline = Instant::now() + LONG;
    let text = loop {
        let text = client.find(Locator::Css("main")).await?.text().await?;
        if text.contains("2 parked now") {
            break client.find(Locator::Css(&card)).await?.text().await?;
        }
        if Instant::now() > deadline {
            bail!("the page never showed the parked alerts: {text}");
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        client.refresh().await?;
    };
    assert!(
        text.contains("Suggested: Northwind Traders") && text.contains("by name"),
        "{text}"
    );
    client.set_window_size(1280, 1400).await?;
    screenshot(client, "mapping").await?;
    client.set_window_size(390, 1400).await?;
    screenshot(client, "mapping-phone").await?;
    client.set_window_size(1280, 1000).await?;

    // "Map to…" Northwind Traders, chosen from the customers.
    let form = client
        .find(Locator::Css(&format!(
            "{card} form[action=\"/mapping/set\"] select"
        )))
        .await?;
    form.select_by_value(&NORTHWIND.to_string()).await?;
    click(
        client,
        &format!("{card} form[action=\"/mapping/set\"] select ~ button"),
    )
    .await?;
    let notice = client.find(Locator::Css(".notice")).await?.text().await?;
    assert!(
        notice.starts_with("The organization is mapped."),
        "{notice}"
    );
    let mapped = client
        .find(Locator::Css(&format!(
            "article[aria-label=\"Mapping of {ORG}\"]"
        )))
        .await?
        .text()
        .await?;
    assert!(mapped.contains("Northwind Traders"), "{mapped}");
    assert!(mapped.contains("by dana via console"), "{mapped}");

    // Every worker has it within seconds; the parked alerts are released into a ticket.
    wait::until("the parked alerts ticketed for Northwind", LONG, || async {
        let tickets = stack.tickets();
        let done = (0..2).all(|i| {
            let title = format!("Parked in the browser {i}");
            tickets
                .iter()
                .any(|t| t.subject.contains(&title) && t.customer_id == NORTHWIND)
        });
        done.then_some(())
    })
    .await;
    Ok(())
}
