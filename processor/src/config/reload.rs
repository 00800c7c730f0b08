//! Reloading the configuration without a restart (SIGHUP).
//!
//! The running configuration lives in a [`ConfigHandle`]; every alert takes one snapshot of
//! it when its handling starts, so an alert is handled under one configuration from start to
//! end even when a reload lands meanwhile. [`reload`] reads the file again, validates it
//! fully ([`ProcessorConfig::from_settings`]), and swaps in the new mappings, overrides,
//! tickets, notes and grouping. `[processor]` worker knobs and the connection settings
//! (prefix, broker, Redis, Syncro, log) and `[billing]` are fixed when the worker starts: a changed one is
//! named in a warning and keeps its running value until a restart. A bad file changes
//! nothing: every problem is logged at error level and the old configuration stays.
//!
//! The console's mappings are not in the file: the worker swaps in each new snapshot it
//! reads from the operator state ([`ConfigHandle::set_console`]), and a reload keeps the
//! snapshot it finds.

use crate::config::{ProcessorConfig, WorkerConfig};
use crate::metrics::{Metrics, ResultLabels};
use opstate::store::mappings::ConsoleMappings;
use secrecy::ExposeSecret;
use shared::config::{self, Settings};
use std::path::Path;
use std::sync::{Arc, RwLock};

/// The running configuration, replaced whole by a reload.
pub struct ConfigHandle {
    current: RwLock<Arc<ProcessorConfig>>,
}

impl ConfigHandle {
    pub fn new(config: ProcessorConfig) -> ConfigHandle {
        ConfigHandle {
            current: RwLock::new(Arc::new(config)),
        }
    }

