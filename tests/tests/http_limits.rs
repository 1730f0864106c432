//! Limits of the HTTP API through the real `coderunner serve`: the body cap (413 naming it), the
//! per-key rate limit (429 + Retry-After), and each kind of bad input (400 with its own code).

mod http_support;

use http_support::*;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn body_over_the_cap_is_413_naming_the_limit() {
    let server = Server::start();
    // The test config caps bodies at 256KiB.
    let big = "x".repeat(300 * 1024);
    let body = program("python", "main.py", &format!("# {big}\nprint(1)"));
    let raw = serde_json::to_vec(&body).expect("json");
    let (status, _, json) = post_raw(&server, MEMBER_KEY, raw).await;
    assert_eq!(status, 413, "{json}");
    assert_error(&json, "body_too_large");
    assert!(
        json["message"].as_str().unwrap_or("").contains("256KiB"),
        "{json}"
    );

    // Just under the cap is accepted and runs.
    let fits = "x".repeat(200 * 1024);
    let body = program("python", "main.py", &format!("# {fits}\nprint(2)"));
    let (status, _, json) = post_run(&server, Some(MEMBER_KEY), "", &body).await;
    assert_eq!(status, 200, "{json}");
    assert_eq!(json["stdout"], "2\n", "{json}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn burst_past_the_keys_quota_is_429_with_retry_after() {
    let server = Server::start();
    let run = program("sh", "main.sh", "echo ok");
    for i in 0..LIMITED_RUNS {
        let (status, _, json) = post_run(&server, Some(LIMITED_KEY), "", &run).await;
        assert_eq!(status, 200, "run {i} within the quota: {json}");
    }
    let (status, retry, json) = post_run(&server, Some(LIMITED_KEY), "", &run).await;
    assert_eq!(status, 429, "{json}");
    assert_error(&json, "rate_limited");
    let secs: u64 = retry
        .as_deref()
        .and_then(|r| r.parse().ok())
        .unwrap_or_else(|| panic!("429 without a numeric Retry-After: {retry:?}"));
    // The quota is 2 per hour: the next run is minutes away, not zero and not more than an hour.
    assert!((60..=3600).contains(&secs), "Retry-After {secs}");

    // The quota is per key: another key is unaffected.
    let (status, _, json) = post_run(&server, Some(MEMBER_KEY), "", &run).await;
    assert_eq!(status, 200, "{json}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_bad_input_is_its_own_400() {
    let server = Server::start();
    let one = |extra: serde_json::Value| {
        let mut b = program("python", "main.py", "print(1)");
        if let (Some(b), Some(extra)) = (b.as_object_mut(), extra.as_object()) {
            for (k, v) in extra {
                b.insert(k.clone(), v.clone());
            }
        }
        b
    };

    // Malformed JSON: the message says where.
    let (status, _, json) = post_raw(
        &server,
        MEMBER_KEY,
        br#"{"language": "python", "files": [}"#.to_vec(),
    )
    .await;
    assert_eq!(status, 400, "{json}");
    assert_error(&json, "malformed_json");
    assert!(
        json["message"].as_str().unwrap_or("").contains("column"),
        "{json}"
    );

    let cases: Vec<(serde_json::Value, &str, &str)> = vec![
        (one(json!({"colour": "red"})), "unknown_field", "colour"),
        (
            one(json!({"language": "pyhton"})),
            "unknown_language",
            "did you mean python",
        ),
        (
            one(json!({"language": "cobol"})),
            "unknown_language",
            "javascript",
        ),
        (
            one(json!({"version": "2.7"})),
            "unknown_version",
            "this host has python 3",
        ),
        (one(json!({"files": []})), "no_files", "at least"),
        (
            one(json!({"files": [{"name": "../../etc/cron.d/x", "content": ""}]})),
            "unsafe_file_name",
            "..",
        ),
        (
            one(json!({"files": [{"name": "/etc/passwd", "content": ""}]})),
            "unsafe_file_name",
            "absolute",
        ),
        (
            one(
                json!({"files": [{"name": "a.bin", "content": "not base64!", "encoding": "base64"}]}),
            ),
            "bad_base64",
            "a.bin",
        ),
        (
            one(json!({"files": [{"name": "a", "content": "", "encoding": "hex"}]})),
            "invalid_field",
            "base64",
        ),
        (one(json!({"main": "other.py"})), "unknown_main", "main.py"),
        (
            one(json!({"limits": {"wall_time": "soon"}})),
            "invalid_field",
            "duration",
        ),
        (one(json!({"limits": {"cpu": 2}})), "unknown_field", "cpu"),
        (
            one(json!({"args": "not-a-list"})),
            "invalid_field",
            "sequence",
        ),
    ];
    for (body, code, needle) in cases {
        let (status, _, json) = post_run(&server, Some(MEMBER_KEY), "", &body).await;
        assert_eq!(status, 400, "{body}: {json}");
        assert_error(&json, code);
        let message = json["message"].as_str().unwrap_or_default();
        assert!(
            message.contains(needle),
            "{body}: message lacks {needle:?}: {message}"
        );
    }

    // A bad query parameter value.
    let (status, _, json) = post_run(
        &server,
        Some(MEMBER_KEY),
        "?files=everything",
        &one(json!({})),
    )
    .await;
    assert_eq!(status, 400, "{json}");
    assert_error(&json, "invalid_query");

    // None of these ran anything: the sandbox was never asked.
    let (_, metrics) = get(&server, Some(MEMBER_KEY), "/metrics").await;
    assert!(!metrics.contains("coderunner_runs_total{"), "{metrics}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_paths_and_methods_answer_json() {
    let server = Server::start();
    let (status, body) = get(&server, Some(MEMBER_KEY), "/v1/nothing").await;
    assert_eq!(status, 404, "{body}");
    assert!(body.contains("/v1/runs"), "{body}");
    let (status, body) = get(&server, Some(MEMBER_KEY), "/v1/runs").await;
    assert_eq!(status, 405, "{body}");
    assert!(body.contains("POST"), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_is_503_with_retry_after() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut config = test_config(dir.path());
    config.rate_limits.global_concurrency = 1;
    config.rate_limits.queue_length = 1;
    let server = Server::start_with(config, dir);
    let sleeper = program("sh", "main.sh", "sleep 3; echo done");
    // One runs, one waits, the rest find the queue full.
    let runs = (0..4).map(|_| post_run(&server, Some(ADMIN_KEY), "", &sleeper));
    let results = futures_util::future::join_all(runs).await;
    let ok = results.iter().filter(|r| r.0 == 200).count();
    let busy: Vec<_> = results.iter().filter(|r| r.0 == 503).collect();
    assert!(ok >= 1, "{results:?}");
    assert!(
        !busy.is_empty(),
        "no 503 with 4 runs against 1 slot + 1 queue place: {results:?}"
    );
    for (_, retry, json) in busy {
        assert_error(json, "busy");
        assert!(
            retry
                .as_deref()
                .and_then(|r| r.parse::<u64>().ok())
                .is_some_and(|s| s >= 1),
            "503 without Retry-After: {retry:?}"
        );
    }
}
