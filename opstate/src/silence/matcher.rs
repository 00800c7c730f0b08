//! Which alerts a silence applies to: matchers on an alert's fields, their checks, and their
//! compiled form used on the alert path. The semantics are described in the parent module.

use super::problem::Problem;
use regex::{Regex, RegexBuilder};
use serde::{Deserialize, Serialize};
use shared::alert::{RuleRef, Severity};
use shared::message::AlertMessage;
use std::fmt;

/// Longest accepted matcher value, in bytes.
pub const MAX_VALUE_LEN: usize = 1024;
/// Largest compiled regular expression accepted: a hostile pattern is refused, never slow.
/// Generous for real patterns (a Unicode `\w+` compiles to a few KiB).
pub const REGEX_SIZE_LIMIT: usize = 64 * 1024;
/// Cache of each regular expression's lazy DFA; bounded so a thousand silences stay small.
const REGEX_DFA_SIZE_LIMIT: usize = 256 * 1024;

/// One condition on an alert: `field op value`, e.g. `organization = org-42`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Matcher {
    pub field: Field,
    pub op: Op,
    pub value: String,
}

/// The alert field a matcher looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    /// The configured source that sent the alert.
    Source,
    /// The organization's id or name.
    Organization,
    EventType,
    Severity,
    /// The Respond rule's id or name.
    RespondRule,
    /// The IOC rule's id or name.
    IocRule,
    /// The device's name, serial number or MAC address.
    Device,
    User,
}

impl Field {
    pub const ALL: [Field; 8] = [
        Field::Source,
        Field::Organization,
        Field::EventType,
        Field::Severity,
        Field::RespondRule,
        Field::IocRule,
        Field::Device,
        Field::User,
    ];

    /// The name used in JSON and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Field::Source => "source",
            Field::Organization => "organization",
            Field::EventType => "event_type",
            Field::Severity => "severity",
            Field::RespondRule => "respond_rule",
            Field::IocRule => "ioc_rule",
            Field::Device => "device",
            Field::User => "user",
        }
    }

    /// The alert's values for this field (up to three: an organization's id and name, a
    /// device's name, serial and MAC); none when the alert lacks it.
    fn values(self, message: &AlertMessage) -> [Option<&str>; 3] {
        fn rule(rule: Option<&RuleRef>) -> [Option<&str>; 3] {
            match rule {
                Some(rule) => [Some(rule.id.as_str()), rule.name.as_deref(), None],
                None => [None; 3],
            }
        }
        let alert = &message.alert;
        match self {
            Field::Source => [Some(message.source.as_str()), None, None],
            Field::Organization => [
                Some(alert.organization.id.as_str()),
                alert.organization.name.as_deref(),
                None,
            ],
            Field::EventType => [Some(alert.event_type.as_str()), None, None],
            Field::Severity => [Some(alert.severity.as_str()), None, None],
            Field::RespondRule => rule(alert.respond_rule.as_ref()),
            Field::IocRule => rule(alert.ioc_rule.as_ref()),
            Field::Device => match &alert.device {
                Some(device) => [
                    device.name.as_deref(),
                    device.serial.as_deref(),
                    device.mac.as_deref(),
                ],
                None => [None; 3],
            },
            Field::User => [alert.user.as_deref(), None, None],
        }
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a matcher compares: Alertmanager's four operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Op {
    #[serde(rename = "=")]
    Equal,
    #[serde(rename = "!=")]
    NotEqual,
    #[serde(rename = "=~")]
    Regex,
    #[serde(rename = "!~")]
    NotRegex,
}

impl Op {
    pub const ALL: [Op; 4] = [Op::Equal, Op::NotEqual, Op::Regex, Op::NotRegex];

    /// `=`, `!=`, `=~` or `!~`.
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Equal => "=",
            Op::NotEqual => "!=",
            Op::Regex => "=~",
            Op::NotRegex => "!~",
        }
    }

    /// `!=` and `!~` are the negations of `=` and `=~`.
    pub fn is_negative(self) -> bool {
        matches!(self, Op::NotEqual | Op::NotRegex)
    }

    fn is_regex(self) -> bool {
        matches!(self, Op::Regex | Op::NotRegex)
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for Matcher {
    /// `organization="org-42"`, the way Alertmanager prints matchers.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}{:?}", self.field, self.op, self.value)
    }
}

