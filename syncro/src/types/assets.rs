//! Customer assets, and finding their MAC addresses in the RMM data.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::de::{self, Timestamp};
use super::tickets::push;

/// An asset as `GET /customer_assets` and `GET /customer_assets/{id}` return it.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub struct Asset {
    pub id: i64,
    pub customer_id: Option<i64>,
    pub contact_id: Option<i64>,
    pub name: Option<String>,
    /// The asset type's name (Syncro does not return its id).
    pub asset_type: Option<String>,
    pub asset_serial: Option<String>,
    /// RMM data, structure undocumented (see [`Asset::mac_addresses`]).
    #[serde(default, deserialize_with = "de::null_default")]
    pub properties: Map<String, Value>,
    #[serde(default, deserialize_with = "de::opt_time")]
    pub updated_at: Option<Timestamp>,
}

impl Asset {
    /// Every MAC address found, normalised (12 lower-case hex digits), without duplicates.
    /// Looks where agents have been seen to put them: `kabuto_information.network_adapters[]
    /// .physical_address`, `kabuto_information.general.mac[]` and `mac`.
    pub fn mac_addresses(&self) -> Vec<String> {
        let kabuto = self.properties.get("kabuto_information");
        let adapters = kabuto
            .and_then(|k| k.get("network_adapters"))
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|a| a.get("physical_address"));
        let general = kabuto
            .and_then(|k| k.pointer("/general/mac"))
            .into_iter()
            .flat_map(values);
        let top = self.properties.get("mac").into_iter().flat_map(values);
        let mut macs: Vec<String> = adapters
            .chain(general)
            .chain(top)
            .filter_map(Value::as_str)
            .filter_map(normalize_mac)
            .collect();
        let mut seen = std::collections::HashSet::new();
        macs.retain(|m| seen.insert(m.clone()));
        macs
    }

    /// Whether the asset has this MAC address (any notation).
    pub fn has_mac(&self, mac: &str) -> bool {
        normalize_mac(mac).is_some_and(|m| self.mac_addresses().contains(&m))
    }
}

/// A single value or the items of an array.
fn values(v: &Value) -> Vec<&Value> {
    match v {
        Value::Array(items) => items.iter().collect(),
        other => vec![other],
    }
}

/// `F8-75-A4-19-C6-22`, `f8:75:a4:19:c6:22`, `f875.a419.c622` and `F875A419C622` all become
/// `f875a419c622`; anything that is not 12 hex digits is `None`.
pub fn normalize_mac(mac: &str) -> Option<String> {
    let hex: String = mac
        .chars()
        .filter(|c| !matches!(c, '-' | ':' | '.' | ' '))
        .map(|c| c.to_ascii_lowercase())
        .collect();
    (hex.len() == 12 && hex.chars().all(|c| c.is_ascii_hexdigit())).then_some(hex)
}

/// Filters for `GET /customer_assets`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AssetFilter {
    pub customer_id: Option<i64>,
    pub asset_type_id: Option<i64>,
    /// Searches names and serial numbers.
    pub query: Option<String>,
    pub per_page: Option<u32>,
}

impl AssetFilter {
    pub(crate) fn pairs(&self) -> Vec<(&'static str, String)> {
        let mut q = Vec::new();
        push(&mut q, "customer_id", self.customer_id);
        push(&mut q, "asset_type_id", self.asset_type_id);
        push(&mut q, "query", self.query.as_ref());
        push(&mut q, "per_page", self.per_page);
        q
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn macs_normalise_from_every_notation() {
        for m in [
            "F8-75-A4-19-C6-22",
            "f8:75:a4:19:c6:22",
            "f875.a419.c622",
            "F875A419C622",
        ] {
            assert_eq!(normalize_mac(m).as_deref(), Some("f875a419c622"), "{m}");
        }
        assert_eq!(normalize_mac("F8-75-A4"), None);
        assert_eq!(normalize_mac("zz75a419c622"), None);
    }

    #[test]
    fn macs_are_found_in_every_known_place() {
        let asset: Asset = serde_json::from_value(json!({
            "id": 1,
            "properties": {
                "kabuto_information": {
                    "network_adapters": [{"physical_address": "F8-75-A4-19-C6-22"}, {"name": "x"}],
                    "general": {"mac": ["F875A419C622", "3CA9F45E017B"]}
                },
                "mac": "00:50:56:9a:12:01"
            }
        }))
        .expect("asset");
        assert_eq!(
            asset.mac_addresses(),
            ["f875a419c622", "3ca9f45e017b", "0050569a1201"]
        );
        assert!(asset.has_mac("3c-a9-f4-5e-01-7b"));
        assert!(!asset.has_mac("11-22-33-44-55-66"));
    }
}
