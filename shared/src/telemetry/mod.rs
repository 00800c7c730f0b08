//! One telemetry set-up for every binary: JSON lines in production, readable lines in
//! development, filtered by a `tracing` directive string.
//!
//! Lines are written to stderr by a writer thread, not by the thread that logs (ingest logs
//! one line per accepted request: a `write(2)` per line on the request's thread was a
//! measurable share of its CPU, docs/benchmarks.md "Round three"). A logging thread only
//! copies its line into a shared buffer; the writer thread, woken by the first line after
//! an idle spell, waits [`GATHER`] for more and writes them all at once. The buffer holds at
//! most [`BUFFER_LIMIT`] bytes: beyond that (stderr not being read, for seconds, at full
//! load) a line is dropped rather than the request that logs it blocked, and counted; the
//! count is logged (`log lines dropped`, at `warn`) as soon as there is room again, and is
//! [`dropped_lines`]. The [`Telemetry`] guard returned by [`init`] writes what is left when
//! it is dropped, at the end of `main` (so after a SIGTERM's orderly shutdown too); lines
//! logged after that are written directly.
//!
//! The JSON lines are made by [`JsonLine`] and [`JsonMembers`] rather than
//! `tracing_subscriber`'s JSON formatter, which re-parsed the span's fields into a
//! `serde_json::Value` on every line and on every `Span::record`. The shape is the same:
//! `timestamp`, `level`, the event's fields (`message` among them), `target`, and the
//! innermost span as `span` (its fields and `name`).
//!
//! The parts: this file installs the subscriber and holds the guard; `buffer` is the buffer
//! and its writer thread (the subscriber's writer); `json` is the line format.

mod buffer;
mod json;

pub use json::{JsonLine, JsonMembers};

use crate::config::LogFormat;
use buffer::{Buffer, BufferedStderr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tracing_subscriber::EnvFilter;

/// Most bytes of log lines waiting for the writer thread: at ~350 bytes a line, ~24,000
/// lines, several seconds of ingest at full load.
pub const BUFFER_LIMIT: usize = 8 << 20;
/// How long the writer thread gathers lines before writing them: the most a line waits.
pub const GATHER: Duration = Duration::from_millis(20);
/// How long dropping the guard waits for the last lines to be written.
const FINAL_WRITE: Duration = Duration::from_secs(2);

/// Lines dropped because the buffer was full, since the process started.
static DROPPED: AtomicU64 = AtomicU64::new(0);

/// Log lines dropped so far because the buffer was full (stderr not read for seconds).
pub fn dropped_lines() -> u64 {
    DROPPED.load(Ordering::Relaxed)
}

/// Keeps the writer thread; dropping it writes the lines still buffered (waiting at most
/// two seconds) and makes later lines go straight to stderr. Hold it for the life of `main`.
#[must_use = "dropping the guard at once makes every line a direct write to stderr"]
pub struct Telemetry {
    buffer: Option<Arc<Buffer>>,
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        if let Some(buffer) = self.buffer.take() {
            buffer.close();
        }
    }
}

/// Installs the global subscriber, its lines written by a writer thread (see the module's
/// documentation). Calling it twice is harmless (the second call is ignored, and its guard
/// does nothing), which lets tests spawn several services in one process.
pub fn init(format: LogFormat, filter: &str) -> Telemetry {
    install(format, filter, true)
}

/// Installs the global subscriber writing each line to stderr at once, on the thread that
/// logs it: for a command-line tool, whose log lines must keep their place among the rest of
/// its output.
pub fn init_unbuffered(format: LogFormat, filter: &str) {
    drop(install(format, filter, false));
}

fn install(format: LogFormat, filter: &str, buffered: bool) -> Telemetry {
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let buffer = Buffer::new();
    if !buffered {
        buffer.lock().closed = true;
    }
    let writer = BufferedStderr(buffer.clone());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer);
    let installed = match format {
        LogFormat::Json => builder
            .fmt_fields(JsonMembers)
            .event_format(JsonLine)
            .try_init(),
        LogFormat::Pretty => builder.compact().try_init(),
    };
    if installed.is_err() || !buffered {
        buffer.close();
        return Telemetry { buffer: None };
    }
    buffer.lock().writer = true;
    let thread = {
        let buffer = buffer.clone();
        std::thread::Builder::new()
            .name("log-writer".into())
            .spawn(move || buffer.write_out())
    };
    if thread.is_err() {
        // No thread: every line is written by the thread that logs it.
        buffer.lock().writer = false;
        buffer.close();
    }
    Telemetry {
        buffer: Some(buffer),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io;

    /// The cost of one request's logging (its span, a recorded field, the `info` line) on the
    /// logging thread and in the whole process, `tracing_subscriber`'s JSON formatter writing
    /// to stderr against this module's: `cargo test --release -p shared --lib
    /// telemetry::tests::logging_cost -- --ignored --nocapture 2>/dev/null` (or `2>FILE`).
    #[test]
    #[ignore = "a measurement, not a check"]
    fn logging_cost() {
        fn cpu_seconds() -> f64 {
            let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
            let after = stat.rsplit(')').next().unwrap_or_default();
            let f: Vec<f64> = after
                .split_whitespace()
                .map(|x| x.parse().unwrap_or(0.0))
                .collect();
            // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after `)`.
            (f.get(11).copied().unwrap_or(0.0) + f.get(12).copied().unwrap_or(0.0)) / 100.0
        }
        fn request(i: u64) {
            let span = tracing::info_span!(
                "webhook",
                source = %"bench",
                alert_id = tracing::field::Empty
            );
            let alert_id = format!("alert-{i}");
            span.record("alert_id", alert_id.as_str());
            let _entered = span.enter();
            let message_id = "0f3c2a7e9d1b4c5a8e6f0d2b3c4a5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d";
            tracing::info!(alerts = 1, %alert_id, %message_id, "alerts accepted");
        }
        const N: u64 = 200_000;
        let measure = |name: &str, dispatch: tracing::Dispatch, after: &dyn Fn()| {
            let (cpu0, t0) = (cpu_seconds(), std::time::Instant::now());
            tracing::dispatcher::with_default(&dispatch, || (0..N).for_each(request));
            let on_thread = t0.elapsed().as_secs_f64();
            after();
            let cpu = cpu_seconds() - cpu0;
            println!(
                "{name}: {:.2} µs per request on the logging thread (wall), {:.2} µs of process CPU",
                on_thread * 1e6 / N as f64,
                cpu * 1e6 / N as f64
            );
        };
        let old = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::INFO)
            .with_writer(io::stderr)
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .finish();
        measure(
            "tracing_subscriber json, write(2) per line",
            old.into(),
            &|| {},
        );
        let buffer = Buffer::new();
        buffer.lock().writer = true;
        let thread = {
            let buffer = buffer.clone();
            std::thread::spawn(move || buffer.write_out())
        };
        let new = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::INFO)
            .with_writer(BufferedStderr(buffer.clone()))
            .fmt_fields(JsonMembers)
            .event_format(JsonLine)
            .finish();
        measure("JsonLine, buffered, writer thread", new.into(), &|| {
            buffer.close();
        });
        let _ = thread.join();
        println!("dropped: {}", buffer.lock().dropped);
    }
}
