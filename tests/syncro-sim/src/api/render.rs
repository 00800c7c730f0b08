//! Syncro's JSON shapes, built from the stored records: every field of the spec's examples,
//! nullable ones as `null`, ids as integers, decimals as strings, timestamps with milliseconds.

use super::json::{obj, J};
use crate::model::{
    Asset, Comment, Contact, Contract, Customer, LineItem, Schedule, Ticket, Timestamp, User,
};
use crate::store::{format_time, Store};

/// The account id every record carries (one account per simulator).
pub const ACCOUNT_ID: i64 = 1;

pub fn time(t: &Timestamp) -> J<'static> {
    J::Owned(format_time(t))
}

pub fn opt_time(t: &Option<Timestamp>) -> J<'static> {
    t.as_ref().map_or(J::Null, time)
}

/// Syncro's decimal strings: `42` → `"42.0"`, `9.99` → `"9.99"` (Rails renders BigDecimal so).
pub fn decimal(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.1}")
    } else {
        format!("{v}")
    }
}

fn cents_to_dollars(cents: i64) -> f64 {
    cents as f64 / 100.0
}

pub fn contact(c: &Contact, customer_id: i64) -> J<'_> {
    obj! {
        "id" => c.id,
        "name" => &c.name,
        "address1" => J::Null,
        "address2" => J::Null,
        "city" => J::Null,
        "state" => J::Null,
        "zip" => J::Null,
        "email" => &c.email,
        "phone" => &c.phone,
        "mobile" => &c.mobile,
        "latitude" => J::Null,
        "longitude" => J::Null,
        "customer_id" => customer_id,
        "account_id" => ACCOUNT_ID,
        "notes" => &c.notes,
        "created_at" => time(&c.created_at),
        "updated_at" => time(&c.updated_at),
        "vendor_id" => J::Null,
        "properties" => J::empty_object(),
        "opt_out" => false,
        "extension" => J::Null,
    }
}

/// How much of a customer to render.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum CustomerView {
    /// Embedded in an asset: no `location_name`, no contacts (as in the spec's asset example).
    Embedded,
    /// List items and autocomplete: with `contacts`.
    List,
    /// `GET /customers/{id}`: also `phones`, `contracts` and `addresses` (LIVE).
    Detail,
}

pub fn customer<'a>(c: &'a Customer, store: &'a Store, view: CustomerView) -> J<'a> {
    let business_then_name = c.business_then_name();
    let fullname = c.fullname();
    let business_and_full_name = match (&c.business_name, &fullname) {
        (Some(b), Some(f)) if !b.is_empty() => format!("{b} - {f}"),
        _ => business_then_name.clone(),
    };
    let mut m = obj! {
        "id" => c.id,
        "firstname" => &c.firstname,
        "lastname" => &c.lastname,
        "fullname" => fullname,
        "business_name" => &c.business_name,
        "email" => &c.email,
        "phone" => &c.phone,
        "mobile" => &c.mobile,
        "created_at" => time(&c.created_at),
        "updated_at" => time(&c.updated_at),
        "pdf_url" => J::Null,
        "address" => &c.address,
        "address_2" => &c.address_2,
        "city" => &c.city,
        "state" => &c.state,
        "zip" => &c.zip,
        "latitude" => J::Null,
        "longitude" => J::Null,
        "notes" => &c.notes,
        "get_sms" => false,
        "opt_out" => false,
        "disabled" => c.disabled,
        "no_email" => c.no_email,
        "location_id" => J::Null,
        "properties" => &c.properties,
        "online_profile_url" => format!(
            "https://{}.syncromsp.com/my_profile/v2/index?portal_key=sim{}",
            store.me.subdomain, c.id
        ),
        "tax_rate_id" => J::Null,
        "notification_email" => J::Null,
        "invoice_cc_emails" => J::Null,
        "invoice_term_id" => J::Null,
        "referred_by" => J::Null,
        "ref_customer_id" => J::Null,
        "business_and_full_name" => business_and_full_name,
        "business_then_name" => business_then_name,
    };
    if view == CustomerView::Embedded {
        return m;
    }
    m.push("location_name", J::Null);
    let contacts: Vec<J> = c.contacts.iter().map(|k| contact(k, c.id)).collect();
    m.push("contacts", contacts);
    if view == CustomerView::Detail {
        let phones: Vec<J> = [("Main", &c.phone), ("Mobile", &c.mobile)]
            .into_iter()
            .filter_map(|(label, number)| Some((label, number.as_ref()?)))
            .enumerate()
            .map(|(i, (label, number))| {
                obj! {
                    "id" => c.id * 10 + i as i64,
                    "label" => label,
                    "number" => number,
                    "extension" => J::Null,
                    "customer_id" => c.id,
                }
            })
            .collect();
        let contracts: Vec<J> = store
            .contracts
            .values()
            .filter(|k| k.customer_id == c.id)
            .map(contract)
            .collect();
        m.push("phones", phones);
        m.push("contracts", contracts);
        m.push("addresses", J::empty_array());
        m.push("ticket_links", J::empty_array());
        m.push("invoice_links", J::empty_array());
    }
    m
}

