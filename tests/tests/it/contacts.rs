//! Contacts on new tickets (issue 16), end to end: signed alerts through ingest, real
//! RabbitMQ and Redis, the processor, and the Syncro simulator's contacts. What an MSP sees:
//! the ticket's contact in Syncro, a contact made for a new user when asked to, a ticket that
//! never waits long or fails for a lookup, and the outcomes in the metrics.

use relay_tests::alerts::alert;
use relay_tests::processor::{Stack, TestProcessor, CONTOSO};
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use syncro_sim::FaultSpec;

const LONG: Duration = Duration::from_secs(60);
/// Jane Doe, Contoso's contact in the seed (j.doe@contoso.com).
const JANE_DOE: i64 = 3105;
/// Lee Gu, Fabrikam's contact in the seed (lee.gu@fabrikam.com).
const LEE_GU: i64 = 3201;

const MATCH: &str = "
[tickets.contact]
match_user = true
";

/// An alert of `org` with its own title (its own ticket) and `user`.
fn alert_for(id: &str, org: &str, title: &str, user: &str) -> Value {
    let mut a = alert(id);
    a["organization"] = json!({"id": org});
    a["title"] = json!(title);
    a["user"] = json!(user);
    a
}

/// The contact id of the ticket whose subject ends with `title`.
fn contact_of(stack: &Stack, title: &str) -> Option<i64> {
    let tickets = stack.tickets();
    tickets
        .iter()
        .find(|t| t.subject.ends_with(title))
        .unwrap_or_else(|| panic!("no ticket for {title:?} in {tickets:#?}"))
        .contact_id
}

/// Contoso's contacts with this email (any case).
fn contacts_with_email(stack: &Stack, email: &str) -> Vec<i64> {
    stack.sim.sim().with_store(|s| {
        s.customers
            .get(&CONTOSO)
            .map(|c| {
                c.contacts
                    .iter()
                    .filter(|k| {
                        k.email
                            .as_deref()
                            .is_some_and(|e| e.eq_ignore_ascii_case(email))
                    })
                    .map(|k| k.id)
                    .collect()
            })
            .unwrap_or_default()
    })
}

fn lookups(outcome: &str) -> String {
    format!("relay_processor_contact_lookups_total{{outcome=\"{outcome}\"}}")
}

#[tokio::test]
async fn a_new_ticket_gets_the_customers_contact_whose_email_is_the_alerts_user() {
    let stack = Stack::start(|_| {}, MATCH).await;
    let worker = TestProcessor::spawn(&stack.config);
    stack
        .send_and_settle(
            &[
                alert_for("c-jane", "org-42", "Jane's sign-in", "J.Doe@CONTOSO.com"),
                alert_for(
                    "c-jane-2",
                    "org-42",
                    "Jane's mailbox rule",
                    "j.doe@contoso.com",
                ),
                alert_for(
                    "c-lee",
                    "org-fabrikam",
                    "Lee's sign-in",
                    "lee.gu@fabrikam.com",
                ),
                alert_for("c-nobody", "org-42", "A stranger", "nobody@contoso.com"),
                // Fabrikam's contact, but the alert is Contoso's: never another customer's.
                alert_for("c-cross", "org-42", "Cross customer", "lee.gu@fabrikam.com"),
                // The catch-all customer's contacts are nobody the alert is about.
                alert_for("c-unmapped", "org-new", "Unmapped", "j.doe@contoso.com"),
            ],
            LONG,
        )
        .await;
    assert_eq!(contact_of(&stack, "Jane's sign-in"), Some(JANE_DOE));
    assert_eq!(contact_of(&stack, "Jane's mailbox rule"), Some(JANE_DOE));
    assert_eq!(contact_of(&stack, "Lee's sign-in"), Some(LEE_GU));
    assert_eq!(contact_of(&stack, "A stranger"), None);
    assert_eq!(contact_of(&stack, "Cross customer"), None);
    assert_eq!(contact_of(&stack, "Unmapped"), None);
    assert!(
        contacts_with_email(&stack, "nobody@contoso.com").is_empty(),
        "no contact is created unless create_missing is on"
    );
    // Cached per customer: Contoso's list read once for four tickets, Fabrikam's once.
    assert_eq!(
        stack.sim.sim().counters().route_total("GET /contacts"),
        2,
        "one contact list read per customer"
    );
    assert_eq!(worker.metric(&lookups("found")).await, Some(3.0));
    assert_eq!(worker.metric(&lookups("none")).await, Some(2.0));
    worker.stop().await.expect("stopped");
    stack.finish().await;
}

#[tokio::test]
async fn a_missing_contact_is_created_once_when_configured() {
    let config = format!("{MATCH}create_missing = true\n");
    let stack = Stack::start(|_| {}, &config).await;
    let worker = TestProcessor::spawn(&stack.config);
    stack
        .send_and_settle(
            &[alert_for(
                "n-1",
                "org-42",
                "New user, first",
                "Pat.Kim@contoso.com",
            )],
            LONG,
        )
        .await;
    stack
        .send_and_settle(
            &[alert_for(
                "n-2",
                "org-42",
                "New user, second",
                "pat.kim@contoso.com",
            )],
            LONG,
        )
        .await;
    let made = contacts_with_email(&stack, "pat.kim@contoso.com");
    assert_eq!(made.len(), 1, "one contact for the user: {made:?}");
    assert_eq!(contact_of(&stack, "New user, first"), Some(made[0]));
    assert_eq!(contact_of(&stack, "New user, second"), Some(made[0]));
    assert_eq!(worker.metric(&lookups("created")).await, Some(1.0));
    assert_eq!(worker.metric(&lookups("found")).await, Some(1.0));
    worker.stop().await.expect("stopped");
    stack.finish().await;
}

#[tokio::test]
async fn a_failing_or_slow_lookup_never_holds_back_or_fails_the_ticket() {
    let config = format!("{MATCH}lookup_timeout_ms = 500\n");
    let stack = Stack::start(|_| {}, &config).await;
    // Contoso's list hangs; Fabrikam's answers 500.
    let sim = stack.sim.sim();
    sim.add_fault(FaultSpec::hang().on("GET /contacts").times(1))
        .expect("fault");
    let worker = TestProcessor::spawn(&stack.config);
    let started = Instant::now();
    stack
        .send_and_settle(
            &[alert_for(
                "s-1",
                "org-42",
                "Slow contacts",
                "j.doe@contoso.com",
            )],
            LONG,
        )
        .await;
    let waited = started.elapsed();
    assert_eq!(contact_of(&stack, "Slow contacts"), None);
    assert!(
        waited < Duration::from_secs(15),
        "the ticket waited {waited:?} for a contact lookup bounded at 500 ms"
    );
    sim.add_fault(FaultSpec::error(500).on("GET /contacts").times(10))
        .expect("fault");
    stack
        .send_and_settle(
            &[alert_for(
                "s-2",
                "org-fabrikam",
                "Broken contacts",
                "lee.gu@fabrikam.com",
            )],
            LONG,
        )
        .await;
    assert_eq!(contact_of(&stack, "Broken contacts"), None);
    assert_eq!(worker.metric(&lookups("failed")).await, Some(2.0));
    // Both alerts became tickets on their first delivery: nothing was retried.
    assert_eq!(stack.tickets().len(), 2);
    worker.stop().await.expect("stopped");
    stack.finish().await;
}
