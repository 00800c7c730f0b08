//! `relayctl mappings`: the organizations seen without a mapping, and a Syncro customer
//! suggested for each.
//!
//! - `unmapped [--json]`: what the workers recorded in Redis for each organization that had
//!   no mapping (name, domain, alerts, first and last seen, alerts parked now), leaving out
//!   those the configuration maps or ignores by now.
//! - `suggest [--json] [--min-score S]`: reads every Syncro customer (paged, through the
//!   fleet's rate limiter) and applies [`matching`]'s rules; prints a snippet to paste under
//!   `[mapping.organizations]`, each line with its reason as a comment, and the
//!   organizations without a suggestion.
//!
//! Both leave out what is decided by now, by the configuration file or by a console mapping
//! (read from PostgreSQL, when configured): the processor's one rule,
//! [`processor::config::MappingConfig::decide`]. The matching rules are the processor's ([`matching`]), shared
//! with the operator API's suggestions.

pub use processor::matching;

use crate::context::Context;
use clap::Subcommand;
use matching::{Org, Suggestion};
use processor::config::Decision;
use processor::store::UnmappedOrg;
use serde::Serialize;
use std::process::ExitCode;
use syncro::CustomerFilter;

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Organizations seen without a mapping (most alerts first).
    Unmapped {
        /// One JSON document instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Suggest a Syncro customer for each unmapped organization, as a config snippet.
    Suggest {
        /// One JSON document instead of the snippet.
        #[arg(long)]
        json: bool,
        /// Least score of a suggestion (exact rules score 0.90 to 1; fuzzy names their
        /// similarity).
        #[arg(long, default_value_t = matching::DEFAULT_MIN_SCORE, value_parser = score)]
        min_score: f64,
    },
}

fn score(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(s) if (0.0..=1.0).contains(&s) => Ok(s),
        _ => Err(format!("{text:?}: a score between 0 and 1")),
    }
}

pub async fn run(context: Context, command: Command) -> ExitCode {
    let result = match command {
        Command::Unmapped { json } => unmapped(&context, json).await,
        Command::Suggest { json, min_score } => suggest(&context, json, min_score).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("relayctl mappings: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// The recorded organizations nothing maps or ignores by now: neither the file nor a
/// console mapping ([`processor::config::MappingConfig::decide`]).
pub async fn still_unmapped(context: &Context) -> anyhow::Result<Vec<UnmappedOrg>> {
    let mapping = context.effective_mapping().await;
    let store = context.store()?;
    let mut orgs = store.unmapped().await?;
    orgs.retain(|o| mapping.decide(&o.id) == Decision::Unmapped);
    Ok(orgs)
}

async fn unmapped(context: &Context, json: bool) -> anyhow::Result<()> {
    let orgs = still_unmapped(context).await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&orgs)?);
    } else {
        print!("{}", unmapped_table(&orgs));
    }
    Ok(())
}

