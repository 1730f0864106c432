//! `/mcp` on a real `coderunner serve` through rmcp's streamable HTTP client: the same checks as
//! stdio, plus what HTTP adds: API keys and their tiers (401 without one), Origin and Host
//! validation (403), and rate limits shared with `/v1/runs` (429 with Retry-After).

mod mcp_support;

use mcp_support::http_support::*;
use mcp_support::*;
use serde_json::{json, Value};

const INIT: &str = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}"#;

/// POST one JSON-RPC message to /mcp with `headers`; (status, Retry-After, body).
async fn post_mcp(
    server: &Server,
    key: Option<&str>,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, Option<String>, String) {
    let mut req = client()
        .post(server.url("/mcp"))
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(body.to_string());
    if let Some(key) = key {
        req = req.bearer_auth(key);
    }
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    let resp = req.send().await.expect("POST /mcp");
    let status = resp.status().as_u16();
    let retry = resp
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    (status, retry, resp.text().await.expect("body"))
}

fn run_call(code: &str) -> String {
    json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
           "params": {"name": "run_code", "arguments": {"language": "python", "code": code}}})
    .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_tools_runs_plots_failures_timeouts_and_refusals() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = test_config(dir.path());
    let server = Server::start_with(config.clone(), dir);
    let client = http_client(&server.url("/mcp"), MEMBER_KEY, Lifecycle::Initialize).await;
    check_every_tool_behaviour(&client, "member").await;
    client.cancel().await.expect("close the client");

    // The runs are audited as the key, with frontend `mcp` and the key's tier.
    let rows = audit_rows(&config, "member", ran_at_least(6));
    assert!(rows.iter().filter(|r| r.record.status != "refused").count() >= 6);
    assert!(rows
        .iter()
        .all(|r| r.record.tier.as_deref() == Some("member")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_runs_as_the_keys_tier_over_both_protocol_revisions() {
    let server = Server::start();
    // The 2026-07-28 stateless revision (server/discover, no session).
    let client = http_client(&server.url("/mcp"), ADMIN_KEY, Lifecycle::Discover).await;
    check_tools_list(&client).await;
    // The admin tier's maximum is the `data` profile: 60 s is allowed, 3600 s is not.
    let r = run(
        &client,
        json!({"language": "python", "code": "print('admin')", "timeout": 60}),
    )
    .await;
    assert_eq!(r.is_error, Some(false), "{}", text(&r));
    check_limit_above_tier(&client, "admin").await;
    client.cancel().await.expect("close the client");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_without_a_valid_key_is_401() {
    let server = Server::start();
    let (status, _, body) = post_mcp(&server, None, &[], INIT).await;
    assert_eq!(status, 401, "{body}");
    let json: Value = serde_json::from_str(&body).expect("JSON error");
    assert_error(&json, "missing_api_key");
    let (status, _, body) = post_mcp(&server, Some("not-a-key"), &[], INIT).await;
    assert_eq!(status, 401, "{body}");
    // And with the key, the same request is answered.
    let (status, _, body) = post_mcp(&server, Some(MEMBER_KEY), &[], INIT).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"serverInfo\""), "{body}");
    // rmcp's client with a wrong key cannot connect at all.
    let config =
        rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig::with_uri(
            server.url("/mcp"),
        )
        .auth_header("wrong");
    let transport = rmcp::transport::StreamableHttpClientTransport::from_config(config);
    use rmcp::ServiceExt;
    assert!(
        ().serve(transport).await.is_err(),
        "connected without a key"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_refuses_foreign_origins_and_hosts_with_403() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut config = test_config(dir.path());
    config.mcp.allowed_origins = vec!["https://ide.example.com".into()];
    let server = Server::start_with(config, dir);
    // A web page elsewhere cannot drive the server, even with a key (DNS rebinding, CSRF).
    let (status, _, body) = post_mcp(
        &server,
        Some(MEMBER_KEY),
        &[("origin", "https://evil.example")],
        INIT,
    )
    .await;
    assert_eq!(status, 403, "{body}");
    let json: Value = serde_json::from_str(&body).expect("JSON error");
    assert_error(&json, "origin_not_allowed");
    let message = json["message"].as_str().unwrap_or_default();
    assert!(message.contains("https://evil.example"), "{message}");
    assert!(message.contains("mcp.allowed_origins"), "{message}");
    // A tool call from there does not run.
    let (status, _, body) = post_mcp(
        &server,
        Some(MEMBER_KEY),
        &[("origin", "https://evil.example")],
        &run_call("open('/tmp/ran', 'w')"),
    )
    .await;
    assert_eq!(status, 403, "{body}");
    // The configured origin is served, and so is a client that sends no Origin at all.
    let (status, _, body) = post_mcp(
        &server,
        Some(MEMBER_KEY),
        &[("origin", "https://ide.example.com")],
        INIT,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    // A Host this server does not answer to (DNS rebinding) is refused with the setting to change.
    let (status, _, body) = post_mcp(
        &server,
        Some(MEMBER_KEY),
        &[("host", "attacker.example:8080")],
        INIT,
    )
    .await;
    assert_eq!(status, 403, "{body}");
    let json: Value = serde_json::from_str(&body).expect("JSON error");
    assert_error(&json, "host_not_allowed");
    assert!(
        json["message"]
            .as_str()
            .unwrap_or_default()
            .contains("mcp.allowed_hosts"),
        "{json}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_rate_limit_is_shared_with_v1_runs_and_answers_429() {
    let server = Server::start();
    // The `limited` key spends its whole quota on the REST API...
    for i in 0..LIMITED_RUNS {
        let (status, _, json) = post_run(
            &server,
            Some(LIMITED_KEY),
            "",
            &program("python", "main.py", &format!("print({i})")),
        )
        .await;
        assert_eq!(status, 200, "{json}");
    }
    // ...so MCP, the same key by another protocol, is refused: 429 with Retry-After, and the
    // JSON-RPC body still tells the agent why.
    let _ = post_mcp(&server, Some(LIMITED_KEY), &[], INIT).await;
    let (status, retry, body) =
        post_mcp(&server, Some(LIMITED_KEY), &[], &run_call("print('more')")).await;
    assert_eq!(status, 429, "{body}");
    let retry: u64 = retry.expect("Retry-After").parse().expect("seconds");
    assert!(retry >= 1, "{retry}");
    let json: Value = serde_json::from_str(&body).expect("JSON-RPC body");
    assert_eq!(json["result"]["isError"], true, "{json}");
    let t = json["result"]["content"][0]["text"]
        .as_str()
        .unwrap_or_default();
    assert!(t.starts_with("refused (rate_limited)"), "{t}");
    // Another key is not affected.
    let (status, _, body) =
        post_mcp(&server, Some(MEMBER_KEY), &[], &run_call("print('member')")).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"isError\":false"), "{body}");
}
