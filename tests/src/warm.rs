//! A warm runner of a test's own (a pool it fills and tears down), and a run that must go warm.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::time::Duration;

use coderunner_config::WarmPool;
use coderunner_runner::{LocalRunner, RunOutcome, RunRequest, Runner};
use futures_util::FutureExt;

use crate::safety_net;

/// Start a runner with `slots` warm slots per kind of run (runs wait up to `slot_wait` for a
/// slot rather than go cold, when given), wait until the pool is full, run `body`, then tear the
/// pool down whatever happened.
pub async fn with_warm_runner<F, Fut>(slots: u32, slot_wait: Option<Duration>, body: F)
where
    F: FnOnce(LocalRunner) -> Fut,
    Fut: Future<Output = ()>,
{
    let mut c = safety_net::config().clone();
    c.runner.warm_pool = WarmPool::Slots(slots);
    let runner = LocalRunner::new(&c).expect("a runner");
    let runner = match slot_wait {
        Some(wait) => runner.start_warm_pool_waiting(wait),
        None => runner.start_warm_pool(),
    };
    let filled = runner.warm_pool_ready(Duration::from_secs(180)).await;
    let report = runner.warm_pool_report().await.expect("a pool");
    let result = AssertUnwindSafe(async {
        assert!(filled, "the pool did not fill: {report:?}");
        assert_eq!(report.state, "ready", "{report:?}");
        body(runner.clone()).await
    })
    .catch_unwind()
    .await;
    runner.shutdown_warm_pool().await;
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
}

/// Run `req` on a warm runner, and check the run did not go cold.
pub async fn warm_run(runner: &LocalRunner, req: RunRequest) -> RunOutcome {
    let before = runner.warm_pool_report().await.expect("pool").warm_runs;
    let o = runner.run(req).await.expect("the warm run was carried out");
    let after = runner.warm_pool_report().await.expect("pool").warm_runs;
    assert_eq!(after, before + 1, "the run went cold: {o:?}");
    o
}
