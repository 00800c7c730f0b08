//! `relayctl silence`: silences and maintenance windows, through the operator API.
//!
//! - `add`: `--match` flags (all must hold) and one window: `--for`, `--until`, `--weekly`
//!   or `--cron`; a refusal lists every problem, one per line, under the flag it concerns,
//!   and exits 2 (nothing is stored).
//! - `list [--all] [--json]`: one line per silence.
//! - `expire ID`, `extend ID (--by 2h | --until RFC3339)`: ID is the full id or the first
//!   characters `list` shows.
//!
//! Modules: [`flags`] turns flags into the API's request and its field paths back into
//! flags; [`show`] writes silences for people.

pub mod flags;
pub mod show;

use crate::api::{self, Api, ApiArgs, ApiError};
use crate::dlq::report::{print_json, print_table};
use clap::Subcommand;
use opstate::silence::{Silence, SilenceSpec, SilenceState};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub api: ApiArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Mute the alerts that match, for a while or on a schedule.
    Add(Box<AddArgs>),
    /// Silences muting now or to come (--all: also those over).
    List {
        /// Also the silences that are over (expired or past their end).
        #[arg(long)]
        all: bool,
        /// Print the API's JSON.
        #[arg(long)]
        json: bool,
    },
    /// End a silence now: matching alerts are ticketed again.
    Expire {
        /// The silence's id, or its first characters as `silence list` shows them.
        id: String,
    },
    /// Move a silence's end (a recurring silence's --until).
    Extend(ExtendArgs),
}

#[derive(Debug, clap::Args)]
pub struct AddArgs {
    /// A condition, `field(=|!=|=~|!~)value`; repeat for more (all must hold). Fields:
    /// source, organization, event_type, severity, respond_rule, ioc_rule, device, user.
    /// Regular expressions match the whole value.
    #[arg(long = "match", value_name = "MATCHER", required = true, value_parser = checked_matcher)]
    pub matches: Vec<String>,
    #[command(flatten)]
    pub window: flags::Window,
    /// Why: shown with every muted alert and in the audit log.
    #[arg(long)]
    pub reason: String,
    /// Who asked for it (default: $USER).
    #[arg(long, env = "USER")]
    pub author: Option<String>,
    /// Mute resolved alerts too (by default they still reach their ticket as a note and
    /// resolve it, unless the deployment says otherwise).
    #[arg(long)]
    pub suppress_resolved: bool,
}

#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("new_end").required(true).args(["by", "until"])))]
pub struct ExtendArgs {
    /// The silence's id, or its first characters as `silence list` shows them.
    pub id: String,
    /// How much later than its current end: 30m, 2h, 1d.
    #[arg(long, value_name = "DURATION")]
    pub by: Option<String>,
    /// The new end (RFC 3339).
    #[arg(long, value_name = "RFC3339", value_parser = flags::rfc3339)]
    pub until: Option<chrono::DateTime<chrono::Utc>>,
}

/// A silence as the API answers it: the stored silence, its state now, what it muted.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Listed {
    #[serde(flatten)]
    pub silence: Silence,
    pub state: SilenceState,
    pub suppressed: i64,
}

#[derive(Deserialize)]
struct SilenceList {
    silences: Vec<Listed>,
}

/// A `--match` that parses, kept as typed (a refusal quotes it back).
fn checked_matcher(text: &str) -> Result<String, String> {
    flags::parse_matcher(text).map(|_| text.to_string())
}

pub async fn run(args: Args) -> ExitCode {
    let api = Api::new(&args.api);
    let (verb, result) = match args.command {
        Command::Add(add_args) => ("silence add", add(&api, &add_args).await),
        Command::List { all, json } => ("silence list", list(&api, all, json).await),
        Command::Expire { id } => ("silence expire", expire(&api, &id).await),
        Command::Extend(extend_args) => ("silence extend", extend(&api, &extend_args).await),
    };
    api::finish(verb, result)
}

