//! `relayctl dlq` end to end: the real binary against real RabbitMQ and Redis, a dead-letter
//! queue seeded the way the processor (and RabbitMQ itself) fills it, and a processor that
//! tickets what was replayed.

use lapin::options::{
    BasicGetOptions, BasicNackOptions, BasicPublishOptions, ConfirmSelectOptions,
};
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties};
use processor::store::{GroupTicket, Handled, Store};
use relay_tests::alerts::alert;
use relay_tests::processor::{eventually, redis_url, Stack, TestProcessor, CONTOSO};
use relay_tests::{wait, workspace_binary};
use serde_json::{json, Value};
use shared::amqp::topology::header_str;
use shared::envelope::{
    ALERT_ID_HEADER, ATTEMPTS_HEADER, ERROR_HEADER, ERROR_KIND_HEADER, FAILED_AT_HEADER,
    SCHEMA_HEADER, SOURCE_HEADER,
};
use shared::message::message_id;
use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;
use syncro_sim::{FaultKind, FaultSpec};

const LONG: Duration = Duration::from_secs(60);

/// A dead letter as the processor writes it (also seeded by the `dead_letters` tests).
pub(crate) struct Seed {
    pub(crate) id: &'static str,
    pub(crate) org: &'static str,
    pub(crate) event_type: &'static str,
    pub(crate) title: &'static str,
    pub(crate) kind: &'static str,
    pub(crate) hours_ago: i64,
}

impl Seed {
    pub(crate) fn new(id: &'static str, org: &'static str, kind: &'static str) -> Seed {
        Seed {
            id,
            org,
            event_type: "m365.impossible_travel",
            title: "Impossible travel",
            kind,
            hours_ago: 0,
        }
    }

    pub(crate) fn message_id(&self) -> String {
        message_id("demo", self.id)
    }

    pub(crate) fn body(&self) -> Vec<u8> {
        let mut a = alert(self.id);
        a["organization"] = json!({"id": self.org});
        a["event_type"] = json!(self.event_type);
        a["title"] = json!(self.title);
        let body =
            json!({"source": "demo", "received_at": chrono::Utc::now().to_rfc3339(), "alert": a});
        serde_json::to_vec(&body).expect("json")
    }
}

pub(crate) fn text(value: &str) -> AMQPValue {
    AMQPValue::LongString(LongString::from(value.as_bytes().to_vec()))
}

/// A test's own view of the broker, for seeding and inspecting its queues.
pub(crate) struct Queues {
    _connection: Connection,
    pub(crate) channel: Channel,
    prefix: String,
}

impl Queues {
    pub(crate) async fn open(stack: &Stack) -> Queues {
        let connection = Connection::connect(&stack.ctx.amqp_url, ConnectionProperties::default())
            .await
            .expect("RabbitMQ");
        let channel = connection.create_channel().await.expect("channel");
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await
            .expect("confirms");
        Queues {
            _connection: connection,
            channel,
            prefix: stack.ctx.prefix.clone(),
        }
    }

    pub(crate) fn dead(&self) -> String {
        format!("{}.alerts.dead", self.prefix)
    }

    pub(crate) fn work(&self) -> String {
        format!("{}.alerts.work", self.prefix)
    }

    pub(crate) async fn publish(
        &self,
        key: &str,
        message_id: &str,
        body: &[u8],
        headers: FieldTable,
    ) {
        let properties = BasicProperties::default()
            .with_delivery_mode(2)
            .with_message_id(message_id.into())
            .with_headers(headers);
        self.channel
            .basic_publish(
                format!("{}.alerts", self.prefix).as_str().into(),
                key.into(),
                BasicPublishOptions::default(),
                body,
                properties,
            )
            .await
            .expect("publish")
            .await
            .expect("confirm");
    }

