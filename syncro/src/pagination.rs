//! Page-based lists: one page with its `meta`, and the loop that reads them all.

use std::future::Future;

use serde::{Deserialize, Serialize};

use super::error::SyncroError;
use super::route::Route;
use super::types::de;

/// A list's `meta`. Syncro's lists disagree on what it holds (syncro-api.md §1.4), so every
/// field is optional.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
pub struct Meta {
    #[serde(default, deserialize_with = "de::opt_u32")]
    pub total_pages: Option<u32>,
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub total_entries: Option<u64>,
    #[serde(default, deserialize_with = "de::opt_u32")]
    pub per_page: Option<u32>,
    #[serde(default, deserialize_with = "de::opt_u32")]
    pub page: Option<u32>,
}

/// One page of a list.
#[derive(Clone, Debug, PartialEq)]
pub struct Page<T> {
    /// The page number asked for (1-based).
    pub number: u32,
    pub items: Vec<T>,
    pub meta: Option<Meta>,
}

impl<T> Page<T> {
    /// Whether a next page may hold more: `page < meta.total_pages` when Syncro says how many
    /// pages there are, else "this page was not empty".
    pub fn has_next(&self) -> bool {
        match self.meta.as_ref().and_then(|m| m.total_pages) {
            Some(total) => self.number < total && !self.items.is_empty(),
            None => !self.items.is_empty(),
        }
    }
}

/// Reads pages 1, 2, … through `fetch` until [`Page::has_next`] is false, and returns all
/// items. The page size is whatever `fetch` asks for (never assumed here). Stops with
/// [`SyncroError::TooManyPages`] after `max_pages`.
pub async fn collect_pages<T, F, Fut>(
    route: Route,
    max_pages: u32,
    mut fetch: F,
) -> Result<Vec<T>, SyncroError>
where
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = Result<Page<T>, SyncroError>>,
{
    let mut all = Vec::new();
    for number in 1..=max_pages {
        let page = fetch(number).await?;
        let more = page.has_next();
        all.extend(page.items);
        if !more {
            return Ok(all);
        }
    }
    Err(SyncroError::TooManyPages {
        route,
        pages: max_pages,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(number: u32, items: Vec<u32>, total_pages: Option<u32>) -> Page<u32> {
        Page {
            number,
            items,
            meta: total_pages.map(|t| Meta {
                total_pages: Some(t),
                ..Meta::default()
            }),
        }
    }

    #[test]
    fn total_pages_decides_when_present() {
        assert!(page(1, vec![1], Some(2)).has_next());
        assert!(!page(2, vec![1], Some(2)).has_next());
        // A full last page needs no extra request to learn it was the last.
        assert!(!page(1, vec![1, 2], Some(1)).has_next());
        // An empty page ends the loop even if total_pages claims more.
        assert!(!page(1, vec![], Some(3)).has_next());
    }

    #[test]
    fn without_total_pages_an_empty_page_ends_the_list() {
        assert!(page(1, vec![1], None).has_next());
        assert!(!page(2, vec![], None).has_next());
    }

    #[tokio::test]
    async fn collect_reads_until_the_end_and_guards_against_endless_lists() {
        let pages = [vec![1, 2], vec![3, 4], vec![5], vec![]];
        let all = collect_pages(Route::ListTickets, 10, |n| {
            let items = pages[n as usize - 1].clone();
            async move { Ok(page(n, items, None)) }
        })
        .await
        .expect("all pages");
        assert_eq!(all, [1, 2, 3, 4, 5]);

        let endless = collect_pages(Route::ListTickets, 3, |n| async move {
            Ok(page(n, vec![n], None))
        })
        .await;
        assert!(matches!(
            endless,
            Err(SyncroError::TooManyPages { pages: 3, .. })
        ));
    }
}