/// The `unmapped` table: one line per organization.
pub fn unmapped_table(orgs: &[UnmappedOrg]) -> String {
    if orgs.is_empty() {
        return "no unmapped organization seen\n".into();
    }
    let dash = || "-".to_string();
    let mut rows = vec![[
        "ORGANIZATION".to_string(),
        "NAME".into(),
        "DOMAIN".into(),
        "ALERTS".into(),
        "PARKED".into(),
        "FIRST SEEN".into(),
        "LAST SEEN".into(),
    ]];
    for o in orgs {
        rows.push([
            o.id.clone(),
            o.name.clone().unwrap_or_else(dash),
            o.domain.clone().unwrap_or_else(dash),
            o.count.to_string(),
            o.parked.to_string(),
            o.first_seen.clone().unwrap_or_else(dash),
            o.last_seen.clone().unwrap_or_else(dash),
        ]);
    }
    let widths: Vec<usize> = (0..7)
        .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for row in rows {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}

/// One organization and the customer suggested for it, if any.
#[derive(Debug, Serialize)]
pub struct OrgSuggestion {
    pub organization: UnmappedOrg,
    pub suggestion: Option<Suggestion>,
}

async fn suggest(context: &Context, json: bool, min_score: f64) -> anyhow::Result<()> {
    let orgs = still_unmapped(context).await?;
    let customers = context
        .syncro()?
        .all_customers(&CustomerFilter::default())
        .await?;
    let catch_all = context.config.mapping.catch_all_customer_id;
    let candidates = matching::candidates(&customers, catch_all);
    let suggestions: Vec<OrgSuggestion> = orgs
        .into_iter()
        .map(|organization| {
            let org = Org {
                name: organization.name.clone(),
                domain: organization.domain.clone(),
                phone: None,
            };
            OrgSuggestion {
                suggestion: matching::suggest(&org, &candidates, min_score),
                organization,
            }
        })
        .collect();
    if json {
        println!("{}", serde_json::to_string_pretty(&suggestions)?);
    } else {
        print!("{}", snippet(&suggestions, customers.len()));
    }
    Ok(())
}

pub use matching::candidate;

/// The lines to paste under `[mapping.organizations]`, each suggestion with its reason as a
/// comment, then the organizations left without one.
pub fn snippet(suggestions: &[OrgSuggestion], customers: usize) -> String {
    let found = suggestions
        .iter()
        .filter(|s| s.suggestion.is_some())
        .count();
    let mut out = format!(
        "# {found} of {} unmapped organization(s) have a suggestion ({customers} Syncro customers read).\n\
         # Paste under [mapping.organizations], check each line, then reload the workers (SIGHUP).\n",
        suggestions.len()
    );
    for s in suggestions {
        let Some(suggestion) = &s.suggestion else {
            continue;
        };
        out.push_str(&format!(
            "# {}: {} ({}), score {:.2}, {}\n{} = {}\n",
            describe(&s.organization),
            one_line(&suggestion.customer_name),
            suggestion.reason.word(),
            suggestion.score,
            one_line(&suggestion.detail),
            toml_string(&s.organization.id),
            suggestion.customer_id
        ));
    }
    let missing: Vec<&OrgSuggestion> = suggestions
        .iter()
        .filter(|s| s.suggestion.is_none())
        .collect();
    if !missing.is_empty() {
        out.push_str("# No suggestion (map by hand, or add to ignored_organizations):\n");
        for s in missing {
            out.push_str(&format!(
                "#   {} {}\n",
                toml_string(&s.organization.id),
                describe(&s.organization)
            ));
        }
    }
    out
}

fn describe(org: &UnmappedOrg) -> String {
    let name = org.name.as_deref().unwrap_or("(no name)");
    let text = match &org.domain {
        Some(domain) => format!("{name} <{domain}>, {} alert(s)", org.count),
        None => format!("{name}, {} alert(s)", org.count),
    };
    one_line(&text)
}

/// Text safe inside a TOML comment: no line breaks or other control characters.
fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// A TOML basic string (JSON's escapes are all valid TOML escapes).
fn toml_string(text: &str) -> String {
    serde_json::Value::String(text.to_string()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn org(id: &str, name: &str) -> UnmappedOrg {
        UnmappedOrg {
            id: id.into(),
            name: Some(name.into()),
            domain: None,
            count: 2,
            first_seen: None,
            last_seen: None,
            parked: 0,
        }
    }

    #[test]
    fn the_snippet_quotes_awkward_ids_and_keeps_comments_on_one_line() {
        let suggestions = vec![
            OrgSuggestion {
                organization: org("org \"x\"\\1", "Name\nwith break"),
                suggestion: Some(Suggestion {
                    customer_id: 7,
                    customer_name: "Cust\r\nomer".into(),
                    score: 1.0,
                    reason: matching::Reason::Name,
                    detail: "same".into(),
                }),
            },
            OrgSuggestion {
                organization: org("org-none", "Nobody"),
                suggestion: None,
            },
        ];
        let text = snippet(&suggestions, 3);
        for line in text.lines() {
            assert!(
                line.starts_with('#') || line.contains(" = "),
                "stray line {line:?}"
            );
        }
        assert!(text.contains("\"org-none\" Nobody"), "{text}");
        assert!(text.contains("# 1 of 2 unmapped"), "{text}");
    }
}
