//! Page-based lists as syncro-api.md §1.4 recommends: `meta` always complete, `per_page`
//! honoured up to 100, a configurable default, and an empty page past the end.

use serde_json::{json, Value};

use crate::params::Query;

/// The largest `per_page` honoured (larger values are clamped, not refused).
pub const MAX_PER_PAGE: u64 = 100;

/// Which page of how many items.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageRequest {
    pub page: u64,
    pub per_page: u64,
}

impl PageRequest {
    /// Reads `page` (1-based; missing, zero or garbage is page 1) and `per_page` (clamped to
    /// 1..=100; missing or garbage is `default`).
    pub fn from_query(q: &Query, default: u32) -> Self {
        let page = q.i64("page").filter(|p| *p >= 1).unwrap_or(1) as u64;
        let per_page = q
            .i64("per_page")
            .map(|p| p.clamp(1, MAX_PER_PAGE as i64) as u64)
            .unwrap_or(u64::from(default));
        Self { page, per_page }
    }

    /// Cuts one page out of `items` and builds its `meta`.
    pub fn cut<T>(self, items: Vec<T>) -> (Vec<T>, Value) {
        let total = items.len() as u64;
        // will_paginate (whose `total_entries` name Syncro's meta uses) reports one page for
        // an empty list.
        let total_pages = if total == 0 {
            1
        } else {
            total.div_ceil(self.per_page)
        };
        let skip = (self.page - 1).saturating_mul(self.per_page);
        let page_items: Vec<T> = items
            .into_iter()
            .skip(usize::try_from(skip).unwrap_or(usize::MAX))
            .take(self.per_page as usize)
            .collect();
        let meta = json!({
            "total_pages": total_pages,
            "total_entries": total,
            "per_page": self.per_page,
            "page": self.page,
        });
        (page_items, meta)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(q: &str, default: u32) -> PageRequest {
        PageRequest::from_query(&Query::parse(q), default)
    }

    #[test]
    fn per_page_is_clamped_and_defaults_apply() {
        assert_eq!(
            req("", 25),
            PageRequest {
                page: 1,
                per_page: 25
            }
        );
        assert_eq!(req("per_page=1000", 25).per_page, 100);
        assert_eq!(req("per_page=0", 25).per_page, 1);
        assert_eq!(
            req("page=0&per_page=x", 10),
            PageRequest {
                page: 1,
                per_page: 10
            }
        );
    }

    #[test]
    fn pages_cover_all_items_and_past_the_end_is_empty() {
        let items: Vec<u32> = (1..=5).collect();
        let (p2, meta) = req("page=2&per_page=2", 25).cut(items.clone());
        assert_eq!(p2, [3, 4]);
        assert_eq!(
            meta,
            json!({"total_pages": 3, "total_entries": 5, "per_page": 2, "page": 2})
        );
        let (p9, meta) = req("page=9&per_page=2", 25).cut(items);
        assert!(p9.is_empty());
        assert_eq!(meta["page"], 9);
        let (empty, meta) = req("", 25).cut(Vec::<u32>::new());
        assert!(empty.is_empty());
        assert_eq!(meta["total_pages"], 1);
    }
}
