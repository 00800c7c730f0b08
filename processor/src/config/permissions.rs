//! The token preflight of `check-config --online`: for every feature the configuration
//! turns on, the Syncro token permissions it needs (by Syncro's names, as the spec's
//! operations list them), whether `GET /me` says the token has each, and what breaks
//! without it. A missing one is a problem (the check fails); one `GET /me` does not report
//! is a note (it cannot be told from here).
//!
//! `GET /me` reports permissions as groups of flags (`ticket.write`, `customer.read`, …);
//! several named permissions share one flag, so the flag each maps to is the closest the
//! document shows. The spec's example has no RMM-alert group: the simulator reports one as
//! `rmm_alert.{read,create,manage,delete}`, and an account that reports none gets notes.

use crate::config::ProcessorConfig;
use syncro::Me;

/// One permission a feature needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Need {
    /// Syncro's name, e.g. "RMM Alerts - Create".
    pub permission: &'static str,
    /// The `GET /me` flag that reports it: `(group, flag)`.
    pub flag: (&'static str, &'static str),
    /// What stops working without it.
    pub breaks: &'static str,
}

/// A feature the configuration turns on, and what it needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Feature {
    pub name: &'static str,
    /// The key that turns it on (`always` for the core).
    pub key: &'static str,
    pub needs: Vec<Need>,
}

/// What `GET /me` says of one permission.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grant {
    Granted,
    Missing,
    /// `GET /me` has no such flag.
    NotReported,
}

impl Grant {
    pub fn of(me: &Me, need: &Need) -> Grant {
        match me.permission(need.flag.0, need.flag.1) {
            Some(true) => Grant::Granted,
            Some(false) => Grant::Missing,
            None => Grant::NotReported,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Grant::Granted => "ok",
            Grant::Missing => "MISSING",
            Grant::NotReported => "unknown",
        }
    }
}

/// One line of the preflight.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PermissionCheck {
    pub feature: &'static str,
    pub key: &'static str,
    pub need: Need,
    pub grant: Grant,
}

const fn need(
    permission: &'static str,
    flag: (&'static str, &'static str),
    breaks: &'static str,
) -> Need {
    Need {
        permission,
        flag,
        breaks,
    }
}

/// Every feature `config` turns on, core first.
pub fn features(config: &ProcessorConfig) -> Vec<Feature> {
    let mut out = vec![Feature {
        name: "tickets and notes",
        key: "always",
        needs: vec![
            need(
                "Tickets - Create",
                ("ticket", "write"),
                "no ticket is created: every alert is retried, then dead-lettered",
            ),
            need(
                "Tickets - Edit",
                ("ticket", "write"),
                "no note is added to a group's ticket, and no ticket is reopened or resolved",
            ),
            need(
                "Tickets - View Details",
                ("ticket", "read"),
                "a group's ticket is never read: a ticket resolved in Syncro still gets notes",
            ),
            need(
                "Tickets - List/Search",
                ("ticket", "read"),
                "a ticket Redis forgot is not found again, so its group gets a second one",
            ),
        ],
    }];
    if config.contracts.attach_devices {
        out.push(Feature {
            name: "devices on tickets",
            key: "contracts.attach_devices",
            needs: vec![need(
                "Assets - List/Search",
                ("asset", "read"),
                "no asset is attached; the first comment says the lookup failed",
            )],
        });
    }
    if config.contracts.add_to_tickets {
        out.push(Feature {
            name: "contracts on tickets",
            key: "contracts.add_to_tickets",
            needs: vec![need(
                "Contracts - List/Search",
                ("contract", "read"),
                "the contracts cannot be checked by check-config",
            )],
        });
    }
    let contact = &config.tickets.contact;
    if contact.match_user {
        let mut needs = vec![need(
            "Customers - View Detail",
            ("customer", "read"),
            "tickets get no contact (the lookup fails; the ticket is created without one)",
        )];
        if contact.create_missing {
            needs.push(need(
                "Customers - Edit",
                ("customer", "write"),
                "a missing contact is not created; the ticket goes without one",
            ));
        }
        out.push(Feature {
            name: "contacts on tickets",
            key: "tickets.contact.match_user",
            needs,
        });
    }
    if rmm_alerts_wanted(config) {
        let mut needs = vec![
            need(
                "RMM Alerts - Create",
                ("rmm_alert", "create"),
                "no RMM alert is raised on the group's asset",
            ),
            need(
                "RMM Alerts - List",
                ("rmm_alert", "read"),
                "an interrupted raise cannot be looked up, so it is not tried again",
            ),
            need(
                "RMM Alerts - Delete",
                ("rmm_alert", "delete"),
                "RMM alerts stay active on the asset after their alert resolves",
            ),
        ];
        if config.tickets.rmm_alert.mute_for.is_some() {
            needs.push(need(
                "RMM Alerts - Clear/Manage",
                ("rmm_alert", "manage"),
                "RMM alerts are not muted",
            ));
        }
        out.push(Feature {
            name: "RMM alerts on assets",
            key: "tickets.rmm_alert",
            needs,
        });
    }
    if config.billing.sync_enabled {
        out.push(Feature {
            name: "billable-user sync",
            key: "billing.sync_enabled",
            needs: vec![
                need(
                    "Recurring Invoices - List",
                    ("invoice", "read"),
                    "the monthly sync cannot find the customers' recurring invoices",
                ),
                need(
                    "Recurring Invoices - Edit",
                    ("invoice", "write"),
                    "the monthly sync cannot update the billable-user quantities",
                ),
            ],
        });
    }
    out
}