    /// Dead-letters `seed` with the headers the processor's consumer writes.
    pub(crate) async fn seed(&self, seed: &Seed) {
        let mut headers = FieldTable::default();
        let mut put = |key: &str, value: AMQPValue| {
            headers.insert(ShortString::from(key), value);
        };
        put(SCHEMA_HEADER, AMQPValue::LongLongInt(1));
        put(SOURCE_HEADER, text("demo"));
        put(ALERT_ID_HEADER, text(seed.id));
        put(ATTEMPTS_HEADER, AMQPValue::LongLongInt(1));
        put(ERROR_KIND_HEADER, text(seed.kind));
        put(
            ERROR_HEADER,
            text(&format!("Syncro said no ({})", seed.kind)),
        );
        let failed_at = chrono::Utc::now() - chrono::Duration::hours(seed.hours_ago);
        put(
            FAILED_AT_HEADER,
            text(&failed_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
        );
        self.publish("dead", &seed.message_id(), &seed.body(), headers)
            .await;
    }

    /// Message ids in the dead-letter queue, in order, read by the test's own browse (a
    /// basic.get of each, all returned at the end).
    pub(crate) async fn dead_ids(&self) -> Vec<String> {
        let channel = self._connection.create_channel().await.expect("channel");
        let mut ids = Vec::new();
        while let Some(message) = channel
            .basic_get(self.dead().as_str().into(), BasicGetOptions::default())
            .await
            .expect("basic.get")
        {
            ids.push(
                message
                    .delivery
                    .properties
                    .message_id()
                    .as_ref()
                    .map(|m| m.to_string())
                    .unwrap_or_default(),
            );
        }
        channel.close(200, "done".into()).await.expect("close");
        // The queue counts the returned messages again a moment after the close: wait, so
        // the next reader (a command, the API) finds them all.
        let dead = self.dead();
        wait::until("the dead letters returned", LONG, || async {
            (self.count(&dead).await as usize >= ids.len()).then_some(())
        })
        .await;
        ids
    }

    pub(crate) async fn count(&self, queue: &str) -> u32 {
        self.channel
            .queue_declare(
                queue.into(),
                lapin::options::QueueDeclareOptions {
                    passive: true,
                    ..Default::default()
                },
                FieldTable::default(),
            )
            .await
            .map(|q| q.message_count())
            .unwrap_or(0)
    }
}

/// The stack's configuration in a file, for the binary.
fn config_file(stack: &Stack) -> PathBuf {
    let path = std::env::temp_dir().join(format!("{}.toml", stack.ctx.prefix));
    std::fs::write(&path, &stack.config).expect("config written");
    path
}

struct Run {
    status: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "JSON on stdout ({e}): {}\nstderr: {}",
                self.stdout, self.stderr
            )
        })
    }
}

fn relayctl(config: &PathBuf, args: &[&str]) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(workspace_binary("relayctl"));
    command
        .arg("--config")
        .arg(config)
        .arg("dlq")
        .args(args)
        .env_remove("RELAY_CONFIG")
        .kill_on_drop(true);
    command
}