/// Checks every matcher, adding each problem to `problems` (paths like `matchers[1].value`);
/// the normalised matchers (`=`/`!=` values trimmed, severities lower-cased).
pub(crate) fn check_all(matchers: &[Matcher], problems: &mut Vec<Problem>) -> Vec<Matcher> {
    if matchers.is_empty() {
        problems.push(Problem::new("matchers", "at least one matcher is required"));
        return Vec::new();
    }
    let mut normalised = Vec::with_capacity(matchers.len());
    // Whether some `=`/`=~` matcher selects (does not match the empty string), and whether
    // every `=`/`=~` matcher could be checked (to avoid a second, confusing problem).
    let (mut any_positive, mut any_selective, mut positives_ok) = (false, false, true);
    for (index, matcher) in matchers.iter().enumerate() {
        let before = problems.len();
        let checked = matcher.check(&format!("matchers[{index}].value"), problems);
        if !matcher.op.is_negative() {
            any_positive = true;
            positives_ok &= problems.len() == before;
            any_selective |= checked.as_ref().is_some_and(|c| !c.matches_empty);
        }
        normalised.push(checked.map_or_else(|| matcher.clone(), |c| c.matcher));
    }
    if !any_positive {
        problems.push(Problem::new(
            "matchers",
            "needs at least one `=` or `=~` matcher: a silence of only `!=` and `!~` \
             matchers would mute nearly every alert",
        ));
    } else if positives_ok && !any_selective {
        problems.push(Problem::new(
            "matchers",
            "needs at least one `=` or `=~` matcher that does not match the empty string \
             (`=~ .*` alone would mute nearly every alert)",
        ));
    }
    normalised
}

/// A matcher that passed its checks.
struct CheckedMatcher {
    matcher: Matcher,
    /// Whether it holds for an empty value (`=~ .*`), i.e. selects (almost) nothing out.
    matches_empty: bool,
}

impl Matcher {
    fn check(&self, path: &str, problems: &mut Vec<Problem>) -> Option<CheckedMatcher> {
        let mut fail = |message: String| {
            problems.push(Problem::new(path, message));
            None
        };
        // Alert values are trimmed on ingest, so an untrimmed `=` value could never match;
        // a regular expression is taken as written.
        let value = if self.op.is_regex() {
            self.value.as_str()
        } else {
            self.value.trim()
        };
        if value.is_empty() {
            // A present field is never empty, and a missing one never matches `=`/`=~`: an
            // empty value would match nothing (`=`, `=~`) or everything (`!=`, `!~`).
            return fail("must not be empty".into());
        }
        if value.len() > MAX_VALUE_LEN {
            return fail(format!(
                "must be at most {MAX_VALUE_LEN} bytes (it is {})",
                value.len()
            ));
        }
        let mut normalised = Matcher {
            value: value.to_string(),
            ..self.clone()
        };
        let matches_empty = if self.op.is_regex() {
            match build_regex(self.field, value) {
                Ok(regex) => regex.is_match(""),
                Err(message) => return fail(message),
            }
        } else {
            if self.field == Field::Severity {
                match Severity::parse(value) {
                    Some(severity) => normalised.value = severity.as_str().to_string(),
                    None => {
                        return fail(format!(
                            "`{value}` is not a severity: one of critical, high, medium, low, info"
                        ))
                    }
                }
            }
            false
        };
        Some(CheckedMatcher {
            matcher: normalised,
            matches_empty,
        })
    }

    /// The matcher ready for the alert path; an error when its regular expression does not
    /// compile (only possible for a stored matcher that bypassed the checks).
    pub(crate) fn compile(&self) -> Result<CompiledMatcher, String> {
        let test = if self.op.is_regex() {
            Test::Pattern(build_regex(self.field, &self.value)?)
        } else {
            Test::Exact(self.value.clone())
        };
        Ok(CompiledMatcher {
            field: self.field,
            negate: self.op.is_negative(),
            ignore_case: self.field == Field::Severity,
            test,
        })
    }
}

