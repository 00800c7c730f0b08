//! What a request is for, so a shared budget can serve the important ones first.
//!
//! The caller scopes its work with [`with_priority`]; every request the client sends inside
//! that scope carries the [`Priority`] to the [`crate::RequestGate`], which reads it with
//! [`current`]. Requests outside any scope are [`Class::Read`]: an operator's command or a
//! lookup nobody classified waits behind new tickets, not behind a storm's notes.
//!
//! The order is the product's: a new incident's ticket (and the reads it needs) before
//! anything else, then status reads of existing tickets, then notes and resolves, then
//! background work (billing). Within a class, critical before high before the rest; within
//! a class and severity, fair across *flows* (a customer for creations, a ticket for notes),
//! so one customer's storm cannot starve another customer's new incident.

use std::future::Future;

/// The kind of work a request serves, in the order the budget serves them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Class {
    /// Creating the ticket of a new group, and the lookups that creation needs.
    Create = 0,
    /// Reading an existing ticket's status (is it still open?), and unclassified requests.
    Read = 1,
    /// Notes on existing tickets, and the resolve a resolved alert asks for.
    Note = 2,
    /// Work nobody waits for: the billable-user sync.
    Background = 3,
}

impl Class {
    pub const ALL: [Class; 4] = [Class::Create, Class::Read, Class::Note, Class::Background];

    pub fn as_str(self) -> &'static str {
        match self {
            Class::Create => "create",
            Class::Read => "read",
            Class::Note => "note",
            Class::Background => "background",
        }
    }
}

/// What the gate needs to order one request against every other worker's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Priority {
    pub class: Class,
    /// 0 = critical, 1 = high, 2 = medium, 3 = low, 4 = info.
    pub urgency: u8,
    /// The queue this request is fair within: `customer:{id}` for creations,
    /// `ticket:{id}` for notes.
    pub flow: String,
}

impl Priority {
    pub fn new(class: Class, urgency: u8, flow: impl Into<String>) -> Priority {
        Priority {
            class,
            urgency: urgency.min(4),
            flow: flow.into(),
        }
    }

    /// The priority of requests sent outside any [`with_priority`] scope.
    pub fn unscoped() -> Priority {
        Priority::new(Class::Read, 2, "unscoped")
    }
}

tokio::task_local! {
    static PRIORITY: Priority;
}

/// Runs `work` with every Syncro request inside it carrying `priority`.
pub async fn with_priority<F: Future>(priority: Priority, work: F) -> F::Output {
    PRIORITY.scope(priority, work).await
}

/// The priority of the request being admitted: the innermost scope's, else
/// [`Priority::unscoped`].
pub fn current() -> Priority {
    PRIORITY
        .try_with(Clone::clone)
        .unwrap_or_else(|_| Priority::unscoped())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_innermost_scope_wins_and_outside_any_scope_is_a_read() {
        assert_eq!(current(), Priority::unscoped());
        let create = Priority::new(Class::Create, 0, "customer:1");
        let note = Priority::new(Class::Note, 1, "ticket:7");
        let seen = with_priority(create.clone(), async {
            let inner = with_priority(note.clone(), async { current() }).await;
            (current(), inner)
        })
        .await;
        assert_eq!(seen, (create, note));
    }

    #[test]
    fn classes_are_served_in_the_product_order() {
        let mut classes = Class::ALL;
        classes.sort();
        assert_eq!(classes, Class::ALL);
        assert_eq!(Priority::new(Class::Note, 9, "x").urgency, 4);
    }
}
