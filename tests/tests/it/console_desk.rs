//! The console's desk pages over HTTP, against a real operator API and the whole stack: the
//! overview's day of activity (chart, table, busiest lists) and Syncro reachable, a
//! silence's preview above the form it keeps, the configuration with explain, and billing;
//! an alert's markup shown as text, and a read-only person offered no form that changes
//! anything.

use crate::billing::{billing_section, Harness, THREE_ORGS};
use relay_tests::alerts::alert;
use relay_tests::console::{Page, TestConsole, Visitor, DANA, RITA};
use relay_tests::operator::{TestOperator, READ_TOKEN};
use relay_tests::processor::{Stack, TestProcessor};
use serde_json::json;
use std::time::Duration;

const LONG: Duration = Duration::from_secs(60);

/// The console beside `operator`, answering.
async fn console_for(operator: &TestOperator) -> TestConsole {
    let console = TestConsole::spawn(&operator.base_url, &[]);
    console.ready(Duration::from_secs(20)).await;
    console
}

/// The actions of the page's POST forms, the header's sign-out left out.
fn changing_forms(page: &Page) -> Vec<String> {
    page.body
        .match_indices(r#"method="post" action=""#)
        .map(|(at, m)| {
            let rest = &page.body[at + m.len()..];
            rest[..rest.find('"').unwrap_or(0)].to_string()
        })
        .filter(|action| action != "/sign-out")
        .collect()
}

/// GETs `path` until its page holds `text`.
async fn page_with(visitor: &mut Visitor, path: &str, text: &str) -> Page {
    let deadline = std::time::Instant::now() + LONG;
    loop {
        let page = visitor.get(path).await;
        if page.status == 200 && page.body.contains(text) {
            return page;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{path} never showed {text:?}: {}",
            page.body
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

#[tokio::test]
async fn the_overview_charts_the_day_and_a_silence_preview_lists_the_alerts_it_would_match() {
    let stack = Stack::start(|_| {}, "").await;
    let worker = TestProcessor::spawn(&stack.config);
    let operator = TestOperator::for_stack(&stack).await;
    operator.ready().await;
    let console = console_for(&operator).await;
    let tag = &stack.ctx.prefix;
    let busy = format!("org-<b>busy</b>-{tag}");
    let mut alerts = Vec::new();
    for n in 0..2 {
        let mut a = alert(&format!("desk-{tag}-{n}"));
        a["organization"] = json!({"id": busy, "name": "Busy"});
        alerts.push(a);
    }
    let mut other = alert(&format!("other-{tag}"));
    other["organization"] = json!({"id": format!("org-other-{tag}")});
    alerts.push(other);
    stack.send_and_settle(&alerts, LONG).await;

    let mut dana = console.signed_in(DANA).await;
    let escaped = format!("org-&lt;b&gt;busy&lt;/b&gt;-{tag}");
    // The trail is written in batches: wait until the chart's summary counts all three.
    let overview = page_with(&mut dana, "/", "over the last 24 hours: 3 alerts").await;
    let body = &overview.body;
    assert!(
        body.contains(&escaped),
        "the busy organization in the busiest list"
    );
    assert!(
        !body.contains("<b>busy"),
        "the organization's markup is text"
    );
    assert!(
        body.contains("<svg") && body.contains(r#"role="img""#),
        "a chart"
    );
    assert!(body.contains("The figures as a table"), "and a table");
    assert!(body.contains("Busiest organizations") && body.contains("Busiest event types"));
    assert!(body.contains("m365.impossible_travel"));
    // The simulator takes the workers' token (checked once, then cached for a minute).
    let syncro = page_with(&mut dana, "/", r#"<span class="up">yes</span>"#).await;
    assert!(syncro.body.contains("Syncro reachable with the token"));
    assert!(!syncro.body.contains("style="), "no inline style");

    // The preview: the busy organization's two alerts, above the form that keeps them.
    let csrf = dana.csrf().await;
    let fields = [
        ("csrf", csrf.as_str()),
        ("m0_field", "organization"),
        ("m0_op", "="),
        ("m0_value", busy.as_str()),
        ("kind", "once"),
        ("duration", "2h"),
        ("reason", "patching"),
        ("author", "dana"),
        ("action", "preview"),
    ];
    let previewed = dana.post("/silences", &fields).await;
    assert_eq!(previewed.status, 200, "{}", previewed.body);
    let body = &previewed.body;
    assert!(body.contains("Preview: 2 of the last 24 hours"), "{body}");
    assert!(body.contains(&format!("desk-{tag}-0")) && body.contains(&format!("desk-{tag}-1")));
    assert!(
        !body.contains(&format!("other-{tag}")),
        "not the other organization's"
    );
    assert!(
        body.contains(&format!(r#"value="{escaped}""#)),
        "the form keeps the value"
    );
    let stored = operator
        .get("/v1/silences?all=true", Some(READ_TOKEN))
        .await;
    assert_eq!(stored.body["silences"], json!([]), "nothing created");
    // A preview with a problem shows it beside its field, nothing created either.
    let mut bad = fields;
    bad[5] = ("duration", "soon");
    let refused = dana.post("/silences", &bad).await;
    assert_eq!(refused.status, 422);
    assert!(refused.body.contains("duration-error"), "{}", refused.body);

    // A read-only person: the overview and silences without a form that changes anything.
    let mut rita = console.signed_in(RITA).await;
    for path in ["/", "/silences", "/billing"] {
        let page = rita.get(path).await;
        assert_eq!(page.status, 200, "{path}");
        assert_eq!(changing_forms(&page), Vec::<String>::new(), "{path}");
    }

    console.stop().await.expect("stops");
    operator.stop().await.expect("stops");
    worker.stop().await.expect("worker stops");
    stack.finish().await;
}

#[tokio::test]
async fn the_configuration_page_shows_the_overrides_and_explains_a_pasted_alert() {
    let operator = TestOperator::spawn(&relay_tests::Context::new()).await;
    let console = console_for(&operator).await;
    let mut rita = console.signed_in(RITA).await;
    let page = rita.get("/configuration").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page
        .body
        .contains("Overrides, in the order they are consulted"));
    let ioc = page.body.find("ioc-3").expect("the IOC rule's override");
    let rr = page.body.find("rr-7").expect("the Respond rule's override");
    assert!(ioc < rr, "in the order they are consulted");
    assert!(page.body.contains("The configuration file is the record"));
    assert_eq!(
        changing_forms(&page),
        ["/configuration/explain"],
        "explaining changes nothing, so a reader may"
    );

    let mut hostile = alert("explain-<script>");
    hostile["title"] = json!("Payroll <script>alert(1)</script>");
    let csrf = page.csrf().expect("a CSRF token");
    let text = hostile.to_string();
    let explained = rita
        .post(
            "/configuration/explain",
            &[("csrf", csrf.as_str()), ("alert", text.as_str())],
        )
        .await;
    assert_eq!(explained.status, 200, "{}", explained.body);
    let body = &explained.body;
    assert!(body.contains("What this alert would make"), "{body}");
    assert!(body.contains("user_id") && body.contains("1301"));
    assert!(body.contains("overrides.respond_rule[match=&quot;rr-7&quot;]"));
    assert!(!body.contains("<script>"), "the alert's markup is text");
    assert!(body.contains("Payroll &lt;script&gt;"));

    let broken = rita
        .post(
            "/configuration/explain",
            &[
                ("csrf", csrf.as_str()),
                ("alert", r#"{"id": "x", "severity": "loud"}"#),
            ],
        )
        .await;
    assert_eq!(broken.status, 422);
    assert!(broken.body.contains("severity"), "{}", broken.body);
    assert!(
        broken.body.contains(r#"{&quot;id&quot;: &quot;x&quot;"#),
        "the text is kept"
    );
    let refused = rita
        .post("/configuration/explain", &[("alert", text.as_str())])
        .await;
    assert_eq!(refused.status, 403, "no CSRF token, no answer");

    console.stop().await.expect("stops");
    operator.stop().await.expect("stops");
}

#[tokio::test]
async fn the_billing_page_says_the_sync_is_off_and_shows_what_it_would_write() {
    let h = Harness::start(&billing_section(false, THREE_ORGS)).await;
    h.seed_counts(&[("org-a", 42)]).await;
    let operator = TestOperator::for_stack(&h.stack).await;
    let console = console_for(&operator).await;
    let mut dana = console.signed_in(DANA).await;
    let page = dana.get("/billing").await;
    assert_eq!(page.status, 200, "{}", page.body);
    let body = &page.body;
    assert!(body.contains("is off in the configuration"), "{body}");
    assert!(body.contains("What the next run would write"));
    assert!(body.contains("org-a") && body.contains("42") && body.contains("updated"));
    assert!(body.contains("no count"), "org-b has no count yet");
    assert!(body.contains("No run yet this month."));
    assert_eq!(changing_forms(&page), Vec::<String>::new(), "read-only");
    console.stop().await.expect("stops");
    operator.stop().await.expect("stops");
    h.stack.finish().await;
}
