//! `[grouping]`: how long a subject keeps its ticket, and what closed tickets and resolved
//! alerts do.

use super::*;
use serde::Deserialize;
use std::time::Duration;
/// Whether a status closes a ticket: the Syncro client's one rule, also used for tickets.
pub use syncro::is_closed_status;

/// What an alert does when its group's ticket was closed in Syncro.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OnResolvedTicket {
    /// Start a new ticket (and point the group at it).
    #[default]
    NewTicket,
    /// Set the ticket back to `reopen_status` and add the note, within `reopen_window_secs`.
    Reopen,
    /// Add the note to the closed ticket as it is, within `reopen_window_secs`.
    Note,
}

impl OnResolvedTicket {
    pub fn as_str(self) -> &'static str {
        match self {
            OnResolvedTicket::NewTicket => "new-ticket",
            OnResolvedTicket::Reopen => "reopen",
            OnResolvedTicket::Note => "note",
        }
    }
}

/// What an alert with `status = "resolved"` does to its open ticket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ResolvedAlert {
    /// Add a note, leave the status alone (a person decides).
    #[default]
    Note,
    /// Add a note and set the ticket to `resolve_status`.
    NoteAndResolve,
}

impl ResolvedAlert {
    pub fn as_str(self) -> &'static str {
        match self {
            ResolvedAlert::Note => "note",
            ResolvedAlert::NoteAndResolve => "note-and-resolve",
        }
    }
}

/// `[grouping]`; every key has a default.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GroupingConfig {
    /// How long a subject keeps pointing at its ticket after the last alert; later alerts
    /// start a new ticket.
    pub window_secs: u64,
    /// What an alert does when the grouped ticket was closed in Syncro.
    pub on_resolved_ticket: OnResolvedTicket,
    /// How recently the ticket must have been resolved for `reopen` or `note` to apply; an
    /// older closed ticket always gets a new ticket, so old history is never reopened.
    pub reopen_window_secs: u64,
    /// Status a reopened ticket gets (`on_resolved_ticket = "reopen"`); never a closed one.
    pub reopen_status: String,
    /// What a resolved alert does to its open ticket.
    pub resolved_alert: ResolvedAlert,
    /// Status set by `resolved_alert = "note-and-resolve"`; must be a closed status.
    pub resolve_status: String,
    /// How often, at most, a group's ticket status is read back from Syncro to notice it was
    /// closed there: each read is a Syncro call, so a storm should not pay one per alert.
    pub status_check_secs: u64,
}

impl Default for GroupingConfig {
    fn default() -> Self {
        GroupingConfig {
            window_secs: 86_400,
            on_resolved_ticket: OnResolvedTicket::NewTicket,
            reopen_window_secs: 604_800,
            reopen_status: "In Progress".into(),
            resolved_alert: ResolvedAlert::Note,
            resolve_status: "Resolved".into(),
            status_check_secs: 300,
        }
    }
}

impl GroupingConfig {
    pub fn window(&self) -> Duration {
        Duration::from_secs(self.window_secs)
    }

    pub fn reopen_window(&self) -> Duration {
        Duration::from_secs(self.reopen_window_secs)
    }

    pub(crate) fn check(&self, problems: &mut Vec<String>) {
        if self.window_secs == 0 {
            problems.push("grouping.window_secs: must be at least 1".into());
        }
        check_status("grouping.reopen_status", &self.reopen_status, problems);
        if is_closed_status(&self.reopen_status) {
            problems.push(format!(
                "grouping.reopen_status: {:?} is a closed status; a reopened ticket needs an open one",
                self.reopen_status
            ));
        }
        check_status("grouping.resolve_status", &self.resolve_status, problems);
        if !self.resolve_status.trim().is_empty() && !is_closed_status(&self.resolve_status) {
            problems.push(format!(
                "grouping.resolve_status: {:?} is not a closed status (Resolved… or Invoiced)",
                self.resolve_status
            ));
        }
    }
}
