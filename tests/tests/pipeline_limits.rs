//! Rate limits with governor's fake clock, the per-user concurrency cap, and the bounded queue
//! under load (runs held "in the sandbox" by a gate in the fake runner).

mod pipeline_support;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use coderunner_config::{HumanDuration, Quota};
use pipeline_support::*;
use tokio::sync::Semaphore;

const RUN: &str = "!run py `print(1)`";

#[tokio::test]
async fn sixth_run_in_a_minute_is_told_when_to_retry() {
    let rig = rig();
    for i in 0..5 {
        let reply = rig.send(msg(member("1"), RUN)).await;
        assert!(
            reply.content.starts_with("✅"),
            "run {i}: {}",
            reply.content
        );
    }
    let reply = rig.send(msg(member("1"), RUN)).await;
    // 5 per minute refill one every 12 s.
    assert_eq!(
        reply.content,
        "⏳ slow down: the `member` tier may run 5 times per 60 s; retry in 12 s"
    );
    // Another user is not affected.
    assert!(rig
        .send(msg(member("2"), RUN))
        .await
        .content
        .starts_with("✅"));
    rig.clock.advance(Duration::from_secs(5));
    let reply = rig.send(msg(member("1"), RUN)).await;
    assert!(reply.content.ends_with("retry in 7 s"), "{}", reply.content);
    rig.clock.advance(Duration::from_secs(7));
    assert!(rig
        .send(msg(member("1"), RUN))
        .await
        .content
        .starts_with("✅"));
    let rows = rig.pipeline.audit().recent(3).expect("rows");
    assert_eq!(rows[1].record.refusal_kind.as_deref(), Some("rate_limited"));
}

#[tokio::test]
async fn tiers_have_their_own_quotas_and_admins_none() {
    let rig = rig();
    for _ in 0..20 {
        assert!(rig
            .send(msg(with_role("d", "data"), RUN))
            .await
            .content
            .starts_with("✅"));
    }
    let reply = rig.send(msg(with_role("d", "data"), RUN)).await;
    assert!(
        reply
            .content
            .contains("`data` tier may run 20 times per 60 s; retry in 3 s"),
        "{}",
        reply.content
    );
    // The admin tier is not listed in rate_limits: not limited.
    for _ in 0..30 {
        assert!(rig
            .send(msg(with_role("a", "admin"), RUN))
            .await
            .content
            .starts_with("✅"));
    }
}

#[tokio::test]
async fn guild_quota_applies_across_users() {
    let mut c = config();
    c.rate_limits.guild.insert(
        "member".into(),
        Quota {
            count: 3,
            per: HumanDuration::from_secs(60),
        },
    );
    let rig = rig_with(c, FakeRunner::default());
    for user in ["1", "2", "3"] {
        assert!(rig
            .send(msg(member(user), RUN))
            .await
            .content
            .starts_with("✅"));
    }
    let reply = rig.send(msg(member("4"), RUN)).await;
    assert_eq!(
        reply.content,
        "⏳ this server has used its quota of 3 runs per 60 s for the `member` tier; retry in 20 s"
    );
}

#[tokio::test]
async fn idle_keys_are_forgotten() {
    let rig = rig();
    for user in 0..50 {
        rig.send(msg(member(&user.to_string()), RUN)).await;
    }
    // One user key and one guild key per tier limiter that saw traffic.
    assert_eq!(rig.pipeline.rate_limit_keys(), 51);
    rig.clock.advance(Duration::from_secs(61));
    rig.pipeline.housekeeping();
    assert_eq!(rig.pipeline.rate_limit_keys(), 0);
}

fn gated(concurrency: u32, queue: u32, per_user: u32) -> (Rig, Arc<Semaphore>) {
    let gate = Arc::new(Semaphore::new(0));
    let mut c = config();
    c.rate_limits.global_concurrency = concurrency;
    c.rate_limits.queue_length = queue;
    c.rate_limits.concurrent_per_user = per_user;
    c.rate_limits.user.clear();
    c.rate_limits.guild.clear();
    let runner = FakeRunner {
        gate: Some(Arc::clone(&gate)),
        ..FakeRunner::default()
    };
    (rig_with(c, runner), gate)
}

async fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    for _ in 0..500 {
        if f() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("timed out waiting for {what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queue_reports_positions_and_refuses_when_full() {
    let (rig, gate) = gated(1, 2, 5);
    let rig = Arc::new(rig);
    let mut tasks = Vec::new();
    let mut progresses = Vec::new();
    for user in 0..3 {
        let task_rig = Arc::clone(&rig);
        let progress = Arc::new(RecordingProgress::default());
        progresses.push(Arc::clone(&progress));
        tasks.push(tokio::spawn(async move {
            task_rig
                .pipeline
                .handle(msg(member(&user.to_string()), RUN), progress.as_ref())
                .await
        }));
        // Start them in order so their queue positions are known.
        let expected_waiting = user;
        let r = Arc::clone(&rig);
        wait_until("the run to start or queue", move || {
            r.runner.requests.lock().expect("r").len() == 1
                && r.pipeline.queued() == expected_waiting
        })
        .await;
    }
    // One running, two waiting: the fourth is told the bot is busy.
    let busy = rig.send(msg(member("9"), RUN)).await;
    assert_eq!(
        busy.content,
        "⏳ busy, try again in a moment: every runner is in use and 2 runs are waiting"
    );
    assert_eq!(
        *progresses[0].queued.lock().expect("q"),
        Vec::<usize>::new()
    );
    assert_eq!(*progresses[1].queued.lock().expect("q"), vec![0]);
    assert_eq!(*progresses[2].queued.lock().expect("q"), vec![1]);
    gate.add_permits(3);
    for t in tasks {
        let reply = t.await.expect("task").expect("reply");
        assert!(reply.content.starts_with("✅"), "{}", reply.content);
    }
    assert_eq!(
        rig.runner.max_running.load(Ordering::SeqCst),
        1,
        "one at a time"
    );
    assert_eq!(rig.pipeline.queued(), 0);
    let rows = rig.pipeline.audit().recent(10).expect("rows");
    assert_eq!(
        rows.iter()
            .filter(|r| r.record.refusal_kind.as_deref() == Some("busy"))
            .count(),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_never_exceeds_concurrency_and_every_request_is_answered() {
    let (rig, gate) = gated(2, 10, 100);
    let rig = Arc::new(rig);
    let mut tasks = Vec::new();
    for user in 0..30 {
        let rig = Arc::clone(&rig);
        tasks.push(tokio::spawn(async move {
            rig.send(msg(member(&format!("u{user}")), RUN)).await
        }));
    }
    let r = Arc::clone(&rig);
    // 2 running and 10 queued; the other 18 were refused (and audited) before anything finishes.
    wait_until("the queue to fill and the rest to be refused", move || {
        r.pipeline.queued() == 10 && r.pipeline.audit().count().expect("count") == 18
    })
    .await;
    gate.add_permits(1000);
    let mut ok = 0;
    let mut busy = 0;
    for t in tasks {
        let reply = t.await.expect("task");
        if reply.content.starts_with("✅") {
            ok += 1;
        } else if reply.content.contains("busy, try again in a moment") {
            busy += 1;
        } else {
            panic!("unexpected reply {}", reply.content);
        }
    }
    assert_eq!(ok + busy, 30);
    assert_eq!(ok, 12, "2 running + 10 queued");
    assert!(rig.runner.max_running.load(Ordering::SeqCst) <= 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_user_has_a_concurrency_cap() {
    let (rig, gate) = gated(4, 10, 2);
    let rig = Arc::new(rig);
    let mut tasks = Vec::new();
    for _ in 0..2 {
        let rig = Arc::clone(&rig);
        tasks.push(tokio::spawn(async move {
            rig.send(msg(member("1"), RUN)).await
        }));
    }
    let r = Arc::clone(&rig);
    wait_until("two runs in the sandbox", move || {
        r.runner.requests.lock().expect("r").len() == 2
    })
    .await;
    let third = rig.send(msg(member("1"), RUN)).await;
    assert_eq!(
        third.content,
        "⏳ you already have 2 runs queued or running (the most at once); wait for one to finish, then try again"
    );
    // Someone else still gets in.
    let other = {
        let rig = Arc::clone(&rig);
        tokio::spawn(async move { rig.send(msg(member("2"), RUN)).await })
    };
    gate.add_permits(3);
    for t in tasks {
        assert!(t.await.expect("task").content.starts_with("✅"));
    }
    assert!(other.await.expect("task").content.starts_with("✅"));
    // Slots are released after the runs.
    gate.add_permits(1);
    assert!(rig
        .send(msg(member("1"), RUN))
        .await
        .content
        .starts_with("✅"));
}

#[tokio::test]
async fn shutdown_refuses_new_runs() {
    let rig = rig();
    rig.pipeline.shutdown().await;
    let reply = rig.send(msg(member("1"), RUN)).await;
    assert!(reply.content.contains("shutting down"), "{}", reply.content);
}
