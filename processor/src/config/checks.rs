//! `processor check-config`: the offline check is [`ProcessorConfig::from_settings`]; the
//! online check compares the configuration's ids and names with the Syncro account
//! (customers, statuses, problem types, priorities, technicians, ticket types, contracts:
//! each exists and belongs to its organization's customer), as the wizard's pickers do, and
//! the token's permissions with what the enabled features need
//! ([`crate::config::permissions`]).
//!
//! Read-only and sequential (a handful of GETs plus one per mapped customer): it runs once,
//! by hand or at deploy time, so it favours plain answers over speed. A retryable failure
//! (429, 5xx, timeout) is retried a few times, honouring `Retry-After`, so a large mapping does
//! not fail on Syncro's rate limit.

use crate::config::permissions::{describe, preflight, Grant, PermissionCheck};
use crate::config::{OnResolvedTicket, ProcessorConfig, ResolvedAlert};
use shared::alert::Severity;
use std::future::Future;
use std::time::Duration;
use syncro::{Disposition, SyncroClient, SyncroError};

/// Attempts per request before a retryable failure becomes a problem.
const ATTEMPTS: u32 = 4;
/// Wait between attempts when Syncro sends no `Retry-After`.
const DEFAULT_WAIT: Duration = Duration::from_secs(2);
/// Longest wait honoured between attempts.
const MAX_WAIT: Duration = Duration::from_secs(60);

/// What the online check found.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct OnlineReport {
    /// Mismatches with the account; any problem makes `check-config --online` fail.
    pub problems: Vec<String>,
    /// What could not be checked, and why (not failures).
    pub notes: Vec<String>,
    /// The token preflight: every permission the enabled features need, and whether the
    /// token has it (a missing one is also among `problems`).
    pub permissions: Vec<PermissionCheck>,
}

/// The online check's problems (see [`check_online_report`] for the notes too).
pub async fn check_online(config: &ProcessorConfig, client: &SyncroClient) -> Vec<String> {
    check_online_report(config, client).await.problems
}

/// Compares `config` with the account behind `client`.
pub async fn check_online_report(config: &ProcessorConfig, client: &SyncroClient) -> OnlineReport {
    let mut report = OnlineReport::default();

    // One cheap call first: with a wrong URL or token, one clear problem beats dozens.
    let me = match with_retries(|| client.me()).await {
        Ok(me) => me,
        Err(e) => {
            report.problems.push(format!(
                "syncro: cannot use the account at {}: {e}",
                client.api_root()
            ));
            return report;
        }
    };
    report.permissions = preflight(config, &me);
    for check in &report.permissions {
        match (check.grant, describe(check)) {
            (Grant::Missing, Some(problem)) => report.problems.push(problem),
            (Grant::NotReported, Some(note)) => report.notes.push(note),
            _ => {}
        }
    }

    match with_retries(|| client.ticket_settings()).await {
        Ok(settings) => {
            check_names(
                &mut report,
                "status",
                &settings.ticket_status_list,
                &status_names(config),
                "GET /tickets/settings → ticket_status_list",
            );
            let users: Vec<i64> = settings.users.iter().map(|u| u.id).collect();
            if users.is_empty() {
                report
                    .notes
                    .push("technicians not checked: GET /tickets/settings lists no users".into());
            } else {
                for (key, id) in user_ids(config) {
                    if !users.contains(&id) {
                        report.problems.push(format!(
                            "{key}: user {id} is not a technician of the account (known: {})",
                            join_ids(&users)
                        ));
                    }
                }
            }
            check_ticket_types(config, &settings.ticket_type_ids(), &mut report);
        }
        Err(e) => report
            .problems
            .push(format!("syncro: cannot read the ticket settings: {e}")),
    }

    match with_retries(|| client.settings()).await {
        Ok(settings) => {
            check_names(
                &mut report,
                "problem type",
                &settings.ticket.problem_types,
                &problem_type_names(config),
                "GET /settings → ticket.problem_types",
            );
            check_names(
                &mut report,
                "priority",
                &settings.ticket.priorities,
                &priority_names(config),
                "GET /settings → ticket.priorities",
            );
        }
        Err(e) => report
            .problems
            .push(format!("syncro: cannot read the account settings: {e}")),
    }

    for id in config.customer_ids() {
        let key = customer_key(config, id);
        match with_retries(|| client.get_customer(id)).await {
            Ok(customer) if customer.disabled == Some(true) => report.problems.push(format!(
                "{key}: customer {id} ({}) is disabled in Syncro",
                customer.display_name()
            )),
            Ok(_) => {}
            Err(e) if e.is_not_found() => report
                .problems
                .push(format!("{key}: customer {id} does not exist in Syncro")),
            Err(e) => report
                .problems
                .push(format!("{key}: cannot check customer {id}: {e}")),
        }
    }
    check_contracts(config, client, &mut report).await;
    report
}

