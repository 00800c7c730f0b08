//! What the browser tests share: chromedriver on a port of its own, a headless Debian
//! Chromium, and the few moves a person makes (fill a field, click and wait for the next
//! page, follow a link, read the heading, search the trail until a step shows).
//!
//! [`with_browser`] runs a test's clicks and closes the browser and chromedriver however
//! they end, a failed assertion included.

use anyhow::{bail, Context as _};
use fantoccini::{Client, ClientBuilder, Locator};
use futures_util::FutureExt;
use hyper_util::client::legacy::connect::HttpConnector;
use relay_tests::{free_port, wait};
use serde_json::json;
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::process::{Child, Command};

pub(crate) const LONG: Duration = Duration::from_secs(60);

/// chromedriver on a port of its own: [`Driver::stop`] ends it and the browsers it started;
/// dropped without it (a failed start), it is killed.
pub(crate) struct Driver {
    child: Child,
    pub(crate) url: String,
}

impl Driver {
    /// Asks chromedriver to shut down (it quits its browsers first), then waits for it: a
    /// chromedriver killed outright leaves its Chromium running.
    pub(crate) async fn stop(mut self) {
        let _ = reqwest::get(format!("{}/shutdown", self.url)).await;
        if tokio::time::timeout(Duration::from_secs(10), self.child.wait())
            .await
            .is_err()
        {
            let _ = self.child.kill().await;
        }
    }
}

pub(crate) async fn chromedriver() -> anyhow::Result<Driver> {
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

pub(crate) async fn browser(driver: &Driver) -> anyhow::Result<Client> {
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
pub(crate) async fn screenshot(client: &Client, name: &str) -> anyhow::Result<()> {
    if std::env::var("RELAY_CONSOLE_SCREENSHOTS").as_deref() != Ok("1") {
        return Ok(());
    }
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/console");
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join(format!("{name}.png")), client.screenshot().await?)?;
    Ok(())
}

pub(crate) async fn fill(client: &Client, css: &str, text: &str) -> anyhow::Result<()> {
    let field = client.find(Locator::Css(css)).await?;
    field.clear().await?;
    field.send_keys(text).await?;
    Ok(())
}

/// Does `act` (a click, a key) and waits until the page it leads to replaced the current
/// one: a WebDriver click may return before the navigation it starts, and an element found
/// meanwhile would belong to the old page.
pub(crate) async fn navigate<Fut>(client: &Client, act: Fut) -> anyhow::Result<()>
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
pub(crate) async fn click(client: &Client, css: &str) -> anyhow::Result<()> {
    let target = client.find(Locator::Css(css)).await?;
    navigate(client, target.click()).await
}

/// Follows the link named `text`.
pub(crate) async fn follow(client: &Client, text: &str) -> anyhow::Result<()> {
    let link = client.find(Locator::LinkText(text)).await?;
    navigate(client, link.click()).await
}

pub(crate) async fn heading(client: &Client) -> anyhow::Result<String> {
    Ok(client.find(Locator::Css("h1")).await?.text().await?)
}

/// Searches the trail for `alert` until its page shows `text` (the steps reach PostgreSQL
/// through a buffer), reloading as a person would.
pub(crate) async fn trail_until(
    client: &Client,
    alert: &str,
    text: &str,
) -> anyhow::Result<String> {
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

/// Starts chromedriver and a browser, runs `clicks` with it, then closes both, whatever
/// `clicks` did (a panic is resumed after the clean-up).
pub(crate) async fn with_browser<F, Fut>(clicks: F) -> anyhow::Result<()>
where
    F: FnOnce(Client) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    let driver = chromedriver().await?;
    let client = browser(&driver).await?;
    let outcome = AssertUnwindSafe(clicks(client.clone()))
        .catch_unwind()
        .await;
    let _ = client.close().await;
    driver.stop().await;
    match outcome {
        Ok(result) => result,
        Err(panic) => std::panic::resume_unwind(panic),
    }
}