    /// The configuration now: take it once and use it for the whole of one alert.
    pub fn current(&self) -> Arc<ProcessorConfig> {
        // A writer cannot panic half-way through replacing an Arc: a poisoned lock still
        // holds a whole configuration.
        self.current
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Swaps in another snapshot of the console's mappings, unless it routes every
    /// organization as the running one does (a customer's name alone changing is no
    /// change). Returns whether it was swapped in: the caller then releases parked alerts.
    pub fn set_console(&self, console: Arc<ConsoleMappings>) -> bool {
        let mut current = self
            .current
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let running = &current.mapping.console;
        let same = running.len() == console.len()
            && running
                .iter()
                .zip(console.iter())
                .all(|((a, x), (b, y))| a == b && x.same_route(y));
        if same {
            return false;
        }
        let mut next = ProcessorConfig::clone(&current);
        next.mapping.console = console;
        *current = Arc::new(next);
        true
    }

    /// Swaps in the console's mappings of an operator-state view once it was read
    /// ([`ConfigHandle::set_console`]); a view never read changes nothing.
    pub fn apply_view(&self, view: &opstate::watch::View) -> bool {
        view.generation.is_some() && self.set_console(view.mappings.clone())
    }

    fn replace(&self, config: ProcessorConfig) {
        *self
            .current
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Arc::new(config);
    }
}

/// Re-reads `path` and swaps in what can change at run time; `running` is the settings the
/// worker started with. Returns whether the new configuration was applied.
pub fn reload(path: &Path, running: &Settings, handle: &ConfigHandle, metrics: &Metrics) -> bool {
    let loaded = Settings::load(path, &config::process_env).and_then(|settings| {
        match ProcessorConfig::from_settings(&settings) {
            Ok(config) => Ok((settings, config)),
            Err(problems) => Err(config::ConfigError {
                path: path.to_path_buf(),
                problems,
            }),
        }
    });
    let (settings, mut config) = match loaded {
        Ok(loaded) => loaded,
        Err(error) => {
            for problem in &error.problems {
                tracing::error!(path = %path.display(), problem = %problem, "configuration reload rejected");
            }
            tracing::error!(
                path = %path.display(),
                problems = error.problems.len(),
                "configuration reload rejected; the running configuration stays"
            );
            count(metrics, "rejected");
            return false;
        }
    };
    let old = handle.current();
    let mut ignored = restart_keys(running, &settings, &old.worker, &config.worker);
    // The monthly billing task holds the configuration it started with.
    if config.billing != old.billing {
        ignored.push("billing".into());
    }
    config.billing = old.billing.clone();
    if !ignored.is_empty() {
        tracing::warn!(
            keys = %ignored.join(", "),
            "configuration reload: these changes need a restart and were not applied"
        );
    }
    config.worker = old.worker.clone();
    config.mapping.console = old.mapping.console.clone();
    handle.replace(config);
    count(metrics, "ok");
    tracing::info!(path = %path.display(), "configuration reloaded");
    true
}

fn count(metrics: &Metrics, result: &str) {
    metrics
        .config_reloads
        .get_or_create(&ResultLabels {
            result: result.to_string(),
        })
        .inc();
}

/// The keys that differ between the running and the new file but only apply at start.
/// Secrets are compared, never shown: only their key is named.
pub fn restart_keys(
    running: &Settings,
    new: &Settings,
    old_worker: &WorkerConfig,
    new_worker: &WorkerConfig,
) -> Vec<String> {
    let mut keys = Vec::new();
    let mut differs = |key: &str, changed: bool| {
        if changed {
            keys.push(key.to_string());
        }
    };
    differs("prefix", running.prefix != new.prefix);
    differs(
        "amqp.url",
        running.amqp.url.expose_secret() != new.amqp.url.expose_secret(),
    );
    differs(
        "amqp.reconnect_max_backoff_ms",
        running.amqp.reconnect_max_backoff_ms != new.amqp.reconnect_max_backoff_ms,
    );
    let (a, b) = (&running.redis, &new.redis);
    differs("redis.url", a.url.expose_secret() != b.url.expose_secret());
    differs("redis.ca_file", a.ca_file != b.ca_file);
    differs(
        "redis.client_cert_file",
        a.client_cert_file != b.client_cert_file,
    );
    differs(
        "redis.client_key_file",
        a.client_key_file != b.client_key_file,
    );
    differs("redis.sentinels", a.sentinels != b.sentinels);
    differs("redis.master_name", a.master_name != b.master_name);
    differs(
        "redis.sentinel_password",
        a.sentinel_password
            .as_ref()
            .map(|p| p.expose_secret().to_string())
            != b.sentinel_password
                .as_ref()
                .map(|p| p.expose_secret().to_string()),
    );
    differs("redis.sentinel_tls", a.sentinel_tls != b.sentinel_tls);
    differs("log.level", running.log.level != new.log.level);
    differs("log.format", running.log.format != new.log.format);
    let (a, b) = (&running.syncro, &new.syncro);
    differs("syncro.url", a.url != b.url);
    differs(
        "syncro.token",
        a.token.as_ref().map(|t| t.expose_secret().to_string())
            != b.token.as_ref().map(|t| t.expose_secret().to_string()),
    );
    differs(
        "syncro.requests_per_minute",
        a.requests_per_minute != b.requests_per_minute,
    );
    differs("syncro.budget", a.budget != b.budget);
    differs(
        "syncro.connect_timeout_ms",
        a.connect_timeout_ms != b.connect_timeout_ms,
    );
    differs(
        "syncro.request_timeout_ms",
        a.request_timeout_ms != b.request_timeout_ms,
    );
    let as_map = |w: &WorkerConfig| match serde_json::to_value(w) {
        Ok(serde_json::Value::Object(map)) => map,
        _ => serde_json::Map::new(),
    };
    let (old_map, new_map) = (as_map(old_worker), as_map(new_worker));
    for (key, value) in &old_map {
        differs(&format!("processor.{key}"), new_map.get(key) != Some(value));
    }
    keys
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(text: &str) -> Settings {
        Settings::from_toml(text, &|_| None).expect("settings")
    }

    #[test]
    fn restart_keys_names_worker_knobs_and_connections_but_no_secret_value() {
        let a = settings("[syncro]\ntoken = \"secret-one\"\n[redis]\nurl = \"redis://a\"\n");
        let b = settings("[syncro]\ntoken = \"secret-two\"\n[redis]\nurl = \"redis://a\"\n");
        let worker = WorkerConfig::default();
        let faster = WorkerConfig {
            prefetch: 10,
            ..WorkerConfig::default()
        };
        let keys = restart_keys(&a, &b, &worker, &faster);
        assert_eq!(keys, ["syncro.token", "processor.prefetch"]);
        assert!(restart_keys(&a, &a, &worker, &worker).is_empty());
    }

    #[test]
    fn a_snapshot_taken_before_a_reload_keeps_its_configuration() {
        let handle = ConfigHandle::new(crate::config::tests::good());
        let before = handle.current();
        let mut next = crate::config::tests::good();
        next.mapping.organizations.insert("org-new".into(), 7);
        handle.replace(next);
        assert!(!before.mapping.organizations.contains_key("org-new"));
        assert!(handle
            .current()
            .mapping
            .organizations
            .contains_key("org-new"));
    }

    #[test]
    fn a_console_snapshot_is_swapped_in_only_when_it_routes_differently() {
        use opstate::store::mappings::Target;
        let handle = ConfigHandle::new(crate::config::tests::good());
        let to = |customer_id, name: &str| Target::Customer {
            customer_id,
            customer_name: Some(name.into()),
        };
        let one = Arc::new(ConsoleMappings::from([("org-new".to_string(), to(7, "A"))]));
        assert!(handle.set_console(one));
        let renamed = Arc::new(ConsoleMappings::from([("org-new".to_string(), to(7, "B"))]));
        assert!(
            !handle.set_console(renamed),
            "a new name alone is no change"
        );
        let ignored = Arc::new(ConsoleMappings::from([(
            "org-new".to_string(),
            Target::Ignored,
        )]));
        assert!(handle.set_console(ignored));
        assert_eq!(
            handle.current().mapping.decide("org-new"),
            crate::config::Decision::Ignored {
                by: crate::config::DecidedBy::Console
            }
        );
        assert!(handle.set_console(Arc::default()));
        assert_eq!(
            handle.current().mapping.decide("org-new"),
            crate::config::Decision::Unmapped
        );
    }
}
