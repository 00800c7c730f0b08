//! Dead letters through the operator API (`/v1/dead-letters`) and the console's
//! `/dead-letters` pages, against real RabbitMQ, Redis and PostgreSQL: counts and filters,
//! one letter in full, a dry run that changes nothing, a replay that moves and is audited,
//! a purge that needs its confirmation, a read token refused, RabbitMQ away, and the
//! console's forms refused without their CSRF token. Every API answer is checked against
//! `docs/openapi/operator.json`. The letters are seeded as the processor writes them
//! ([`crate::relayctl_dlq`]'s helpers).

use crate::relayctl_dlq::{Queues, Seed};
use relay_tests::console::{TestConsole, DANA, RITA};
use relay_tests::operator::{TestOperator, OPERATE_TOKEN, READ_TOKEN};
use relay_tests::processor::Stack;
use relay_tests::Context;
use serde_json::{json, Value};
use std::time::Duration;

const LONG: Duration = Duration::from_secs(60);

/// Seeds `seeds` in order; returns their message ids.
async fn seed_all(queues: &Queues, seeds: &[Seed]) -> Vec<String> {
    for seed in seeds {
        queues.seed(seed).await;
    }
    seeds.iter().map(Seed::message_id).collect()
}

fn seed(id: &'static str, org: &'static str, kind: &'static str, title: &'static str) -> Seed {
    let mut seed = Seed::new(id, org, kind);
    seed.title = title;
    seed
}

async fn audit(operator: &TestOperator) -> Vec<opstate::store::audit::Entry> {
    opstate::store::audit::list(&operator.db, None, 10)
        .await
        .expect("the audit log")
}

