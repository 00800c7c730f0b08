//! The simulator's configuration: run-time options (changeable through the admin API) and the
//! seed (initial data plus optional `options`), layered defaults → seed → command line.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{Result, SimError};
use crate::faults::FaultSpec;
use crate::model::Data;

/// The built-in seed, also shipped as `seed/default.json` so it can be copied and edited.
pub const DEFAULT_SEED: &str = include_str!("../seed/default.json");

/// How `Retry-After` is written on a 429 (and on faults that carry one).
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum RetryAfterFormat {
    /// Delay in whole seconds, e.g. `Retry-After: 42`.
    #[default]
    Seconds,
    /// An HTTP date, e.g. `Retry-After: Fri, 01 May 2026 10:00:42 GMT`.
    HttpDate,
}

/// Behaviour switches. All of them can be set in the seed's `options`, most on the command
/// line, and all at run time through `PATCH /_admin/options`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Options {
    /// The API token every `/api/v1` request must carry (three accepted forms).
    pub token: String,
    /// Requests allowed per client in one window; 0 turns the limiter off.
    pub rate_limit_per_minute: u32,
    /// The sliding window's length. Syncro's is 60 s; tests may shorten it.
    pub rate_limit_window_secs: u64,
    /// Whether a 429 carries `Retry-After` (Syncro's behaviour is undocumented).
    pub retry_after: bool,
    pub retry_after_format: RetryAfterFormat,
    /// The 429 body; sent as `application/json` when it parses as JSON, else `text/plain`.
    pub rate_limit_body: String,
    /// Take the rate-limit key from this request header instead of the client IP, so a test or
    /// benchmark can play several clients from one address.
    pub rate_limit_key_header: Option<String>,
    /// Default page size of every list.
    pub page_size: u32,
    /// Per-list default page size, by resource: tickets, comments, customers, contracts,
    /// schedules, assets.
    pub page_sizes: BTreeMap<String, u32>,
    /// Drop `contract_id` sent on ticket create/update, as Rails strong parameters would if
    /// Syncro does not permit it (syncro-api.md §3.8), so read-back checks can be tested.
    pub ignore_contract_id: bool,
    /// Faults active from the start (more can be added at run time).
    pub faults: Vec<FaultSpec>,
    /// How many request-log entries are kept (oldest dropped first).
    pub request_log_capacity: usize,
    /// Keep each request's JSON body in the log (for contract tests; off for speed).
    pub log_request_bodies: bool,
    /// Seed for the random draws of faults with a `share` below 1, for repeatable runs.
    pub fault_rng_seed: Option<u64>,
    /// Token permissions `token` lacks, by Syncro's names ("RMM Alerts - Create"): requests
    /// needing one answer 401 and `GET /me` reports it false.
    pub denied_permissions: Vec<String>,
    /// More tokens the simulator accepts, each with the permissions it lacks, so one
    /// simulator can serve a full token and a restricted one.
    pub extra_tokens: BTreeMap<String, Vec<String>>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            token: "sim-token".into(),
            rate_limit_per_minute: 180,
            rate_limit_window_secs: 60,
            retry_after: true,
            retry_after_format: RetryAfterFormat::Seconds,
            rate_limit_body: r#"{"error":"Rate limit exceeded"}"#.into(),
            rate_limit_key_header: None,
            page_size: 25,
            page_sizes: BTreeMap::from([("comments".into(), 10), ("contracts".into(), 50)]),
            ignore_contract_id: false,
            faults: Vec::new(),
            request_log_capacity: 10_000,
            log_request_bodies: false,
            fault_rng_seed: None,
            denied_permissions: Vec::new(),
            extra_tokens: BTreeMap::new(),
        }
    }
}

impl Options {
    /// The permissions `token` lacks, or `None` when the simulator does not accept it.
    pub fn denied_for(&self, token: &str) -> Option<&[String]> {
        if token == self.token {
            Some(&self.denied_permissions)
        } else {
            self.extra_tokens.get(token).map(Vec::as_slice)
        }
    }

    /// The default page size of one list (`resource` as in [`Options::page_sizes`]).
    pub fn page_size_for(&self, resource: &str) -> u32 {
        self.page_sizes
            .get(resource)
            .copied()
            .unwrap_or(self.page_size)
    }

