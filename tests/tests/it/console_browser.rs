//! The web console in a real browser: Debian's headless Chromium driven over WebDriver
//! (chromedriver, by the `fantoccini` client) against the whole stack, clicking through as a
//! person would: sign in, create a silence, see a matching alert suppressed in its trail,
//! find another alert's trail with its ticket, and the overview at phone width.
//!
//! With `RELAY_CONSOLE_SCREENSHOTS=1` the pages are also saved as `docs/console/*.png` (the
//! docs' screenshots); a normal run writes nothing.

use anyhow::{bail, Context as _};
use fantoccini::{Client, ClientBuilder, Locator};
use futures_util::FutureExt;
use hyper_util::client::legacy::connect::HttpConnector;
use relay_tests::alerts::alert;
use relay_tests::console::{TestConsole, DANA, PASSWORD};
use relay_tests::operator::TestOperator;
use relay_tests::processor::{Stack, TestProcessor};
use relay_tests::{free_port, wait};
use serde_json::json;
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::process::{Child, Command};

const LONG: Duration = Duration::from_secs(60);

/// chromedriver on a port of its own: [`Driver::stop`] ends it and the browsers it started;
/// dropped without it (a failed start), it is killed.
struct Driver {
    child: Child,
    url: String,
}

impl Driver {
    /// Asks chromedriver to shut down (it quits its browsers first), then waits for it: a
    /// chromedriver killed outright leaves its Chromium running.
    async fn stop(mut self) {
        let _ = reqwest::get(format!("{}/shutdown", self.url)).await;
        if tokio::time::timeout(Duration::from_secs(10), self.child.wait())
            .await
            .is_err()
        {
            let _ = self.child.kill().await;
        }
    }
}

async fn chromedriver() -> anyhow::Result<Driver> {
    let port = free_port();
    let child = Command::new("chromedriver")
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .context("chromedriver is not installed: apt-get install -y chromium chromium-driver (tests/run.sh does)")?;
    let url = format!("http://127.0.0.1:{port}");
    wait::http_ok("chromedriver", &format!("{url}/status"), LONG).await;
    Ok(Driver { child, url })
}

async fn browser(driver: &Driver) -> anyhow::Result<Client> {
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": "/usr/bin/chromium",
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1280,1000", "--hide-scrollbars", "--force-device-scale-factor=1"],
        }),
    );
    Ok(ClientBuilder::new(HttpConnector::new())
        .capabilities(caps)
        .connect(&driver.url)
        .await?)
}

/// Saves the page as `docs/console/<name>.png` when screenshots are asked for.
async fn screenshot(client: &Client, name: &str) -> anyhow::Result<()> {
    if std::env::var("RELAY_CONSOLE_SCREENSHOTS").as_deref() != Ok("1") {
        return Ok(());
    }
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/console");
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join(format!("{name}.png")), client.screenshot().await?)?;
    Ok(())
}

async fn fill(client: &Client, css: &str, text: &str) -> anyhow::Result<()> {
    let field = client.find(Locator::Css(css)).await?;
    field.clear().await?;
    field.send_keys(text).await?;
    Ok(())
}

/// Does `act` (a click, a key) and waits until the page it leads to replaced the current
/// one: a WebDriver click may return before the navigation it starts, and an element found
/// meanwhile would belong to the old page.
async fn navigate<Fut>(client: &Client, act: Fut) -> anyhow::Result<()>
where
    Fut: std::future::Future<Output = Result<(), fantoccini::error::CmdError>>,
{
    let old = client.find(Locator::Css("html")).await?;
    act.await?;
    let deadline = Instant::now() + LONG;
    while old.tag_name().await.is_ok() {
        if Instant::now() > deadline {
            bail!("the page did not change");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

/// Clicks what `css` finds and waits for the page it leads to.
async fn click(client: &Client, css: &str) -> anyhow::Result<()> {
    let target = client.find(Locator::Css(css)).await?;
    navigate(client, target.click()).await
}

/// Follows the link named `text`.
async fn follow(client: &Client, text: &str) -> anyhow::Result<()> {
    let link = client.find(Locator::LinkText(text)).await?;
    navigate(client, link.click()).await
}

async fn heading(client: &Client) -> anyhow::Result<String> {
    Ok(client.find(Locator::Css("h1")).await?.text().await?)
}

/// Searches the trail for `alert` until its page shows `text` (the steps reach PostgreSQL
/// through a buffer), reloading as a person would.
async fn trail_until(client: &Client, alert: &str, text: &str) -> anyhow::Result<String> {
    let deadline = Instant::now() + LONG;
    loop {
        follow(client, "Trail").await?;
        fill(client, "#alert", alert).await?;
        click(client, "form.search button").await?;
        let body = client.find(Locator::Css("main")).await?.text().await?;
        if body.contains(text) {
            return Ok(body);
        }
        if Instant::now() > deadline {
            bail!("the trail of {alert} never showed {text:?}: {body}");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

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
    wait::http_ok(
        "the console",
        &format!("{}/healthz", console.base_url),
        LONG,
    )
    .await;
    // An alert before any silence: it becomes a ticket.
    stack.send(&[alert("browser-ticketed")]).await;

    let driver = chromedriver().await?;
    let client = browser(&driver).await?;
    // The browser is closed however the clicks end, a failed assertion included.
    let outcome = AssertUnwindSafe(clicks(&client, &console, &stack, &worker))
        .catch_unwind()
        .await;
    let _ = client.close().await;
    driver.stop().await;
    match outcome {
        Ok(result) => result?,
        Err(panic) => std::panic::resume_unwind(panic),
    }

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
