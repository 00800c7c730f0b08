//! The web console against a real operator API and PostgreSQL (and, for the trail, the whole
//! stack): no page without a sign-in, no change without the form's CSRF token, the security
//! headers on every answer, roles, every change audited under the person's name, the silence
//! form's problems shown by field, and an alert's script shown as text.

use relay_tests::alerts::alert;
use relay_tests::console::{TestConsole, DANA, PASSWORD, RITA};
use relay_tests::operator::{
    TestOperator, CONSOLE_TOKEN, OPERATE_NAME, OPERATE_TOKEN, READ_NAME, READ_TOKEN,
};
use relay_tests::processor::{Stack, TestProcessor};
use relay_tests::Context;
use reqwest::Method;
use serde_json::json;
use std::time::Duration;

const LONG: Duration = Duration::from_secs(60);
const SOME_SILENCE: &str = "00000000-0000-4000-8000-000000000000";

async fn started() -> (TestOperator, TestConsole) {
    let operator = TestOperator::spawn(&Context::new()).await;
    operator.ready().await;
    let console = TestConsole::spawn(&operator.base_url, &[]);
    console.ready(Duration::from_secs(20)).await;
    (operator, console)
}

async fn stop(operator: TestOperator, console: TestConsole) {
    console.stop().await.expect("the console stops cleanly");
    operator.stop().await.expect("the operator stops cleanly");
}

/// The security headers every answer carries.
fn assert_guarded(page: &relay_tests::console::Page, what: &str) {
    let csp = page.header("content-security-policy");
    assert!(
        csp.contains("default-src 'self'") && csp.contains("script-src 'none'"),
        "{what}: CSP {csp:?}"
    );
    assert!(csp.contains("frame-ancestors 'none'"), "{what}: {csp:?}");
    assert_eq!(page.header("x-frame-options"), "DENY", "{what}");
    assert_eq!(page.header("x-content-type-options"), "nosniff", "{what}");
    assert_eq!(page.header("referrer-policy"), "same-origin", "{what}");
}

#[tokio::test]
async fn no_page_and_no_change_without_a_sign_in() {
    let (operator, console) = started().await;
    let mut stranger = console.visitor();
    let pages = [
        "/",
        "/silences",
        "/silences?all=true",
        "/trail",
        "/trail?organization=org-42",
        "/audit",
        "/no-such-page",
    ];
    for path in pages {
        let page = stranger.get(path).await;
        assert_eq!(page.status, 303, "GET {path}");
        assert!(page.location().starts_with("/sign-in"), "GET {path}");
        assert!(!page.body.contains("Overview"), "GET {path}");
        assert_guarded(&page, path);
    }
    let extend = format!("/silences/{SOME_SILENCE}/extend");
    let expire = format!("/silences/{SOME_SILENCE}/expire");
    for path in ["/pause", "/resume", "/silences", &extend, &expire] {
        let page = stranger.post(path, &[("reason", "x")]).await;
        assert_eq!(page.status, 401, "POST {path}");
        assert_guarded(&page, path);
    }
    // A made-up session cookie is no session.
    stranger.cookie = Some("relay_console=bm90LWEtc2Vzc2lvbg".into());
    assert_eq!(stranger.get("/").await.status, 303);
    assert_eq!(
        stranger.post("/pause", &[("reason", "x")]).await.status,
        401
    );
    // The sign-in page itself and the stylesheet are guarded too.
    let sign_in = console.visitor().get("/sign-in").await;
    assert_eq!(sign_in.status, 200);
    assert_guarded(&sign_in, "/sign-in");
    let css = console.visitor().get("/assets/console.css").await;
    assert_eq!(css.status, 200);
    assert!(css.header("content-type").starts_with("text/css"));
    // Nothing was changed.
    let paused = operator.get("/v1/pause", Some(READ_TOKEN)).await;
    assert_eq!(paused.body["paused"], false);
    stop(operator, console).await;
}

