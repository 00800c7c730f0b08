//! The command line (each flag also an environment variable), layered over the seed's
//! `options`: built-in defaults → seed file → flags.

use std::net::IpAddr;
use std::path::PathBuf;

use clap::Parser;

use crate::config::{RetryAfterFormat, SimConfig, DEFAULT_SEED};
use crate::error::{Result, SimError};
use crate::faults::FaultSpec;

/// A faithful local simulator of the Syncro REST API v1.
#[derive(Debug, Parser)]
#[command(name = "syncro-sim", version)]
pub struct Cli {
    /// Port to listen on (0 picks a free one).
    #[arg(long, env = "SYNCRO_SIM_PORT", default_value_t = 8900)]
    pub port: u16,
    /// Address to listen on; 0.0.0.0 in a container.
    #[arg(long, env = "SYNCRO_SIM_BIND", default_value = "127.0.0.1")]
    pub bind: IpAddr,
    /// Seed file (JSON: account data plus optional "options"); the built-in seed otherwise.
    #[arg(long, env = "SYNCRO_SIM_SEED")]
    pub seed: Option<PathBuf>,
    /// API token clients must send [default: sim-token].
    #[arg(long, env = "SYNCRO_SIM_TOKEN")]
    pub token: Option<String>,
    /// Requests per minute per client IP; 0 turns the limit off [default: 180].
    #[arg(long, env = "SYNCRO_SIM_RATE_LIMIT")]
    pub rate_limit: Option<u32>,
    /// Send Retry-After on 429 answers [default: true].
    #[arg(long, env = "SYNCRO_SIM_RETRY_AFTER")]
    pub retry_after: Option<bool>,
    /// Retry-After as "seconds" or "http-date" [default: seconds].
    #[arg(long, env = "SYNCRO_SIM_RETRY_AFTER_FORMAT")]
    pub retry_after_format: Option<String>,
    /// Body of 429 answers (JSON or plain text) [default: {"error":"Rate limit exceeded"}].
    #[arg(long, env = "SYNCRO_SIM_RATE_LIMIT_BODY")]
    pub rate_limit_body: Option<String>,
    /// Default page size of every list, 1..=100 [default: 25; comments 10, contracts 50].
    #[arg(long, env = "SYNCRO_SIM_PAGE_SIZE")]
    pub page_size: Option<u32>,
    /// Drop contract_id sent on ticket create/update [default: false].
    #[arg(long, env = "SYNCRO_SIM_IGNORE_CONTRACT_ID")]
    pub ignore_contract_id: Option<bool>,
    /// A fault active from the start, as JSON, e.g. '{"kind":"error","status":503,"share":0.1}'.
    /// Repeatable.
    #[arg(long = "fault")]
    pub fault: Vec<String>,
    /// Faults active from the start, as a JSON array (added to --fault).
    #[arg(long, env = "SYNCRO_SIM_FAULTS")]
    pub faults: Option<String>,
    /// HTTP worker threads [default: one per core].
    #[arg(long, env = "SYNCRO_SIM_WORKERS")]
    pub workers: Option<usize>,
    /// Print the built-in seed (a starting point for your own) and exit.
    #[arg(long)]
    pub print_seed: bool,
}

impl Cli {
    /// The configuration these flags describe.
    pub fn into_config(self) -> Result<SimConfig> {
        let mut config = match &self.seed {
            Some(path) => SimConfig::from_seed_file(path)?,
            None => SimConfig::from_seed_str(DEFAULT_SEED, "built-in")?,
        };
        let o = &mut config.options;
        if let Some(v) = self.token {
            o.token = v;
        }
        if let Some(v) = self.rate_limit {
            o.rate_limit_per_minute = v;
        }
        if let Some(v) = self.retry_after {
            o.retry_after = v;
        }
        if let Some(v) = self.retry_after_format {
            o.retry_after_format = match v.as_str() {
                "seconds" => RetryAfterFormat::Seconds,
                "http-date" => RetryAfterFormat::HttpDate,
                other => {
                    return Err(SimError::InvalidOption(format!(
                        "retry-after-format {other:?}: use seconds or http-date"
                    )))
                }
            };
        }
        if let Some(v) = self.rate_limit_body {
            o.rate_limit_body = v;
        }
        if let Some(v) = self.page_size {
            o.page_size = v;
        }
        if let Some(v) = self.ignore_contract_id {
            o.ignore_contract_id = v;
        }
        for text in &self.fault {
            let spec: FaultSpec = serde_json::from_str(text)
                .map_err(|e| SimError::InvalidFault(format!("--fault {text}: {e}")))?;
            o.faults.push(spec);
        }
        if let Some(text) = &self.faults {
            let specs: Vec<FaultSpec> = serde_json::from_str(text)
                .map_err(|e| SimError::InvalidFault(format!("SYNCRO_SIM_FAULTS: {e}")))?;
            o.faults.extend(specs);
        }
        o.validate()?;
        config.workers = self.workers.unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2)
        });
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<SimConfig> {
        let mut argv = vec!["syncro-sim"];
        argv.extend_from_slice(args);
        Cli::try_parse_from(argv)
            .map_err(|e| SimError::InvalidOption(e.to_string()))?
            .into_config()
    }

    #[test]
    fn flags_override_defaults() {
        let c = parse(&[
            "--token",
            "t1",
            "--rate-limit",
            "0",
            "--retry-after",
            "false",
            "--retry-after-format",
            "http-date",
            "--page-size",
            "50",
            "--fault",
            r#"{"kind":"error","status":503,"share":0.5}"#,
        ])
        .expect("valid flags");
        assert_eq!(c.options.token, "t1");
        assert_eq!(c.options.rate_limit_per_minute, 0);
        assert!(!c.options.retry_after);
        assert_eq!(c.options.retry_after_format, RetryAfterFormat::HttpDate);
        assert_eq!(c.options.page_size_for("tickets"), 50);
        assert_eq!(c.options.faults.len(), 1);
        assert!(!c.data.customers.is_empty(), "the built-in seed is used");
    }

    #[test]
    fn bad_values_are_refused() {
        assert!(parse(&["--page-size", "101"]).is_err());
        assert!(parse(&["--fault", r#"{"kind":"latency"}"#]).is_err());
        assert!(parse(&["--retry-after-format", "minutes"]).is_err());
    }
}
