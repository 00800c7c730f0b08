//! Silences: operators muting alerts during maintenance. Pure logic, no database: checking
//! what an operator submits ([`SilenceSpec::check`]), when a stored [`Silence`] applies
//! ([`Silence::window_at`], [`Silence::state_at`]), and matching alerts against the silences
//! active at an instant ([`ActiveSilences`]).
//!
//! - [`matcher`]: which alerts a silence applies to.
//! - [`schedule`]: when it applies (one-off, weekly, cron; time zones and DST).
//!
//! # Matching
//!
//! - Every matcher of a silence must hold (AND). At least one matcher is required, and at
//!   least one `=` or `=~` whose value does not match the empty string: a silence of only
//!   `!=`/`!~` (or only `=~ .*`) would mute nearly everything, so it is refused, as
//!   Alertmanager refuses matchers that all match the empty string. (`=~ .+` is accepted: a
//!   deliberate, visible choice.)
//! - A field's values: `source` is the message's source; `organization` the organization's
//!   id *or* name; `event_type`; `severity` (`critical`, `high`, `medium`, `low`, `info`);
//!   `respond_rule` and `ioc_rule` the rule's id or name; `device` its name, serial or MAC;
//!   `user`.
//! - `=` holds when any of the field's values equals the matcher's value; `=~` when any
//!   matches the regular expression in full (anchored `^(?:…)$`, as in Alertmanager).
//!   `!=` and `!~` are exactly their negations: none of the values equals / matches. So a
//!   field the alert lacks (no device) never matches `=`/`=~` and always matches `!=`/`!~`.
//! - Comparisons are case-sensitive, except `severity` (an enum parsed case-insensitively on
//!   ingest): its `=`/`!=` values are checked against the five severities and stored lower
//!   case, and its regular expressions are case-insensitive. Elsewhere, write `(?i)` in a
//!   regular expression to ignore case. MAC addresses are compared as the sender wrote them.
//! - Values must not be empty and hold at most 1,024 bytes.
//! - `=`/`!=` values are trimmed (alert values are trimmed on ingest); regular expressions
//!   are taken as written, compiled once per [`ActiveSilences`], and refused when their
//!   compiled size exceeds [`matcher::REGEX_SIZE_LIMIT`].
//! - A resolved alert is not muted by a silence with `resolved_pass` (the deployment's
//!   default unless the silence says otherwise), so the ticket still gets its note.
//! - When several silences match, the oldest wins (creation time, then id): the answer does
//!   not change when a newer silence is added.
//!
//! # Span
//!
//! A checked silence has a span, `starts_at`..`ends_at`: a one-off's window; for a
//! recurring silence, from when it was checked to `until`, or [`OPEN_END`] when open-ended.
//! Windows are cut to the span (a weekly silence created during one of its windows mutes
//! from its creation to the window's end) and to `expired_at` when an operator expired it.
//! Checking a recurring silence again (to extend it) restarts its span at that check, which
//! changes nothing but the start reported for a window already open.

pub mod matcher;
mod problem;
pub mod schedule;

#[cfg(test)]
mod tests;

pub use matcher::{Field, Matcher, MatcherSet, Op};
pub use problem::Problem;
pub use schedule::{format_duration, parse_duration, Schedule, Window, OPEN_END};

use chrono::{DateTime, Duration, Utc};
use matcher::CompiledMatcher;
use schedule::Plan;
use serde::{Deserialize, Serialize};
use shared::alert::AlertStatus;
use shared::message::AlertMessage;
use std::collections::HashMap;
use std::fmt;

/// Longest accepted `reason`, in characters.
pub const MAX_REASON_LEN: usize = 1024;
/// Longest accepted `author`, in characters.
pub const MAX_AUTHOR_LEN: usize = 256;

/// What an operator submits (JSON body of the operator API, relayctl flags are turned into this).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SilenceSpec {
    pub matchers: Vec<Matcher>,
    pub schedule: Schedule,
    /// Why (shown with every muted alert and in the audit log).
    pub reason: String,
    /// Who: an operator's name, for the audit trail.
    pub author: String,
    /// Whether resolved alerts it matches pass through (get their note/resolve); None = the deployment's default.
    #[serde(default)]
    pub resolved_pass: Option<bool>,
}

/// Limits from configuration.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Longest one-off silence (its whole span) and longest recurring window.
    pub max_length: Duration,
    /// `resolved_pass` of silences that do not say.
    pub default_resolved_pass: bool,
}

/// A checked silence, normalised (see the module doc for the span).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Checked {
    /// `=`/`!=` values trimmed, severities lower case.
    pub matchers: Vec<Matcher>,
    /// A one-off always has `starts_at` and `ends_at` (no `duration`); a recurring one has
    /// its time zone's canonical name, days as `mon`…`sun` in week order, times as `HH:MM`,
    /// a cron expression's fields separated by single spaces and its duration as
    /// [`format_duration`] writes it.
    pub schedule: Schedule,
    pub reason: String,
    pub author: String,
    pub resolved_pass: bool,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
}

