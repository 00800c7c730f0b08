//! The Syncro customers, as the mapping wizard lists, searches and suggests them: read whole
//! (paged) through the workers' shared rate limiter at the lowest priority, and kept here a
//! few minutes so that a person paging through the Mapping page does not spend the fleet's
//! budget. `refresh` reads them again on demand.
//!
//! At the lowest priority a read may wait long behind a storm's requests: it runs as a task
//! of its own, and a request waits for it at most [`WAIT`] (then says Syncro is busy); the
//! read goes on and fills the cache for the next request.

use chrono::{DateTime, Utc};
use std::sync::Arc;
use std::time::{Duration, Instant};
use syncro::{Class, Customer, CustomerFilter, Priority, SyncroClient, SyncroError};
use tokio::sync::Mutex;

/// How long a read of the customers is served before Syncro is asked again.
pub const CUSTOMERS_TTL: Duration = Duration::from_secs(300);
/// Longest wait of a request for the customers (the console's own timeout is 15 s).
pub const WAIT: Duration = Duration::from_secs(10);

/// Every Syncro customer as last read.
#[derive(Clone)]
pub struct Customers {
    pub list: Arc<Vec<Customer>>,
    /// When Syncro was read.
    pub read_at: DateTime<Utc>,
    at: Instant,
}

impl Customers {
    /// The customer with this id, if the list has it.
    pub fn find(&self, id: i64) -> Option<&Customer> {
        self.list.iter().find(|c| c.id == id)
    }

    /// Its name to show, if the list has it.
    pub fn name_of(&self, id: i64) -> Option<String> {
        self.find(id).map(Customer::display_name)
    }
}

/// The cache; one read at a time (requests arriving meanwhile wait for it and share it).
#[derive(Default)]
pub struct CustomerCache {
    held: Arc<Mutex<Option<Customers>>>,
}

/// Why there are no customers.
#[derive(Debug, thiserror::Error)]
pub enum CustomersError {
    #[error(transparent)]
    Syncro(#[from] SyncroError),
    #[error("Syncro is busy: the customers are still being read; try again in a moment")]
    Busy,
    #[error("the read of the customers failed")]
    Failed,
}

/// Requests the wizard makes wait behind everything the workers do.
fn lowest() -> Priority {
    Priority::new(Class::Background, 4, "operator:customers")
}

impl CustomerCache {
    /// The customers, read from Syncro when none are held, when they are older than
    /// [`CUSTOMERS_TTL`], or when `refresh` asks.
    pub async fn get(
        &self,
        syncro: &SyncroClient,
        refresh: bool,
    ) -> Result<Customers, CustomersError> {
        let (held, syncro) = (self.held.clone(), syncro.clone());
        let read = tokio::spawn(async move {
            let mut held = held.lock().await;
            if let Some(customers) = held.as_ref() {
                if !refresh && customers.at.elapsed() < CUSTOMERS_TTL {
                    return Ok(customers.clone());
                }
            }
            let filter = CustomerFilter::default();
            let list = syncro::with_priority(lowest(), syncro.all_customers(&filter)).await?;
            let customers = Customers {
                list: Arc::new(list),
                read_at: Utc::now(),
                at: Instant::now(),
            };
            *held = Some(customers.clone());
            Ok(customers)
        });
        match tokio::time::timeout(WAIT, read).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(CustomersError::Failed),
            Err(_) => Err(CustomersError::Busy),
        }
    }

    /// The customers held now, without reading Syncro nor waiting for a read in progress.
    pub fn held(&self) -> Option<Customers> {
        self.held.try_lock().ok().and_then(|held| held.clone())
    }

    /// One customer, from the list when it has it, else asked of Syncro (a customer created
    /// since the list was read); `Ok(None)` when Syncro has no such customer.
    pub async fn customer(
        &self,
        syncro: &SyncroClient,
        id: i64,
    ) -> Result<Option<Customer>, SyncroError> {
        if let Some(found) = self.held().and_then(|c| c.find(id).cloned()) {
            return Ok(Some(found));
        }
        match syncro::with_priority(lowest(), syncro.get_customer(id)).await {
            Ok(customer) => Ok(Some(customer)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }
}
