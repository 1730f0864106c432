//! The clock of the rate limiters: real time in production, governor's fake clock in tests.

use std::time::Instant;

use governor::clock::{Clock, FakeRelativeClock};
use governor::nanos::Nanos;

/// One clock type for both cases, so the pipeline is not generic over its clock.
#[derive(Debug, Clone)]
pub enum LimiterClock {
    /// Monotonic time since the pipeline started.
    Real(Instant),
    /// Time moves only when the test advances it.
    Fake(FakeRelativeClock),
}

impl LimiterClock {
    pub fn real() -> Self {
        LimiterClock::Real(Instant::now())
    }
}

impl Clock for LimiterClock {
    type Instant = Nanos;

    fn now(&self) -> Nanos {
        match self {
            LimiterClock::Real(start) => Nanos::from(start.elapsed()),
            LimiterClock::Fake(fake) => fake.now(),
        }
    }
}