async fn add(api: &Api, args: &AddArgs) -> Result<ExitCode, ApiError> {
    let mut matchers = Vec::new();
    for text in &args.matches {
        match flags::parse_matcher(text) {
            Ok(m) => matchers.push(m),
            // Checked by clap already; kept for the type's sake.
            Err(e) => {
                eprintln!("relayctl silence add: {e}");
                return Ok(ExitCode::from(2));
            }
        }
    }
    let spec = SilenceSpec {
        matchers,
        schedule: flags::schedule(&args.window),
        reason: args.reason.clone(),
        author: args.author.clone().unwrap_or_default(),
        resolved_pass: args.suppress_resolved.then_some(false),
    };
    match api.post::<Listed>("/v1/silences", Some(&spec)).await {
        Ok(added) => {
            print!("{}", show::added(&added, chrono::Utc::now()));
            Ok(ExitCode::SUCCESS)
        }
        Err(ApiError::Refused(r)) if r.status == 422 && !r.fields.is_empty() => {
            eprintln!("relayctl silence add: {}; nothing was stored", r.headline());
            for problem in &r.fields {
                let flag = flags::flag_of(&problem.field, &spec, &args.matches);
                eprintln!("  {flag} ({}): {}", problem.field, problem.message);
            }
            Ok(ExitCode::from(2))
        }
        Err(e) => Err(e),
    }
}

async fn fetch(api: &Api, all: bool) -> Result<serde_json::Value, ApiError> {
    api.get("/v1/silences", &[("all", all.to_string())]).await
}

fn read_list(value: serde_json::Value, api: &Api) -> Result<Vec<Listed>, ApiError> {
    serde_json::from_value::<SilenceList>(value)
        .map(|l| l.silences)
        .map_err(|e| ApiError::Unreadable {
            url: api.shown_url(),
            status: 200,
            why: format!("not a list of silences: {e}"),
        })
}

async fn list(api: &Api, all: bool, json: bool) -> Result<ExitCode, ApiError> {
    let value = fetch(api, all).await?;
    if json {
        print_json(&value["silences"]);
        return Ok(ExitCode::SUCCESS);
    }
    let silences = read_list(value, api)?;
    if silences.is_empty() {
        println!("{}", show::none(all));
    } else {
        print_table(&show::COLUMNS, &show::rows(&silences));
    }
    Ok(ExitCode::SUCCESS)
}

/// The full id of `given`: itself when it is a UUID, else the one silence whose id starts
/// with it (the table shows the first 8 characters).
async fn resolve(api: &Api, given: &str) -> Result<Result<String, String>, ApiError> {
    let given = given.trim().to_ascii_lowercase();
    if uuid::Uuid::parse_str(&given).is_ok() {
        return Ok(Ok(given));
    }
    if given.is_empty() {
        return Ok(Err("an empty id".into()));
    }
    let silences = read_list(fetch(api, true).await?, api)?;
    let found: Vec<String> = silences
        .iter()
        .map(|s| s.silence.id.to_string())
        .filter(|id| id.starts_with(&given))
        .collect();
    Ok(match found.as_slice() {
        [id] => Ok(id.clone()),
        [] => Err(format!("no silence id starts with {given:?}")),
        many => Err(format!(
            "{given:?} starts {} silence ids ({}); give more characters",
            many.len(),
            many.join(", ")
        )),
    })
}

/// Runs `change` on the silence `given` names, or says why none is named (exit 1).
async fn on_silence(
    api: &Api,
    verb: &str,
    given: &str,
    path: &str,
    body: serde_json::Value,
) -> Result<Result<Listed, ExitCode>, ApiError> {
    let id = match resolve(api, given).await? {
        Ok(id) => id,
        Err(why) => {
            eprintln!("relayctl silence {verb}: {why}");
            return Ok(Err(ExitCode::FAILURE));
        }
    };
    let body = (!body.is_null()).then_some(body);
    let changed = api
        .post::<Listed>(&format!("/v1/silences/{id}/{path}"), body.as_ref())
        .await?;
    Ok(Ok(changed))
}

async fn expire(api: &Api, given: &str) -> Result<ExitCode, ApiError> {
    Ok(
        match on_silence(api, "expire", given, "expire", serde_json::Value::Null).await? {
            Ok(expired) => {
                println!(
                    "expired silence {}: it muted {} alert(s); matching alerts are ticketed again",
                    expired.silence.id, expired.suppressed
                );
                ExitCode::SUCCESS
            }
            Err(code) => code,
        },
    )
}

async fn extend(api: &Api, args: &ExtendArgs) -> Result<ExitCode, ApiError> {
    let body = match (&args.by, args.until) {
        (Some(by), _) => json!({ "by": by }),
        (None, Some(until)) => json!({ "ends_at": crate::text::utc(until) }),
        (None, None) => serde_json::Value::Null,
    };
    Ok(
        match on_silence(api, "extend", &args.id, "extend", body).await? {
            Ok(extended) => {
                println!(
                    "extended silence {} ({}): it now ends at {}",
                    extended.silence.id,
                    extended.state,
                    show::end(&extended.silence)
                );
                ExitCode::SUCCESS
            }
            Err(code) => code,
        },
    )
}
