//! Graceful shutdown bookkeeping: refuse new commands once stopping, and know when the running
//! ones have finished.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::Notify;

/// Tracks whether the bot is stopping and how many commands are in flight.
#[derive(Debug, Default)]
pub(crate) struct Lifecycle {
    stopping: AtomicBool,
    in_flight: AtomicUsize,
    idle: Notify,
}

/// Held while a command runs; dropping it marks the command finished.
#[derive(Debug)]
pub(crate) struct InFlight<'a>(&'a Lifecycle);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        if self.0.in_flight.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}

impl Lifecycle {
    /// Admit a new command, or `None` when shutting down.
    pub fn admit(&self) -> Option<InFlight<'_>> {
        // Count first, then check: a command admitted concurrently with `stop` is either refused
        // or counted, never both missed.
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        let guard = InFlight(self);
        if self.stopping.load(Ordering::SeqCst) {
            return None;
        }
        Some(guard)
    }

    /// Refuse new commands from now on.
    pub fn stop(&self) {
        self.stopping.store(true, Ordering::SeqCst);
    }

    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::SeqCst)
    }

    /// Wait until no command is in flight, at most `deadline`. True when idle.
    pub async fn wait_idle(&self, deadline: Duration) -> bool {
        let wait = async {
            loop {
                let notified = self.idle.notified();
                if self.in_flight() == 0 {
                    return;
                }
                notified.await;
            }
        };
        tokio::time::timeout(deadline, wait).await.is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn stopping_refuses_and_waits_for_running_commands() {
        let life = Lifecycle::default();
        let running = life.admit().expect("admitted before stop");
        life.stop();
        assert!(
            life.admit().is_none(),
            "a command after stop must be refused"
        );
        assert_eq!(life.in_flight(), 1, "the refused command is not counted");
        assert!(!life.wait_idle(Duration::from_millis(50)).await);
        drop(running);
        assert!(life.wait_idle(Duration::from_millis(50)).await);
    }
}