pub fn contract(k: &Contract) -> J<'_> {
    obj! {
        "id" => k.id,
        "account_id" => ACCOUNT_ID,
        "customer_id" => k.customer_id,
        "name" => &k.name,
        "contract_amount" => &k.contract_amount,
        "start_date" => opt_time(&k.start_date),
        "end_date" => opt_time(&k.end_date),
        "primary_contact" => &k.primary_contact,
        "description" => &k.description,
        "created_at" => time(&k.created_at),
        "updated_at" => time(&k.updated_at),
        "status" => &k.status,
        "likelihood" => k.likelihood,
        "apply_to_all" => k.apply_to_all,
        "sla_id" => k.sla_id,
    }
}

pub fn line_item(schedule_id: i64, l: &LineItem) -> J<'_> {
    obj! {
        "id" => l.id,
        "cost_cents" => l.cost_cents,
        "description" => &l.description,
        "name" => &l.name,
        "position" => l.position,
        "product_id" => l.product_id,
        "quantity" => decimal(l.quantity),
        "retail_cents" => l.retail_cents,
        "schedule_id" => schedule_id,
        "taxable" => l.taxable,
        "user_id" => l.user_id,
        "price_cost" => cents_to_dollars(l.cost_cents),
        "price_retail" => cents_to_dollars(l.retail_cents),
        "product_category" => &l.product_category,
        "asset_type_id" => l.asset_type_id,
        "recurring_type_id" => l.recurring_type_id,
        "device_ids" => J::empty_array(),
        "one_time_charge" => l.one_time_charge,
    }
}

pub fn schedule(s: &Schedule) -> J<'_> {
    let subtotal: f64 = s
        .lines
        .iter()
        .map(|l| l.quantity * cents_to_dollars(l.retail_cents))
        .sum();
    let lines: Vec<J> = s.lines.iter().map(|l| line_item(s.id, l)).collect();
    obj! {
        "id" => s.id,
        "account_id" => ACCOUNT_ID,
        "customer_id" => s.customer_id,
        "email_customer" => s.email_customer,
        "frequency" => &s.frequency,
        "name" => &s.name,
        "next_run" => opt_time(&s.next_run),
        "snail_mail" => s.snail_mail,
        "charge_mop" => s.charge_mop,
        "subtotal" => (subtotal * 100.0).round() / 100.0,
        "invoice_unbilled_ticket_charges" => s.invoice_unbilled_ticket_charges,
        "paused" => s.paused,
        "last_invoice_paid" => J::Null,
        "lines" => lines,
    }
}