/// Whether any rule raises RMM alerts: the table, or an override.
pub fn rmm_alerts_wanted(config: &ProcessorConfig) -> bool {
    config.tickets.rmm_alert.enabled || config.overrides.all().any(|o| o.rmm_alert == Some(true))
}

/// Every need of every feature, checked against `me`.
pub fn preflight(config: &ProcessorConfig, me: &Me) -> Vec<PermissionCheck> {
    features(config)
        .into_iter()
        .flat_map(|f| {
            f.needs.into_iter().map(move |need| PermissionCheck {
                feature: f.name,
                key: f.key,
                grant: Grant::of(me, &need),
                need,
            })
        })
        .collect()
}

/// The problem a missing permission is, and the note an unreported one is.
pub fn describe(check: &PermissionCheck) -> Option<String> {
    let (n, key) = (&check.need, check.key);
    match check.grant {
        Grant::Granted => None,
        Grant::Missing => Some(format!(
            "syncro.token: lacks {:?}, needed for {} ({key}): {}",
            n.permission, check.feature, n.breaks
        )),
        Grant::NotReported => Some(format!(
            "syncro.token: GET /me does not report {:?} (flag {}.{}), needed for {} ({key}); \
             check it in Syncro (Admin → API tokens). Without it: {}",
            n.permission, n.flag.0, n.flag.1, check.feature, n.breaks
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::tests::good;
    use serde_json::json;

    fn me(permissions: serde_json::Value) -> Me {
        serde_json::from_value(json!({"user_id": 1, "permissions": permissions})).expect("me")
    }

    #[test]
    fn only_enabled_features_are_listed() {
        let mut config = good();
        let names: Vec<&str> = features(&config).iter().map(|f| f.name).collect();
        assert!(names.contains(&"tickets and notes"));
        assert!(!names.contains(&"RMM alerts on assets"));
        assert!(!names.contains(&"contacts on tickets"));
        config.tickets.contact.match_user = true;
        config.tickets.contact.create_missing = true;
        config.tickets.rmm_alert.enabled = true;
        let f = features(&config);
        let contacts = f
            .iter()
            .find(|f| f.name == "contacts on tickets")
            .expect("contacts");
        assert_eq!(contacts.needs.len(), 2);
        let rmm = f
            .iter()
            .find(|f| f.name == "RMM alerts on assets")
            .expect("rmm");
        assert_eq!(rmm.needs.len(), 3, "no mute, no Clear/Manage");
    }

    #[test]
    fn missing_is_a_problem_and_unreported_a_note() {
        let mut config = good();
        config.tickets.rmm_alert.enabled = true;
        let all = json!({"read": true, "write": true, "delete": true});
        let granted = me(
            json!({"ticket": all, "asset": all, "customer": all, "invoice": all,
            "rmm_alert": {"read": true, "create": false, "delete": true}}),
        );
        let checks = preflight(&config, &granted);
        let create = checks
            .iter()
            .find(|c| c.need.permission == "RMM Alerts - Create")
            .expect("listed");
        assert_eq!(create.grant, Grant::Missing);
        assert!(describe(create).is_some_and(|d| d.contains("no RMM alert is raised")));
        let silent = preflight(&config, &me(json!({"ticket": all})));
        let asset = silent
            .iter()
            .find(|c| c.need.permission == "Assets - List/Search")
            .expect("listed");
        assert_eq!(asset.grant, Grant::NotReported);
        assert!(checks
            .iter()
            .filter(|c| c.feature == "tickets and notes")
            .all(|c| c.grant == Grant::Granted));
    }
}
