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

use crate::config::LogFormat;
use std::fmt::{self, Write as _};
use std::io::{self, Write as _};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_log::NormalizeEvent;
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::{FormatTime, SystemTime};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields, MakeWriter};
use tracing_subscriber::registry::LookupSpan;
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

#[derive(Default)]
struct State {
    lines: Vec<u8>,
    dropped: u64,
    /// The guard was dropped: write what is left, then stop.
    stopping: bool,
    /// The writer thread is gone (or never started): lines go straight to stderr.
    closed: bool,
    /// A writer thread was started.
    writer: bool,
}

struct Buffer {
    state: Mutex<State>,
    /// Lines arrived, or stopping.
    ready: Condvar,
    /// `closed` became true.
    done: Condvar,
}

impl Buffer {
    fn new() -> Arc<Buffer> {
        Arc::new(Buffer {
            state: Mutex::new(State::default()),
            ready: Condvar::new(),
            done: Condvar::new(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Called by a logging thread with one whole line: a copy under the lock, a wake-up for
    /// the writer thread only when the buffer was empty.
    fn push(&self, line: &[u8]) {
        let mut state = self.lock();
        if state.closed {
            // Kept locked while writing, so that lines keep their order.
            let _ = io::stderr().write_all(line);
            return;
        }
        if state.lines.len() + line.len() > BUFFER_LIMIT {
            state.dropped += 1;
            DROPPED.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let was_empty = state.lines.is_empty();
        state.lines.extend_from_slice(line);
        drop(state);
        if was_empty {
            self.ready.notify_one();
        }
    }

    /// The writer thread: waits for lines, gathers for [`GATHER`], writes them in one go.
    fn write_out(&self) {
        let mut batch = Vec::with_capacity(64 * 1024);
        let mut reported = 0;
        loop {
            let (closed, dropped) = {
                let mut state = self.lock();
                while state.lines.is_empty() && !state.stopping {
                    state = self
                        .ready
                        .wait(state)
                        .unwrap_or_else(PoisonError::into_inner);
                }
                if !state.stopping {
                    drop(state);
                    std::thread::sleep(GATHER);
                    state = self.lock();
                }
                std::mem::swap(&mut state.lines, &mut batch);
                if state.stopping && batch.is_empty() {
                    state.closed = true;
                }
                (state.closed, state.dropped)
            };
            if !batch.is_empty() {
                let _ = io::stderr().lock().write_all(&batch);
                batch.clear();
                if batch.capacity() > 1 << 20 {
                    batch.shrink_to(64 * 1024);
                }
            }
            if dropped > reported {
                // Logged through the subscriber (so in the configured format), into the
                // buffer that was just emptied; written directly once closed.
                tracing::warn!(
                    dropped = dropped - reported,
                    dropped_total = dropped,
                    "log lines dropped: the log buffer was full (stderr not read)"
                );
                reported = dropped;
            }
            if closed {
                self.done.notify_all();
                return;
            }
        }
    }

    /// Asks the writer thread to write what is left and stop, and waits for it (at most
    /// [`FINAL_WRITE`]: stderr may not be read). Without a writer thread, writes it here.
    fn close(&self) {
        let mut state = self.lock();
        if state.closed {
            return;
        }
        state.stopping = true;
        if state.writer {
            self.ready.notify_one();
            state = self
                .done
                .wait_timeout_while(state, FINAL_WRITE, |s| !s.closed)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        if !state.closed {
            // No writer thread (never started, or stuck on stderr): write it here.
            let lines = std::mem::take(&mut state.lines);
            state.closed = true;
            let _ = io::stderr().write_all(&lines);
        }
    }
}

/// The subscriber's writer: each formatted line (one `write_all` per event) goes to the
/// buffer.
struct BufferedStderr(Arc<Buffer>);

struct LineWriter<'a>(&'a Buffer);

impl<'a> MakeWriter<'a> for BufferedStderr {
    type Writer = LineWriter<'a>;

    fn make_writer(&'a self) -> Self::Writer {
        LineWriter(&self.0)
    }
}

impl io::Write for LineWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.push(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A span's fields as JSON object members (`"source":"demo","alert_id":"a-1"`), without the
/// braces, so that a field recorded later is appended, not merged by re-parsing. A field
/// recorded twice appears twice (JSON readers keep the last).
pub struct JsonMembers;

impl<'writer> FormatFields<'writer> for JsonMembers {
    fn format_fields<R: RecordFields>(
        &self,
        mut writer: Writer<'writer>,
        fields: R,
    ) -> fmt::Result {
        let mut members = Members::new(&mut writer, true);
        fields.record(&mut members);
        members.result
    }

    fn add_fields(
        &self,
        current: &'writer mut FormattedFields<Self>,
        fields: &tracing::span::Record<'_>,
    ) -> fmt::Result {
        let first = current.fields.is_empty();
        let mut writer = current.as_writer();
        let mut members = Members::new(&mut writer, first);
        fields.record(&mut members);
        members.result
    }
}

/// One JSON object per event, on one line: `timestamp`, `level`, the event's fields,
/// `target`, and the innermost span (`span`: its fields and `name`).
pub struct JsonLine;

impl<S> FormatEvent<S, JsonMembers> for JsonLine
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, JsonMembers>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let normalized = event.normalized_metadata();
        let meta = normalized.as_ref().unwrap_or_else(|| event.metadata());
        writer.write_str("{\"timestamp\":\"")?;
        SystemTime.format_time(&mut writer)?;
        write!(writer, "\",\"level\":\"{}\"", meta.level())?;
        let mut members = Members::new(&mut writer, false);
        event.record(&mut members);
        members.result?;
        writer.write_str(",\"target\":")?;
        json_string(&mut writer, meta.target())?;
        let span = event
            .parent()
            .and_then(|id| ctx.span(id))
            .or_else(|| ctx.lookup_current());
        if let Some(span) = span {
            writer.write_str(",\"span\":{")?;
            let extensions = span.extensions();
            if let Some(fields) = extensions.get::<FormattedFields<JsonMembers>>() {
                if !fields.is_empty() {
                    writer.write_str(fields)?;
                    writer.write_char(',')?;
                }
            }
            writer.write_str("\"name\":")?;
            json_string(&mut writer, span.name())?;
            writer.write_char('}')?;
        }
        writer.write_str("}\n")
    }
}

/// Writes fields as JSON members, straight into the line: no map, no intermediate strings.
struct Members<'w, 'a> {
    out: &'w mut Writer<'a>,
    first: bool,
    result: fmt::Result,
}

impl<'w, 'a> Members<'w, 'a> {
    fn new(out: &'w mut Writer<'a>, first: bool) -> Self {
        Members {
            out,
            first,
            result: Ok(()),
        }
    }

    fn member(&mut self, field: &Field, value: impl FnOnce(&mut Writer<'a>) -> fmt::Result) {
        let name = field.name();
        // `log` records' metadata, already in `target` and `level`.
        if self.result.is_err() || name.starts_with("log.") {
            return;
        }
        let name = name.strip_prefix("r#").unwrap_or(name);
        let first = std::mem::replace(&mut self.first, false);
        self.result = (|| {
            if !first {
                self.out.write_char(',')?;
            }
            json_string(self.out, name)?;
            self.out.write_char(':')?;
            value(self.out)
        })();
    }
}

impl Visit for Members<'_, '_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.member(field, |w| json_string(w, value));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.member(field, |w| {
            w.write_char('"')?;
            write!(Escaped(w), "{value:?}")?;
            w.write_char('"')
        });
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.member(field, |w| write!(w, "{value}"));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.member(field, |w| write!(w, "{value}"));
    }

    fn record_i128(&mut self, field: &Field, value: i128) {
        self.member(field, |w| write!(w, "{value}"));
    }

    fn record_u128(&mut self, field: &Field, value: u128) {
        self.member(field, |w| write!(w, "{value}"));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.member(field, |w| write!(w, "{value}"));
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.member(field, |w| {
            if value.is_finite() {
                write!(w, "{value}")
            } else {
                w.write_str("null")
            }
        });
    }
}

fn json_string(out: &mut impl fmt::Write, s: &str) -> fmt::Result {
    out.write_char('"')?;
    Escaped(out).write_str(s)?;
    out.write_char('"')
}

/// Escapes what it is given for the inside of a JSON string.
struct Escaped<'a, W: fmt::Write + ?Sized>(&'a mut W);

impl<W: fmt::Write + ?Sized> fmt::Write for Escaped<'_, W> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let mut start = 0;
        for (i, byte) in s.bytes().enumerate() {
            let escape = match byte {
                b'"' => "\\\"",
                b'\\' => "\\\\",
                b'\n' => "\\n",
                b'\r' => "\\r",
                b'\t' => "\\t",
                0..=0x1f => "",
                _ => continue,
            };
            self.0.write_str(&s[start..i])?;
            if escape.is_empty() {
                write!(self.0, "\\u{byte:04x}")?;
            } else {
                self.0.write_str(escape)?;
            }
            start = i + 1;
        }
        self.0.write_str(&s[start..])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex as StdMutex;
    use tracing_subscriber::fmt::MakeWriter;

    /// Collects the formatted lines in memory.
    #[derive(Clone, Default)]
    struct Lines(Arc<StdMutex<Vec<u8>>>);

    impl io::Write for Lines {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Lines {
        type Writer = Lines;
        fn make_writer(&'a self) -> Lines {
            self.clone()
        }
    }

    fn json_lines(run: impl FnOnce()) -> Vec<serde_json::Value> {
        let lines = Lines::default();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(lines.clone())
            .with_max_level(tracing::Level::INFO)
            .fmt_fields(JsonMembers)
            .event_format(JsonLine)
            .finish();
        tracing::subscriber::with_default(subscriber, run);
        let text = String::from_utf8(lines.0.lock().expect("lines").clone()).expect("utf-8");
        text.lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect()
    }

    #[test]
    fn json_lines_have_the_event_fields_target_and_the_span_with_recorded_fields() {
        let lines = json_lines(|| {
            let span = tracing::info_span!(
                "webhook",
                source = %"de\"mo",
                alert_id = tracing::field::Empty
            );
            let _entered = span.enter();
            span.record("alert_id", "a-1\n");
            let message_id = "m-1";
            tracing::info!(alerts = 1, ok = true, ratio = 0.5, %message_id, "alerts accepted");
            tracing::warn!(code = "x", "request not accepted: {}", "tab\there");
        });
        assert_eq!(lines.len(), 2);
        let accepted = &lines[0];
        assert_eq!(accepted["level"], "INFO");
        assert_eq!(accepted["message"], "alerts accepted");
        assert_eq!(accepted["alerts"], 1);
        assert_eq!(accepted["ok"], true);
        assert_eq!(accepted["ratio"], 0.5);
        assert_eq!(accepted["message_id"], "m-1");
        assert_eq!(accepted["target"], module_path!());
        assert_eq!(accepted["span"]["source"], "de\"mo");
        assert_eq!(accepted["span"]["alert_id"], "a-1\n");
        assert_eq!(accepted["span"]["name"], "webhook");
        assert!(accepted["timestamp"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z')));
        assert_eq!(lines[1]["level"], "WARN");
        assert_eq!(lines[1]["message"], "request not accepted: tab\there");
        assert_eq!(lines[1]["span"]["name"], "webhook");
    }

    #[test]
    fn a_line_outside_any_span_has_no_span_and_control_characters_are_escaped() {
        let lines = json_lines(|| {
            tracing::info!(text = "\u{1}bell\u{7}", "plain");
            let span = tracing::info_span!("bare");
            let _entered = span.enter();
            tracing::info!("in a span without fields");
        });
        assert_eq!(lines[0]["text"], "\u{1}bell\u{7}");
        assert!(lines[0].get("span").is_none());
        assert_eq!(lines[1]["span"], serde_json::json!({"name": "bare"}));
    }

    #[test]
    fn the_buffer_keeps_lines_in_order_and_drops_beyond_its_limit_counting_them() {
        let buffer = Buffer::new();
        buffer.push(b"one\n");
        buffer.push(b"two\n");
        assert_eq!(buffer.lock().lines, b"one\ntwo\n");
        let big = vec![b'x'; BUFFER_LIMIT];
        let before = dropped_lines();
        buffer.push(&big);
        assert_eq!(buffer.lock().dropped, 1);
        assert!(dropped_lines() > before);
        assert_eq!(buffer.lock().lines, b"one\ntwo\n");
    }

    #[test]
    fn closing_writes_what_is_left_and_later_lines_go_straight_through() {
        let buffer = Buffer::new();
        buffer.lock().writer = true;
        let thread = {
            let buffer = buffer.clone();
            std::thread::spawn(move || buffer.write_out())
        };
        buffer.push(b"{\"telemetry test\":1}\n");
        buffer.close();
        thread.join().expect("writer thread");
        let state = buffer.lock();
        assert!(state.closed);
        assert!(state.lines.is_empty());
    }

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
