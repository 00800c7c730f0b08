//! `relayctl pause --reason TEXT` and `relayctl resume`: the fleet's pause switch, through the
//! operator API. While paused the workers take no alert; alerts keep arriving and wait in
//! RabbitMQ. Each prints the state and whether this call changed it (pausing a paused fleet
//! changes nothing, and is not an error).

use crate::api::{self, Api, ApiArgs, ApiError};
use crate::text::{clip, utc};
use opstate::store::fleet::PauseState;
use serde::Deserialize;
use serde_json::json;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct PauseArgs {
    #[command(flatten)]
    pub api: ApiArgs,
    /// Why: shown in the status and the audit log.
    #[arg(long)]
    pub reason: String,
}

#[derive(Debug, clap::Args)]
pub struct ResumeArgs {
    #[command(flatten)]
    pub api: ApiArgs,
}

/// The API's answer to a pause or a resume.
#[derive(Debug, Deserialize)]
struct Switched {
    state: PauseState,
    changed: bool,
}

pub async fn pause(args: PauseArgs) -> ExitCode {
    let body = json!({ "reason": args.reason });
    api::finish("pause", switch(&args.api, "/v1/pause", Some(body)).await)
}

pub async fn resume(args: ResumeArgs) -> ExitCode {
    api::finish("resume", switch(&args.api, "/v1/resume", None).await)
}

async fn switch(
    args: &ApiArgs,
    path: &str,
    body: Option<serde_json::Value>,
) -> Result<ExitCode, ApiError> {
    let answer: Switched = Api::new(args).post(path, body.as_ref()).await?;
    let changed = if answer.changed {
        "yes"
    } else {
        "no (it already was so)"
    };
    println!("state:   {}", describe(&answer.state));
    println!("changed: {changed}");
    Ok(ExitCode::SUCCESS)
}

/// `paused by alice since 2026-12-01T22:00:00Z: patch night` or `running (resumed by alice
/// at …)`.
pub fn describe(state: &PauseState) -> String {
    let by = state.by.as_deref().unwrap_or("?");
    let since = state.since.map(utc);
    match (state.paused, since) {
        (true, since) => {
            let mut line = format!(
                "paused by {by} since {}",
                since.unwrap_or_else(|| "?".into())
            );
            if let Some(reason) = &state.reason {
                line.push_str(": ");
                line.push_str(&clip(reason, 200));
            }
            line
        }
        (false, Some(at)) => format!("running (resumed by {by} at {at})"),
        (false, None) => "running".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_state_says_who_why_and_since_when() {
        let state: PauseState = serde_json::from_value(json!({
            "paused": true, "reason": "Syncro maintenance", "by": "alice",
            "since": "2026-12-01T22:00:00Z",
        }))
        .expect("a pause state");
        assert_eq!(
            describe(&state),
            "paused by alice since 2026-12-01T22:00:00Z: Syncro maintenance"
        );
        assert_eq!(describe(&PauseState::default()), "running");
    }
}
