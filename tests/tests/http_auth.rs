//! HTTP API auth through the real `coderunner serve`: no key, a wrong key and a right key; the
//! key's tier decides privilege and the highest limits (403 beyond them).

mod http_support;

use http_support::*;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_none_wrong_and_right() {
    let server = Server::start();

    // /healthz is the one endpoint without a key.
    let (status, body) = get(&server, None, "/healthz").await;
    assert_eq!((status, body.contains("ok")), (200, true), "{body}");

    for path in ["/v1/languages", "/metrics", "/v1/openapi.json"] {
        let (status, body) = get(&server, None, path).await;
        assert_eq!(status, 401, "{path} without a key: {body}");
        let json: serde_json::Value = serde_json::from_str(&body).expect("JSON error body");
        assert_error(&json, "missing_api_key");
        assert!(
            json["message"].as_str().unwrap_or("").contains("Bearer"),
            "{json}"
        );
    }

    let run = program("python", "main.py", "print('hi')");
    let (status, _, json) = post_run(&server, None, "", &run).await;
    assert_eq!(status, 401, "{json}");
    assert_error(&json, "missing_api_key");

    // A wrong key, a near miss, and the key's env var NAME are all refused the same way.
    for wrong in [
        "nope",
        &MEMBER_KEY[..MEMBER_KEY.len() - 1],
        "CR_TEST_MEMBER_KEY",
    ] {
        let (status, _, json) = post_run(&server, Some(wrong), "", &run).await;
        assert_eq!(status, 401, "{wrong}: {json}");
        assert_error(&json, "invalid_api_key");
    }

    // A non-Bearer scheme is refused with a message saying the right form.
    let resp = client()
        .get(server.url("/v1/languages"))
        .header("authorization", format!("Basic {MEMBER_KEY}"))
        .send()
        .await
        .expect("GET");
    assert_eq!(resp.status().as_u16(), 401);
    let json: serde_json::Value = resp.json().await.expect("json");
    assert_error(&json, "bad_authorization");

    // The right key runs code; so does a key configured only by its SHA-256.
    for key in [MEMBER_KEY, HASHED_KEY] {
        let (status, _, json) = post_run(&server, Some(key), "", &run).await;
        assert_eq!(status, 200, "{json}\n{}", server.log());
        assert_eq!(json["status"], "exited", "{json}");
        assert_eq!(json["stdout"], "hi\n", "{json}");
    }
    // The hash itself is not a key.
    let (status, _, _) = post_run(
        &server,
        Some("befb5785adc7cb4b9802bc48c01815ec8593f81e424914c0a5010e9a8a90a645"),
        "",
        &run,
    )
    .await;
    assert_eq!(status, 401);
}

#[test]
fn serve_refuses_to_start_with_an_unset_key_variable() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = test_config(dir.path());
    let path = write_config(config, dir.path());
    // CR_TEST_ADMIN_KEY (and the others) are deliberately not set.
    let out = std::process::Command::new(coderunner_tests::harness::coderunner_bin())
        .arg("--config")
        .arg(&path)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env_remove("CR_TEST_MEMBER_KEY")
        .env_remove("CR_TEST_ADMIN_KEY")
        .env_remove("CR_TEST_LIMITED_KEY")
        .current_dir(dir.path())
        .output()
        .expect("run coderunner serve");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "serve started without its keys: {stderr}"
    );
    assert!(stderr.contains("CR_TEST_MEMBER_KEY"), "{stderr}");
    assert!(!stderr.contains("listening on"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tier_decides_privilege_and_maximum_limits() {
    let server = Server::start();
    let mut run = program("python", "main.py", "print('x')");

    // member may not run privileged (network on): 403, not a silent unprivileged run.
    run["privileged"] = json!(true);
    let (status, _, json) = post_run(&server, Some(MEMBER_KEY), "", &run).await;
    assert_eq!(status, 403, "{json}");
    assert_eq!(json["error"], "not_allowed", "{json}");
    assert!(
        json["message"]
            .as_str()
            .unwrap_or_default()
            .contains("\"privileged\": true"),
        "{json}"
    );

    // member's maximum profile is `default` (10s, 256MiB): asking for more is 403.
    run["privileged"] = json!(false);
    run["limits"] = json!({"wall_time": "30s"});
    let (status, _, json) = post_run(&server, Some(MEMBER_KEY), "", &run).await;
    assert_eq!(status, 403, "{json}");
    assert_eq!(json["error"], "not_allowed", "{json}");
    // The message speaks the API's language (fields), not chat flags.
    let message = json["message"].as_str().unwrap_or_default();
    assert!(message.contains("limits.wall_time"), "{message}");
    assert!(!message.contains("--timeout"), "{message}");
    run["limits"] = json!({"memory": "1GiB"});
    let (status, _, json) = post_run(&server, Some(MEMBER_KEY), "", &run).await;
    assert_eq!(status, 403, "{json}");

    // The same 1GiB is within admin's maximum (`data`): it runs.
    let (status, _, json) = post_run(&server, Some(ADMIN_KEY), "", &run).await;
    assert_eq!(status, 200, "{json}");
    assert_eq!(json["stdout"], "x\n", "{json}");

    // Lowering a limit is always allowed, and it is really applied: a 1 s wall limit kills a sleeper.
    let mut sleeper = program("python", "main.py", "import time\ntime.sleep(30)");
    sleeper["limits"] = json!({"wall_time": "1s"});
    let (status, _, json) = post_run(&server, Some(MEMBER_KEY), "", &sleeper).await;
    assert_eq!(status, 200, "{json}");
    assert_eq!(json["status"], "timeout", "{json}");
    assert!(
        json["wall_ms"].as_u64().unwrap_or(u64::MAX) < 5_000,
        "{json}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_privileged_run_is_allowed() {
    let server = Server::start();
    let mut run = program("python", "main.py", "print('priv')");
    run["privileged"] = json!(true);
    let (status, _, json) = post_run(&server, Some(ADMIN_KEY), "", &run).await;
    assert_eq!(status, 200, "{json}");
    assert_eq!(json["stdout"], "priv\n", "{json}");
}
