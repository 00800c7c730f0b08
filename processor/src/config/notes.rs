//! `[notes]`: how alerts grouped into an existing ticket are added to it (visibility, title).

use super::*;
use crate::template::Template;
use serde::Deserialize;
/// Whether a status closes a ticket: the Syncro client's one rule, also used for tickets.
pub use syncro::is_closed_status;

/// Who sees a note, as Syncro's `hidden` and `do_not_email` flags (syncro-api.md §3.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Visibility {
    /// Technicians only, no email: `hidden: true, do_not_email: true`.
    Private,
    /// Visible in the customer portal, no email: `hidden: false, do_not_email: true`.
    Public,
    /// Visible and emailed to the customer: `hidden: false, do_not_email: false`.
    Email,
}

impl Visibility {
    pub fn hidden(self) -> bool {
        self == Visibility::Private
    }

    pub fn do_not_email(self) -> bool {
        self != Visibility::Email
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Visibility::Private => "private",
            Visibility::Public => "public",
            Visibility::Email => "email",
        }
    }
}

/// `[notes]`, validated. (The wizard's "note type" has no Syncro API counterpart: a
/// comment is shaped by visibility alone.)
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteDefaults {
    /// Who sees notes added to an existing ticket.
    pub visibility: Visibility,
    /// Template of the note's subject (Syncro requires one on every comment).
    pub title: Template,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawNotes {
    visibility: Option<Visibility>,
    title: Option<String>,
}

pub(crate) fn build_notes(raw: RawNotes, problems: &mut Vec<String>) -> Option<NoteDefaults> {
    let visibility = raw.visibility;
    if visibility.is_none() {
        problems.push("notes.visibility: required: \"private\", \"public\" or \"email\"".into());
    }
    let title = required_text("notes.title", raw.title, problems)
        .and_then(|t| template("notes.title", &t, problems));
    Some(NoteDefaults {
        visibility: visibility?,
        title: title?,
    })
}
