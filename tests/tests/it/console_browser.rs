//! The web console in a real browser: Debian's headless Chromium driven over WebDriver
//! (chromedriver, by the `fantoccini` client) against the whole stack, clicking through as a
//! person would: sign in, create a silence, see a matching alert suppressed in its trail,
//! find another alert's trail with its ticket, and the overview at phone width.
//!
//! With `RELAY_CONSOLE_SCREENSHOTS=1` the pages are also saved as `docs/console/*.png` (the
//! docs' screenshots); a normal run writes nothing.

use crate::browser::{
    click, fill, follow, heading, navigate, screenshot, trail_until, with_browser, LONG,
};
use anyhow::{bail, Context as _};
use fantoccini::{Client, Locator};
use relay_tests::alerts::alert;
use relay_tests::console::{TestConsole, DANA, PASSWORD};
use relay_tests::operator::TestOperator;
use relay_tests::processor::{Stack, TestProcessor};
use relay_tests::wait;
use serde_json::json;
use std::time::{Duration, Instant};

#[tokio::test]
async fn in_a_browser_a_person_signs_in_silences_an_organization_and_follows_alerts(
) -> anyhow::Result<()> {
    let stack = Stack::start(|_| {}, "").await;
    let worker = TestProcessor::spawn(&stack.config);
    let operator = TestOperator::for_stack(&stack).await;
    operator.fully_up().await;
    let console = TestConsole::spawn(
        &operator.base_url,
        &[(
            "RELAY_CONSOLE_TICKET_URL",
            "https://acme.syncromsp.com/tickets/{id}",
        )],
    );
    console.ready(LONG).await;
    // An alert before any silence: it becomes a ticket.
    stack.send(&[alert("browser-ticketed")]).await;

    // The browser is closed however the clicks end, a failed assertion included.
    with_browser(|client| {
        let (console, stack, worker) = (&console, &stack, &worker);
        async move { clicks(&client, console, stack, worker).await }
    })
    .await?;

    console.stop().await?;
    operator.stop().await?;
    worker.stop().await?;
    stack.finish().await;
    Ok(())
}

async fn clicks(
    client: &Client,
    console: &TestConsole,
    stack: &Stack,
    worker: &TestProcessor,
) -> anyhow::Result<()> {
    let base = &console.base_url;
    // Any page sends a stranger to the sign-in.
    client.goto(&format!("{base}/silences")).await?;
    assert_eq!(heading(client).await?, "Sign in");
    screenshot(client, "sign-in").await?;
    fill(client, "#name", DANA).await?;
    fill(client, "#password", PASSWORD).await?;
    let password = client.find(Locator::Css("#password")).await?;
    // Enter: the keyboard submits the form.
    navigate(client, password.send_keys("\u{E007}")).await?;
    assert_eq!(
        heading(client).await?,
        "Silences",
        "back where the stranger was going"
    );

    // The overview: every part up, the worker reporting.
    follow(client, "Overview").await?;
    let deadline = Instant::now() + LONG;
    loop {
        let text = client.find(Locator::Css("main")).await?.text().await?;
        if text.contains("1 reporting") && !text.contains("DOWN") {
            break;
        }
        if Instant::now() > deadline {
            bail!("the overview never showed every part up: {text}");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        client.refresh().await?;
    }
    client.set_window_size(1280, 1200).await?;
    screenshot(client, "overview").await?;
    client.set_window_size(1280, 1000).await?;

    // A silence of org-42's impossible-travel alerts, for two hours.
    follow(client, "Silences").await?;
    let form = client.find(Locator::Css("form.silence")).await?;
    form.find(Locator::Css("#m0_field"))
        .await?
        .select_by_value("organization")
        .await?;
    fill(client, "#m0_value", "org-42").await?;
    form.find(Locator::Css("#m1_field"))
        .await?
        .select_by_value("event_type")
        .await?;
    form.find(Locator::Css("#m1_op"))
        .await?
        .select_by_value("=~")
        .await?;
    fill(client, "#m1_value", "m365\\..*").await?;
    fill(client, "#duration", "2h").await?;
    fill(client, "#reason", "Patch night at Contoso").await?;
    click(client, "form.silence button[type=submit]").await?;
    let notice = client.find(Locator::Css(".notice")).await?.text().await?;
    assert_eq!(notice, "The silence was created.");
    let listed = client
        .find(Locator::Css("article.silence"))
        .await?
        .text()
        .await?;
    assert!(listed.contains("organization = org-42"), "{listed}");
    assert!(listed.contains("active"), "{listed}");
    screenshot(client, "silences").await?;

    // Once the worker has it, a matching alert is suppressed: its trail says so.
    let line = "relay_processor_silences_active 1";
    wait::until("the worker's silence", LONG, || async {
        let body = worker.metrics_text().await?;
        body.lines().any(|l| l == line).then_some(())
    })
    .await;
    stack.send(&[alert("browser-silenced")]).await;
    let trail = trail_until(client, "browser-silenced", "Suppressed by a silence").await?;
    assert!(trail.contains("Received"), "{trail}");
    assert!(trail.contains("silence: Patch night at Contoso"), "{trail}");
    screenshot(client, "trail-suppressed").await?;

    // The first alert's trail: a ticket, linked to Syncro.
    trail_until(client, "browser-ticketed", "Ticket created").await?;
    let link = client
        .find(Locator::Css(
            "article.alert a[href^='https://acme.syncromsp.com/tickets/']",
        ))
        .await?;
    assert!(link.text().await?.starts_with("Syncro ticket #"));
    let ticket = stack.tickets().first().map(|t| t.id).context("a ticket")?;
    let href = link.attr("href").await?.unwrap_or_default();
    assert_eq!(href, format!("https://acme.syncromsp.com/tickets/{ticket}"));
    screenshot(client, "trail").await?;

    // At phone width nothing runs off the side, and the skip link comes first.
    client.set_window_size(390, 900).await?;
    follow(client, "Overview").await?;
    let fits = client
        .execute(
            "return document.documentElement.scrollWidth <= window.innerWidth",
            vec![],
        )
        .await?;
    assert_eq!(fits, json!(true), "the overview fits a phone's width");
    screenshot(client, "overview-phone").await?;
    client
        .find(Locator::Css("body"))
        .await?
        .send_keys("\u{E004}")
        .await?; // Tab
    let first = client.active_element().await?.text().await?;
    assert_eq!(first, "Skip to the content");
    Ok(())
}