#[tokio::test]
async fn the_api_counts_filters_and_shows_one_letter_in_full_and_leaves_the_queue_as_it_was() {
    let stack = Stack::start(|_| {}, "").await;
    let operator = TestOperator::for_stack(&stack).await;
    operator.ready().await;
    let queues = Queues::open(&stack).await;
    let mut old = seed("old-500", "org-fabrikam", "syncro_500", "Disk full");
    old.hours_ago = 30;
    old.event_type = "edr.ransomware";
    let mut week = seed("week-503", "org-42", "syncro_503", "Old one");
    week.hours_ago = 24 * 9;
    let ids = seed_all(
        &queues,
        &[
            seed("fresh-422", "org-42", "syncro_422", "Impossible travel"),
            old,
            week,
            seed("fresh-422b", "org-42", "syncro_422", "Impossible travel"),
        ],
    )
    .await;
    let before = queues.dead_ids().await;
    assert_eq!(before, ids);

    let all = operator.get("/v1/dead-letters", Some(READ_TOKEN)).await;
    assert_eq!(all.status, 200, "{}", all.body);
    let b = &all.body;
    assert_eq!(
        (b["in_queue"].clone(), b["read"].clone()),
        (json!(4), json!(4))
    );
    assert_eq!(
        (b["cap"].clone(), b["complete"].clone()),
        (json!(1000), json!(true))
    );
    assert_eq!(
        b["counts"]["by_error_kind"],
        json!({"syncro_422": 2, "syncro_500": 1, "syncro_503": 1})
    );
    assert_eq!(
        b["counts"]["by_organization"],
        json!({"org-42": 3, "org-fabrikam": 1})
    );
    assert_eq!(
        b["counts"]["by_age"],
        json!({"<1h": 2, "1-7d": 1, ">7d": 1})
    );
    assert_eq!(b["counts"]["by_event_type"]["edr.ransomware"], 1);
    assert_eq!(b["letters"].as_array().map(Vec::len), Some(4));

    // The filters relayctl has, and a page.
    let kind = operator
        .get(
            "/v1/dead-letters?error_kind=syncro_422&limit=1",
            Some(READ_TOKEN),
        )
        .await;
    assert_eq!(kind.body["matched"], 2);
    assert_eq!(kind.body["letters"].as_array().map(Vec::len), Some(1));
    assert_eq!(kind.body["letters"][0]["alert_id"], "fresh-422");
    let second = operator
        .get(
            "/v1/dead-letters?error_kind=syncro_422&limit=1&offset=1",
            Some(READ_TOKEN),
        )
        .await;
    assert_eq!(second.body["letters"][0]["alert_id"], "fresh-422b");
    let ranged = operator
        .get(
            "/v1/dead-letters?since=3d&until=2h&organization=org-fabrikam",
            Some(READ_TOKEN),
        )
        .await;
    assert_eq!(ranged.body["matched"], 1);
    assert_eq!(ranged.body["letters"][0]["error_kind"], "syncro_500");

    // Bad input names its field.
    let bad = operator
        .get(
            "/v1/dead-letters?since=yesterday&limit=0&colour=red",
            Some(READ_TOKEN),
        )
        .await;
    assert_eq!((bad.status, bad.code()), (400, "invalid_query"));
    let mut fields: Vec<&str> = bad.body["error"]["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .filter_map(|f| f["field"].as_str())
        .collect();
    fields.sort_unstable();
    assert_eq!(fields, ["colour", "limit", "since"]);

    // One letter in full.
    let one = operator
        .get(&format!("/v1/dead-letters/{}", ids[1]), Some(READ_TOKEN))
        .await;
    assert_eq!(one.status, 200, "{}", one.body);
    assert_eq!(one.body["error_kind"], "syncro_500");
    assert_eq!(one.body["error"], "Syncro said no (syncro_500)");
    assert_eq!(one.body["attempts"], 1);
    assert_eq!(one.body["copies"], 1);
    assert_eq!(one.body["headers"]["x-relay-error-kind"], "syncro_500");
    assert_eq!(one.body["body_is_json"], true);
    assert_eq!(one.body["body"]["alert"]["id"], "old-500");
    let unknown = operator
        .get("/v1/dead-letters/ar1-nothing-here", Some(READ_TOKEN))
        .await;
    assert_eq!((unknown.status, unknown.code()), (404, "not_found"));
    let anonymous = operator.get("/v1/dead-letters", None).await;
    assert_eq!(anonymous.status, 401);

    // Reading changed nothing.
    assert_eq!(queues.dead_ids().await, before);
    operator.stop().await.expect("operator stops");
    stack.finish().await;
}

#[tokio::test]
async fn a_dry_run_changes_nothing_and_a_replay_moves_the_matching_letters_and_is_audited() {
    let stack = Stack::start(|_| {}, "").await;
    let operator = TestOperator::for_stack(&stack).await;
    operator.ready().await;
    let queues = Queues::open(&stack).await;
    let ids = seed_all(
        &queues,
        &[
            seed("d-1", "org-42", "syncro_503", "Same subject"),
            seed("d-2", "org-fabrikam", "syncro_503", "Other"),
            seed("d-3", "org-42", "syncro_503", "Same subject"),
        ],
    )
    .await;
    let before = queues.dead_ids().await;

    let dry = operator
        .post(
            "/v1/dead-letters/replay",
            Some(OPERATE_TOKEN),
            json!({"organization": "org-42", "dry_run": true}),
        )
        .await;
    assert_eq!(dry.status, 200, "{}", dry.body);
    assert_eq!(dry.body["matched"], 2);
    assert_eq!(
        dry.body["plan"],
        json!({"create_ticket": 1, "note": 1, "already_handled": 0, "ignored": 0, "undecodable": 0})
    );
    let would: Vec<Value> = dry.body["letters"]
        .as_array()
        .expect("letters")
        .iter()
        .map(|l| l["would"].clone())
        .collect();
    assert_eq!(
        would,
        [json!("create_ticket"), json!({"note": {"ticket_id": null}})]
    );
    assert_eq!(queues.dead_ids().await, before, "a dry run moves nothing");
    assert_eq!(queues.count(&queues.work()).await, 0);

    // Refused, and nothing moved: a read token, bad fields, no dry_run.
    let read = operator
        .post(
            "/v1/dead-letters/replay",
            Some(READ_TOKEN),
            json!({"dry_run": false}),
        )
        .await;
    assert_eq!((read.status, read.code()), (403, "forbidden"));
    let bad = operator
        .post(
            "/v1/dead-letters/replay",
            Some(OPERATE_TOKEN),
            json!({"since": "yesterday", "limit": 0, "org": "org-42", "dry_run": false}),
        )
        .await;
    assert_eq!(
        (bad.status, bad.code()),
        (422, "invalid_dead_letter_request")
    );
    assert_eq!(
        bad.body["error"]["fields"].as_array().map(Vec::len),
        Some(3)
    );
    let unsaid = operator
        .post(
            "/v1/dead-letters/replay",
            Some(OPERATE_TOKEN),
            json!({"organization": "org-42"}),
        )
        .await;
    assert_eq!(unsaid.status, 422);
    assert_eq!(unsaid.body["error"]["fields"][0]["field"], "dry_run");
    assert_eq!(queues.dead_ids().await, before);
    assert!(
        audit(&operator).await.is_empty(),
        "nothing changed, nothing audited"
    );

    let real = operator
        .post(
            "/v1/dead-letters/replay",
            Some(OPERATE_TOKEN),
            json!({"organization": "org-42", "dry_run": false}),
        )
        .await;
    assert_eq!(real.status, 200, "{}", real.body);
    assert_eq!(real.body["replayed"], 2);
    assert_eq!(real.body["left"], 1);
    assert_eq!(real.body["audited"], true);
    assert_eq!(real.body["moved"], json!([ids[0], ids[2]]));
    assert_eq!(queues.dead_ids().await, [ids[1].clone()], "the other stays");
    let work = stack.rabbit.take_all(&queues.work()).await;
    let moved: Vec<String> = work.iter().filter_map(|t| t.message_id.clone()).collect();
    assert_eq!(moved, [ids[0].clone(), ids[2].clone()]);

    let entries = audit(&operator).await;
    assert_eq!(entries[0].action, "dlq.replay");
    assert_eq!(entries[0].actor, "alice");
    assert_eq!(
        entries[0].detail["filters"],
        json!({"organization": "org-42"})
    );
    assert_eq!(entries[0].detail["replayed"], 2);
    let trail = opstate::trail::search(
        &operator.db,
        &opstate::trail::TrailQuery {
            alert: Some(ids[0].clone()),
            ..Default::default()
        },
    )
    .await
    .expect("the trail");
    let step = trail
        .iter()
        .find(|e| e.step == opstate::trail::Step::Replayed)
        .expect("a replayed step");
    assert_eq!(step.detail["by"], "alice");
    operator.stop().await.expect("operator stops");
    stack.finish().await;
}

#[tokio::test]
async fn a_purge_needs_its_confirmation_and_removes_only_the_matching_letters() {
    let stack = Stack::start(|_| {}, "").await;
    let operator = TestOperator::for_stack(&stack).await;
    operator.ready().await;
    let queues = Queues::open(&stack).await;
    let ids = seed_all(
        &queues,
        &[
            seed("p-1", "org-42", "syncro_422", "A"),
            seed("p-2", "org-42", "syncro_500", "B"),
            seed("p-3", "org-42", "syncro_422", "C"),
        ],
    )
    .await;
    for body in [
        json!({"error_kind": "syncro_422"}),
        json!({"error_kind": "syncro_422", "confirm": false}),
    ] {
        let refused = operator
            .post("/v1/dead-letters/purge", Some(OPERATE_TOKEN), body)
            .await;
        assert_eq!(
            (refused.status, refused.code()),
            (422, "confirmation_required")
        );
        assert_eq!(refused.body["error"]["fields"][0]["field"], "confirm");
    }
    let read = operator
        .post(
            "/v1/dead-letters/purge",
            Some(READ_TOKEN),
            json!({"confirm": true}),
        )
        .await;
    assert_eq!(read.status, 403);
    assert_eq!(queues.dead_ids().await, ids, "nothing removed");

    let purged = operator
        .post(
            "/v1/dead-letters/purge",
            Some(OPERATE_TOKEN),
            json!({"error_kind": "syncro_422", "confirm": true}),
        )
        .await;
    assert_eq!(purged.status, 200, "{}", purged.body);
    assert_eq!(
        (purged.body["removed"].clone(), purged.body["left"].clone()),
        (json!(2), json!(1))
    );
    assert_eq!(queues.dead_ids().await, [ids[1].clone()]);
    let entries = audit(&operator).await;
    assert_eq!(entries[0].action, "dlq.purge");
    assert_eq!(entries[0].actor, "alice");
    assert_eq!(entries[0].detail["removed"], 2);
    assert_eq!(
        entries[0].detail["filters"],
        json!({"error_kind": "syncro_422"})
    );
    operator.stop().await.expect("operator stops");
    stack.finish().await;
}

#[tokio::test]
async fn while_rabbitmq_is_away_the_api_answers_and_the_dead_letter_routes_say_503() {
    let mut ctx = Context::new();
    ctx.amqp_url = "amqp://guest:guest@127.0.0.1:9/%2f".into();
    let operator = TestOperator::spawn(&ctx).await;
    operator.ready().await;
    let listed = operator.get("/v1/dead-letters", Some(READ_TOKEN)).await;
    assert_eq!(
        (listed.status, listed.code()),
        (503, "rabbitmq_unavailable")
    );
    let replay = operator
        .post(
            "/v1/dead-letters/replay",
            Some(OPERATE_TOKEN),
            json!({"dry_run": true}),
        )
        .await;
    assert_eq!(
        (replay.status, replay.code()),
        (503, "rabbitmq_unavailable")
    );
    let whoami = operator.get("/v1/whoami", Some(READ_TOKEN)).await;
    assert_eq!(whoami.status, 200, "the rest of the API answers");
    operator.stop().await.expect("operator stops");
}

#[tokio::test]
async fn the_console_shows_dead_letters_and_a_change_without_its_csrf_token_changes_nothing() {
    let stack = Stack::start(|_| {}, "").await;
    let operator = TestOperator::for_stack(&stack).await;
    operator.ready().await;
    let console = TestConsole::spawn(&operator.base_url, &[]);
    console.ready(LONG).await;
    let queues = Queues::open(&stack).await;
    let ids = seed_all(
        &queues,
        &[
            seed("c-1", "org-42", "syncro_422", "<script>alert(1)</script>"),
            seed("c-2", "org-fabrikam", "syncro_500", "Other"),
        ],
    )
    .await;
    let mut dana = console.signed_in(DANA).await;

    let list = dana.get("/dead-letters").await;
    assert_eq!(list.status, 200, "{}", list.body);
    for shown in [
        "syncro_422",
        "syncro_500",
        "org-fabrikam",
        "&lt;1h",
        ids[0].as_str(),
    ] {
        assert!(
            list.body.contains(shown),
            "{shown} on the list: {}",
            list.body
        );
    }
    let filtered = dana.get("/dead-letters?error_kind=syncro_500").await;
    assert!(filtered.body.contains(&ids[1]) && !filtered.body.contains(&ids[0]));
    let bad = dana.get("/dead-letters?since=yesterday").await;
    assert_eq!(bad.status, 400);
    assert!(
        bad.body.contains("f-since-error"),
        "the problem beside its field"
    );

    let one = dana.get(&format!("/dead-letters/{}", ids[0])).await;
    assert_eq!(one.status, 200);
    assert!(one.body.contains("Syncro said no (syncro_422)"));
    assert!(
        one.body.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "the body is text"
    );
    assert!(!one.body.contains("<script>"));

    let dry = dana.get("/dead-letters/replay?error_kind=syncro_422").await;
    assert_eq!(dry.status, 200, "{}", dry.body);
    assert!(
        dry.body.contains("Dry run: nothing was moved."),
        "{}",
        dry.body
    );
    assert!(dry.body.contains("creates a ticket"));
    let csrf = dry.csrf().expect("the replay form");

    // Without the token (or with a read role) nothing moves.
    let forged = dana
        .post("/dead-letters/replay", &[("error_kind", "syncro_422")])
        .await;
    assert_eq!(forged.status, 403);
    let mut rita = console.signed_in(RITA).await;
    let seen = rita.get("/dead-letters").await;
    assert!(
        seen.body.contains(&ids[0]),
        "a read-only person sees the letters"
    );
    assert!(!seen.body.contains("Replay…"), "and is offered no change");
    assert_eq!(rita.get("/dead-letters/replay").await.status, 403);
    let rita_csrf = rita.csrf().await;
    let read_only = rita
        .post(
            "/dead-letters/purge",
            &[("csrf", &rita_csrf), ("confirm", "yes")],
        )
        .await;
    assert_eq!(read_only.status, 403);
    assert_eq!(queues.dead_ids().await, ids);

    let replayed = dana
        .post(
            "/dead-letters/replay",
            &[("csrf", &csrf), ("error_kind", "syncro_422")],
        )
        .await;
    assert_eq!(replayed.status, 200, "{}", replayed.body);
    assert!(
        replayed.body.contains("Replayed 1 of 1 matching letters"),
        "{}",
        replayed.body
    );
    assert_eq!(queues.dead_ids().await, [ids[1].clone()]);
    let entries = audit(&operator).await;
    assert_eq!(
        (entries[0].action.as_str(), entries[0].actor.as_str()),
        ("dlq.replay", "dana via console")
    );

    let confirm = dana.get("/dead-letters/purge").await;
    assert!(
        confirm.body.contains("would be removed for good"),
        "{}",
        confirm.body
    );
    let csrf = confirm.csrf().expect("the purge form");
    assert_eq!(
        dana.post("/dead-letters/purge", &[("confirm", "yes")])
            .await
            .status,
        403
    );
    let unconfirmed = dana.post("/dead-letters/purge", &[("csrf", &csrf)]).await;
    assert_eq!(
        unconfirmed.status, 422,
        "without confirm=yes the API refuses"
    );
    assert_eq!(queues.dead_ids().await, [ids[1].clone()]);
    let purged = dana
        .post(
            "/dead-letters/purge",
            &[("csrf", &csrf), ("confirm", "yes")],
        )
        .await;
    assert!(purged.body.contains("Purged 1 letters"), "{}", purged.body);
    assert!(queues.dead_ids().await.is_empty());
    console.stop().await.expect("console stops");
    operator.stop().await.expect("operator stops");
    stack.finish().await;
}