/// The RMM alert triggers every agent reports, all off (Syncro sends them as strings).
fn rmm_triggers() -> J<'static> {
    const TRIGGERS: [&str; 10] = [
        "bsod_triggered",
        "time_triggered",
        "no_av_triggered",
        "defrag_triggered",
        "firewall_triggered",
        "app_crash_triggered",
        "low_hd_space_triggered",
        "smart_failure_triggered",
        "device_manager_triggered",
        "agent_offline_triggered",
    ];
    J::Obj(TRIGGERS.iter().map(|k| (*k, J::Str("false"))).collect())
}

pub fn asset<'a>(a: &'a Asset, store: &'a Store) -> J<'a> {
    let customer_json = store
        .customers
        .get(&a.customer_id)
        .map_or(J::Null, |c| customer(c, store, CustomerView::Embedded));
    let rmm_store = obj! {
        "id" => a.id,
        "asset_id" => a.id,
        "account_id" => ACCOUNT_ID,
        "triggers" => rmm_triggers(),
        "windows_updates" => J::empty_object(),
        "emsisoft" => J::empty_object(),
        "general" => J::empty_object(),
        "created_at" => time(&a.created_at),
        "updated_at" => time(&a.updated_at),
        "override_alert_agent_offline_mins" => J::Null,
        "override_alert_agent_rearm_after_mins" => J::Null,
        "override_low_hd_threshold" => J::Null,
        "override_autoresolve_offline_alert" => J::Null,
        "override_low_hd_thresholds" => J::Null,
    };
    obj! {
        "id" => a.id,
        "name" => &a.name,
        "customer_id" => a.customer_id,
        "contact_id" => a.contact_id,
        "created_at" => time(&a.created_at),
        "updated_at" => time(&a.updated_at),
        "properties" => &a.properties,
        "asset_type" => &a.asset_type,
        "asset_serial" => &a.asset_serial,
        "external_rmm_link" => J::Null,
        "customer" => customer_json,
        "rmm_links" => J::empty_array(),
        "rmm_store" => rmm_store,
        "address" => J::Null,
        "has_live_chat" => false,
        "snmp_enabled" => a.snmp_enabled,
    }
}

pub fn user(u: &User) -> J<'_> {
    obj! {
        "id" => u.id,
        "email" => &u.email,
        "full_name" => &u.name,
        "created_at" => "2024-01-01T00:00:00.000Z",
        "updated_at" => "2024-01-01T00:00:00.000Z",
        "group" => &u.group,
        "admin" => u.admin,
        "color" => "1e3e96",
    }
}

/// A comment as `POST /tickets/{id}/comment` and ticket details return it; `do_not_email` is
/// write-only in Syncro (LIVE) and is never rendered.
pub fn comment(c: &Comment, ticket_id: i64) -> J<'_> {
    obj! {
        "id" => c.id,
        "created_at" => time(&c.created_at),
        "updated_at" => time(&c.updated_at),
        "ticket_id" => ticket_id,
        "subject" => &c.subject,
        "body" => &c.body,
        "tech" => &c.tech,
        "hidden" => c.hidden,
        "user_id" => c.user_id,
    }
}

/// A comment as `GET /tickets/{id}/comments` lists it: with `is_rich_text` and `user`.
pub fn listed_comment<'a>(c: &'a Comment, ticket_id: i64, store: &'a Store) -> J<'a> {
    let mut m = comment(c, ticket_id);
    let user_json = c
        .user_id
        .and_then(|id| store.user(id))
        .map_or_else(J::empty_object, user);
    m.push("is_rich_text", false);
    m.push("user", user_json);
    m
}

/// Which comments a ticket list item carries (`all_comments` is deprecated; since 2026-03-11
/// its default is false, which leaves only the first comment).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum TicketView {
    List { all_comments: bool },
    Detail,
}