impl SilenceSpec {
    /// Every problem at once, or the normalised silence (a `duration` turned into `ends_at`,
    /// `starts_at` defaulting to `now`).
    pub fn check(&self, limits: &Limits, now: DateTime<Utc>) -> Result<Checked, Vec<Problem>> {
        let mut problems = Vec::new();
        let matchers = matcher::check_all(&self.matchers, &mut problems);
        let schedule = self.schedule.check(limits.max_length, now, &mut problems);
        let reason = required_text("reason", &self.reason, MAX_REASON_LEN, &mut problems);
        let author = required_text("author", &self.author, MAX_AUTHOR_LEN, &mut problems);
        match schedule {
            Some(schedule) if problems.is_empty() => Ok(Checked {
                matchers,
                schedule: schedule.schedule,
                reason,
                author,
                resolved_pass: self.resolved_pass.unwrap_or(limits.default_resolved_pass),
                starts_at: schedule.starts_at,
                ends_at: schedule.ends_at,
            }),
            _ => Err(problems),
        }
    }
}

/// A required free-text field, trimmed.
fn required_text(field: &str, text: &str, max: usize, problems: &mut Vec<Problem>) -> String {
    let text = text.trim();
    if text.is_empty() {
        problems.push(Problem::new(field, "is required"));
    } else if text.chars().count() > max {
        problems.push(Problem::new(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    text.to_string()
}

/// A silence as stored (what the store hands back); `expired_at` set when an operator expired it early.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Silence {
    pub id: uuid::Uuid,
    #[serde(flatten)]
    pub checked: Checked,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub expired_at: Option<DateTime<Utc>>,
}

/// Where a silence stands at an instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SilenceState {
    /// A window is open: matching alerts are muted.
    Active,
    /// No window is open, but one will open before the silence ends.
    Pending,
    /// No window will open again (past its end, or expired by an operator).
    Expired,
}

impl SilenceState {
    pub fn as_str(self) -> &'static str {
        match self {
            SilenceState::Active => "active",
            SilenceState::Pending => "pending",
            SilenceState::Expired => "expired",
        }
    }
}

impl fmt::Display for SilenceState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Silence {
    /// The occurrence (window) active at `now`, if any: none once expired or past `ends_at`.
    /// The window is cut to the silence's span and to `expired_at`.
    pub fn window_at(&self, now: DateTime<Utc>) -> Option<Window> {
        self.window_with(&self.checked.schedule.plan()?, now)
    }

    /// "active" | "pending" (a later window to come) | "expired"
    pub fn state_at(&self, now: DateTime<Utc>) -> SilenceState {
        let Some(plan) = self.checked.schedule.plan() else {
            return SilenceState::Expired;
        };
        if self.window_with(&plan, now).is_some() {
            SilenceState::Active
        } else if self.next_start_with(&plan, now).is_some() {
            SilenceState::Pending
        } else {
            SilenceState::Expired
        }
    }

    /// When the silence stops applying: its end, or earlier if an operator expired it.
    pub fn effective_end(&self) -> DateTime<Utc> {
        match self.expired_at {
            Some(expired) => expired.min(self.checked.ends_at),
            None => self.checked.ends_at,
        }
    }

    fn window_with(&self, plan: &Plan, now: DateTime<Utc>) -> Option<Window> {
        let end = self.effective_end();
        if now < self.checked.starts_at || now >= end {
            return None;
        }
        let window = plan.window_at(now)?;
        Some(Window {
            start: window.start.max(self.checked.starts_at),
            end: window.end.min(end),
        })
    }

    /// The start of the first window after `now` (cut to the span), if one opens before the end.
    fn next_start_with(&self, plan: &Plan, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let (starts, end) = (self.checked.starts_at, self.effective_end());
        if now >= end {
            return None;
        }
        if now < starts {
            if plan.window_at(starts).is_some() {
                return Some(starts);
            }
            return plan.next_start_after(starts, end);
        }
        plan.next_start_after(now, end)
    }
}

/// The silences active at one instant, compiled for matching many alerts fast.
///
/// Each silence with an `=` matcher on `organization` is filed under that value, else one
/// with an `=` matcher on `source` under that, else in a list checked for every alert; an
/// alert looks at the silences filed under its organization's id and name and its source,
/// and that list. Built once per change (regular expressions are compiled here), then
/// shared: matching does not allocate except for the answer.
#[derive(Debug, Clone, Default)]
pub struct ActiveSilences {
    /// Oldest first (creation time, then id): an entry's index is its precedence.
    entries: Vec<Entry>,
    /// Indices of entries with an `=` on `organization`, by its value.
    by_organization: HashMap<String, Vec<usize>>,
    /// Indices of the others with an `=` on `source`, by its value.
    by_source: HashMap<String, Vec<usize>>,
    /// Indices of the rest, checked for every alert.
    unindexed: Vec<usize>,
    /// See [`ActiveSilences::valid_until`].
    valid_until: Option<DateTime<Utc>>,
}

