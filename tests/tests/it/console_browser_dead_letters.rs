//! Dead letters in a real browser (headless Chromium over WebDriver), against the whole
//! stack: Syncro refuses an alert's ticket (422), the worker dead-letters it; Syncro accepts
//! again; a person signs in, opens Dead letters, sees the letter and its reason, opens it,
//! makes the dry run, replays it for real, and sees it become a ticket in Syncro, its trail
//! showing `Replayed` then `Ticket created`.
//!
//! With `RELAY_CONSOLE_SCREENSHOTS=1` the pages are also saved as `docs/console/*.png`.

use crate::browser::{
    click, fill, follow, heading, navigate, screenshot, trail_until, with_browser, LONG,
};
use crate::relayctl_dlq::{refused_creates, Queues};
use anyhow::bail;
use fantoccini::{Client, Locator};
use relay_tests::alerts::alert;
use relay_tests::console::{TestConsole, DANA, PASSWORD};
use relay_tests::operator::TestOperator;
use relay_tests::processor::{eventually, Stack, TestProcessor};
use relay_tests::wait;
use serde_json::json;
use shared::message::message_id;

#[tokio::test]
async fn in_a_browser_a_person_replays_a_dead_letter_and_sees_it_ticketed() -> anyhow::Result<()> {
    let stack = Stack::start(|_| {}, "").await;
    // Syncro refuses the first ticket with a 422, then accepts again.
    stack
        .sim
        .sim()
        .add_fault(refused_creates(1))
        .map_err(|e| anyhow::anyhow!("fault: {e:?}"))?;
    let worker = TestProcessor::spawn(&stack.config);
    let operator = TestOperator::for_stack(&stack).await;
    operator.ready().await;
    let console = TestConsole::spawn(&operator.base_url, &[]);
    console.ready(LONG).await;
    let queues = Queues::open(&stack).await;
    stack.send(&[alert("browser-dead")]).await;
    wait::until("the alert to be dead-lettered", LONG, || async {
        (queues.count(&queues.dead()).await == 1).then_some(())
    })
    .await;
    let id = message_id("demo", "browser-dead");

    with_browser(|client| {
        let (console, id) = (&console, &id);
        async move { clicks(&client, console, id).await }
    })
    .await?;

    eventually("the replayed alert ticketed in Syncro", LONG, || {
        stack.references().contains(&id)
    })
    .await;
    assert_eq!(stack.tickets().len(), 1, "one ticket");
    assert_eq!(queues.count(&queues.dead()).await, 0);
    let audit = opstate::store::audit::list(&operator.db, None, 5).await?;
    assert_eq!(audit[0].action, "dlq.replay");
    assert_eq!(audit[0].actor, format!("{DANA} via console"));

    console.stop().await?;
    operator.stop().await?;
    worker.stop().await?;
    stack.finish().await;
    Ok(())
}

async fn main_text(client: &Client) -> anyhow::Result<String> {
    Ok(client.find(Locator::Css("main")).await?.text().await?)
}

async fn clicks(client: &Client, console: &TestConsole, id: &str) -> anyhow::Result<()> {
    let base = &console.base_url;
    client.goto(&format!("{base}/dead-letters")).await?;
    assert_eq!(heading(client).await?, "Sign in");
    fill(client, "#name", DANA).await?;
    fill(client, "#password", PASSWORD).await?;
    let password = client.find(Locator::Css("#password")).await?;
    navigate(client, password.send_keys("\u{E007}")).await?;
    assert_eq!(heading(client).await?, "Dead letters");

    // The letter, its reason, organization and age in the counts.
    let page = main_text(client).await?;
    for shown in ["syncro_422", "org-42", "<1h", id, "Customer required field"] {
        if !page.contains(shown) {
            bail!("the dead letters page does not show {shown:?}: {page}");
        }
    }
    screenshot(client, "dead-letters").await?;

    // The filter form by keyboard: a reason that matches nothing, then the one that does.
    fill(client, "#f-error_kind", "syncro_500").await?;
    let field = client.find(Locator::Css("#f-error_kind")).await?;
    navigate(client, field.send_keys("\u{E007}")).await?;
    assert!(main_text(client).await?.contains("No dead letter matches."));
    fill(client, "#f-error_kind", "syncro_422").await?;
    click(client, "form.search button[type=submit]").await?;

    // One letter in full.
    follow(client, id).await?;
    assert_eq!(heading(client).await?, "Dead letter");
    let letter = main_text(client).await?;
    for shown in [
        "Customer required field",
        "x-relay-error-kind",
        "browser-dead",
    ] {
        if !letter.contains(shown) {
            bail!("the letter's page does not show {shown:?}: {letter}");
        }
    }

    // The dry run, then the replay.
    follow(client, "Replay this letter…").await?;
    assert_eq!(heading(client).await?, "Replay: dry run");
    let dry = main_text(client).await?;
    if !dry.contains("Dry run: nothing was moved.") || !dry.contains("creates a ticket") {
        bail!("the dry run does not say what would happen: {dry}");
    }
    screenshot(client, "dead-letters-dry-run").await?;
    click(client, "main form button[type=submit]").await?;
    assert_eq!(heading(client).await?, "Replay");
    let done = main_text(client).await?;
    if !done.contains("Replayed 1 of 1 matching letters") {
        bail!("the replay does not say what it did: {done}");
    }

    // Its trail: replayed, then ticketed.
    let trail = trail_until(client, "browser-dead", "Ticket created").await?;
    if !trail.contains("Replayed") {
        bail!("the trail does not show the replay: {trail}");
    }
    follow(client, "Dead letters").await?;
    let after = main_text(client).await?;
    if !after.contains("No dead letter matches.") {
        bail!("the letter is still listed: {after}");
    }

    // At phone width the page fits.
    client.set_window_size(390, 900).await?;
    client.refresh().await?;
    let fits = client
        .execute(
            "return document.documentElement.scrollWidth <= window.innerWidth",
            vec![],
        )
        .await?;
    if fits != json!(true) {
        bail!("the dead letters page runs off a phone's width");
    }
    Ok(())
}