#[tokio::test]
async fn a_change_without_its_csrf_token_is_refused_and_changes_nothing() {
    let (operator, console) = started().await;
    let mut dana = console.signed_in(DANA).await;
    let csrf = dana.csrf().await;
    let refused = [
        dana.post("/pause", &[("reason", "no token")]).await,
        dana.post("/pause", &[("reason", "wrong"), ("csrf", "forged")])
            .await,
        dana.post_with(
            "/pause",
            &[("reason", "other site"), ("csrf", &csrf)],
            &[("origin", "https://evil.example")],
        )
        .await,
    ];
    for page in &refused {
        assert_eq!(page.status, 403, "{}", page.body);
        assert_guarded(page, "a refused POST");
    }
    let silence = [
        ("m0_field", "organization"),
        ("m0_op", "="),
        ("m0_value", "org-42"),
        ("kind", "once"),
        ("duration", "1h"),
        ("reason", "no token"),
        ("author", "dana"),
    ];
    assert_eq!(dana.post("/silences", &silence).await.status, 403);
    let state = operator.get("/v1/pause", Some(READ_TOKEN)).await;
    assert_eq!(state.body["paused"], false, "nothing paused");
    let silences = operator
        .get("/v1/silences?all=true", Some(READ_TOKEN))
        .await;
    assert_eq!(silences.body["silences"], json!([]), "nothing created");
    let audit = operator.get("/v1/audit", Some(READ_TOKEN)).await;
    assert_eq!(audit.body["entries"], json!([]), "nothing audited");

    // With the token, from the console's own page: paused, audited under Dana's name.
    let page = dana
        .post(
            "/pause",
            &[("reason", "Syncro maintenance"), ("csrf", &csrf)],
        )
        .await;
    assert_eq!(page.status, 303, "{}", page.body);
    let state = operator.get("/v1/pause", Some(READ_TOKEN)).await;
    assert_eq!(state.body["paused"], true);
    assert_eq!(state.body["by"], "dana via console");
    let audit = operator.get("/v1/audit", Some(READ_TOKEN)).await;
    assert_eq!(audit.body["entries"][0]["actor"], "dana via console");
    assert_eq!(audit.body["entries"][0]["action"], "pause");
    let overview = dana.get("/?done=paused").await;
    assert!(
        overview.body.contains("Resume the workers"),
        "{}",
        overview.body
    );
    // The audit page shows it, too.
    let log = dana.get("/audit").await;
    assert!(log.body.contains("dana via console"), "{}", log.body);

    // A read account may look but not change.
    let mut rita = console.signed_in(RITA).await;
    let csrf = rita.csrf().await;
    assert!(!rita.get("/").await.body.contains("Resume the workers"));
    let page = rita.post("/resume", &[("csrf", &csrf)]).await;
    assert_eq!(page.status, 403);
    assert_eq!(
        operator.get("/v1/pause", Some(READ_TOKEN)).await.body["paused"],
        true
    );
    stop(operator, console).await;
}

