//! `coderunner mcp` through rmcp's own client, the way Claude Desktop, Claude Code or Cursor start
//! it: a child process speaking MCP on stdin/stdout. Real sandbox, real binary.

mod mcp_support;

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use coderunner_tests::harness::coderunner_bin;
use mcp_support::http_support::{test_config, write_config, LIMITED_RUNS};
use mcp_support::*;
use serde_json::{json, Value};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stdio_tools_runs_plots_failures_timeouts_and_refusals() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = test_config(dir.path());
    let path = write_config(config.clone(), dir.path());
    let client = stdio_client(&path, dir.path(), Lifecycle::Initialize).await;
    let info = client.peer_info().expect("initialize result");
    assert_eq!(
        info.server_info.as_ref().map(|s| s.name.as_str()),
        Some("coderunner")
    );
    assert!(
        info.instructions
            .as_deref()
            .is_some_and(|i| i.contains("run_code")),
        "{info:?}"
    );
    check_every_tool_behaviour(&client, "member").await;
    client.cancel().await.expect("close the client");

    // Every run is audited with frontend `mcp`, as the stdio user, at `mcp.tier`.
    let rows = audit_rows(&config, "stdio", ran_at_least(6));
    let ran: Vec<_> = rows
        .iter()
        .filter(|r| r.record.status != "refused")
        .collect();
    assert!(
        ran.len() >= 6,
        "python, javascript, c, plot, failure, timeout: {}",
        ran.len()
    );
    assert!(rows
        .iter()
        .all(|r| r.record.tier.as_deref() == Some("member")));
    assert!(
        rows.iter()
            .any(|r| r.record.refusal_kind.as_deref() == Some("not_allowed")),
        "the over-limit refusals are audited too"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stdio_serves_the_2026_stateless_revision_too() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = write_config(test_config(dir.path()), dir.path());
    let client = stdio_client(&path, dir.path(), Lifecycle::Discover).await;
    check_tools_list(&client).await;
    let r = run(
        &client,
        json!({"language": "py", "code": "print('stateless')"}),
    )
    .await;
    assert_eq!(r.is_error, Some(false), "{}", text(&r));
    assert!(text(&r).contains("stateless"), "{}", text(&r));
    client.cancel().await.expect("close the client");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stdio_runs_as_mcp_tier_with_its_rate_limit() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut config = test_config(dir.path());
    config.mcp.tier = "limited".into();
    let path = write_config(config.clone(), dir.path());
    let client = stdio_client(&path, dir.path(), Lifecycle::Initialize).await;
    for i in 0..LIMITED_RUNS {
        let r = run(
            &client,
            json!({"language": "python", "code": format!("print({i})")}),
        )
        .await;
        assert_eq!(r.is_error, Some(false), "run {i}: {}", text(&r));
    }
    let r = run(
        &client,
        json!({"language": "python", "code": "print('one too many')"}),
    )
    .await;
    let t = text(&r);
    assert_eq!(r.is_error, Some(true), "{t}");
    assert!(t.starts_with("refused (rate_limited)"), "{t}");
    assert!(t.contains("retry"), "says when to retry: {t}");
    assert!(!t.contains("one too many"), "the program did not run: {t}");
    client.cancel().await.expect("close the client");
    let rows = audit_rows(&config, "stdio", |rows| rows.len() > LIMITED_RUNS as usize);
    assert_eq!(rows.len(), LIMITED_RUNS as usize + 1, "{rows:?}");
    assert!(rows
        .iter()
        .all(|r| r.record.tier.as_deref() == Some("limited")));
    assert_eq!(
        rows.iter()
            .filter(|r| r.record.refusal_kind.as_deref() == Some("rate_limited"))
            .count(),
        1
    );
}

/// stdout carries only JSON-RPC, one message per line, even while logging at debug level and
/// running a program that prints; the logs go to stderr.
#[test]
fn stdout_carries_only_json_rpc_lines() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = write_config(test_config(dir.path()), dir.path());
    let mut child = Command::new(coderunner_bin())
        .arg("--config")
        .arg(&path)
        .arg("mcp")
        .current_dir(dir.path())
        .env("RUST_LOG", "debug")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start coderunner mcp");
    let mut stdin = child.stdin.take().expect("stdin");
    let requests = [
        json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "raw", "version": "1"}}}),
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
        json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "run_code", "arguments": {"language": "python", "code": "print('to the program stdout')"}}}),
    ];
    for r in &requests {
        writeln!(stdin, "{r}").expect("write request");
    }
    let stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut answers = Vec::new();
    for line in stdout.lines() {
        let line = line.expect("read stdout");
        let msg: Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("stdout line is not JSON ({e}): {line:?}"));
        assert_eq!(msg["jsonrpc"], "2.0", "{line}");
        answers.push(msg);
        if answers.iter().any(|m| m["id"] == 2) {
            break;
        }
    }
    drop(stdin);
    let out = child.wait_with_output().expect("wait");
    assert!(
        out.status.success(),
        "exits cleanly when stdin closes: {out:?}"
    );
    let call = answers
        .iter()
        .find(|m| m["id"] == 2)
        .expect("tools/call answer");
    assert_eq!(call["result"]["isError"], false, "{call}");
    assert_eq!(
        call["result"]["structuredContent"]["stdout"],
        "to the program stdout\n"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("DEBUG"),
        "debug logs go to stderr: {stderr}"
    );
    println!("tools/call request:  {}", requests[2]);
    println!("tools/call response: {call}");
}
