//! The Grafana dashboard (`deploy/grafana/alert-relay.json`) and the alert rules
//! (`deploy/prometheus-rules.yml` and its unit tests) name only metrics the services export:
//! a real ingest and a real worker are scraped after one alert went through to Syncro, and
//! every `relay_*` name in a query must be a series they serve, with at least one sample (a
//! name served without a sample is "no data" in Grafana, not 0).

use relay_tests::alerts::alert;
use relay_tests::processor::{Stack, TestProcessor};
use relay_tests::wait;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::PathBuf;
use std::time::Duration;

const LONG: Duration = Duration::from_secs(60);

fn deploy_file(name: &str) -> (PathBuf, String) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../deploy")
        .join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    (path, text)
}

fn dashboard() -> Value {
    let (path, text) = deploy_file("grafana/alert-relay.json");
    serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{} is not valid JSON: {e}", path.display()))
}

/// Every panel, those inside rows included.
fn panels(dashboard: &Value) -> Vec<&Value> {
    let mut all = Vec::new();
    for panel in dashboard["panels"]
        .as_array()
        .expect("the dashboard has panels")
    {
        all.push(panel);
        if let Some(inner) = panel["panels"].as_array() {
            all.extend(inner);
        }
    }
    all
}

/// The metric names (`relay_*`) a PromQL expression reads: identifiers outside quoted strings,
/// so label values and matchers are not taken for names.
fn metric_names(expr: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut chars = expr.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' | '\'' | '`' => {
                while let Some(d) = chars.next() {
                    if d == '\\' && c != '`' {
                        chars.next();
                    } else if d == c {
                        break;
                    }
                }
            }
            c if c.is_ascii_alphabetic() || c == '_' || c == ':' => {
                let mut word = c.to_string();
                while let Some(&d) = chars.peek() {
                    if d.is_ascii_alphanumeric() || d == '_' || d == ':' {
                        word.push(d);
                        chars.next();
                    } else {
                        break;
                    }
                }
                if word.starts_with("relay_") {
                    names.insert(word);
                }
            }
            // A number's digits, or `$__rate_interval`'s `$`: skip whatever follows as a word.
            c if c.is_ascii_digit() || c == '$' => {
                while chars
                    .peek()
                    .is_some_and(|d| d.is_ascii_alphanumeric() || *d == '_' || *d == '.')
                {
                    chars.next();
                }
            }
            _ => {}
        }
    }
    names
}

/// Each query of the dashboard (panel targets and variables), with where it is.
fn dashboard_queries(dashboard: &Value) -> Vec<(String, String)> {
    let mut queries = Vec::new();
    for panel in panels(dashboard) {
        for target in panel["targets"].as_array().into_iter().flatten() {
            let expr = target["expr"].as_str().unwrap_or_default();
            let title = panel["title"].as_str().unwrap_or("?");
            queries.push((format!("panel {title:?}"), expr.to_string()));
        }
    }
    for variable in dashboard["templating"]["list"]
        .as_array()
        .into_iter()
        .flatten()
    {
        if let Some(query) = variable["query"]["query"].as_str() {
            queries.push((
                format!("variable {:?}", variable["name"]),
                query.to_string(),
            ));
        }
    }
    queries
}

/// The `expr:` of every rule and the `series:` of every unit test's input, from the rules'
/// YAML: single-line values, and block scalars (`>-`, `|`) up to the next line indented no
/// deeper than their key.
fn yaml_values(text: &str, key: &str) -> Vec<String> {
    let lines: Vec<&str> = text.lines().collect();
    let indent = |line: &str| line.len() - line.trim_start().len();
    let mut values = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let trimmed = line.trim_start().trim_start_matches("- ");
        let Some(rest) = trimmed.strip_prefix(key).map(str::trim) else {
            continue;
        };
        if rest.starts_with('>') || rest.starts_with('|') {
            let block: Vec<&str> = lines[i + 1..]
                .iter()
                .take_while(|l| l.trim().is_empty() || indent(l) > indent(line))
                .map(|l| l.trim())
                .collect();
            values.push(block.join(" "));
        } else {
            values.push(rest.trim_matches(|c| c == '\'' || c == '"').to_string());
        }
    }
    values
}

fn rules_queries() -> Vec<(String, String)> {
    let mut queries = Vec::new();
    for (file, key) in [
        ("prometheus-rules.yml", "expr:"),
        ("prometheus-rules.test.yml", "series:"),
    ] {
        let (_, text) = deploy_file(file);
        let values = yaml_values(&text, key);
        assert!(!values.is_empty(), "no {key} found in deploy/{file}");
        queries.extend(values.into_iter().map(|v| (format!("deploy/{file}"), v)));
    }
    queries
}

/// What a `/metrics` page serves: the series names its `# TYPE` lines declare (a counter `c`
/// is scraped as `c_total`, a histogram `h` as `h_bucket`, `h_sum`, `h_count`), and the names
/// that have at least one sample.
#[derive(Default)]
struct Exported {
    declared: HashSet<String>,
    sampled: HashSet<String>,
}

