//! Waiting for something to become true, with a deadline instead of a guess.

use std::future::Future;
use std::time::{Duration, Instant};

/// Polls `check` every 50 ms until it returns `Some`, or panics with `what` after `deadline`.
pub async fn until<T, F, Fut>(what: &str, deadline: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            start.elapsed() < deadline,
            "timed out after {deadline:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Polls `url` until it answers 2xx, or panics with `what` after `deadline`.
pub async fn http_ok(what: &str, url: &str, deadline: Duration) {
    let client = reqwest::Client::new();
    until(what, deadline, || {
        let (client, url) = (client.clone(), url.to_string());
        async move {
            let response = client.get(url).send().await.ok()?;
            response.status().is_success().then_some(())
        }
    })
    .await
}
