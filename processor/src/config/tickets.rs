//! `[tickets]`: the fields every new ticket gets unless an override says otherwise, and the
//! Syncro priority of each severity.

use super::*;
use crate::template::Template;
use serde::Deserialize;
use shared::alert::Severity;
/// Whether a status closes a ticket: the Syncro client's one rule, also used for tickets.
pub use syncro::is_closed_status;

/// A Syncro priority for each alert severity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Priorities {
    /// Indexed like [`Severity::ALL`].
    by_severity: [String; 5],
}

impl Priorities {
    /// The Syncro priority string (e.g. "0 Urgent") for `severity`.
    pub fn get(&self, severity: Severity) -> &str {
        &self.by_severity[severity_index(severity)]
    }
}

/// Some severities' priorities, as an override may set them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PartialPriorities {
    pub(crate) by_severity: [Option<String>; 5],
}

impl PartialPriorities {
    pub fn get(&self, severity: Severity) -> Option<&str> {
        self.by_severity[severity_index(severity)].as_deref()
    }

    pub fn is_empty(&self) -> bool {
        self.by_severity.iter().all(Option::is_none)
    }
}

pub(crate) fn severity_index(severity: Severity) -> usize {
    match severity {
        Severity::Critical => 0,
        Severity::High => 1,
        Severity::Medium => 2,
        Severity::Low => 3,
        Severity::Info => 4,
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPriorities {
    critical: Option<String>,
    high: Option<String>,
    medium: Option<String>,
    low: Option<String>,
    info: Option<String>,
}

impl RawPriorities {
    pub(crate) fn into_array(self) -> [Option<String>; 5] {
        [self.critical, self.high, self.medium, self.low, self.info]
    }
}

/// `[tickets]`, validated: the wizard's ticket defaults, every one required.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketDefaults {
    /// Syncro `problem_type`: the wizard's ticket category (an account-defined string).
    pub problem_type: String,
    /// Syncro `ticket_type_id`.
    pub ticket_type_id: i64,
    /// Initial status of a new ticket; never a closed one, or grouping would start over.
    pub status: String,
    /// Syncro `user_id`: the technician (the wizard's queue) new tickets are assigned to.
    pub assignee_user_id: i64,
    /// The wizard's ticket source; Syncro has no source field, so it is sent in `tag_list`.
    pub source_tag: String,
    /// Subject template; the rendered subject is also the grouping key.
    pub subject: Template,
    /// Syncro priority for each severity.
    pub priorities: Priorities,
    /// `[tickets.contact]`: the alert's user as the ticket's contact.
    pub contact: super::ContactConfig,
    /// `[tickets.rmm_alert]`: an RMM alert on the group's asset.
    pub rmm_alert: super::RmmAlertConfig,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTickets {
    problem_type: Option<String>,
    ticket_type_id: Option<i64>,
    status: Option<String>,
    assignee_user_id: Option<i64>,
    source_tag: Option<String>,
    subject: Option<String>,
    priorities: Option<RawPriorities>,
    contact: Option<super::contacts::RawContact>,
    rmm_alert: Option<super::rmm::RawRmmAlert>,
}

pub(crate) fn build_tickets(raw: RawTickets, problems: &mut Vec<String>) -> Option<TicketDefaults> {
    let before = problems.len();
    let problem_type = required_text("tickets.problem_type", raw.problem_type, problems);
    let ticket_type_id = match raw.ticket_type_id {
        None => {
            problems.push("tickets.ticket_type_id: required".into());
            None
        }
        Some(id) => positive_id("tickets.ticket_type_id", id, problems),
    };
    let status = required_text("tickets.status", raw.status, problems);
    if let Some(status) = &status {
        check_status("tickets.status", status, problems);
        if is_closed_status(status) {
            problems.push(format!(
                "tickets.status: {status:?} is a closed status; new tickets need an open one"
            ));
        }
    }
    let assignee = match raw.assignee_user_id {
        None => {
            problems.push("tickets.assignee_user_id: required (the technician or queue)".into());
            None
        }
        Some(id) => positive_id("tickets.assignee_user_id", id, problems),
    };
    let source_tag = required_text("tickets.source_tag", raw.source_tag, problems);
    let subject = required_text("tickets.subject", raw.subject, problems)
        .and_then(|t| template("tickets.subject", &t, problems));
    let priorities = match raw.priorities {
        None => {
            problems.push(
                "tickets.priorities: required, with a Syncro priority for each of critical, \
                 high, medium, low and info"
                    .into(),
            );
            None
        }
        Some(raw) => {
            let values = raw.into_array();
            let mut out: [String; 5] = Default::default();
            for (i, (severity, value)) in Severity::ALL.iter().zip(values).enumerate() {
                let key = format!("tickets.priorities.{severity}");
                if let Some(v) = required_text(&key, value, problems) {
                    out[i] = v;
                }
            }
            Some(Priorities { by_severity: out })
        }
    };
    let contact = raw
        .contact
        .map(|c| super::contacts::build_contact(c, problems))
        .unwrap_or_default();
    let rmm_alert = raw
        .rmm_alert
        .map(|r| super::rmm::build_rmm_alert(r, problems))
        .unwrap_or_default();
    if problems.len() != before {
        return None;
    }
    Some(TicketDefaults {
        contact,
        rmm_alert,
        problem_type: problem_type?,
        ticket_type_id: ticket_type_id?,
        status: status?,
        assignee_user_id: assignee?,
        source_tag: source_tag?,
        subject: subject?,
        priorities: priorities?,
    })
}
