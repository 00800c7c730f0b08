//! The `check-config` and `explain` subcommands, kept out of `main.rs` so tests and other
//! tools call the same code. Both print to stdout on success and list problems on stderr;
//! the exit status is 0 on success and 1 when anything is wrong.

use crate::config::checks::check_online_report;
use crate::config::ProcessorConfig;
use crate::plan::explain;
use chrono::Utc;
use serde_json::Value;
use shared::alert::Alert;
use shared::config::{self, ConfigError, Settings};
use shared::message::AlertMessage;
use std::path::Path;
use std::process::ExitCode;
use syncro::{ClientConfig, SyncroClient};

/// Source name given to a bare alert, which carries none.
pub const EXPLAIN_SOURCE: &str = "explain";

/// `processor check-config FILE [--online]`: every problem of the file at once; with
/// `online`, then compares it with the Syncro account (only when the file itself is valid,
/// since a half-valid file would give misleading answers).
pub async fn check_config(path: &Path, online: bool) -> ExitCode {
    let settings = match Settings::load(path, &config::process_env) {
        Ok(settings) => settings,
        Err(error) => return fail(&error),
    };
    let processor = match ProcessorConfig::from_settings(&settings) {
        Ok(config) => config,
        Err(problems) => return fail(&config_error(path, problems)),
    };
    if !online {
        println!("{}: no problems found", path.display());
        return ExitCode::SUCCESS;
    }
    let client = match ClientConfig::from_settings(&settings.syncro)
        .ok_or_else(|| "syncro.token: not set".to_string())
        .and_then(|c| SyncroClient::new(&c).map_err(|e| format!("syncro: {e}")))
    {
        Ok(client) => client,
        Err(problem) => return fail(&config_error(path, vec![problem])),
    };
    let report = check_online_report(&processor, &client).await;
    print_permissions(&report.permissions);
    for note in &report.notes {
        println!("note: {note}");
    }
    if report.problems.is_empty() {
        println!(
            "{}: no problems found; it matches the Syncro account at {}",
            path.display(),
            client.api_root()
        );
        ExitCode::SUCCESS
    } else {
        fail(&config_error(path, report.problems))
    }
}

/// The token preflight as a table: feature, permission, whether the token has it, and what
/// breaks without it (for the ones it lacks or that `GET /me` does not report).
fn print_permissions(checks: &[crate::config::permissions::PermissionCheck]) {
    use crate::config::permissions::Grant;
    if checks.is_empty() {
        return;
    }
    println!("token permissions (GET /me), by enabled feature:");
    let mut feature = "";
    for c in checks {
        if c.feature != feature {
            feature = c.feature;
            println!("  {} ({}):", c.feature, c.key);
        }
        let without = match c.grant {
            Grant::Granted => String::new(),
            _ => format!("  without it: {}", c.need.breaks),
        };
        let line = format!(
            "    {:<8} {:<28}{without}",
            c.grant.label(),
            c.need.permission
        );
        println!("{}", line.trim_end());
    }
}

/// `processor explain FILE ALERT.json`: the ticket or note the alert would produce, and which
/// rule set each field. Needs only the processor's sections (no Syncro token), and calls
/// nothing. The alert file holds a canonical alert or a whole queue message.
pub fn explain(path: &Path, alert_json_path: &Path) -> ExitCode {
    let settings = match Settings::load(path, &config::process_env) {
        Ok(settings) => settings,
        Err(error) => return fail(&error),
    };
    let config = match ProcessorConfig::from_sections(&settings.processor_sections) {
        Ok(config) => config,
        Err(problems) => return fail(&config_error(path, problems)),
    };
    let message = match read_alert(alert_json_path) {
        Ok(message) => message,
        Err(problems) => {
            eprintln!(
                "{}: {} problem(s) in the alert:",
                alert_json_path.display(),
                problems.len()
            );
            for problem in problems {
                eprintln!("  - {problem}");
            }
            return ExitCode::from(1);
        }
    };
    print!("{}", explain::explain(&config, &message));
    ExitCode::SUCCESS
}

/// Reads a canonical alert (validated as ingest would) or an `AlertMessage`
/// (`{"source", "received_at", "alert"}`, as found on the queue).
pub fn read_alert(path: &Path) -> Result<AlertMessage, Vec<String>> {
    let text = std::fs::read_to_string(path).map_err(|e| vec![format!("cannot read: {e}")])?;
    let value: Value = serde_json::from_str(&text).map_err(|e| vec![format!("not JSON: {e}")])?;
    let is_message = value.get("alert").is_some_and(Value::is_object)
        && value.get("source").is_some_and(Value::is_string);
    let fields = |errors: Vec<shared::alert::FieldError>| -> Vec<String> {
        errors.iter().map(ToString::to_string).collect()
    };
    if is_message {
        let message: AlertMessage =
            serde_json::from_value(value).map_err(|e| vec![format!("not a queue message: {e}")])?;
        let alert = message.alert.validate("alert").map_err(fields)?;
        Ok(AlertMessage { alert, ..message })
    } else {
        let alert = Alert::from_json(&value, "").map_err(fields)?;
        Ok(AlertMessage::new(EXPLAIN_SOURCE, alert, Utc::now()))
    }
}

fn config_error(path: &Path, problems: Vec<String>) -> ConfigError {
    ConfigError {
        path: path.to_path_buf(),
        problems,
    }
}

fn fail(error: &ConfigError) -> ExitCode {
    eprint!("{error}");
    ExitCode::from(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_file(name: &str, text: &str) -> std::path::PathBuf {
        let path =
            std::env::temp_dir().join(format!("processor-cli-{}-{name}", std::process::id()));
        std::fs::write(&path, text).expect("temp file");
        path
    }

    #[test]
    fn alert_files_may_hold_a_bare_alert_or_a_queue_message() {
        let alert = serde_json::json!({
            "id": "evt-1", "event_type": "x", "severity": "HIGH",
            "organization": {"id": "org-1"}, "title": "T",
            "occurred_at": "2026-05-01T10:00:00Z"
        });
        let bare = temp_file("bare.json", &alert.to_string());
        let m = read_alert(&bare).expect("bare alert");
        assert_eq!(m.source, EXPLAIN_SOURCE);
        assert_eq!(m.alert.severity, shared::alert::Severity::High);

        let wrapped = serde_json::json!({
            "source": "demo", "received_at": "2026-05-01T10:00:01Z",
            "alert": {"id": "evt-1", "event_type": "x", "severity": "high",
                      "organization": {"id": "org-1"}, "title": "T",
                      "occurred_at": "2026-05-01T10:00:00Z"}
        });
        let message = temp_file("message.json", &wrapped.to_string());
        assert_eq!(read_alert(&message).expect("message").source, "demo");

        let invalid = temp_file("invalid.json", r#"{"id": "x", "severity": "loud"}"#);
        let problems = read_alert(&invalid).expect_err("invalid");
        assert!(
            problems.iter().any(|p| p.starts_with("severity:")),
            "{problems:?}"
        );
        assert!(
            problems.iter().any(|p| p.starts_with("title:")),
            "{problems:?}"
        );
        for path in [bare, message, invalid] {
            let _ = std::fs::remove_file(path);
        }
    }
}