pub fn ticket<'a>(t: &'a Ticket, store: &'a Store, view: TicketView) -> J<'a> {
    let customer = store.customers.get(&t.customer_id);
    let contact = customer.and_then(|c| {
        c.contacts
            .iter()
            .find(|k| Some(k.id) == t.contact_id)
            .map(|k| (c.id, k))
    });
    let contract_name = t
        .contract_id
        .and_then(|id| store.contracts.get(&id))
        .map(|k| J::Str(&k.name));
    let user = t.user_id.and_then(|id| store.user(id));
    let comments: Vec<J> = match view {
        TicketView::List {
            all_comments: false,
        } => t
            .comments
            .iter()
            .take(1)
            .map(|c| comment(c, t.id))
            .collect(),
        _ => t.comments.iter().rev().map(|c| comment(c, t.id)).collect(),
    };
    let mut m = obj! {
        "id" => t.id,
        "number" => t.number,
        "subject" => &t.subject,
        "created_at" => time(&t.created_at),
        "customer_id" => t.customer_id,
        "customer_business_then_name" => customer.map(Customer::business_then_name),
        "due_date" => opt_time(&t.due_date),
        "resolved_at" => opt_time(&t.resolved_at),
        "start_at" => opt_time(&t.start_at),
        "end_at" => opt_time(&t.end_at),
        "location_id" => t.location_id,
        "location_name" => J::Null,
        "problem_type" => &t.problem_type,
        "status" => &t.status,
        "ticket_type_id" => t.ticket_type_id,
        "ticket_type_name" => J::Null,
        "properties" => &t.properties,
        "user_id" => t.user_id,
        "updated_at" => time(&t.updated_at),
        "pdf_url" => J::Null,
        "priority" => &t.priority,
        "billing_status" => J::Null,
        "tag_list" => t.tag_list.as_slice(),
        "sla_name" => J::Null,
        "creator_name_or_email" => &store.me.user_name,
        "contact_fullname" => contact.map(|(_, k)| J::Str(&k.name)),
        "contract_name" => contract_name,
        "address_id" => J::Null,
        "parent" => false,
        "parent_id" => J::Null,
        "child" => false,
        "recurring" => false,
        "customer_reply" => false,
        "total_formatted_billable_time" => J::Null,
        "contact_id" => t.contact_id,
        "sla_breached" => false,
        "sla_breaching_soon" => false,
        "contract_id" => t.contract_id,
        "sla_id" => t.sla_id,
        "customer_tag_list" => J::empty_array(),
        "resolution_time" => J::Null,
        "response_time" => J::Null,
        "customer_icons" => J::empty_array(),
        "comments" => comments,
        "user" => user.map(self::user),
    };
    if view != TicketView::Detail {
        return m;
    }
    let assets: Vec<J> = t
        .asset_ids
        .iter()
        .filter_map(|id| store.assets.get(id))
        .map(|a| asset(a, store))
        .collect();
    let detail = [
        ("intake_form_html", J::Null),
        ("signature_name", J::from(&t.signature_name)),
        ("signature_date", J::Null),
        ("asset_ids", J::from(t.asset_ids.as_slice())),
        ("outtake_form_name", J::Null),
        ("outtake_form_date", J::Null),
        ("outtake_form_html", J::Null),
        ("attachments", J::empty_array()),
        ("ticket_timers", J::empty_array()),
        ("line_items", J::empty_array()),
        ("worksheet_results", J::empty_array()),
        ("assets", J::Arr(assets)),
        ("appointments", J::empty_array()),
        ("ticket_fields", J::empty_array()),
        ("ticket_answers", J::empty_array()),
        (
            "customer",
            customer.map_or(J::Null, |c| self::customer(c, store, CustomerView::List)),
        ),
        (
            "contact",
            contact.map_or(J::Null, |(cid, k)| self::contact(k, cid)),
        ),
        ("ticket_type", J::Null),
        ("address", J::Null),
    ];
    for (k, v) in detail {
        m.push(k, v);
    }
    m
}

#[cfg(test)]
mod tests {
    use super::decimal;

    #[test]
    fn decimals_render_like_rails_big_decimals() {
        assert_eq!(decimal(42.0), "42.0");
        assert_eq!(decimal(0.0), "0.0");
        assert_eq!(decimal(9.99), "9.99");
        assert_eq!(decimal(2.5), "2.5");
    }
}
