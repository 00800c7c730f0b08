//! The token preflight of `processor check-config --online` (issue 16), run as the real
//! binary against the simulator: every feature the configuration turns on is listed with the
//! permissions it needs, whether the token has them and what breaks without each; a missing
//! one fails the check; `ticket_type_id` is checked against the account's ticket types; and
//! RMM-alert and contact options that cannot work are problems of the offline check.

use std::path::{Path, PathBuf};
use std::process::Output;

use relay_tests::workspace_binary;
use syncro_sim::model::AssetType;
use syncro_sim::{SimConfig, SimHandle};

const TOKEN: &str = "preflight-token-3e8a";

/// The example configuration with contacts (created when missing) and RMM alerts (muted)
/// turned on.
fn config_with_features() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/config.example.toml");
    let example = std::fs::read_to_string(path).expect("example config");
    format!(
        "{example}\n[tickets.contact]\nmatch_user = true\ncreate_missing = true\n\n\
         [tickets.rmm_alert]\nenabled = true\nmute_for = \"1-week\"\n"
    )
}

/// A simulator whose account has ticket types `types`, and whose token lacks `denied`.
fn start_sim(types: &[i64], denied: &[&str]) -> SimHandle {
    let mut config = SimConfig::builtin();
    config.options.token = TOKEN.to_string();
    config.options.rate_limit_per_minute = 0;
    config.options.denied_permissions = denied.iter().map(|d| d.to_string()).collect();
    config.data.ticket_types = types
        .iter()
        .map(|&id| AssetType {
            id,
            name: format!("Type {id}"),
        })
        .collect();
    syncro_sim::spawn_local(config).expect("simulator starts")
}

/// A file removed when the test ends.
struct TempFile(PathBuf);

impl TempFile {
    fn new(text: &str) -> TempFile {
        let name = uuid::Uuid::new_v4().simple().to_string();
        let path = std::env::temp_dir().join(format!("relay-preflight-{}.toml", &name[..12]));
        std::fs::write(&path, text).expect("temp file written");
        TempFile(path)
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

async fn check_config(file: &TempFile, sim: Option<&SimHandle>) -> (Output, String, String) {
    let path = file.0.to_str().expect("utf-8 path");
    let mut command = tokio::process::Command::new(workspace_binary("processor"));
    command.env_clear().env("RELAY_SYNCRO_TOKEN", TOKEN);
    match sim {
        Some(sim) => {
            command
                .args(["check-config", "--online", path])
                .env("RELAY_SYNCRO_URL", sim.api_url());
        }
        None => {
            command.args(["check-config", path]);
        }
    }
    let out = command.output().await.expect("processor runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    (out, stdout, stderr)
}

#[tokio::test]
async fn the_preflight_lists_what_each_enabled_feature_needs_and_passes_with_a_full_token() {
    let sim = start_sim(&[1, 2], &[]);
    let file = TempFile::new(&config_with_features());
    let (out, stdout, stderr) = check_config(&file, Some(&sim)).await;
    assert!(out.status.success(), "{stdout}\n{stderr}");
    for expected in [
        "token permissions (GET /me), by enabled feature:",
        "tickets and notes (always):",
        "ok       Tickets - Create",
        "contacts on tickets (tickets.contact.match_user):",
        "ok       Customers - View Detail",
        "ok       Customers - Edit",
        "RMM alerts on assets (tickets.rmm_alert):",
        "ok       RMM Alerts - Create",
        "ok       RMM Alerts - Delete",
        "ok       RMM Alerts - Clear/Manage",
        "matches the Syncro account",
    ] {
        assert!(
            stdout.contains(expected),
            "{expected:?} missing from:\n{stdout}"
        );
    }
    assert!(
        !stdout.contains("ticket_type_id not checked"),
        "the account lists ticket types: {stdout}"
    );
    sim.stop().await;
}

#[tokio::test]
async fn a_missing_permission_fails_the_preflight_and_says_what_breaks_without_it() {
    let sim = start_sim(&[1], &["RMM Alerts - Delete", "Customers - Edit"]);
    let file = TempFile::new(&config_with_features());
    let (out, stdout, stderr) = check_config(&file, Some(&sim)).await;
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(stdout.contains("MISSING  RMM Alerts - Delete"), "{stdout}");
    for expected in [
        "syncro.token: lacks \"RMM Alerts - Delete\", needed for RMM alerts on assets \
         (tickets.rmm_alert): RMM alerts stay active on the asset after their alert resolves",
        "syncro.token: lacks \"Customers - Edit\", needed for contacts on tickets \
         (tickets.contact.match_user): a missing contact is not created",
        "2 problem(s)",
    ] {
        assert!(
            stderr.contains(expected),
            "{expected:?} missing from:\n{stderr}"
        );
    }
    sim.stop().await;
}

#[tokio::test]
async fn a_ticket_type_the_account_does_not_have_is_a_problem() {
    let sim = start_sim(&[7, 8], &[]);
    let file = TempFile::new(&config_with_features());
    let (out, _stdout, stderr) = check_config(&file, Some(&sim)).await;
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(
            "tickets.ticket_type_id: ticket type 1 is not one of the account's (known: 7, 8)"
        ),
        "{stderr}"
    );
    sim.stop().await;
}

#[tokio::test]
async fn rmm_alert_and_contact_options_that_cannot_work_are_reported_at_start() {
    let text = format!(
        "{}\n[contracts]\nattach_devices = false\n\n\
         [[overrides.event_type]]\nmatch = \"edr.lateral_movement\"\nrmm_alert = true\n",
        config_with_features()
            .replace("match_user = true\n", "")
            .replace(
                "mute_for = \"1-week\"",
                "mute_for = \"a fortnight\"\nbody = \"{device}\""
            )
    );
    let file = TempFile::new(&text);
    let (out, stdout, stderr) = check_config(&file, None).await;
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    for expected in [
        "tickets.contact.create_missing: needs match_user = true",
        "tickets.rmm_alert.mute_for: \"a fortnight\" is not a Syncro mute duration",
        "tickets.rmm_alert.body: unknown placeholder {device}",
        "tickets.rmm_alert.enabled: RMM alerts go on the asset matched to the alert's device, \
         but contracts.attach_devices = false matches none",
        "overrides.event_type[match=\"edr.lateral_movement\"].rmm_alert: RMM alerts go on the asset",
    ] {
        assert!(stderr.contains(expected), "{expected:?} missing from:\n{stderr}");
    }
}