/// Every configured contract exists and belongs to the customer its organization is mapped
/// to (a contract of another customer would put that customer's agreement on the ticket).
async fn check_contracts(
    config: &ProcessorConfig,
    client: &SyncroClient,
    report: &mut OnlineReport,
) {
    for (org, &contract_id) in &config.contracts.organizations {
        let key = format!("contracts.organizations[{org:?}].contract_id");
        // Validation ties every contract to a mapped organization.
        let Some(&customer_id) = config.mapping.organizations.get(org) else {
            continue;
        };
        match with_retries(|| client.get_contract(contract_id)).await {
            Ok(contract) if contract.customer_id != Some(customer_id) => {
                let owner = contract
                    .customer_id
                    .map_or("no customer".to_string(), |c| format!("customer {c}"));
                report.problems.push(format!(
                    "{key}: contract {contract_id} ({}) belongs to {owner}, not to customer \
                     {customer_id} (mapping.organizations[{org:?}])",
                    contract.name.as_deref().unwrap_or("unnamed")
                ));
            }
            Ok(contract) => {
                if let Some(status) = contract.status.as_deref().filter(|s| *s != "Active") {
                    report.notes.push(format!(
                        "{key}: contract {contract_id} is {status:?}, not \"Active\""
                    ));
                }
            }
            Err(e) if e.is_not_found() => report.problems.push(format!(
                "{key}: contract {contract_id} does not exist in Syncro"
            )),
            Err(e) => report
                .problems
                .push(format!("{key}: cannot check contract {contract_id}: {e}")),
        }
    }
    if !config.contracts.add_to_tickets && !config.contracts.organizations.is_empty() {
        report.notes.push(
            "contracts.add_to_tickets is off: the configured contracts are not put on tickets"
                .into(),
        );
    }
}

/// Every configured `ticket_type_id` is one of the account's ticket types
/// (`GET /tickets/settings` → `ticket_types`); an account listing none is a note.
fn check_ticket_types(config: &ProcessorConfig, known: &[i64], report: &mut OnlineReport) {
    if known.is_empty() {
        report
            .notes
            .push("ticket_type_id not checked: GET /tickets/settings lists no ticket types".into());
        return;
    }
    let mut wanted = vec![(
        "tickets.ticket_type_id".to_string(),
        config.tickets.ticket_type_id,
    )];
    for o in config.overrides.all() {
        if let Some(id) = o.ticket_type_id {
            wanted.push((format!("{}.ticket_type_id", o.label()), id));
        }
    }
    for (key, id) in wanted {
        if !known.contains(&id) {
            report.problems.push(format!(
                "{key}: ticket type {id} is not one of the account's (known: {})",
                join_ids(known)
            ));
        }
    }
}

/// Runs `call` until it succeeds, fails permanently, or runs out of attempts.
async fn with_retries<T, F, Fut>(mut call: F) -> Result<T, SyncroError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, SyncroError>>,
{
    let mut attempt = 1;
    loop {
        match call().await {
            Ok(v) => return Ok(v),
            Err(e) => match e.disposition() {
                Disposition::Retryable { retry_after } if attempt < ATTEMPTS => {
                    tokio::time::sleep(retry_after.unwrap_or(DEFAULT_WAIT).min(MAX_WAIT)).await;
                    attempt += 1;
                }
                _ => return Err(e),
            },
        }
    }
}

