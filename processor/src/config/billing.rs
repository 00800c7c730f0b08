//! `[billing]`: the billable-user sync, validated with every problem at once (like the rest of
//! the processor's configuration).
//!
//! Keys (defaults in brackets): `sync_billable_users` [false], `sync_day` [1] (1–28),
//! `sync_time` ["02:00"], `time_zone` ["UTC"] (an IANA name), `default_service` (a Syncro
//! product id, or a line name; required when the sync is on), `check_interval_secs` [60],
//! `lease_secs` [60], and `[billing.organizations."org-id"]` with `schedule_id` (required),
//! `add_default_line` [false], `price` / `cost` (dollars, for an added line) and `service`
//! (this organization's own service instead of `default_service`).

use chrono::NaiveTime;
use chrono_tz::Tz;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::time::Duration;

/// The recurring-invoice line that carries the billable-user count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServiceRef {
    /// A Syncro product id: the line whose `product_id` is this.
    Product(i64),
    /// A line name, compared trimmed and without regard to case.
    Name(String),
}

impl ServiceRef {
    /// Whether a line of a schedule is this service.
    pub fn matches(&self, line: &syncro::ScheduleLineItem) -> bool {
        match self {
            ServiceRef::Product(id) => line.product_id == Some(*id),
            ServiceRef::Name(name) => line
                .name
                .as_deref()
                .is_some_and(|n| n.trim().eq_ignore_ascii_case(name)),
        }
    }
}

impl std::fmt::Display for ServiceRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ServiceRef::Product(id) => write!(f, "product {id}"),
            ServiceRef::Name(name) => write!(f, "line {name:?}"),
        }
    }
}

/// One organization's recurring invoice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgBilling {
    /// The Syncro schedule (recurring invoice) whose line carries the count.
    pub schedule_id: i64,
    /// Add the service line when the schedule has none (else the organization is skipped).
    pub add_default_line: bool,
    /// Price and cost of an added line, in cents (Syncro's defaults when unset).
    pub retail_cents: Option<i64>,
    pub cost_cents: Option<i64>,
    /// This organization's service, when not the default one.
    pub service: Option<ServiceRef>,
}

/// The validated `[billing]` section. Absent means the sync is off.
#[derive(Debug, Clone, PartialEq)]
pub struct BillingConfig {
    pub sync_enabled: bool,
    /// Day of the month (1–28, so every month has it) from which the month's sync is due.
    pub sync_day: u32,
    /// Local time (in `time_zone`) on the sync day from which it is due.
    pub sync_time: NaiveTime,
    pub time_zone: Tz,
    pub default_service: Option<ServiceRef>,
    /// Organizations by the sources' organization id; only these are synced.
    pub organizations: BTreeMap<String, OrgBilling>,
    /// How often each worker checks whether the month's sync is due.
    pub check_interval: Duration,
    /// The sync's fleet-wide lease; renewed while the run goes on, so only a dead runner
    /// loses it (and another worker resumes after it expires).
    pub lease: Duration,
}

