//! The buffer between the threads that log and the writer thread: a line is copied in under
//! a short lock (no allocation, no system call; a wake-up only when the buffer was empty),
//! and the writer thread gathers for [`GATHER`] and writes everything in one `write(2)`.
//! Beyond [`BUFFER_LIMIT`] a line is dropped and counted, never waited for.

use super::{BUFFER_LIMIT, DROPPED, FINAL_WRITE, GATHER};
use std::io::{self, Write as _};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use tracing_subscriber::fmt::MakeWriter;

#[derive(Default)]
pub(super) struct State {
    pub(super) lines: Vec<u8>,
    pub(super) dropped: u64,
    /// The guard was dropped: write what is left, then stop.
    pub(super) stopping: bool,
    /// The writer thread is gone (or never started): lines go straight to stderr.
    pub(super) closed: bool,
    /// A writer thread was started.
    pub(super) writer: bool,
}

pub(super) struct Buffer {
    state: Mutex<State>,
    /// Lines arrived, or stopping.
    ready: Condvar,
    /// `closed` became true.
    done: Condvar,
}

impl Buffer {
    pub(super) fn new() -> Arc<Buffer> {
        Arc::new(Buffer {
            state: Mutex::new(State::default()),
            ready: Condvar::new(),
            done: Condvar::new(),
        })
    }

    pub(super) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Called by a logging thread with one whole line: a copy under the lock, a wake-up for
    /// the writer thread only when the buffer was empty.
    pub(super) fn push(&self, line: &[u8]) {
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
    pub(super) fn write_out(&self) {
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
    pub(super) fn close(&self) {
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
pub(super) struct BufferedStderr(pub(super) Arc<Buffer>);

pub(super) struct LineWriter<'a>(&'a Buffer);

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

#[cfg(test)]
mod tests {
    use super::super::dropped_lines;
    use super::*;

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
}
