//! The bounded queue in front of the runner, and the cap on one user's concurrent runs.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::refusal::{Refusal, RefusalKind};
use crate::Progress;

/// Runs execute `concurrency` at a time; up to `max_waiting` more wait in FIFO order.
pub struct RunQueue {
    slots: Arc<Semaphore>,
    waiting: Arc<Mutex<usize>>,
    max_waiting: usize,
    per_user: Arc<Mutex<HashMap<String, u32>>>,
    per_user_cap: u32,
}

/// A running slot; the next queued run starts when it is dropped.
#[derive(Debug)]
pub struct QueuePermit {
    _permit: OwnedSemaphorePermit,
}

/// One of a user's concurrent runs; released on drop.
#[derive(Debug)]
pub struct UserSlot {
    map: Arc<Mutex<HashMap<String, u32>>>,
    key: String,
}

impl Drop for UserSlot {
    fn drop(&mut self) {
        let mut map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(n) = map.get_mut(&self.key) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                map.remove(&self.key);
            }
        }
    }
}

/// Counts this run as waiting until it gets a slot or is abandoned.
struct Waiting(Arc<Mutex<usize>>);

impl Drop for Waiting {
    fn drop(&mut self) {
        let mut w = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        *w = w.saturating_sub(1);
    }
}

impl RunQueue {
    pub fn new(concurrency: u32, max_waiting: u32, per_user_cap: u32) -> Self {
        RunQueue {
            slots: Arc::new(Semaphore::new(concurrency.max(1) as usize)),
            waiting: Arc::new(Mutex::new(0)),
            max_waiting: max_waiting as usize,
            per_user: Arc::new(Mutex::new(HashMap::new())),
            per_user_cap: per_user_cap.max(1),
        }
    }

    /// Count one more run for `key`, or refuse when the user already has their cap.
    pub fn claim_user(&self, key: &str) -> Result<UserSlot, Refusal> {
        let mut map = self.per_user.lock().unwrap_or_else(PoisonError::into_inner);
        let n = map.entry(key.to_string()).or_insert(0);
        if *n >= self.per_user_cap {
            return Err(Refusal::new(
                RefusalKind::RateLimited,
                format!(
                    "you already have {} queued or running (the most at once); wait for one to finish, then try again",
                    crate::fmt::plural(*n as usize, "run", "runs")
                ),
            ));
        }
        *n += 1;
        Ok(UserSlot {
            map: Arc::clone(&self.per_user),
            key: key.to_string(),
        })
    }

    /// A running slot: at once when one is free, after waiting in line otherwise
    /// (telling `progress` how many are ahead), or "busy" when the line is full.
    pub async fn enter(&self, progress: &dyn Progress) -> Result<QueuePermit, Refusal> {
        if let Ok(permit) = Arc::clone(&self.slots).try_acquire_owned() {
            return Ok(QueuePermit { _permit: permit });
        }
        let (guard, ahead) = {
            let mut w = self.waiting.lock().unwrap_or_else(PoisonError::into_inner);
            if *w >= self.max_waiting {
                return Err(Refusal {
                    kind: RefusalKind::Busy,
                    message: format!(
                        "busy, try again in a moment: every runner is in use and {} waiting",
                        crate::fmt::plural(*w, "run is", "runs are")
                    ),
                    retry_after: Some(std::time::Duration::from_secs(5)),
                });
            }
            let ahead = *w;
            *w += 1;
            (Waiting(Arc::clone(&self.waiting)), ahead)
        };
        progress.queued(ahead).await;
        let permit = Arc::clone(&self.slots)
            .acquire_owned()
            .await
            .map_err(|_| Refusal::new(RefusalKind::Busy, "shutting down; no new runs start"))?;
        drop(guard);
        Ok(QueuePermit { _permit: permit })
    }

    /// Runs waiting for a slot now.
    pub fn waiting(&self) -> usize {
        *self.waiting.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Stop handing out slots: waiting and later runs are refused.
    pub fn close(&self) {
        self.slots.close();
    }
}

/// The progress line a frontend shows while a run waits: "⏳ queued: 3 ahead".
pub fn queue_note(ahead: usize) -> String {
    if ahead == 0 {
        "⏳ queued: next in line".to_string()
    } else {
        format!("⏳ queued: {ahead} ahead")
    }
}
