//! `/metrics` through the real `coderunner serve`: Prometheus text whose counts move with runs.

mod http_support;

use http_support::*;

/// The value of the sample line that starts with `prefix` (labels included), 0 when absent.
fn sample(text: &str, prefix: &str) -> f64 {
    text.lines()
        .find(|l| l.starts_with(prefix))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counts_change_after_runs() {
    let server = Server::start();
    let (status, before) = get(&server, Some(MEMBER_KEY), "/metrics").await;
    assert_eq!(status, 200, "{before}");
    for name in [
        "coderunner_runs_total",
        "coderunner_queue_depth",
        "coderunner_run_duration_seconds",
        "coderunner_sandbox_errors_total",
    ] {
        assert!(
            before.contains(&format!("# TYPE {name} ")),
            "no {name}: {before}"
        );
    }
    let ok = r#"coderunner_runs_total{status="exited",language="python"}"#;
    let timeout = r#"coderunner_runs_total{status="timeout",language="sh"}"#;
    assert_eq!(sample(&before, ok), 0.0);

    for _ in 0..2 {
        let (status, _, json) = post_run(
            &server,
            Some(MEMBER_KEY),
            "",
            &program("python", "main.py", "print(1)"),
        )
        .await;
        assert_eq!(status, 200, "{json}");
    }
    let mut slow = program("sh", "main.sh", "sleep 20");
    slow["limits"] = serde_json::json!({"wall_time": "500ms"});
    let (status, _, json) = post_run(&server, Some(MEMBER_KEY), "", &slow).await;
    assert_eq!(
        (status, json["status"].as_str()),
        (200, Some("timeout")),
        "{json}"
    );
    let (_, _, json) = post_run(&server, Some(MEMBER_KEY), "", &program("pyhton", "a", "")).await;
    assert_eq!(json["error"], "unknown_language");

    let (_, after) = get(&server, Some(MEMBER_KEY), "/metrics").await;
    assert_eq!(sample(&after, ok), 2.0, "{after}");
    assert_eq!(sample(&after, timeout), 1.0, "{after}");
    assert_eq!(
        sample(
            &after,
            r#"coderunner_refusals_total{error="unknown_language"}"#
        ),
        1.0,
        "{after}"
    );
    assert_eq!(
        sample(&after, "coderunner_run_duration_seconds_count"),
        3.0,
        "{after}"
    );
    assert_eq!(
        sample(
            &after,
            r#"coderunner_run_duration_seconds_bucket{le="+Inf"}"#
        ),
        3.0,
        "{after}"
    );
    // The timed-out run took at least its 0.5 s limit.
    assert!(
        sample(&after, "coderunner_run_duration_seconds_sum") >= 0.5,
        "{after}"
    );
    assert_eq!(sample(&after, "coderunner_queue_depth"), 0.0, "{after}");
    assert_eq!(
        sample(&after, "coderunner_runs_in_progress"),
        0.0,
        "{after}"
    );
}
