//! A session's stdout and stderr, read for as long as it lives and cut into cells: each cell's
//! bytes are kept under the cell's cap, and the cell ends on each stream where the kernel wrote
//! the cell's marker. Past the cap the bytes are dropped (the cell is interrupted), but the
//! marker is still looked for, so the session can go on.

use std::sync::{Arc, Mutex, MutexGuard};

use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::Notify;

use crate::output::{Captured, Stream};

const CHUNK: usize = 64 << 10;

#[derive(Debug, Default)]
struct State {
    captured: Captured,
    total: usize,
    cap: usize,
    overflowed: bool,
    marker: Vec<u8>,
    /// Per stream: the marker was seen (the rest belongs to no cell), the stream ended.
    seen: [bool; 2],
    eof: [bool; 2],
    /// Per stream: the last bytes, where a marker split across two reads begins.
    tail: [Vec<u8>; 2],
}

/// Shared by the two reader tasks and the session.
#[derive(Debug, Clone, Default)]
pub(crate) struct Streams {
    state: Arc<Mutex<State>>,
    changed: Arc<Notify>,
}

fn index(stream: Stream) -> usize {
    match stream {
        Stream::Stdout => 0,
        Stream::Stderr => 1,
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || hay.len() < needle.len() {
        return None;
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

impl Streams {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Start a cell: forget what came before, expect `marker` at its end.
    pub(crate) fn begin(&self, marker: &[u8], cap: usize) {
        let mut s = self.lock();
        let eof = s.eof;
        *s = State {
            cap,
            marker: marker.to_vec(),
            eof,
            ..State::default()
        };
    }

    /// Streams fed from a session sandbox's stdout and stderr pipes, each read by a task of its
    /// own until it ends.
    pub(crate) fn reading<O, E>(stdout: Option<O>, stderr: Option<E>) -> Streams
    where
        O: AsyncRead + Unpin + Send + 'static,
        E: AsyncRead + Unpin + Send + 'static,
    {
        let streams = Streams::default();
        if let Some(pipe) = stdout {
            let s = streams.clone();
            tokio::spawn(async move { s.read_from(Stream::Stdout, pipe).await });
        }
        if let Some(pipe) = stderr {
            let s = streams.clone();
            tokio::spawn(async move { s.read_from(Stream::Stderr, pipe).await });
        }
        streams
    }

    /// Read one stream until it ends.
    async fn read_from(&self, stream: Stream, mut reader: impl AsyncRead + Unpin) {
        let mut buf = vec![0u8; CHUNK];
        loop {
            match reader.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => self.push(stream, &buf[..n]),
            }
            self.changed.notify_waiters();
        }
        self.lock().eof[index(stream)] = true;
        self.changed.notify_waiters();
    }

    fn push(&self, stream: Stream, chunk: &[u8]) {
        let mut s = self.lock();
        let i = index(stream);
        if s.seen[i] {
            return; // written after the cell ended (a background thread): no cell's output
        }
        let mut combined = std::mem::take(&mut s.tail[i]);
        let carried = combined.len();
        combined.extend_from_slice(chunk);
        let (keep, found) = match find(&combined, &s.marker) {
            Some(at) if at >= carried => (&chunk[..at - carried], true),
            Some(at) => {
                // The marker began in the previous read, which was already kept: take it back.
                let back = carried - at;
                let buf = match stream {
                    Stream::Stdout => &mut s.captured.stdout,
                    Stream::Stderr => &mut s.captured.stderr,
                };
                let cut = buf.len().saturating_sub(back);
                let removed = buf.split_off(cut);
                if s.captured.output.ends_with(&removed) {
                    let len = s.captured.output.len() - removed.len();
                    s.captured.output.truncate(len);
                }
                (&chunk[..0], true)
            }
            None => (chunk, false),
        };
        let room = s.cap.saturating_sub(s.total);
        let kept = &keep[..keep.len().min(room)];
        match stream {
            Stream::Stdout => s.captured.stdout.extend_from_slice(kept),
            Stream::Stderr => s.captured.stderr.extend_from_slice(kept),
        }
        s.captured.output.extend_from_slice(kept);
        s.total += kept.len();
        if kept.len() < keep.len() {
            s.overflowed = true;
            s.captured.truncated = true;
        }
        if found {
            s.seen[i] = true;
        } else {
            let keep_tail = s.marker.len().saturating_sub(1).min(combined.len());
            s.tail[i] = combined[combined.len() - keep_tail..].to_vec();
        }
    }

    /// Whether the cell's output passed its cap.
    pub(crate) fn overflowed(&self) -> bool {
        self.lock().overflowed
    }

    /// Wait until both streams showed the marker (or ended), at most `within`.
    pub(crate) async fn settle(&self, within: std::time::Duration) {
        let done = || {
            let s = self.lock();
            (s.seen[0] || s.eof[0]) && (s.seen[1] || s.eof[1])
        };
        let _ = tokio::time::timeout(within, async {
            loop {
                let notified = self.changed.notified();
                tokio::pin!(notified);
                notified.as_mut().enable();
                if done() {
                    return;
                }
                notified.await;
            }
        })
        .await;
    }

    /// Take the cell's output.
    pub(crate) fn take(&self) -> Captured {
        std::mem::take(&mut self.lock().captured)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_cell_ends_at_its_marker_even_split_across_reads() {
        let s = Streams::default();
        s.begin(b"<END>", 100);
        s.push(Stream::Stdout, b"hello <E");
        s.push(Stream::Stdout, b"ND>late");
        s.push(Stream::Stderr, b"err<END>");
        s.settle(std::time::Duration::from_millis(10)).await;
        let got = s.take();
        assert_eq!(got.stdout, b"hello ");
        assert_eq!(got.stderr, b"err");
        assert_eq!(got.output, b"hello err");
        assert!(!got.truncated);
    }

    #[tokio::test]
    async fn past_the_cap_bytes_are_dropped_but_the_marker_is_found() {
        let s = Streams::default();
        s.begin(b"<END>", 4);
        s.push(Stream::Stdout, b"0123456789");
        assert!(s.overflowed());
        s.push(Stream::Stdout, b"more<END>");
        s.push(Stream::Stderr, b"<END>");
        s.settle(std::time::Duration::from_secs(1)).await;
        let got = s.take();
        assert_eq!(got.stdout, b"0123");
        assert!(got.truncated);
        s.begin(b"<X>", 4);
        assert!(!s.overflowed());
    }
}
