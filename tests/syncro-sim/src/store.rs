//! The account's state while the simulator runs: records by id plus the id counters.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::model::{Asset, Timestamp};
use crate::model::{AssetType, Contract, Customer, Data, Me, RmmAlert, Schedule, Ticket, User};

/// Where new ids start when the seed has none: large, like a real tenant's (LIVE saw ticket id
/// 108430330), and comments beyond 32 bits so an `i32` anywhere in a client breaks at once.
const FIRST_TICKET_ID: i64 = 108_430_330;
const FIRST_TICKET_NUMBER: i64 = 1001;
const FIRST_COMMENT_ID: i64 = 5_560_138_523;
const FIRST_LINE_ITEM_ID: i64 = 1_823_298;
const FIRST_CONTACT_ID: i64 = 3_900_001;
/// LIVE saw RMM alert id 704649718.
const FIRST_RMM_ALERT_ID: i64 = 704_649_718;

/// Records by id, so lookups stay cheap under load.
pub struct Store {
    pub me: Me,
    pub users: Vec<User>,
    pub ticket_statuses: Vec<String>,
    pub problem_types: Vec<String>,
    pub priorities: Vec<String>,
    pub asset_types: Vec<AssetType>,
    pub customers: BTreeMap<i64, Customer>,
    pub contracts: BTreeMap<i64, Contract>,
    pub schedules: BTreeMap<i64, Schedule>,
    pub assets: BTreeMap<i64, Asset>,
    pub tickets: BTreeMap<i64, Ticket>,
    pub ticket_types: Vec<AssetType>,
    pub rmm_alerts: BTreeMap<i64, RmmAlert>,
    next_ticket_id: i64,
    next_ticket_number: i64,
    next_comment_id: i64,
    next_line_item_id: i64,
    next_contact_id: i64,
    next_rmm_alert_id: i64,
}

/// How many records of each kind exist (`GET /_admin/state` → `counts`).
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct Counts {
    pub customers: usize,
    pub contracts: usize,
    pub schedules: usize,
    pub line_items: usize,
    pub assets: usize,
    pub tickets: usize,
    pub comments: usize,
    pub contacts: usize,
    pub rmm_alerts: usize,
}

fn by_id<T>(items: Vec<T>, id: impl Fn(&T) -> i64) -> BTreeMap<i64, T> {
    items.into_iter().map(|i| (id(&i), i)).collect()
}

fn after_max(ids: impl Iterator<Item = i64>, floor: i64) -> i64 {
    ids.max().map_or(floor, |m| (m + 1).max(floor))
}

impl Store {
    pub fn new(data: Data) -> Self {
        let next_ticket_id = after_max(data.tickets.iter().map(|t| t.id), FIRST_TICKET_ID);
        let next_ticket_number =
            after_max(data.tickets.iter().map(|t| t.number), FIRST_TICKET_NUMBER);
        let next_comment_id = after_max(
            data.tickets
                .iter()
                .flat_map(|t| t.comments.iter().map(|c| c.id)),
            FIRST_COMMENT_ID,
        );
        let next_line_item_id = after_max(
            data.schedules
                .iter()
                .flat_map(|s| s.lines.iter().map(|l| l.id)),
            FIRST_LINE_ITEM_ID,
        );
        let next_contact_id = after_max(
            data.customers
                .iter()
                .flat_map(|c| c.contacts.iter().map(|k| k.id)),
            FIRST_CONTACT_ID,
        );
        let next_rmm_alert_id = after_max(data.rmm_alerts.iter().map(|a| a.id), FIRST_RMM_ALERT_ID);
        Self {
            me: data.me,
            users: data.users,
            ticket_statuses: data.ticket_statuses,
            problem_types: data.problem_types,
            priorities: data.priorities,
            asset_types: data.asset_types,
            customers: by_id(data.customers, |c| c.id),
            contracts: by_id(data.contracts, |c| c.id),
            schedules: by_id(data.schedules, |s| s.id),
            assets: by_id(data.assets, |a| a.id),
            tickets: by_id(data.tickets, |t| t.id),
            ticket_types: data.ticket_types,
            rmm_alerts: by_id(data.rmm_alerts, |a| a.id),
            next_ticket_id,
            next_ticket_number,
            next_comment_id,
            next_line_item_id,
            next_contact_id,
            next_rmm_alert_id,
        }
    }

    /// The state in seed form: feeding it back as a seed recreates this account.
    pub fn to_data(&self) -> Data {
        Data {
            me: self.me.clone(),
            users: self.users.clone(),
            ticket_statuses: self.ticket_statuses.clone(),
            problem_types: self.problem_types.clone(),
            priorities: self.priorities.clone(),
            asset_types: self.asset_types.clone(),
            customers: self.customers.values().cloned().collect(),
            contracts: self.contracts.values().cloned().collect(),
            schedules: self.schedules.values().cloned().collect(),
            assets: self.assets.values().cloned().collect(),
            tickets: self.tickets.values().cloned().collect(),
            ticket_types: self.ticket_types.clone(),
            rmm_alerts: self.rmm_alerts.values().cloned().collect(),
        }
    }

    pub fn counts(&self) -> Counts {
        Counts {
            customers: self.customers.len(),
            contracts: self.contracts.len(),
            schedules: self.schedules.len(),
            line_items: self.schedules.values().map(|s| s.lines.len()).sum(),
            assets: self.assets.len(),
            tickets: self.tickets.len(),
            comments: self.tickets.values().map(|t| t.comments.len()).sum(),
            contacts: self.customers.values().map(|c| c.contacts.len()).sum(),
            rmm_alerts: self.rmm_alerts.len(),
        }
    }

    pub fn new_ticket_id(&mut self) -> i64 {
        take(&mut self.next_ticket_id)
    }

    pub fn new_ticket_number(&mut self) -> i64 {
        take(&mut self.next_ticket_number)
    }

    /// Keeps automatic numbers above a number chosen by a client.
    pub fn note_ticket_number(&mut self, number: i64) {
        self.next_ticket_number = self.next_ticket_number.max(number + 1);
    }

    pub fn new_comment_id(&mut self) -> i64 {
        take(&mut self.next_comment_id)
    }

    pub fn new_line_item_id(&mut self) -> i64 {
        take(&mut self.next_line_item_id)
    }

    pub fn new_contact_id(&mut self) -> i64 {
        take(&mut self.next_contact_id)
    }

    pub fn new_rmm_alert_id(&mut self) -> i64 {
        take(&mut self.next_rmm_alert_id)
    }

    /// The asset type's id for an asset type name.
    pub fn asset_type_id(&self, name: &str) -> Option<i64> {
        self.asset_types
            .iter()
            .find(|t| t.name == name)
            .map(|t| t.id)
    }

    pub fn user(&self, id: i64) -> Option<&User> {
        self.users.iter().find(|u| u.id == id)
    }
}

fn take(counter: &mut i64) -> i64 {
    let id = *counter;
    *counter += 1;
    id
}

/// Formats a timestamp as Syncro's examples do: UTC with milliseconds and `Z`.
pub fn format_time(t: &Timestamp) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}