#[tokio::test]
async fn sign_in_by_password_or_token_sets_a_strict_cookie_and_sign_out_ends_it() {
    let (operator, console) = started().await;
    let mut visitor = console.visitor();
    let wrong = visitor.sign_in(DANA, "not the password").await;
    assert_eq!(wrong.status, 401);
    assert!(wrong.body.contains("do not match an account"));
    assert!(!wrong.body.contains("not the password"));
    assert_eq!(visitor.get("/").await.status, 303, "still signed out");
    let unknown = visitor.sign_in("nobody", PASSWORD).await;
    assert_eq!(unknown.status, 401);

    let before = visitor.cookie.clone();
    let page = visitor.sign_in(DANA, PASSWORD).await;
    assert_eq!(page.status, 303);
    let set = page.header("set-cookie").to_string();
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(set.contains(attribute), "{set}");
    }
    assert!(!set.contains("Secure"), "plain http: {set}");
    // Through a proxy that ended TLS and says so, the cookie is Secure (`auto`), and a form
    // of the site the browser names in Origin is this console's.
    let mut proxied = console.visitor();
    let csrf = proxied.csrf().await;
    let host = console.base_url.trim_start_matches("http://").to_string();
    let origin = format!("https://{host}");
    let page = proxied
        .post_with(
            "/sign-in",
            &[
                ("csrf", &csrf),
                ("method", "password"),
                ("name", DANA),
                ("password", PASSWORD),
            ],
            &[("x-forwarded-proto", "https"), ("origin", &origin)],
        )
        .await;
    assert_eq!(page.status, 303, "{}", page.body);
    assert!(page.header("set-cookie").contains("Secure"));
    assert_ne!(visitor.cookie, before, "a new session id at sign-in");
    let overview = visitor.get("/").await;
    assert_eq!(overview.status, 200);
    assert!(
        overview.body.contains("dana · operate"),
        "{}",
        overview.body
    );
    assert!(!overview.body.contains(CONSOLE_TOKEN));

    let csrf = visitor.csrf().await;
    let out = visitor.post("/sign-out", &[("csrf", &csrf)]).await;
    assert_eq!(out.status, 303);
    visitor.cookie = before.clone().or(visitor.cookie);
    assert_eq!(visitor.get("/").await.status, 303, "the session is over");

    // Operator tokens: the read one signs in as read, the operate one as operate; the
    // console's own token and a wrong one do not.
    for (token, shown) in [
        (READ_TOKEN, format!("{READ_NAME} · read")),
        (OPERATE_TOKEN, format!("{OPERATE_NAME} · operate")),
    ] {
        let mut visitor = console.visitor();
        assert_eq!(visitor.sign_in_with_token(token).await.status, 303);
        let page = visitor.get("/").await;
        assert!(page.body.contains(&shown), "{}", page.body);
        assert!(!page.body.contains(token));
    }
    for token in [CONSOLE_TOKEN, "not-a-token-at-all-0000"] {
        let mut visitor = console.visitor();
        let page = visitor.sign_in_with_token(token).await;
        assert_eq!(page.status, 401);
        assert!(!page.body.contains(token));
    }
    console.stop().await.expect("stops");

    // Served as https (here: configured so), the cookie is Secure.
    let secure = TestConsole::spawn(
        &operator.base_url,
        &[("RELAY_CONSOLE_SECURE_COOKIES", "always")],
    );
    secure.ready(LONG).await;
    let page = secure.visitor().sign_in(DANA, PASSWORD).await;
    assert!(page.header("set-cookie").contains("Secure"));
    stop(operator, secure).await;
}

#[tokio::test]
async fn the_operator_api_lets_only_a_console_token_name_a_person() {
    let operator = TestOperator::spawn(&Context::new()).await;
    operator.ready().await;
    let who = |token: &'static str, person: Option<&'static str>| {
        let request = operator
            .client
            .get(operator.url("/v1/whoami"))
            .bearer_auth(token);
        let request = match person {
            Some(p) => request.header("x-relay-on-behalf-of", p),
            None => request,
        };
        async move {
            let response = request.send().await.expect("answer");
            let status = response.status().as_u16();
            (
                status,
                response
                    .json::<serde_json::Value>()
                    .await
                    .unwrap_or_default(),
            )
        }
    };
    assert_eq!(
        who(CONSOLE_TOKEN, Some("dana")).await,
        (200, json!({"name": "dana via console", "role": "console"}))
    );
    assert_eq!(
        who(READ_TOKEN, None).await,
        (200, json!({"name": READ_NAME, "role": "read"}))
    );
    let (status, body) = who(OPERATE_TOKEN, Some("dana")).await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (403, json!("forbidden"))
    );
    let (status, _) = who(CONSOLE_TOKEN, Some("<b>dana</b>")).await;
    assert_eq!(status, 403);
    // And as the document says.
    let answer = operator
        .request(
            Method::GET,
            "/v1/whoami",
            Some(OPERATE_TOKEN),
            relay_tests::operator::Body::None,
        )
        .await;
    assert_eq!(answer.status, 200);
    operator.stop().await.expect("stops");
}

