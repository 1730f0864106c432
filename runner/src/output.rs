//! Bounded capture of stdout and stderr: one byte cap shared by both streams, plus the
//! interleaved arrival-order transcript. Past the cap the run is killed; nothing beyond the cap is
//! ever buffered, so a program printing gigabytes costs the bot at most the cap.

use std::sync::{Arc, Mutex};

use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::Notify;

const CHUNK: usize = 64 << 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stream {
    Stdout,
    Stderr,
}

#[derive(Debug, Default)]
struct Buffers {
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    output: Vec<u8>,
    total: usize,
    overflowed: bool,
}

/// Captured bytes as text without copying them when they are valid UTF-8 (the usual case): a
/// flood at the cap would otherwise briefly hold every buffer twice.
pub(crate) fn into_text(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// Shared state of one run's capture.
#[derive(Debug, Clone)]
pub(crate) struct Capture {
    cap: usize,
    buffers: Arc<Mutex<Buffers>>,
    overflow: Arc<Notify>,
}

/// What was captured.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Captured {
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub output: Vec<u8>,
    pub truncated: bool,
}

impl Capture {
    pub(crate) fn new(cap: usize) -> Self {
        Capture {
            cap,
            buffers: Arc::new(Mutex::new(Buffers::default())),
            overflow: Arc::new(Notify::new()),
        }
    }

    /// Resolves once the cap has been exceeded.
    pub(crate) async fn overflowed(&self) {
        loop {
            let notified = self.overflow.notified();
            tokio::pin!(notified);
            // Register before checking the flag: notify_waiters only wakes registered waiters.
            notified.as_mut().enable();
            if self.lock().overflowed {
                return;
            }
            notified.await;
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Buffers> {
        // A poisoned lock only means another reader panicked; the bytes are still valid.
        self.buffers.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Append a chunk; returns false when the cap is reached and reading should stop.
    fn push(&self, stream: Stream, chunk: &[u8]) -> bool {
        let mut b = self.lock();
        if b.overflowed {
            return false;
        }
        let room = self.cap.saturating_sub(b.total);
        let keep = &chunk[..chunk.len().min(room)];
        match stream {
            Stream::Stdout => b.stdout.extend_from_slice(keep),
            Stream::Stderr => b.stderr.extend_from_slice(keep),
        }
        b.output.extend_from_slice(keep);
        b.total += keep.len();
        if keep.len() < chunk.len() {
            b.overflowed = true;
            drop(b);
            self.overflow.notify_waiters();
            return false;
        }
        true
    }

    /// Read one stream until EOF or the cap.
    pub(crate) async fn read_from(&self, stream: Stream, mut reader: impl AsyncRead + Unpin) {
        let mut buf = vec![0u8; CHUNK];
        loop {
            match reader.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    if !self.push(stream, &buf[..n]) {
                        return;
                    }
                }
            }
        }
    }

    /// Take what was captured.
    pub(crate) fn take(&self) -> Captured {
        let mut b = self.lock();
        Captured {
            stdout: std::mem::take(&mut b.stdout),
            stderr: std::mem::take(&mut b.stderr),
            output: std::mem::take(&mut b.output),
            truncated: b.overflowed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn one_cap_for_both_streams_keeps_output_up_to_it() {
        let cap = Capture::new(10);
        cap.read_from(Stream::Stdout, &b"hello"[..]).await;
        cap.read_from(Stream::Stderr, &b"world!!!"[..]).await;
        cap.overflowed().await; // must resolve, not hang
        let got = cap.take();
        assert_eq!(got.stdout, b"hello");
        assert_eq!(got.stderr, b"world");
        assert_eq!(got.output, b"helloworld");
        assert!(got.truncated);
    }

    #[test]
    fn text_keeps_valid_utf8_and_replaces_invalid_bytes() {
        assert_eq!(into_text("héllo".as_bytes().to_vec()), "héllo");
        assert_eq!(into_text(b"a\xffb".to_vec()), "a\u{fffd}b");
    }

    #[tokio::test]
    async fn exactly_the_cap_is_not_truncation() {
        let cap = Capture::new(5);
        cap.read_from(Stream::Stdout, &b"hello"[..]).await;
        assert!(!cap.take().truncated);
    }
}
