//! `relayctl send`: signs a JSON body the way a webhook source would and posts it to ingest.
//! For the demo, for checking a source's configuration, and for a hand-written alert at 3 a.m.
//!
//! ```text
//! RELAY_DEMO_SECRET=whsec_... relayctl send --source demo --secret-env RELAY_DEMO_SECRET alert.json
//! ```
//!
//! Prints `<status> <response body>` on one line (scripts read it); exits 1 on a non-2xx
//! answer. Needs no configuration file: the source's secret comes from the environment
//! variable named by `--secret-env`, as the source's configuration in ingest names it.
//!
//! The signing helpers here serve `relayctl storm` too, so both sign exactly as a source does.

use anyhow::{bail, Context};
use clap::ValueEnum;
use shared::signing::{decode_whsec, hmac_sha256_header, standard_webhooks_signature};
use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

/// How the request is signed: the verification schemes ingest knows.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Scheme {
    StandardWebhooks,
    HmacSha256,
    Bearer,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Base URL of ingest.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    url: String,
    /// Source name: the {source} of /v1/webhooks/{source} (or /v1/billable-users/{source}).
    #[arg(long)]
    source: String,
    /// Environment variable holding the secret (never pass secrets as arguments).
    #[arg(long)]
    secret_env: String,
    /// Signature scheme of the source.
    #[arg(long, value_enum, default_value = "standard-webhooks")]
    scheme: Scheme,
    /// Header for hmac-sha256.
    #[arg(long, default_value = "X-Hub-Signature-256")]
    header: String,
    /// The endpoint: `webhooks` (alerts) or `billable-users` (billable-user counts).
    #[arg(long, default_value = "webhooks", value_parser = ["webhooks", "billable-users"])]
    endpoint: String,
    /// JSON file to send; `-` or none reads standard input.
    file: Option<PathBuf>,
}

pub async fn run(args: Args) -> ExitCode {
    match send(&args).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("relayctl send: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn send(args: &Args) -> anyhow::Result<ExitCode> {
    let secret = secret_from_env(&args.secret_env)?;
    let body = read_body(args.file.as_ref())?;
    let url = format!(
        "{}/v1/{}/{}",
        args.url.trim_end_matches('/'),
        args.endpoint,
        args.source
    );
    let mut request = reqwest::Client::new()
        .post(&url)
        .header("content-type", "application/json");
    request = match args.scheme {
        Scheme::StandardWebhooks => {
            let key = whsec_key(&args.secret_env, &secret)?;
            sign_standard_webhooks(request, &key, &body)
        }
        Scheme::HmacSha256 => request.header(
            args.header.as_str(),
            hmac_sha256_header(secret.as_bytes(), &body),
        ),
        Scheme::Bearer => request.bearer_auth(secret),
    };
    let response = request
        .body(body)
        .send()
        .await
        .with_context(|| format!("cannot reach {url}"))?;
    let status = response.status();
    // The answer's body is only shown; an unreadable one must not hide the status.
    let text = response.text().await.unwrap_or_default();
    println!("{} {}", status.as_u16(), text);
    Ok(if status.is_success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn read_body(file: Option<&PathBuf>) -> anyhow::Result<Vec<u8>> {
    match file {
        Some(path) if path.as_os_str() != "-" => {
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))
        }
        _ => {
            let mut buf = Vec::new();
            std::io::stdin()
                .read_to_end(&mut buf)
                .context("cannot read standard input")?;
            Ok(buf)
        }
    }
}

/// The secret held by environment variable `name`: secrets never travel as arguments, where
/// `ps` and shell history would show them.
pub(crate) fn secret_from_env(name: &str) -> anyhow::Result<String> {
    std::env::var(name).with_context(|| format!("environment variable {name} is not set"))
}

/// The key of a Standard Webhooks secret read from variable `name` (named in the error).
pub(crate) fn whsec_key(name: &str, secret: &str) -> anyhow::Result<Vec<u8>> {
    match decode_whsec(secret) {
        Some(key) => Ok(key),
        None => bail!("{name} does not hold a whsec_ secret"),
    }
}

/// Adds the Standard Webhooks headers for `body`, signed now with a fresh message id, as a
/// source does for every delivery.
pub(crate) fn sign_standard_webhooks(
    request: reqwest::RequestBuilder,
    key: &[u8],
    body: &[u8],
) -> reqwest::RequestBuilder {
    let id = format!("msg_{}", uuid::Uuid::new_v4().simple());
    let now = chrono::Utc::now().timestamp();
    request
        .header("webhook-id", &id)
        .header("webhook-timestamp", now.to_string())
        .header(
            "webhook-signature",
            standard_webhooks_signature(key, &id, now, body),
        )
}
