//! Sending signed alerts the way a source does, and looking at what became of them: the
//! `relay-ref`s in the simulator's tickets and the messages in the private broker's queues.

use lapin::options::BasicGetOptions;
use lapin::{Connection, ConnectionProperties};
use serde_json::{json, Value};
use shared::amqp::topology::header_str;
use shared::message::message_id;
use shared::signing::{decode_whsec, standard_webhooks_signature};
use std::collections::{HashMap, HashSet};
use std::time::Duration;

/// The source every scenario sends as.
pub const SOURCE: &str = "demo";

/// `n` alerts for `org-42` spread over `subjects` titles, ids `{tag}-{i}`.
pub fn alerts(tag: &str, n: usize, subjects: usize) -> Vec<Value> {
    (0..n)
        .map(|i| {
            json!({
                "id": format!("{tag}-{i}"),
                "event_type": "edr.ransomware_behaviour",
                "severity": "high",
                "organization": {"id": "org-42", "name": "Contoso Ltd"},
                "title": format!("Mass file renames on host group {}", i % subjects.max(1)),
                "occurred_at": chrono::Utc::now().to_rfc3339(),
                "device": {"name": format!("WS-{:04}", i % 500)},
                "details": {"run": tag, "n": i}
            })
        })
        .collect()
}

/// The message ids of alerts, as ingest names them.
pub fn ids_of(alerts: &[Value]) -> Vec<String> {
    alerts
        .iter()
        .map(|a| message_id(SOURCE, a["id"].as_str().unwrap_or_default()))
        .collect()
}

/// What one POST got.
pub struct Posted {
    /// The HTTP status, or `None` when there was no answer (connection refused, reset, timeout).
    pub status: Option<u16>,
    /// The message ids of a 2xx answer.
    pub ids: Vec<String>,
}

/// Signs and posts batches to ingest's webhook for [`SOURCE`].
#[derive(Clone)]
pub struct Sender {
    http: reqwest::Client,
    url: String,
    key: Vec<u8>,
}

impl Sender {
    pub fn new(ingest: &str, secret: &str) -> anyhow::Result<Sender> {
        let key = decode_whsec(secret).ok_or_else(|| anyhow::anyhow!("not a whsec_ secret"))?;
        Ok(Sender {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()?,
            url: format!("{ingest}/v1/webhooks/{SOURCE}"),
            key,
        })
    }

    pub async fn post(&self, batch: &[Value]) -> Posted {
        let Ok(body) = serde_json::to_vec(batch) else {
            return Posted {
                status: None,
                ids: Vec::new(),
            };
        };
        let id = format!("msg_{}", uuid::Uuid::new_v4().simple());
        let now = chrono::Utc::now().timestamp();
        let response = self
            .http
            .post(&self.url)
            .header("content-type", "application/json")
            .header("webhook-id", &id)
            .header("webhook-timestamp", now.to_string())
            .header(
                "webhook-signature",
                standard_webhooks_signature(&self.key, &id, now, &body),
            )
            .body(body)
            .send()
            .await;
        let Ok(response) = response else {
            return Posted {
                status: None,
                ids: Vec::new(),
            };
        };
        let status = response.status().as_u16();
        let answer: Value = response.json().await.unwrap_or(Value::Null);
        let ids = if (200..300).contains(&status) {
            answer["ids"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        } else {
            Vec::new()
        };
        Posted {
            status: Some(status),
            ids,
        }
    }
}

/// The run's alerts as the simulator holds them.
#[derive(Default)]
pub struct Seen {
    /// Message id → how many comments carry its `relay-ref`.
    pub refs: HashMap<String, usize>,
    /// Tickets holding at least one wanted alert.
    pub tickets: usize,
    /// Their comments; the first of each is the ticket's own, the rest are notes.
    pub comments: usize,
    /// Repeats of a reference inside one comment (a note listing an alert twice).
    pub repeats_in_one_comment: usize,
}

impl Seen {
    pub fn present(&self) -> usize {
        self.refs.len()
    }

    pub fn duplicates(&self) -> usize {
        self.refs.values().map(|n| n.saturating_sub(1)).sum()
    }

    pub fn notes(&self) -> usize {
        self.comments.saturating_sub(self.tickets)
    }
}

/// Reads the simulator's whole state and counts the wanted alerts in it.
pub async fn syncro(
    http: &reqwest::Client,
    sim: &str,
    wanted: &HashSet<String>,
) -> anyhow::Result<Seen> {
    let state: Value = http
        .get(format!("{sim}/_admin/state"))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let mut seen = Seen::default();
    for ticket in state["data"]["tickets"].as_array().into_iter().flatten() {
        let comments = ticket["comments"].as_array().map_or(&[][..], Vec::as_slice);
        let mut ours = false;
        for comment in comments {
            let body = comment["body"].as_str().unwrap_or_default();
            let mut in_comment = HashSet::new();
            for r in processor::plan::references_in(body) {
                if wanted.contains(r) && !in_comment.insert(r) {
                    seen.repeats_in_one_comment += 1;
                }
                if wanted.contains(r) {
                    ours = true;
                    *seen.refs.entry(r.to_string()).or_insert(0) += 1;
                }
            }
        }
        if ours {
            seen.tickets += 1;
            seen.comments += comments.len();
        }
    }
    Ok(seen)
}

/// A message looked at in a queue.
pub struct Queued {
    pub message_id: String,
    /// `x-relay-error-kind` and `x-relay-error` (dead letters).
    pub error_kind: Option<String>,
    pub error: Option<String>,
}

/// Every message ready in `queue`, left in place: they are fetched unacknowledged on a
/// channel that is then closed, which returns them to the queue.
pub async fn peek(amqp_url: &str, queue: &str) -> anyhow::Result<Vec<Queued>> {
    let connection = Connection::connect(amqp_url, ConnectionProperties::default()).await?;
    let channel = connection.create_channel().await?;
    let mut seen = Vec::new();
    while let Some(message) = channel
        .basic_get(queue.into(), BasicGetOptions::default())
        .await?
    {
        let props = &message.delivery.properties;
        let headers = props.headers().clone().unwrap_or_default();
        seen.push(Queued {
            message_id: props
                .message_id()
                .as_ref()
                .map(|s| s.to_string())
                .unwrap_or_default(),
            error_kind: header_str(&headers, "x-relay-error-kind"),
            error: header_str(&headers, "x-relay-error"),
        });
    }
    let _ = channel.close(200, "peeked".into()).await;
    let _ = connection.close(200, "peeked".into()).await;
    Ok(seen)
}