/// Builds the anchored regular expression of a matcher, or the problem with it.
///
/// The pattern is compiled on its own first so that a syntax error points into what the
/// operator wrote, then wrapped in `^(?:…)$` (a full match, as in Alertmanager).
fn build_regex(field: Field, pattern: &str) -> Result<Regex, String> {
    let build = |text: &str| {
        RegexBuilder::new(text)
            .case_insensitive(field == Field::Severity)
            .size_limit(REGEX_SIZE_LIMIT)
            .dfa_size_limit(REGEX_DFA_SIZE_LIMIT)
            .build()
    };
    build(pattern).map_err(regex_problem)?;
    build(&format!("^(?:{pattern})$")).map_err(|e| {
        // Only an `(?x)` comment can swallow the closing `)$`.
        format!("{} once anchored as ^(?:…)$", regex_problem(e))
    })
}

/// The regex crate's error, trimmed to its last line ("unclosed group") for an API answer.
fn regex_problem(error: regex::Error) -> String {
    match error {
        regex::Error::CompiledTooBig(limit) => format!(
            "is too large a regular expression (over {} KiB compiled)",
            limit / 1024
        ),
        regex::Error::Syntax(text) => {
            let detail = text
                .lines()
                .rev()
                .find_map(|line| line.trim().strip_prefix("error: "))
                .unwrap_or_else(|| text.trim());
            format!("is not a valid regular expression: {detail}")
        }
        other => format!("is not a valid regular expression: {other}"),
    }
}

/// A matcher compiled for the alert path.
#[derive(Debug, Clone)]
pub(crate) struct CompiledMatcher {
    pub(crate) field: Field,
    /// `!=`/`!~`: holds exactly when the positive form does not.
    negate: bool,
    /// Severity compares case-insensitively (its values are an enum).
    ignore_case: bool,
    test: Test,
}

#[derive(Debug, Clone)]
enum Test {
    Exact(String),
    Pattern(Regex),
}

impl CompiledMatcher {
    /// Whether the matcher holds for the alert: the positive form holds when any of the
    /// field's values matches, the negative form when none does (so a missing field never
    /// matches `=`/`=~` and always matches `!=`/`!~`).
    pub(crate) fn matches(&self, message: &AlertMessage) -> bool {
        let any = self
            .field
            .values(message)
            .into_iter()
            .flatten()
            .any(|value| match &self.test {
                Test::Exact(expected) if self.ignore_case => expected.eq_ignore_ascii_case(value),
                Test::Exact(expected) => expected == value,
                Test::Pattern(regex) => regex.is_match(value),
            });
        any != self.negate
    }

    /// Whether it runs a regular expression (dearer than a comparison).
    pub(crate) fn is_pattern(&self) -> bool {
        matches!(self.test, Test::Pattern(_))
    }

    /// The value of an `=` matcher, which the alert path indexes on.
    pub(crate) fn equal_value(&self) -> Option<&str> {
        match &self.test {
            Test::Exact(value) if !self.negate => Some(value),
            _ => None,
        }
    }
}

/// A silence's matchers compiled on their own, without its schedule: what a preview asks of
/// recent alerts ("would it have matched?"), by the same comparisons the alert path makes.
#[derive(Debug, Clone)]
pub struct MatcherSet(Vec<CompiledMatcher>);

impl MatcherSet {
    /// Compiles checked matchers; an error only for a regular expression the checks refused.
    pub fn compile(matchers: &[Matcher]) -> Result<MatcherSet, String> {
        let mut compiled = matchers
            .iter()
            .map(Matcher::compile)
            .collect::<Result<Vec<_>, _>>()?;
        compiled.sort_by_key(CompiledMatcher::is_pattern);
        Ok(MatcherSet(compiled))
    }

    /// Whether every matcher holds for the alert (AND), as for an active silence.
    pub fn matches(&self, message: &AlertMessage) -> bool {
        self.0.iter().all(|m| m.matches(message))
    }
}