#[tokio::test]
async fn the_silence_form_shows_the_apis_problems_by_field_and_keeps_what_was_entered() {
    let (operator, console) = started().await;
    let mut dana = console.signed_in(DANA).await;
    let csrf = dana.csrf().await;
    let bad = dana
        .post(
            "/silences",
            &[
                ("csrf", &csrf),
                ("m0_field", "organization"),
                ("m0_op", "=~"),
                ("m0_value", "org-(42"),
                ("kind", "once"),
                ("duration", "soon"),
                ("reason", ""),
                ("author", "dana"),
            ],
        )
        .await;
    assert_eq!(bad.status, 422, "{}", bad.body);
    for field in ["m0_value", "duration", "reason"] {
        let marked = format!(r#"id="{field}" name="{field}""#);
        let at = bad
            .body
            .find(&marked)
            .unwrap_or_else(|| panic!("{field}: {}", bad.body));
        let input = &bad.body[at..at + bad.body[at..].find('>').unwrap_or(0)];
        assert!(input.contains(r#"aria-invalid="true""#), "{field}: {input}");
        assert!(
            bad.body.contains(&format!(r#"id="{field}-error""#)),
            "{field}"
        );
    }
    assert!(
        bad.body.contains(r#"value="org-(42""#),
        "what was entered is kept"
    );
    assert_eq!(
        operator.get("/v1/silences", Some(READ_TOKEN)).await.body["silences"],
        json!([])
    );

    let good = dana
        .post(
            "/silences",
            &[
                ("csrf", &csrf),
                ("m0_field", "organization"),
                ("m0_op", "="),
                ("m0_value", "org-42"),
                ("kind", "once"),
                ("duration", "2h"),
                ("reason", "patch night"),
                ("author", "dana"),
            ],
        )
        .await;
    assert_eq!(good.status, 303, "{}", good.body);
    let listed = operator.get("/v1/silences", Some(READ_TOKEN)).await;
    let id = listed.body["silences"][0]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let page = dana.get("/silences?done=created").await;
    assert!(page.body.contains("patch night") && page.body.contains("organization = org-42"));
    let extend = dana
        .post(
            &format!("/silences/{id}/extend"),
            &[("csrf", &csrf), ("by", "1h")],
        )
        .await;
    assert_eq!(extend.status, 303, "{}", extend.body);
    let expire = dana
        .post(&format!("/silences/{id}/expire"), &[("csrf", &csrf)])
        .await;
    assert_eq!(expire.status, 303);
    let again = dana
        .post(&format!("/silences/{id}/expire"), &[("csrf", &csrf)])
        .await;
    assert_eq!(again.status, 422, "already ended: shown, not hidden");
    assert!(again.body.contains("already_ended"), "{}", again.body);
    let audit = operator.get("/v1/audit", Some(READ_TOKEN)).await;
    let actions: Vec<_> = audit.body["entries"]
        .as_array()
        .map(|e| {
            e.iter()
                .map(|e| (e["actor"].clone(), e["action"].clone()))
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(
        actions,
        ["silence.expire", "silence.extend", "silence.add"]
            .map(|a| (json!("dana via console"), json!(a)))
    );
    stop(operator, console).await;
}

#[tokio::test]
async fn an_alert_whose_fields_hold_html_and_script_is_shown_as_text_in_its_trail() {
    let stack = Stack::start(|_| {}, "").await;
    let worker = TestProcessor::spawn(&stack.config);
    let operator = TestOperator::for_stack(&stack).await;
    operator.ready().await;
    let console = TestConsole::spawn(&operator.base_url, &[]);
    let script = "<script>alert(1)</script>";
    let image = r#"<img src=x onerror="alert(2)">"#;
    let mut hostile = alert(&format!("xss-{script}"));
    hostile["title"] = json!(format!("Payroll {script} {image}"));
    hostile["organization"] = json!({"id": format!("org-{image}"), "name": script});
    stack.send(&[hostile]).await;

    let mut dana = console.signed_in(DANA).await;
    let query: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("alert", &format!("xss-{script}"))
        .finish();
    let mut found = String::new();
    let deadline = std::time::Instant::now() + LONG;
    while std::time::Instant::now() < deadline {
        let page = dana.get(&format!("/trail?{query}")).await;
        if page.body.contains("Planned") {
            found = page.body;
            break;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert!(
        !found.is_empty(),
        "the hostile alert's trail with its planned step"
    );
    assert!(!found.contains("<script>"), "no script element: {found}");
    assert!(!found.contains("<img"), "no image element");
    assert!(
        found.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{found}"
    );
    assert!(
        found.contains("onerror=") && found.contains("&lt;img"),
        "shown as text"
    );

    console.stop().await.expect("stops");
    operator.stop().await.expect("stops");
    worker.stop().await.expect("worker stops");
    stack.finish().await;
}

#[tokio::test]
async fn five_wrong_passwords_lock_the_name_out_even_for_the_right_one() {
    let (operator, console) = started().await;
    let mut visitor = console.visitor();
    for _ in 0..5 {
        assert_eq!(visitor.sign_in(RITA, "guess").await.status, 401);
    }
    let locked = visitor.sign_in(RITA, PASSWORD).await;
    assert_eq!(locked.status, 401);
    assert!(
        locked.body.contains("Too many failed sign-ins"),
        "{}",
        locked.body
    );
    // Another name is not held up by it.
    assert_eq!(console.visitor().sign_in(DANA, PASSWORD).await.status, 303);
    stop(operator, console).await;
}

#[tokio::test]
async fn the_console_binary_hashes_a_password_and_refuses_a_bad_environment() {
    use std::process::Stdio;
    use tokio::io::AsyncWriteExt;
    let binary = relay_tests::workspace_binary("console");
    let mut child = tokio::process::Command::new(&binary)
        .arg("hash-password")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("console runs");
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(b"a long passphrase\n")
            .await
            .expect("stdin");
    }
    let out = child.wait_with_output().await.expect("console ends");
    assert!(out.status.success());
    let hash = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    let users = console::users::Users::parse(&format!("dana:read:{hash}")).expect("usable");
    assert!(users.verify("dana", "a long passphrase").is_some());

    let out = tokio::process::Command::new(&binary)
        .env_clear()
        .env("RELAY_CONSOLE_ADDR", "not an address")
        .env("RELAY_CONSOLE_USERS", "dana:boss:x")
        .env(
            "RELAY_CONSOLE_ACCOUNTS",
            "b=ftp://nowhere, c=http://127.0.0.1:8091, c=http://127.0.0.1:8092",
        )
        .output()
        .await
        .expect("console runs");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    for problem in [
        "RELAY_CONSOLE_ADDR",
        "RELAY_CONSOLE_OPERATOR_TOKEN is not set",
        "RELAY_CONSOLE_USERS: entry #1",
        "RELAY_CONSOLE_ACCOUNTS: entry #1 (b): expected an http(s) URL",
        "the account \"c\" has no token: set RELAY_CONSOLE_OPERATOR_TOKEN_C",
        "the label \"c\" is used twice",
    ] {
        assert!(stderr.contains(problem), "{stderr}");
    }
}

#[tokio::test]
async fn with_the_operator_api_away_the_pages_say_so_and_never_show_the_token() {
    let away = format!("http://127.0.0.1:{}", relay_tests::free_port());
    let console = TestConsole::spawn(&away, &[]);
    console.ready(LONG).await;
    let mut dana = console.signed_in(DANA).await;
    let overview = dana.get("/").await;
    assert_eq!(overview.status, 200);
    assert!(
        overview
            .body
            .contains("The fleet&#39;s status cannot be read")
            || overview.body.contains("The fleet's status cannot be read"),
        "{}",
        overview.body
    );
    assert!(overview.body.contains("DOWN"), "{}", overview.body);
    let csrf = dana.csrf().await;
    let pause = dana
        .post("/pause", &[("csrf", &csrf), ("reason", "x")])
        .await;
    assert_eq!(pause.status, 422);
    assert!(pause.body.contains("not reachable"), "{}", pause.body);
    for page in [&overview, &pause] {
        assert!(!page.body.contains(CONSOLE_TOKEN));
    }
    console.stop().await.expect("stops");
}

#[tokio::test]
async fn one_console_serves_two_accounts_each_change_going_to_its_own_operator_api() {
    // Two deployments (two prefixes, so two accounts), each with its own operator API.
    let (ctx_a, ctx_b) = (Context::new(), Context::new());
    let a = TestOperator::spawn(&ctx_a).await;
    let b = TestOperator::spawn_with(&relay_tests::operator::config_with(
        &ctx_b,
        &relay_tests::operator::postgres_url(),
        "https://northwind.syncromsp.com/api/v1",
        "",
    ))
    .await;
    a.ready().await;
    b.ready().await;
    // And a third account whose operator API is away: its block says so, the others stand.
    let away = format!("http://127.0.0.1:{}", relay_tests::free_port());
    let accounts = format!("northwind={}, away={away}", b.base_url);
    let console = TestConsole::spawn(&a.base_url, &[("RELAY_CONSOLE_ACCOUNTS", &accounts)]);
    console.ready(LONG).await;
    let mut dana = console.signed_in(DANA).await;

    // The overview: both accounts, one under the other, each named by its label and prefix.
    let overview = dana.get("/").await;
    assert_eq!(overview.status, 200, "{}", overview.body);
    let (at_a, at_b) = (
        overview.body.find(&ctx_a.prefix),
        overview.body.find(&ctx_b.prefix),
    );
    assert!(
        at_a.is_some() && at_b.is_some() && at_a < at_b,
        "both prefixes, the default account first: {}",
        overview.body
    );
    assert!(overview.body.contains("northwind.syncromsp.com"));
    assert!(overview
        .body
        .contains(r#"action="/pause?account=northwind""#));
    assert!(!overview.body.contains(CONSOLE_TOKEN));

    // A silence created under northwind is northwind's only.
    let csrf = dana.csrf().await;
    let created = dana
        .post(
            "/silences?account=northwind",
            &[
                ("csrf", &csrf),
                ("m0_field", "organization"),
                ("m0_op", "="),
                ("m0_value", "org-nw"),
                ("kind", "once"),
                ("duration", "2h"),
                ("reason", "northwind patch night"),
                ("author", "dana"),
            ],
        )
        .await;
    assert_eq!(created.status, 303, "{}", created.body);
    assert_eq!(
        created.location(),
        "/silences?done=created&account=northwind"
    );
    let in_b = b.get("/v1/silences", Some(READ_TOKEN)).await;
    assert_eq!(in_b.body["silences"][0]["reason"], "northwind patch night");
    assert_eq!(in_b.body["silences"][0]["author"], "dana");
    let in_a = a.get("/v1/silences?all=true", Some(READ_TOKEN)).await;
    assert_eq!(
        in_a.body["silences"],
        json!([]),
        "nothing in the default account"
    );
    // The page says which account it applied to, and its header names that account.
    let page = dana.get(created.location()).await;
    assert!(
        page.body
            .contains("The silence was created. Account: northwind ("),
        "{}",
        page.body
    );
    assert!(page.body.contains(&ctx_b.prefix), "{}", page.body);
    assert!(page.body.contains("northwind patch night"));
    // The default account's list does not show it; its header names the default account.
    let page = dana.get("/silences").await;
    assert!(!page.body.contains("northwind patch night"));
    assert!(page.body.contains(&ctx_a.prefix), "{}", page.body);

    // Pause acts on the selected account only.
    let paused = dana
        .post(
            "/pause?account=northwind",
            &[("csrf", &csrf), ("reason", "Syncro maintenance")],
        )
        .await;
    assert_eq!(paused.status, 303, "{}", paused.body);
    assert_eq!(
        b.get("/v1/pause", Some(READ_TOKEN)).await.body["paused"],
        true
    );
    assert_eq!(
        a.get("/v1/pause", Some(READ_TOKEN)).await.body["paused"],
        false
    );

    // An unknown account: 404, for a page and for a change, and nothing changed anywhere.
    assert_eq!(dana.get("/silences?account=nowhere").await.status, 404);
    assert_eq!(dana.get("/audit?account=nowhere").await.status, 404);
    let refused = dana
        .post(
            "/silences?account=nowhere",
            &[
                ("csrf", &csrf),
                ("m0_field", "organization"),
                ("m0_op", "="),
                ("m0_value", "org-x"),
                ("kind", "once"),
                ("duration", "1h"),
                ("reason", "nowhere"),
                ("author", "dana"),
            ],
        )
        .await;
    assert_eq!(refused.status, 404);
    let resumed = dana
        .post("/resume?account=nowhere", &[("csrf", &csrf)])
        .await;
    assert_eq!(resumed.status, 404);
    assert_eq!(
        b.get("/v1/pause", Some(READ_TOKEN)).await.body["paused"],
        true
    );
    let in_a = a.get("/v1/silences?all=true", Some(READ_TOKEN)).await;
    assert_eq!(in_a.body["silences"], json!([]));
    let in_b = b.get("/v1/silences?all=true", Some(READ_TOKEN)).await;
    assert_eq!(in_b.body["silences"].as_array().map(Vec::len), Some(1));
    // A stranger is sent to the sign-in, whatever the account.
    let stranger = console.visitor().get("/silences?account=nowhere").await;
    assert_eq!(stranger.status, 303);
    // ...and comes back to the account's page after it.
    let stranger = console.visitor().get("/audit?account=northwind").await;
    assert_eq!(
        stranger.location(),
        "/sign-in?next=%2Faudit%3Faccount%3Dnorthwind"
    );

    console.stop().await.expect("the console stops cleanly");
    a.stop().await.expect("stops");
    b.stop().await.expect("stops");
}