/// One active silence, compiled.
#[derive(Debug, Clone)]
struct Entry {
    id: uuid::Uuid,
    reason: String,
    window: Window,
    resolved_pass: bool,
    matchers: Vec<CompiledMatcher>,
}

impl Entry {
    fn matches(&self, message: &AlertMessage, resolved: bool) -> bool {
        !(resolved && self.resolved_pass) && self.matchers.iter().all(|m| m.matches(message))
    }
}

/// An alert muted by a silence.
#[derive(Debug, Clone, PartialEq)]
pub struct Match {
    pub silence_id: uuid::Uuid,
    /// The silence's window open when the set was built.
    pub window: Window,
    pub reason: String,
}

impl ActiveSilences {
    /// Keeps only the silences with a window at `now`. A stored silence whose schedule or
    /// regular expression no longer compiles is left out (never mutes), like an inactive one.
    pub fn new(silences: &[Silence], now: DateTime<Utc>) -> ActiveSilences {
        let mut ordered: Vec<&Silence> = silences.iter().collect();
        ordered.sort_by_key(|s| (s.created_at, s.id));
        let mut set = ActiveSilences::empty();
        for silence in ordered {
            let Some(plan) = silence.checked.schedule.plan() else {
                continue;
            };
            let window = silence.window_with(&plan, now);
            let changes = [window.map(|w| w.end), silence.next_start_with(&plan, now)];
            for change in changes.into_iter().flatten() {
                set.valid_until = Some(set.valid_until.map_or(change, |v| v.min(change)));
            }
            let Some(window) = window else {
                continue;
            };
            let Ok(mut matchers) = silence
                .checked
                .matchers
                .iter()
                .map(Matcher::compile)
                .collect::<Result<Vec<_>, _>>()
            else {
                continue;
            };
            // Cheap comparisons first: most alerts fail one of them before any regex runs.
            matchers.sort_by_key(CompiledMatcher::is_pattern);
            set.insert(Entry {
                id: silence.id,
                reason: silence.checked.reason.clone(),
                window,
                resolved_pass: silence.checked.resolved_pass,
                matchers,
            });
        }
        set
    }

    pub fn empty() -> ActiveSilences {
        ActiveSilences::default()
    }

    fn insert(&mut self, entry: Entry) {
        let index = self.entries.len();
        let key = |field: Field| {
            entry
                .matchers
                .iter()
                .filter(|m| m.field == field)
                .find_map(|m| m.equal_value())
                .map(str::to_string)
        };
        if let Some(organization) = key(Field::Organization) {
            self.by_organization
                .entry(organization)
                .or_default()
                .push(index);
        } else if let Some(source) = key(Field::Source) {
            self.by_source.entry(source).or_default().push(index);
        } else {
            self.unindexed.push(index);
        }
        self.entries.push(entry);
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The oldest active silence (creation time, then id) matching the alert, honouring
    /// resolved_pass (a resolved alert is not matched by a silence with resolved_pass = true).
    pub fn matching(&self, message: &AlertMessage) -> Option<Match> {
        self.find(message, message.alert.status == AlertStatus::Resolved)
    }

    /// The silence that would match the alert were it firing: a resolved alert that passes
    /// through still tells that silence its group is no longer firing.
    pub fn matching_any(&self, message: &AlertMessage) -> Option<Match> {
        self.find(message, false)
    }

    fn find(&self, message: &AlertMessage, resolved: bool) -> Option<Match> {
        let organization = &message.alert.organization;
        let name = organization
            .name
            .as_deref()
            .filter(|name| *name != organization.id);
        let lists = [
            self.by_organization.get(organization.id.as_str()),
            name.and_then(|name| self.by_organization.get(name)),
            self.by_source.get(message.source.as_str()),
            Some(&self.unindexed),
        ];
        // Each list is in precedence order, so its first match is its best; the best of
        // those wins, and a list stops as soon as it cannot beat it.
        let mut best: Option<usize> = None;
        for list in lists.into_iter().flatten() {
            let found = list
                .iter()
                .take_while(|index| best.is_none_or(|b| **index < b))
                .find(|index| self.entries[**index].matches(message, resolved));
            if let Some(index) = found {
                best = Some(*index);
            }
        }
        let entry = &self.entries[best?];
        Some(Match {
            silence_id: entry.id,
            window: entry.window,
            reason: entry.reason.clone(),
        })
    }

    /// The earliest instant after which this set may no longer be right (the soonest window end or start among
    /// the silences given to `new`), so the caller knows when to rebuild even without new data.
    /// `None` when no silence given will ever change state.
    pub fn valid_until(&self) -> Option<DateTime<Utc>> {
        self.valid_until
    }
}
