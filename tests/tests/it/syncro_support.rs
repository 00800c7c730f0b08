//! Shared helpers for the Syncro client and simulator tests: a simulator per test on port 0,
//! a client pointed at it, and polling with a deadline.

use std::future::Future;
use std::time::{Duration, Instant};

use secrecy::SecretString;
use syncro::{ClientConfig, SyncroClient};
use syncro_sim::{Options, SimConfig, SimHandle};

/// The token every test simulator accepts.
pub const TOKEN: &str = "test-token-7c2e9b41";

/// Ids from the built-in seed.
pub mod seed {
    pub const CONTOSO: i64 = 4_101_771;
    pub const FABRIKAM: i64 = 4_101_772;
    pub const NORTHWIND: i64 = 4_101_773;
    pub const WOODGROVE: i64 = 4_101_775;
    pub const LITWARE_DISABLED: i64 = 4_101_777;
    pub const JANE_DOE: i64 = 3105;
    pub const CONTOSO_GOLD: i64 = 155_001;
    pub const CONTOSO_SCHEDULE: i64 = 503_262;
    pub const SECURITY_SEATS: i64 = 1_823_298;
    pub const MANAGED_ENDPOINTS_COUNTED: i64 = 1_823_299;
    pub const WS07: i64 = 9_001_001;
    pub const WS07_MAC: &str = "F8-75-A4-19-C6-22";
    pub const WOODGROVE_SERVER: i64 = 4_294_967_301;
    pub const OPEN_TICKET: i64 = 108_430_301;
    pub const RESOLVED_TICKET: i64 = 108_430_302;
}

/// A simulator with the built-in seed, [`TOKEN`], no rate limit unless `tweak` sets one, on
/// its own port.
pub fn start_sim(tweak: impl FnOnce(&mut Options)) -> SimHandle {
    let mut config = SimConfig::builtin();
    config.options.token = TOKEN.to_string();
    config.options.rate_limit_per_minute = 0;
    tweak(&mut config.options);
    syncro_sim::spawn_local(config).expect("simulator starts")
}

/// A client for `sim` with timeouts short enough for fault tests.
pub fn client_for(sim: &SimHandle) -> SyncroClient {
    client_with_timeout(sim, Duration::from_secs(5))
}

pub fn client_with_timeout(sim: &SimHandle, request_timeout: Duration) -> SyncroClient {
    let config = ClientConfig::new(sim.api_url(), SecretString::from(TOKEN))
        .with_timeouts(Duration::from_secs(2), request_timeout);
    SyncroClient::new(&config).expect("client builds")
}

/// A plain HTTP client for raw requests.
pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .expect("http client")
}

/// Polls `check` until it returns `Some`, or panics after `within` with `what`.
pub async fn eventually<T, F, Fut>(within: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + within;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