impl Exported {
    fn read(&mut self, text: &str) {
        for line in text.lines() {
            if let Some(declaration) = line.strip_prefix("# TYPE ") {
                let mut words = declaration.split_whitespace();
                let (Some(name), Some(kind)) = (words.next(), words.next()) else {
                    continue;
                };
                let suffixes: &[&str] = match kind {
                    "counter" => &["_total"],
                    "histogram" | "gaugehistogram" => &["_bucket", "_sum", "_count"],
                    "summary" => &["", "_sum", "_count"],
                    "info" => &["_info"],
                    _ => &[""],
                };
                self.declared
                    .extend(suffixes.iter().map(|s| format!("{name}{s}")));
            } else if !line.starts_with('#') && !line.trim().is_empty() {
                let name = line.split(['{', ' ']).next().unwrap_or_default();
                self.sampled.insert(name.to_string());
            }
        }
    }

    /// The names of `queries` not served, and those served without a sample, each with the
    /// places that name them.
    fn check(&self, queries: &[(String, String)]) -> (Names, Names) {
        let (mut unknown, mut empty) = (Names::new(), Names::new());
        for (place, expr) in queries {
            for name in metric_names(expr) {
                if !self.declared.contains(&name) {
                    unknown.entry(name).or_default().insert(place.clone());
                } else if !self.sampled.contains(&name) {
                    empty.entry(name).or_default().insert(place.clone());
                }
            }
        }
        (unknown, empty)
    }
}

type Names = BTreeMap<String, BTreeSet<String>>;

#[test]
fn metric_names_are_read_from_queries_but_not_from_label_values() {
    let names = metric_names(
        r#"histogram_quantile(0.99, sum by (le) (rate(relay_ingest_publish_confirm_seconds_bucket{job=~"$job",x="relay_not_a_metric"}[$__rate_interval]))) / 60 * relay_processor_held or vector(1)"#,
    );
    assert_eq!(
        names.into_iter().collect::<Vec<_>>(),
        [
            "relay_ingest_publish_confirm_seconds_bucket",
            "relay_processor_held"
        ]
    );
    let yaml = "      - alert: A\n        expr: >-\n          sum(relay_a_total)\n            / sum(relay_b_total)\n        for: 5m\n      - alert: B\n        expr: min(relay_c) == 0\n";
    assert_eq!(
        yaml_values(yaml, "expr:"),
        [
            "sum(relay_a_total) / sum(relay_b_total)",
            "min(relay_c) == 0"
        ]
    );
}

#[test]
fn the_dashboard_is_valid_json_with_unique_panel_ids_and_a_datasource_on_every_panel() {
    let dashboard = dashboard();
    assert_eq!(dashboard["uid"], "alert-relay");
    assert!(dashboard["schemaVersion"].as_i64() >= Some(36));
    let variables = dashboard["templating"]["list"]
        .as_array()
        .expect("the dashboard has variables");
    assert!(
        variables.iter().any(|v| v["name"] == "datasource"
            && v["type"] == "datasource"
            && v["query"] == "prometheus"),
        "a `datasource` variable picks the Prometheus to read"
    );
    let mut ids = HashSet::new();
    let mut problems = Vec::new();
    for panel in panels(&dashboard) {
        let title = &panel["title"];
        match panel["id"].as_i64() {
            Some(id) if ids.insert(id) => {}
            Some(id) => problems.push(format!("panel {title}: id {id} is used twice")),
            None => problems.push(format!("panel {title}: no id")),
        }
        if panel["type"] == "row" {
            continue;
        }
        if panel["datasource"]["uid"] != "${datasource}" {
            problems.push(format!(
                "panel {title}: datasource {} is not ${{datasource}}",
                panel["datasource"]
            ));
        }
        if panel["description"].as_str().is_none_or(str::is_empty) {
            problems.push(format!("panel {title}: no description"));
        }
        let targets = panel["targets"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        if targets.is_empty() {
            problems.push(format!("panel {title}: no query"));
        }
        for target in targets {
            if target["expr"].as_str().is_none_or(str::is_empty) {
                problems.push(format!("panel {title}: a target without expr"));
            }
            if target["datasource"]["uid"] != "${datasource}" {
                problems.push(format!("panel {title}: a target on another datasource"));
            }
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
}

#[tokio::test]
async fn every_metric_the_dashboard_and_the_alert_rules_name_is_exported() {
    let dashboard_queries = dashboard_queries(&dashboard());
    let rules_queries = rules_queries();
    let stack = Stack::start(|_| {}, "").await;
    let worker = TestProcessor::spawn(&stack.config);
    stack.send_and_settle(&[alert("grafana-1")], LONG).await;
    // The worker counts its Syncro requests as they return: wait to see them on its page.
    let processor_text = wait::until("the worker's Syncro requests counted", LONG, || async {
        let text = worker.metrics_text().await?;
        text.contains("relay_processor_syncro_requests_total{")
            .then_some(text)
    })
    .await;
    let mut exported = Exported::default();
    exported.read(&processor_text);
    exported.read(&stack.ingest.metrics().await);

    let (unknown, empty) = exported.check(&dashboard_queries);
    let (unknown_in_rules, empty_in_rules) = exported.check(&rules_queries);
    worker.stop().await.expect("the worker stops");
    stack.finish().await;

    assert!(
        unknown.is_empty(),
        "the dashboard names metrics no service exports: {unknown:#?}"
    );
    assert!(
        unknown_in_rules.is_empty(),
        "the alert rules name metrics no service exports: {unknown_in_rules:#?}"
    );
    assert!(
        empty.is_empty(),
        "the dashboard names metrics exported without a series yet (\"no data\" instead of 0): \
         {empty:#?}"
    );
    assert!(
        empty_in_rules.is_empty(),
        "the alert rules name metrics exported without a series yet: {empty_in_rules:#?}"
    );
}
