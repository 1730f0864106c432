//! Rate limiting: keyed quotas (governor), a per-user concurrency cap and the bounded run queue.

mod clock;
mod queue;
mod rate;

pub use clock::LimiterClock;
pub use queue::{queue_note, QueuePermit, RunQueue, UserSlot};
pub use rate::RateGate;

/// The fake clock tests drive the rate limiters with (governor's).
pub use governor::clock::FakeRelativeClock;
