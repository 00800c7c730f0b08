//! `relayctl mappings` end to end: the real binary, organizations recorded in the real Redis,
//! and the simulator's seed customers.

use processor::config::ProcessorConfig;
use processor::store::Store;
use relay_tests::processor::{config, delete_redis_keys, redis_url, start_sim, CONTOSO, FABRIKAM};
use relay_tests::{workspace_binary, Context};
use serde_json::Value;
use shared::alert::Organization;
use shared::config::Settings;
use std::path::{Path, PathBuf};

/// Northwind Traders and Tailspin Toys in the simulator's seed.
const NORTHWIND: i64 = 4_101_773;
const TAILSPIN: i64 = 4_101_774;

fn org(id: &str, name: &str, domain: Option<&str>) -> Organization {
    Organization {
        id: id.into(),
        name: Some(name.into()),
        domain: domain.map(str::to_string),
    }
}

/// Records the organizations the way workers do, `count` alerts each.
async fn seen(store: &Store, orgs: &[(Organization, usize)]) {
    for (org, count) in orgs {
        for _ in 0..*count {
            store
                .note_unmapped(org, chrono::Utc::now())
                .await
                .expect("recorded");
        }
    }
}

async fn relayctl(config: &Path, args: &[&str]) -> (bool, String, String) {
    let output = tokio::process::Command::new(workspace_binary("relayctl"))
        .arg("--config")
        .arg(config)
        .args(args)
        .output()
        .await
        .expect("relayctl runs");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

struct Setup {
    ctx: Context,
    sim: syncro_sim::SimHandle,
    text: String,
    path: PathBuf,
    store: Store,
}

async fn setup() -> Setup {
    let ctx = Context::new();
    let sim = start_sim(|_| {});
    let text = config(&ctx, &ctx.amqp_url, &redis_url(), &sim.api_url(), "");
    let path = std::env::temp_dir().join(format!("{}.toml", ctx.prefix));
    std::fs::write(&path, &text).expect("config written");
    let store = Store::new(&secrecy::SecretString::from(redis_url()), &ctx.prefix).expect("store");
    seen(
        &store,
        &[
            (org("org-c", "CONTOSO, LTD.", Some("contoso-eu.example")), 3),
            (org("org-nw", "NW Ops", Some("northwindtraders.com")), 2),
            (org("org-tt", "Tailspin Toyz", None), 1),
            (org("org-z", "Zzyzx Quux", Some("zzyzx.example")), 1),
            // Mapped in the configuration by now: not listed.
            (org("org-42", "Contoso Ltd", None), 1),
        ],
    )
    .await;
    store.count_parked("org-nw", 2).await.expect("parked");
    Setup {
        ctx,
        sim,
        text,
        path,
        store,
    }
}

async fn teardown(setup: Setup) {
    let _ = std::fs::remove_file(&setup.path);
    delete_redis_keys(&setup.ctx.prefix).await;
    setup.sim.stop().await;
}

#[tokio::test]
async fn unmapped_lists_each_organization_still_without_a_mapping_most_alerts_first() {
    let setup = setup().await;
    let (ok, out, err) = relayctl(&setup.path, &["mappings", "unmapped", "--json"]).await;
    assert!(ok, "{err}");
    let orgs: Vec<Value> = serde_json::from_str(&out).expect("JSON");
    let ids: Vec<&str> = orgs.iter().filter_map(|o| o["id"].as_str()).collect();
    assert_eq!(ids, ["org-c", "org-nw", "org-tt", "org-z"]);
    assert_eq!(orgs[0]["name"], "CONTOSO, LTD.");
    assert_eq!(orgs[0]["count"], 3);
    assert_eq!(orgs[1]["parked"], 2);
    assert!(orgs[0]["first_seen"].is_string() && orgs[0]["last_seen"].is_string());

    let (ok, table, _) = relayctl(&setup.path, &["mappings", "unmapped"]).await;
    assert!(ok);
    let lines: Vec<&str> = table.lines().collect();
    assert!(lines[0].starts_with("ORGANIZATION  NAME"), "{table}");
    assert!(
        lines[2].starts_with("org-nw") && lines[2].contains("northwindtraders.com"),
        "{table}"
    );
    assert_eq!(lines.len(), 5, "{table}");
    assert_eq!(
        setup.store.unmapped().await.expect("all").len(),
        5,
        "nothing removed"
    );
    teardown(setup).await;
}

#[tokio::test]
async fn suggest_finds_customers_by_name_domain_and_similarity_and_says_when_none_fits() {
    let setup = setup().await;
    let (ok, out, err) = relayctl(&setup.path, &["mappings", "suggest", "--json"]).await;
    assert!(ok, "{err}");
    let rows: Vec<Value> = serde_json::from_str(&out).expect("JSON");
    let by_org = |id: &str| {
        rows.iter()
            .find(|r| r["organization"]["id"] == id)
            .map(|r| r["suggestion"].clone())
            .expect("listed")
    };
    assert_eq!(by_org("org-c")["customer_id"], CONTOSO);
    assert_eq!(by_org("org-c")["reason"], "name");
    assert_eq!(by_org("org-c")["score"], 1.0);
    assert_eq!(by_org("org-nw")["customer_id"], NORTHWIND);
    assert_eq!(by_org("org-nw")["reason"], "domain");
    assert_eq!(by_org("org-tt")["customer_id"], TAILSPIN);
    assert_eq!(by_org("org-tt")["reason"], "fuzzy");
    assert!(by_org("org-tt")["score"]
        .as_f64()
        .is_some_and(|s| s > 0.85 && s < 1.0));
    assert!(by_org("org-z").is_null(), "nothing alike: no suggestion");

    // A stricter threshold drops the fuzzy one only.
    let (_, strict, _) = relayctl(
        &setup.path,
        &["mappings", "suggest", "--json", "--min-score", "0.99"],
    )
    .await;
    let strict: Vec<Value> = serde_json::from_str(&strict).expect("JSON");
    let suggested = strict.iter().filter(|r| !r["suggestion"].is_null()).count();
    assert_eq!(suggested, 2);
    let (ok, _, err) = relayctl(&setup.path, &["mappings", "suggest", "--min-score", "7"]).await;
    assert!(!ok && err.contains("a score between 0 and 1"), "{err}");
    teardown(setup).await;
}

#[tokio::test]
async fn the_suggested_snippet_pasted_under_the_mapping_is_a_valid_configuration() {
    let setup = setup().await;
    let (ok, snippet, err) = relayctl(&setup.path, &["mappings", "suggest"]).await;
    assert!(ok, "{err}");
    assert!(
        snippet.contains("# 3 of 4 unmapped organization(s) have a suggestion"),
        "{snippet}"
    );
    assert!(snippet.contains("\"org-z\" Zzyzx Quux"), "{snippet}");
    assert!(snippet.contains("(domain)"), "{snippet}");
    let pasted = setup.text.replace(
        "[mapping.organizations]\n",
        &format!("[mapping.organizations]\n{snippet}"),
    );
    let settings = Settings::from_toml(&pasted, &|_| None).expect("the snippet is TOML");
    let config = ProcessorConfig::from_settings(&settings).expect("and a valid mapping");
    let map = &config.mapping.organizations;
    assert_eq!(map["org-c"], CONTOSO);
    assert_eq!(map["org-nw"], NORTHWIND);
    assert_eq!(map["org-tt"], TAILSPIN);
    assert_eq!(map["org-fabrikam"], FABRIKAM, "the existing mapping stays");
    assert!(!map.contains_key("org-z"));
    teardown(setup).await;
}
