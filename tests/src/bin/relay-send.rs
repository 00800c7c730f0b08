//! `relay-send`: signs a JSON file the way a source would and posts it to ingest. For the demo,
//! for checking a source's configuration, and for sending a hand-written alert at 3 a.m.
//!
//! ```text
//! RELAY_DEMO_SECRET=whsec_... relay-send --source demo --secret-env RELAY_DEMO_SECRET alert.json
//! ```

use anyhow::{bail, Context};
use clap::{Parser, ValueEnum};
use shared::signing::{decode_whsec, hmac_sha256_header, standard_webhooks_signature};
use std::io::Read;
use std::path::PathBuf;

#[derive(Clone, Copy, ValueEnum)]
enum Scheme {
    StandardWebhooks,
    HmacSha256,
    Bearer,
}

#[derive(Parser)]
#[command(about = "Sign a JSON body like a webhook source and POST it to ingest")]
struct Cli {
    /// Base URL of ingest.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    url: String,
    /// Source name: the {source} of /v1/webhooks/{source} (or /v1/billable-users/{source}).
    #[arg(long)]
    source: String,
    /// Environment variable holding the secret (never pass secrets as arguments).
    #[arg(long)]
    secret_env: String,
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

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let secret = std::env::var(&cli.secret_env)
        .with_context(|| format!("environment variable {} is not set", cli.secret_env))?;
    let body = match &cli.file {
        Some(path) if path.as_os_str() != "-" => {
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?
        }
        _ => {
            let mut buf = Vec::new();
            std::io::stdin().read_to_end(&mut buf)?;
            buf
        }
    };
    let url = format!(
        "{}/v1/{}/{}",
        cli.url.trim_end_matches('/'),
        cli.endpoint,
        cli.source
    );
    let mut request = reqwest::Client::new()
        .post(&url)
        .header("content-type", "application/json");
    match cli.scheme {
        Scheme::StandardWebhooks => {
            let Some(key) = decode_whsec(&secret) else {
                bail!("{} does not hold a whsec_ secret", cli.secret_env)
            };
            let id = format!("msg_{}", uuid::Uuid::new_v4().simple());
            let now = chrono::Utc::now().timestamp();
            request = request
                .header("webhook-id", &id)
                .header("webhook-timestamp", now.to_string())
                .header(
                    "webhook-signature",
                    standard_webhooks_signature(&key, &id, now, &body),
                );
        }
        Scheme::HmacSha256 => {
            request = request.header(
                cli.header.as_str(),
                hmac_sha256_header(secret.as_bytes(), &body),
            );
        }
        Scheme::Bearer => request = request.bearer_auth(secret),
    }
    let response = request
        .body(body)
        .send()
        .await
        .with_context(|| format!("cannot reach {url}"))?;
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    println!("{} {}", status.as_u16(), text);
    if !status.is_success() {
        std::process::exit(1);
    }
    Ok(())
}