    /// Checks ranges; every problem is reported at once.
    pub fn validate(&self) -> Result<()> {
        let mut problems = Vec::new();
        if self.token.is_empty() {
            problems.push("token must not be empty".to_string());
        }
        if self.extra_tokens.keys().any(|t| t.is_empty()) {
            problems.push("extra_tokens: a token must not be empty".to_string());
        }
        if self.rate_limit_window_secs == 0 {
            problems.push("rate_limit_window_secs must be at least 1".to_string());
        }
        if !(1..=100).contains(&self.page_size) {
            problems.push(format!("page_size {} is not in 1..=100", self.page_size));
        }
        for (resource, size) in &self.page_sizes {
            if !(1..=100).contains(size) {
                problems.push(format!("page_sizes.{resource} = {size} is not in 1..=100"));
            }
        }
        for fault in &self.faults {
            if let Err(e) = fault.validate() {
                problems.push(e.to_string());
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(SimError::InvalidOption(problems.join("; ")))
        }
    }

    /// Returns these options with the keys of `patch` (a JSON object) replaced.
    pub fn patched(&self, patch: &Value) -> Result<Options> {
        let Value::Object(patch) = patch else {
            return Err(SimError::InvalidOption(
                "options patch must be a JSON object".into(),
            ));
        };
        let mut current = serde_json::to_value(self)
            .map_err(|e| SimError::InvalidOption(format!("cannot encode options: {e}")))?;
        if let Value::Object(map) = &mut current {
            for (k, v) in patch {
                map.insert(k.clone(), v.clone());
            }
        }
        let options: Options =
            serde_json::from_value(current).map_err(|e| SimError::InvalidOption(e.to_string()))?;
        options.validate()?;
        Ok(options)
    }
}

/// Everything [`crate::spawn`] needs.
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// The account's initial data; `POST /_admin/reset` returns to it.
    pub data: Data,
    pub options: Options,
    /// actix worker threads; 1 is plenty for a test, the binary uses one per core.
    pub workers: usize,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self::builtin()
    }
}

impl SimConfig {
    /// The built-in seed with default options.
    pub fn builtin() -> Self {
        // The built-in seed is compiled in and covered by a unit test, so failing here is a
        // bug in this crate, not an input problem.
        Self::from_seed_str(DEFAULT_SEED, "built-in").expect("the built-in seed is valid")
    }

    /// An empty account (no customers, tickets, …) with default options.
    pub fn empty() -> Self {
        Self {
            data: Data::default(),
            options: Options::default(),
            workers: 1,
        }
    }

    /// Reads a seed file: the account data, plus an optional `options` object.
    pub fn from_seed_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|source| SimError::SeedRead {
            path: path.to_owned(),
            source,
        })?;
        Self::from_seed_str(&text, &path.display().to_string())
    }

    /// Parses seed JSON; `origin` names it in error messages.
    pub fn from_seed_str(text: &str, origin: &str) -> Result<Self> {
        let parse_err = |source| SimError::SeedParse {
            origin: origin.to_string(),
            source,
        };
        let mut value: Value = serde_json::from_str(text).map_err(parse_err)?;
        // `options` sits beside the data keys; it is taken out first so the data itself can
        // be read strictly (an unknown key is a typo, not something to ignore).
        let options = match value.as_object_mut().and_then(|o| o.remove("options")) {
            Some(o) => serde_json::from_value(o).map_err(parse_err)?,
            None => Options::default(),
        };
        let data: Data = serde_json::from_value(value).map_err(parse_err)?;
        options.validate()?;
        Ok(Self {
            data,
            options,
            workers: 1,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_builtin_seed_parses_and_has_the_documented_settings() {
        let c = SimConfig::from_seed_str(DEFAULT_SEED, "built-in").expect("valid seed");
        assert_eq!(c.data.ticket_statuses.len(), 8);
        assert!(c.data.problem_types.iter().any(|p| p == "Security"));
        assert_eq!(
            c.data.priorities,
            ["", "0 Urgent", "1 High", "2 Normal", "3 Low"]
        );
        assert!(c
            .data
            .schedules
            .iter()
            .flat_map(|s| &s.lines)
            .any(|l| l.is_counted()));
    }

    #[test]
    fn seed_options_and_typos_are_read_strictly() {
        let c = SimConfig::from_seed_str(r#"{"options": {"token": "x", "page_size": 50}}"#, "t")
            .expect("valid seed");
        assert_eq!(c.options.token, "x");
        assert_eq!(c.options.page_size_for("tickets"), 50);
        assert_eq!(c.options.page_size_for("comments"), 10);
        assert!(SimConfig::from_seed_str(r#"{"custmers": []}"#, "t").is_err());
        assert!(SimConfig::from_seed_str(r#"{"options": {"tokn": "x"}}"#, "t").is_err());
    }

    #[test]
    fn patching_options_validates_the_result() {
        let o = Options::default();
        let p = o
            .patched(&json!({"rate_limit_per_minute": 5}))
            .expect("valid");
        assert_eq!(p.rate_limit_per_minute, 5);
        assert!(o.patched(&json!({"page_size": 0})).is_err());
        assert!(o.patched(&json!({"nope": 1})).is_err());
    }
}