async fn run(config: &PathBuf, args: &[&str]) -> Run {
    let output = relayctl(config, args)
        .output()
        .await
        .expect("relayctl runs");
    Run {
        status: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

async fn finish(stack: Stack, config: PathBuf) {
    let _ = std::fs::remove_file(config);
    stack.finish().await;
}

pub(crate) fn refused_creates(count: u64) -> FaultSpec {
    let mut fault: FaultSpec = serde_json::from_value(
        json!({"kind": FaultKind::Error.as_str(), "route": "POST /tickets"}),
    )
    .expect("fault");
    fault.status = Some(422);
    fault.body = Some(r#"{"error":"Customer required field"}"#.into());
    fault.count = Some(count);
    fault
}

#[tokio::test]
async fn stats_and_list_show_every_kind_of_dead_letter_and_leave_the_queue_as_it_was() {
    let stack = Stack::start(|_| {}, "").await;
    let config = config_file(&stack);
    let queues = Queues::open(&stack).await;

    // 1. A real processor dead-letters an alert Syncro refuses with 422.
    stack
        .sim
        .sim()
        .add_fault(refused_creates(1))
        .expect("fault");
    let worker = TestProcessor::spawn(&stack.config);
    stack.send(&[alert("real-422")]).await;
    wait::until("the 422 to be dead-lettered", LONG, || async {
        (queues.count(&queues.dead()).await == 1).then_some(())
    })
    .await;
    worker.stop().await.expect("processor stops");

    // 2. RabbitMQ dead-letters a message nobody settles (the work queue's delivery limit).
    let crash_loop = Seed::new("crash-loop", "org-42", "unused");
    let mut headers = FieldTable::default();
    headers.insert(SOURCE_HEADER.into(), text("demo"));
    queues
        .publish(
            "work",
            &crash_loop.message_id(),
            &crash_loop.body(),
            headers,
        )
        .await;
    wait::until("the broker to dead-letter the crash loop", LONG, || async {
        if let Some(message) = queues
            .channel
            .basic_get(queues.work().as_str().into(), BasicGetOptions::default())
            .await
            .expect("basic.get")
        {
            message
                .nack(BasicNackOptions {
                    requeue: true,
                    ..Default::default()
                })
                .await
                .expect("nack");
        }
        (queues.count(&queues.dead()).await == 2).then_some(())
    })
    .await;

    // 3. Dead letters as the consumer writes them, of several ages, and an undecodable one.
    let mut old = Seed::new("old-500", "org-fabrikam", "syncro_500");
    old.hours_ago = 30;
    old.event_type = "edr.ransomware";
    let mut week = Seed::new("week-timeout", "org-42", "syncro_timeout");
    week.hours_ago = 24 * 9;
    queues.seed(&old).await;
    queues.seed(&week).await;
    queues
        .seed(&Seed::new("fresh-422", "org-42", "syncro_422"))
        .await;
    let mut garbage = FieldTable::default();
    garbage.insert(ERROR_KIND_HEADER.into(), text("undecodable"));
    garbage.insert(ERROR_HEADER.into(), text("not an alert"));
    queues
        .publish("dead", "ar1-garbage", b"\xff\xfe not json", garbage)
        .await;
    let before = queues.dead_ids().await;
    assert_eq!(before.len(), 6);

    let stats = run(&config, &["stats", "--json"]).await;
    assert_eq!(stats.status, 0, "{}", stats.stderr);
    let stats = stats.json();
    assert_eq!(stats["total"], 6);
    assert_eq!(
        stats["by_error_kind"],
        json!({"syncro_422": 2, "delivery-limit": 1, "syncro_500": 1, "syncro_timeout": 1, "undecodable": 1})
    );
    assert_eq!(
        stats["by_organization"],
        json!({"org-42": 4, "org-fabrikam": 1, "?": 1})
    );
    assert_eq!(stats["by_event_type"]["edr.ransomware"], 1);
    assert_eq!(
        stats["by_age"],
        json!({"<1h": 3, "1-7d": 1, ">7d": 1, "unknown": 1})
    );

    let human = run(&config, &["stats"]).await;
    assert_eq!(human.status, 0);
    assert!(
        human.stdout.contains("dead-lettered messages: 6"),
        "{}",
        human.stdout
    );

    // Filters.
    let listed = run(
        &config,
        &["list", "--json", "--org", "org-42", "--since", "2h"],
    )
    .await;
    assert_eq!(listed.status, 0, "{}", listed.stderr);
    let ids: Vec<String> = listed
        .json()
        .as_array()
        .expect("array")
        .iter()
        .map(|l| l["alert_id"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(ids, ["real-422", "crash-loop", "fresh-422"]);
    let limited = run(
        &config,
        &[
            "list",
            "--json",
            "--error-kind",
            "syncro_422",
            "--limit",
            "1",
        ],
    )
    .await;
    let limited = limited.json();
    assert_eq!(limited.as_array().map(Vec::len), Some(1));
    assert_eq!(limited[0]["alert_id"], "real-422");
    assert_eq!(limited[0]["attempts"], 1);
    assert!(limited[0]["error"]
        .as_str()
        .unwrap_or_default()
        .contains("422"));
    let ranged = run(
        &config,
        &["list", "--json", "--since", "3d", "--until", "2h"],
    )
    .await;
    assert_eq!(ranged.json()[0]["alert_id"], "old-500");
    let shown = run(&config, &["show", &old.message_id(), "--json"]).await;
    assert_eq!(shown.status, 0, "{}", shown.stderr);
    let shown = shown.json();
    assert_eq!(shown["error_kind"], "syncro_500");
    assert_eq!(shown["copies"], 1);
    assert_eq!(shown["body"]["alert"]["id"], "old-500");
    assert_eq!(shown["headers"][ERROR_KIND_HEADER], "syncro_500");
    assert_eq!(run(&config, &["show", "ar1-nothing"]).await.status, 1);
    let table = run(&config, &["list"]).await;
    assert_eq!(table.status, 0);
    assert_eq!(
        table.stdout.lines().count(),
        7,
        "a header and six lines:\n{}",
        table.stdout
    );
    assert!(table.stdout.contains("delivery-limit"), "{}", table.stdout);

    // Reading changed nothing: same messages, same order, however often it runs.
    for _ in 0..3 {
        assert_eq!(run(&config, &["list", "--json"]).await.status, 0);
    }
    assert_eq!(queues.dead_ids().await, before);

    let bad = run(&config, &["list", "--since", "yesterday"]).await;
    assert_eq!(bad.status, 2, "a bad time is a usage error");
    finish(stack, config).await;
}

#[tokio::test]
async fn replay_moves_only_the_matching_messages_and_the_processor_tickets_them() {
    let stack = Stack::start(|_| {}, "").await;
    let config = config_file(&stack);
    let queues = Queues::open(&stack).await;
    let mut seeds = Vec::new();
    for (id, org) in [
        ("r-1", "org-42"),
        ("k-1", "org-fabrikam"),
        ("r-2", "org-42"),
        ("k-2", "org-fabrikam"),
        ("r-3", "org-42"),
    ] {
        let mut seed = Seed::new(id, org, "syncro_503");
        seed.title = id;
        queues.seed(&seed).await;
        seeds.push(seed);
    }
    let kept: Vec<String> = seeds
        .iter()
        .filter(|s| s.org != "org-42")
        .map(Seed::message_id)
        .collect();
    let moved: Vec<String> = seeds
        .iter()
        .filter(|s| s.org == "org-42")
        .map(Seed::message_id)
        .collect();

    let replay = run(&config, &["replay", "--org", "org-42", "--json"]).await;
    assert_eq!(replay.status, 0, "{}", replay.stderr);
    assert_eq!(replay.json()["replayed"], 3);
    assert_eq!(queues.dead_ids().await, kept, "the others stay, in order");
    let work = stack.rabbit.take_all(&queues.work()).await;
    let work_ids: Vec<String> = work.iter().filter_map(|t| t.message_id.clone()).collect();
    assert_eq!(work_ids, moved, "replayed in order, ids kept");
    // Each replay is in its alert's trail, and the replay in the audit log.
    let db = stack.db();
    for id in &moved {
        let steps = opstate::trail::search(
            &db,
            &opstate::trail::TrailQuery {
                alert: Some(id.clone()),
                ..Default::default()
            },
        )
        .await
        .expect("the trail");
        let step = steps
            .iter()
            .find(|e| e.step == opstate::trail::Step::Replayed)
            .expect("a replayed step");
        assert!(step.detail["by"]
            .as_str()
            .is_some_and(|by| by.starts_with("relayctl:")));
        assert_eq!(step.organization.as_deref(), Some("org-42"));
    }
    let audit = opstate::store::audit::list(&db, None, 10)
        .await
        .expect("audit");
    assert_eq!(audit[0].action, "dlq.replay");
    assert_eq!(audit[0].detail["replayed"], 3);
    for taken in &work {
        assert!(header_str(&taken.headers, "x-relay-replayed-at").is_some());
        assert!(
            taken.headers.inner().get(ATTEMPTS_HEADER).is_none(),
            "attempts reset"
        );
        assert_eq!(taken.body["alert"]["organization"]["id"], "org-42");
    }
    // Put them back as they were published, and let a processor ticket them.
    for (taken, id) in work.iter().zip(&moved) {
        let body = serde_json::to_vec(&taken.body).expect("json");
        queues
            .publish("work", id, &body, taken.headers.clone())
            .await;
    }
    let worker = TestProcessor::spawn(&stack.config);
    eventually("the replayed alerts in Syncro", LONG, || {
        let refs = stack.references();
        moved.iter().all(|id| refs.contains(id))
    })
    .await;
    worker.stop().await.expect("stops");
    assert_eq!(stack.tickets().len(), 3, "one ticket per subject");
    assert_eq!(queues.dead_ids().await, kept);
    finish(stack, config).await;
}

#[tokio::test]
async fn a_dry_run_moves_nothing_and_plans_tickets_and_notes_from_the_grouping_state() {
    let stack = Stack::start(|_| {}, "").await;
    let config = config_file(&stack);
    let queues = Queues::open(&stack).await;
    let store = Store::new(&redis_url().into(), &stack.ctx.prefix).expect("store");
    let mut seeds = Vec::new();
    for (id, title) in [
        ("p-1", "Fresh"),
        ("p-2", "Fresh"),
        ("p-3", "Known"),
        ("p-4", "Handled"),
    ] {
        let mut seed = Seed::new(id, "org-42", "syncro_503");
        seed.title = title;
        queues.seed(&seed).await;
        seeds.push(seed);
    }
    // "Known" already has a ticket in Redis; p-4 was handled after it was dead-lettered.
    let subject = "m365.impossible_travel: Known";
    let group = GroupTicket {
        ticket_id: 777,
        customer_id: CONTOSO,
        subject: subject.into(),
        created_at: chrono::Utc::now(),
        checked_at: chrono::Utc::now(),
        recovered: false,
        number: None,
    };
    store
        .set_group(
            &processor::plan::group_key(CONTOSO, subject),
            &group,
            Duration::from_secs(300),
        )
        .await
        .expect("group");
    store
        .finish(&seeds[3].message_id(), &Handled::Created { ticket_id: 778 })
        .await
        .expect("outcome");
    let before = queues.dead_ids().await;

    let dry = run(&config, &["replay", "--dry-run", "--json"]).await;
    assert_eq!(dry.status, 0, "{}", dry.stderr);
    let dry = dry.json();
    assert_eq!(
        dry["plan"],
        json!({"create_ticket": 1, "note": 2, "already_handled": 1, "ignored": 0, "undecodable": 0})
    );
    let would: Vec<Value> = dry["messages"]
        .as_array()
        .expect("array")
        .iter()
        .map(|m| m["would"].clone())
        .collect();
    assert_eq!(
        would,
        [
            json!("create_ticket"),
            json!({"note": {"ticket_id": null}}),
            json!({"note": {"ticket_id": 777}}),
            json!("already_handled")
        ]
    );
    let human = run(&config, &["replay", "--dry-run"]).await;
    assert!(
        human
            .stdout
            .contains("1 would create a ticket, 2 would become notes, 1 already handled"),
        "{}",
        human.stdout
    );
    assert_eq!(queues.dead_ids().await, before, "nothing moved");
    assert_eq!(queues.count(&queues.work()).await, 0);
    finish(stack, config).await;
}

#[tokio::test]
async fn purge_refuses_without_yes_and_removes_only_the_matching_messages() {
    let stack = Stack::start(|_| {}, "").await;
    let config = config_file(&stack);
    let queues = Queues::open(&stack).await;
    for (id, kind) in [
        ("g-1", "syncro_422"),
        ("g-2", "syncro_500"),
        ("g-3", "syncro_422"),
    ] {
        queues.seed(&Seed::new(id, "org-42", kind)).await;
    }
    let refused = run(&config, &["purge", "--error-kind", "syncro_422"]).await;
    assert_eq!(refused.status, 2);
    assert!(
        refused.stderr.contains("2 of 3 messages would be removed"),
        "{}",
        refused.stderr
    );
    assert_eq!(queues.dead_ids().await.len(), 3);
    let purged = run(&config, &["purge", "--error-kind", "syncro_422", "--yes"]).await;
    assert_eq!(purged.status, 0, "{}", purged.stderr);
    assert_eq!(queues.dead_ids().await, [message_id("demo", "g-2")]);
    finish(stack, config).await;
}

#[tokio::test]
async fn a_replay_killed_halfway_and_run_again_delivers_every_alert_exactly_once() {
    let stack = Stack::start(|_| {}, "").await;
    let config = config_file(&stack);
    let queues = Queues::open(&stack).await;
    let mut ids = Vec::new();
    for (i, id) in [
        "x-0", "x-1", "x-2", "x-3", "x-4", "x-5", "x-6", "x-7", "x-8", "x-9",
    ]
    .into_iter()
    .enumerate()
    {
        let mut seed = Seed::new(id, "org-42", "syncro_503");
        // Three groups: tickets and notes both.
        seed.title = ["Group A", "Group B", "Group C"][i % 3];
        queues.seed(&seed).await;
        ids.push(seed.message_id());
    }
    // The state a replay killed between the confirm and the ack leaves: x-0 in both queues.
    let x0 = Seed::new("x-0", "org-42", "unused");
    let mut x0_seed = x0.body();
    let mut value: Value = serde_json::from_slice(&x0_seed).expect("json");
    value["alert"]["title"] = json!("Group A");
    x0_seed = serde_json::to_vec(&value).expect("json");
    queues
        .publish("work", &x0.message_id(), &x0_seed, FieldTable::default())
        .await;

    let mut child = relayctl(&config, &["replay", "--rate", "5"])
        .spawn()
        .expect("relayctl runs");
    wait::until("the replay to be halfway", LONG, || async {
        (queues.count(&queues.work()).await >= 5).then_some(())
    })
    .await;
    child.start_kill().expect("SIGKILL");
    let _ = child.wait().await;
    let left = queues.dead_ids().await.len();
    assert!(left > 0 && left < 10, "killed halfway: {left} left");

    let again = run(&config, &["replay", "--json"]).await;
    assert_eq!(again.status, 0, "{}", again.stderr);
    assert_eq!(
        queues.count(&queues.dead()).await,
        0,
        "nothing left in the dead-letter queue"
    );

    let worker = TestProcessor::spawn(&stack.config);
    eventually("every alert in Syncro", LONG, || {
        let refs = stack.references();
        ids.iter().all(|id| refs.contains(id))
    })
    .await;
    wait::until("the queues to drain", LONG, || async {
        (stack.queued().await == 0).then_some(())
    })
    .await;
    worker.stop().await.expect("stops");
    let mut counts: HashMap<String, usize> = HashMap::new();
    for r in stack.references() {
        *counts.entry(r).or_default() += 1;
    }
    for id in &ids {
        assert_eq!(
            counts.get(id),
            Some(&1),
            "{id} exactly once in Syncro: {counts:?}"
        );
    }
    assert_eq!(stack.tickets().len(), 3);
    finish(stack, config).await;
}