impl Default for BillingConfig {
    fn default() -> Self {
        BillingConfig {
            sync_enabled: false,
            sync_day: 1,
            sync_time: NaiveTime::from_hms_opt(2, 0, 0).unwrap_or_default(),
            time_zone: Tz::UTC,
            default_service: None,
            organizations: BTreeMap::new(),
            check_interval: Duration::from_secs(60),
            lease: Duration::from_secs(60),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBilling {
    #[serde(default)]
    sync_billable_users: bool,
    sync_day: Option<i64>,
    sync_time: Option<String>,
    time_zone: Option<String>,
    default_service: Option<toml::Value>,
    check_interval_secs: Option<u64>,
    lease_secs: Option<u64>,
    #[serde(default)]
    organizations: BTreeMap<String, RawOrg>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOrg {
    schedule_id: Option<i64>,
    #[serde(default)]
    add_default_line: bool,
    price: Option<String>,
    cost: Option<String>,
    service: Option<toml::Value>,
}

impl BillingConfig {
    /// Parses and checks the raw section; every problem goes to `problems` (then the result
    /// is only a placeholder).
    pub fn from_section(section: &Option<toml::Table>, problems: &mut Vec<String>) -> Self {
        let Some(table) = section else {
            return BillingConfig::default();
        };
        let raw: RawBilling = match toml::Value::Table(table.clone()).try_into() {
            Ok(raw) => raw,
            Err(e) => {
                problems.push(format!("billing: {}", e.to_string().trim()));
                return BillingConfig::default();
            }
        };
        let mut config = BillingConfig {
            sync_enabled: raw.sync_billable_users,
            ..BillingConfig::default()
        };
        match raw.sync_day {
            Some(day @ 1..=28) => config.sync_day = day as u32,
            Some(day) => problems.push(format!(
                "billing.sync_day: {day} is out of range; use 1 to 28 (every month has those days)"
            )),
            None => {}
        }
        if let Some(text) = raw.sync_time {
            match NaiveTime::parse_from_str(text.trim(), "%H:%M") {
                Ok(time) => config.sync_time = time,
                Err(_) => problems.push(format!(
                    "billing.sync_time: {text:?} is not a time of day as HH:MM (24 h), e.g. \"02:00\""
                )),
            }
        }
        if let Some(name) = raw.time_zone {
            match name.trim().parse::<Tz>() {
                Ok(tz) => config.time_zone = tz,
                Err(_) => problems.push(format!(
                    "billing.time_zone: {name:?} is not an IANA time zone name, e.g. \"America/New_York\""
                )),
            }
        }
        config.default_service = raw
            .default_service
            .and_then(|v| service("billing.default_service", &v, problems));
        if config.sync_enabled && config.default_service.is_none() {
            problems.push(
                "billing.default_service: required when sync_billable_users is on: the Syncro \
                 product id (a number) or the line name (a string) that carries the billable-user \
                 count"
                    .into(),
            );
        }
        for (key, value, target) in [
            (
                "billing.check_interval_secs",
                raw.check_interval_secs,
                &mut config.check_interval,
            ),
            ("billing.lease_secs", raw.lease_secs, &mut config.lease),
        ] {
            match value {
                Some(0) => problems.push(format!("{key}: must be at least 1")),
                Some(secs) => *target = Duration::from_secs(secs),
                None => {}
            }
        }
        for (org, raw) in raw.organizations {
            let at = format!("billing.organizations[{org:?}]");
            if org.trim().is_empty() {
                problems.push(format!("{at}: the organization id must not be empty"));
            }
            let schedule_id = match raw.schedule_id {
                Some(id) if id > 0 => Some(id),
                Some(_) => {
                    problems.push(format!(
                        "{at}.schedule_id: must be a Syncro schedule id (a positive integer)"
                    ));
                    None
                }
                None => {
                    problems.push(format!(
                        "{at}.schedule_id: required (the organization's recurring invoice)"
                    ));
                    None
                }
            };
            let retail_cents = raw
                .price
                .and_then(|p| cents(&format!("{at}.price"), &p, problems));
            let cost_cents = raw
                .cost
                .and_then(|c| cents(&format!("{at}.cost"), &c, problems));
            let service = raw
                .service
                .and_then(|v| service(&format!("{at}.service"), &v, problems));
            if let Some(schedule_id) = schedule_id {
                config.organizations.insert(
                    org,
                    OrgBilling {
                        schedule_id,
                        add_default_line: raw.add_default_line,
                        retail_cents,
                        cost_cents,
                        service,
                    },
                );
            }
        }
        config
    }

    /// The service an organization's count goes to.
    pub fn service_of<'a>(&'a self, org: &'a OrgBilling) -> Option<&'a ServiceRef> {
        org.service.as_ref().or(self.default_service.as_ref())
    }
}

/// A product id (positive integer) or a line name (non-blank string).
fn service(key: &str, value: &toml::Value, problems: &mut Vec<String>) -> Option<ServiceRef> {
    match value {
        toml::Value::Integer(id) if *id > 0 => Some(ServiceRef::Product(*id)),
        toml::Value::String(name) if !name.trim().is_empty() => {
            Some(ServiceRef::Name(name.trim().to_string()))
        }
        _ => {
            problems.push(format!(
                "{key}: must be a Syncro product id (a positive integer) or a line name (a \
                 non-empty string)"
            ));
            None
        }
    }
}

/// Dollars as text ("4.50", "12") to cents, without floating point.
fn cents(key: &str, text: &str, problems: &mut Vec<String>) -> Option<i64> {
    let text = text.trim();
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let digits = |s: &str| !s.is_empty() && s.len() <= 9 && s.bytes().all(|b| b.is_ascii_digit());
    if digits(whole)
        && (fraction.is_empty() && !text.ends_with('.') || fraction.len() <= 2 && digits(fraction))
    {
        let whole: i64 = whole.parse().ok()?;
        let fraction: i64 = format!("{fraction:0<2}").parse().ok()?;
        Some(whole * 100 + fraction)
    } else {
        problems.push(format!(
            "{key}: {text:?} is not an amount in dollars such as \"4.50\""
        ));
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> (BillingConfig, Vec<String>) {
        let table: toml::Table = toml::from_str(text).expect("toml");
        let mut problems = Vec::new();
        let config = BillingConfig::from_section(&Some(table), &mut problems);
        (config, problems)
    }

    #[test]
    fn a_complete_section_parses() {
        let (config, problems) = parse(
            r#"
            sync_billable_users = true
            sync_day = 5
            sync_time = "03:30"
            time_zone = "America/New_York"
            default_service = 456
            [organizations."org-1"]
            schedule_id = 789
            add_default_line = true
            price = "4.50"
            cost = "2"
            [organizations."org-2"]
            schedule_id = 790
            service = "Security seats"
            "#,
        );
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(config.sync_day, 5);
        assert_eq!(
            config.sync_time,
            NaiveTime::from_hms_opt(3, 30, 0).expect("time")
        );
        assert_eq!(config.time_zone, chrono_tz::America::New_York);
        assert_eq!(config.default_service, Some(ServiceRef::Product(456)));
        let org = &config.organizations["org-1"];
        assert_eq!((org.retail_cents, org.cost_cents), (Some(450), Some(200)));
        let org2 = &config.organizations["org-2"];
        assert_eq!(
            config.service_of(org2),
            Some(&ServiceRef::Name("Security seats".into()))
        );
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let (_, problems) = parse(
            r#"
            sync_billable_users = true
            sync_day = 29
            sync_time = "25:00"
            time_zone = "Mars/Olympus"
            [organizations."org-1"]
            price = "4.505"
            cost = "abc"
            "#,
        );
        for expected in [
            "billing.sync_day: 29 is out of range",
            "billing.sync_time: \"25:00\"",
            "billing.time_zone: \"Mars/Olympus\"",
            "billing.default_service: required when sync_billable_users is on",
            "billing.organizations[\"org-1\"].schedule_id: required",
            "billing.organizations[\"org-1\"].price: \"4.505\"",
            "billing.organizations[\"org-1\"].cost: \"abc\"",
        ] {
            assert!(
                problems.iter().any(|p| p.starts_with(expected)),
                "missing {expected:?} in {problems:#?}"
            );
        }
        assert_eq!(problems.len(), 7, "{problems:#?}");
    }

    #[test]
    fn sync_off_needs_no_service_and_unknown_keys_are_named() {
        let (config, problems) = parse("sync_day = 3");
        assert!(problems.is_empty());
        assert!(!config.sync_enabled);
        let (_, problems) = parse("sync_dya = 3");
        assert!(problems[0].contains("sync_dya"), "{problems:?}");
    }

    #[test]
    fn amounts_are_read_without_floating_point() {
        let mut problems = Vec::new();
        assert_eq!(cents("k", "0.1", &mut problems), Some(10));
        assert_eq!(cents("k", "19.99", &mut problems), Some(1999));
        assert_eq!(cents("k", "7", &mut problems), Some(700));
        assert!(problems.is_empty());
        for bad in ["", ".5", "5.", "-1", "1,00", "1.2.3"] {
            assert_eq!(cents("k", bad, &mut problems), None, "{bad}");
        }
    }
}