/// Reports every `(key, name)` not in `known`, with a hint when only the case differs.
fn check_names(
    report: &mut OnlineReport,
    what: &str,
    known: &[String],
    wanted: &[(String, String)],
    from: &str,
) {
    let listed: Vec<&String> = known.iter().filter(|k| !k.is_empty()).collect();
    if listed.is_empty() {
        report
            .notes
            .push(format!("{what} names not checked: {from} is empty"));
        return;
    }
    for (key, name) in wanted {
        if known.contains(name) {
            continue;
        }
        let hint = match known.iter().find(|k| k.eq_ignore_ascii_case(name)) {
            Some(close) => format!("; did you mean {close:?}?"),
            None => format!(
                "; known: {}",
                listed
                    .iter()
                    .map(|k| format!("{k:?}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        report.problems.push(format!(
            "{key}: {what} {name:?} does not exist in Syncro{hint}"
        ));
    }
}

/// The statuses the processor may set, each with the key that configures it.
fn status_names(config: &ProcessorConfig) -> Vec<(String, String)> {
    let mut names = vec![("tickets.status".to_string(), config.tickets.status.clone())];
    for o in config.overrides.all() {
        if let Some(status) = &o.status {
            names.push((format!("{}.status", o.label()), status.clone()));
        }
    }
    let grouping = &config.grouping;
    if grouping.on_resolved_ticket == OnResolvedTicket::Reopen {
        names.push((
            "grouping.reopen_status".into(),
            grouping.reopen_status.clone(),
        ));
    }
    if grouping.resolved_alert == ResolvedAlert::NoteAndResolve {
        names.push((
            "grouping.resolve_status".into(),
            grouping.resolve_status.clone(),
        ));
    }
    names
}

fn problem_type_names(config: &ProcessorConfig) -> Vec<(String, String)> {
    let mut names = vec![(
        "tickets.problem_type".to_string(),
        config.tickets.problem_type.clone(),
    )];
    for o in config.overrides.all() {
        if let Some(p) = &o.problem_type {
            names.push((format!("{}.problem_type", o.label()), p.clone()));
        }
    }
    names
}

fn priority_names(config: &ProcessorConfig) -> Vec<(String, String)> {
    let mut names = Vec::new();
    for severity in Severity::ALL {
        names.push((
            format!("tickets.priorities.{severity}"),
            config.tickets.priorities.get(severity).to_string(),
        ));
    }
    for o in config.overrides.all() {
        let mut seen: Vec<&str> = Vec::new();
        for severity in Severity::ALL {
            if let Some(p) = o.priorities.get(severity) {
                // `priority = "X"` fills every severity: report it once.
                if !seen.contains(&p) {
                    seen.push(p);
                    names.push((
                        format!("{}.priorities.{severity}", o.label()),
                        p.to_string(),
                    ));
                }
            }
        }
    }
    names
}

fn user_ids(config: &ProcessorConfig) -> Vec<(String, i64)> {
    let mut ids = vec![(
        "tickets.assignee_user_id".to_string(),
        config.tickets.assignee_user_id,
    )];
    for o in config.overrides.all() {
        if let Some(id) = o.assignee_user_id {
            ids.push((format!("{}.assignee_user_id", o.label()), id));
        }
    }
    ids
}

/// The key(s) that name customer `id`, for a problem message.
fn customer_key(config: &ProcessorConfig, id: i64) -> String {
    let mut keys = Vec::new();
    if config.mapping.catch_all_customer_id == id {
        keys.push("mapping.catch_all_customer_id".to_string());
    }
    for (org, customer) in &config.mapping.organizations {
        if *customer == id {
            keys.push(format!("mapping.organizations[{org:?}]"));
        }
    }
    keys.join(", ")
}

fn join_ids(ids: &[i64]) -> String {
    ids.iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::tests::good;

    #[test]
    fn names_to_check_cover_defaults_and_overrides() {
        let config = good();
        let statuses = status_names(&config);
        assert!(statuses.contains(&("tickets.status".into(), "New".into())));
        assert!(statuses.contains(&(
            "overrides.ioc_rule[match=\"ioc-3\"].status".into(),
            "Waiting on Customer".into()
        )));
        // Defaults: no reopening, no resolving, so those statuses are not needed.
        assert!(!statuses.iter().any(|(k, _)| k.starts_with("grouping")));
        let priorities = priority_names(&config);
        assert_eq!(
            priorities
                .iter()
                .filter(|(k, _)| k.starts_with("overrides.event_type"))
                .count(),
            1,
            "{priorities:?}"
        );
        assert_eq!(
            customer_key(&config, 4_101_771),
            "mapping.organizations[\"org-42\"]"
        );
    }

    #[test]
    fn unknown_names_are_problems_with_a_hint() {
        let mut report = OnlineReport::default();
        let known = vec!["New".to_string(), "In Progress".to_string()];
        let wanted = vec![
            ("a".to_string(), "New".to_string()),
            ("b".to_string(), "in progress".to_string()),
            ("c".to_string(), "Gone".to_string()),
        ];
        check_names(&mut report, "status", &known, &wanted, "list");
        assert_eq!(report.problems.len(), 2);
        assert!(report.problems[0].contains("did you mean \"In Progress\""));
        assert!(report.problems[1].contains("known: \"New\", \"In Progress\""));
        check_names(&mut report, "status", &[String::new()], &wanted, "list");
        assert!(report.notes[0].contains("not checked"));
    }
}
