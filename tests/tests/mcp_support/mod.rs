//! Shared by the mcp_* suites: rmcp's own client connected to `coderunner mcp` (a child process on
//! stdio) or to `/mcp` on a real `coderunner serve`, and the checks every transport must pass, so
//! both transports are held to the same behaviour.
#![allow(dead_code)]

use std::path::Path;
use std::process::Stdio;

use base64::Engine as _;
use coderunner_config::Config;
use coderunner_tests::harness::coderunner_bin;
use coderunner_tests::png;
use rmcp::model::{CallToolRequestParams, CallToolResult, ProtocolVersion, Tool};
use rmcp::service::RunningService;
use rmcp::transport::{StreamableHttpClientTransport, TokioChildProcess};
use rmcp::{ClientLifecycleMode, ClientServiceExt, RoleClient};
use serde_json::{json, Value};

#[path = "../http_support/mod.rs"]
pub mod http_support;

pub type Client = RunningService<RoleClient, ()>;

/// How the client starts: the `initialize` handshake (protocol 2025-11-25 and before) or the
/// stateless `server/discover` of 2026-07-28.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lifecycle {
    Initialize,
    Discover,
}

impl Lifecycle {
    fn mode(self) -> ClientLifecycleMode {
        match self {
            Lifecycle::Initialize => ClientLifecycleMode::Initialize,
            Lifecycle::Discover => ClientLifecycleMode::Discover {
                preferred_versions: vec![ProtocolVersion::V_2026_07_28],
            },
        }
    }
}

/// `coderunner --config PATH mcp`, started by rmcp's client as a child process in `dir`.
pub async fn stdio_client(config_path: &Path, dir: &Path, lifecycle: Lifecycle) -> Client {
    let mut cmd = tokio::process::Command::new(coderunner_bin());
    cmd.arg("--config")
        .arg(config_path)
        .arg("mcp")
        .current_dir(dir)
        .env("RUST_LOG", "warn");
    let (transport, _stderr) = TokioChildProcess::builder(cmd)
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start coderunner mcp");
    ().serve_with_lifecycle(transport, lifecycle.mode())
        .await
        .expect("MCP client connects to coderunner mcp")
}

/// rmcp's streamable HTTP client on `url` (…/mcp) with `key` as bearer token.
pub async fn http_client(url: &str, key: &str, lifecycle: Lifecycle) -> Client {
    let config =
        rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig::with_uri(url)
            .auth_header(key);
    let transport = StreamableHttpClientTransport::from_config(config);
    ().serve_with_lifecycle(transport, lifecycle.mode())
        .await
        .expect("MCP client connects to /mcp")
}

/// Call `run_code` (or another tool) with `args`; the JSON-RPC error when the call is malformed.
pub async fn call(client: &Client, tool: &str, args: Value) -> Result<CallToolResult, String> {
    let Value::Object(map) = args else {
        panic!("tool arguments must be an object");
    };
    client
        .call_tool(CallToolRequestParams::new(tool.to_string()).with_arguments(map))
        .await
        .map_err(|e| e.to_string())
}

pub async fn run(client: &Client, args: Value) -> CallToolResult {
    call(client, "run_code", args)
        .await
        .unwrap_or_else(|e| panic!("run_code answered a JSON-RPC error: {e}"))
}

pub fn text(result: &CallToolResult) -> String {
    result
        .content
        .iter()
        .filter_map(|c| c.as_text().map(|t| t.text.clone()))
        .collect::<Vec<_>>()
        .join("\n")
}

pub fn structured(result: &CallToolResult) -> &Value {
    result
        .structured_content
        .as_ref()
        .unwrap_or_else(|| panic!("no structuredContent: {}", text(result)))
}

/// Every required key of the tool's outputSchema is in `value` (the contract clients validate).
pub fn assert_matches_output_schema(tool: &Tool, value: &Value) {
    let schema = tool.output_schema.as_ref().expect("outputSchema");
    for key in schema["required"].as_array().expect("required list") {
        let key = key.as_str().expect("key name");
        assert!(
            value.get(key).is_some(),
            "structuredContent lacks `{key}`: {value}"
        );
    }
}

// ---- the checks both transports run --------------------------------------------------------

/// `tools/list`: exactly run_code and list_languages, each with a title, a description for a
/// model, and input/output schemas that are JSON Schema objects naming their fields.
pub async fn check_tools_list(client: &Client) -> Vec<Tool> {
    let tools = client.list_all_tools().await.expect("tools/list");
    let mut names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
    names.sort_unstable();
    assert_eq!(names, ["list_languages", "run_code"]);
    for tool in &tools {
        assert!(
            tool.title.as_deref().is_some_and(|t| !t.is_empty()),
            "{} has a title",
            tool.name
        );
        let description = tool.description.as_deref().unwrap_or_default();
        assert!(description.len() > 80, "{}: {description}", tool.name);
        // The schemas went through JSON and back; they must still be JSON Schema objects.
        let input: Value = serde_json::to_value(tool.input_schema.as_ref()).expect("schema json");
        assert_eq!(input["type"], "object", "{}: {input}", tool.name);
        let output = tool.output_schema.as_ref().expect("outputSchema");
        assert_eq!(output["type"], "object", "{}", tool.name);
    }
    let run = tools
        .iter()
        .find(|t| t.name == "run_code")
        .expect("run_code");
    let input: Value = serde_json::to_value(run.input_schema.as_ref()).expect("schema json");
    for field in [
        "language", "code", "files", "stdin", "args", "timeout", "memory",
    ] {
        assert!(
            input["properties"].get(field).is_some(),
            "run_code has `{field}`: {input}"
        );
    }
    let mut required: Vec<&str> = input["required"]
        .as_array()
        .expect("required")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    required.sort_unstable();
    assert_eq!(required, ["code", "language"]);
    let output = run.output_schema.as_ref().expect("outputSchema");
    assert!(output["properties"].get("status").is_some(), "{output:?}");
    tools
}

/// python, javascript and c each print what they compute.
pub async fn check_three_languages(client: &Client, tools: &[Tool]) {
    let run_tool = tools
        .iter()
        .find(|t| t.name == "run_code")
        .expect("run_code");
    let cases = [
        ("python", "print(sum(range(10)))", "45"),
        (
            "javascript",
            "console.log([1,2,3].map(x => x * 7).join(','))",
            "7,14,21",
        ),
        (
            "c",
            "#include <stdio.h>\nint main(void) { printf(\"%d\\n\", 6 * 7); return 0; }",
            "42",
        ),
    ];
    for (language, code, want) in cases {
        let r = run(client, json!({"language": language, "code": code})).await;
        let t = text(&r);
        assert_eq!(r.is_error, Some(false), "{language}: {t}");
        assert!(t.contains("exit code 0"), "{language}: {t}");
        assert!(
            t.lines().any(|l| l == want),
            "{language} printed {want}: {t}"
        );
        let s = structured(&r);
        assert_eq!(s["status"], "exited", "{language}: {s}");
        assert_eq!(s["stdout"], format!("{want}\n"), "{language}");
        assert_matches_output_schema(run_tool, s);
    }
}

/// A matplotlib figure saved as PNG comes back as an image block with the real PNG bytes.
pub async fn check_plot(client: &Client) {
    let code = "import matplotlib\nmatplotlib.use('Agg')\nimport matplotlib.pyplot as plt\n\
                plt.plot([1, 2, 3], [1, 4, 9])\nplt.savefig('plot.png')\nprint('saved')";
    let r = run(
        client,
        json!({"language": "python", "code": code, "timeout": 10}),
    )
    .await;
    assert_eq!(r.is_error, Some(false), "{}", text(&r));
    let images: Vec<_> = r.content.iter().filter_map(|c| c.as_image()).collect();
    assert_eq!(images.len(), 1, "one image block: {}", text(&r));
    assert_eq!(images[0].mime_type, "image/png");
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(&images[0].data)
        .expect("image data is base64");
    assert_eq!(
        png::dimensions(&bytes),
        (640, 480),
        "matplotlib's default 6.4x4.8 in figure at 100 dpi"
    );
    let files = structured(&r)["files"].as_array().expect("files").clone();
    assert!(
        files
            .iter()
            .any(|f| f["path"] == "plot.png" && f["size"] == bytes.len()),
        "{files:?}"
    );
    assert!(text(&r).contains("plot.png"), "{}", text(&r));
}

/// A program that raises is an `isError` result whose text holds the traceback.
pub async fn check_failure(client: &Client) {
    let code = "def ratio(a, b):\n    return a / b\n\nprint('before')\nprint(ratio(1, 0))";
    let r = run(client, json!({"language": "python", "code": code})).await;
    let t = text(&r);
    assert_eq!(r.is_error, Some(true), "{t}");
    assert!(t.contains("exit code 1"), "{t}");
    assert!(t.contains("Traceback (most recent call last)"), "{t}");
    assert!(t.contains("in ratio"), "{t}");
    assert!(t.contains("ZeroDivisionError: division by zero"), "{t}");
    assert!(t.contains("before"), "{t}");
    assert_eq!(structured(&r)["exit_code"], 1);
}

/// A program past its `timeout` is stopped and reported as a timeout.
pub async fn check_timeout(client: &Client) {
    let started = std::time::Instant::now();
    let r = run(
        client,
        json!({"language": "python", "code": "print('spinning', flush=True)\nwhile True: pass", "timeout": 1}),
    )
    .await;
    let t = text(&r);
    assert_eq!(r.is_error, Some(true), "{t}");
    assert_eq!(structured(&r)["status"], "timeout", "{t}");
    assert!(t.contains("timed out after 1 s"), "{t}");
    assert!(
        t.contains("spinning"),
        "output before the deadline is kept: {t}"
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(20),
        "the 1 s limit was applied, not the default"
    );
}

/// An unknown language is an `isError` result naming the close match and the languages.
pub async fn check_unknown_language(client: &Client) {
    let r = run(client, json!({"language": "pyhton", "code": "print(1)"})).await;
    let t = text(&r);
    assert_eq!(r.is_error, Some(true), "{t}");
    assert!(t.contains("unknown language \"pyhton\""), "{t}");
    assert!(t.contains("did you mean python"), "{t}");
    assert!(
        t.contains("javascript"),
        "the known languages are listed: {t}"
    );
    assert!(r.structured_content.is_none(), "nothing ran: {r:?}");
}

/// Limits above the tier's maximum are refused with the maximum, worded as arguments.
pub async fn check_limit_above_tier(client: &Client, tier: &str) {
    let r = run(
        client,
        json!({"language": "python", "code": "print(1)", "timeout": 3600}),
    )
    .await;
    let t = text(&r);
    assert_eq!(r.is_error, Some(true), "{t}");
    assert!(t.contains("`timeout: 3600`"), "{t}");
    assert!(t.contains(&format!("`{tier}` tier allows (at most")), "{t}");
    let r = run(
        client,
        json!({"language": "python", "code": "print(1)", "memory": "64GiB"}),
    )
    .await;
    let t = text(&r);
    assert_eq!(r.is_error, Some(true), "{t}");
    assert!(
        t.contains("`memory: \"64GiB\"`") && t.contains("at most"),
        "{t}"
    );
}

/// Malformed calls are JSON-RPC errors: a tool that does not exist.
pub async fn check_malformed_calls(client: &Client) {
    let err = call(client, "run_python", json!({"code": "1"}))
        .await
        .expect_err("an unknown tool is a JSON-RPC error");
    assert!(
        err.contains("run_python") || err.contains("not found"),
        "{err}"
    );
    // Arguments that do not fit the schema come back as a tool error the model can fix (MCP
    // 2025-11-25 moved input validation errors to `isError` results), naming the bad field.
    let r = call(client, "run_code", json!({"lang": "python", "code": "1"}))
        .await
        .expect("schema mismatch is a tool result");
    assert_eq!(r.is_error, Some(true));
    assert!(text(&r).contains("unknown field `lang`"), "{}", text(&r));
}

/// `list_languages` lists python with its version and aliases, as text and structured.
pub async fn check_list_languages(client: &Client) {
    let r = call(client, "list_languages", json!({}))
        .await
        .expect("list_languages");
    assert_eq!(r.is_error, Some(false));
    let langs = structured(&r)["languages"]
        .as_array()
        .expect("languages")
        .clone();
    let py = langs
        .iter()
        .find(|l| l["name"] == "python")
        .expect("python listed");
    assert!(
        py["version"].as_str().is_some_and(|v| v.starts_with('3')),
        "{py}"
    );
    assert!(
        py["aliases"]
            .as_array()
            .is_some_and(|a| a.contains(&json!("py"))),
        "{py}"
    );
    assert!(text(&r).contains("python 3."), "{}", text(&r));
}

/// Audit rows of the runs through MCP: frontend `mcp`, by `user`, once `complete` holds of them
/// (a server writes an unprivileged run's row just after its answer; waits up to 10 s).
pub fn audit_rows(
    config: &Config,
    user: &str,
    complete: impl Fn(&[coderunner_commands::AuditRow]) -> bool,
) -> Vec<coderunner_commands::AuditRow> {
    let audit = coderunner_commands::Audit::open(
        &config.resolve_data_path(&config.audit.path),
        1 << 16,
        std::time::Duration::from_secs(86_400),
    )
    .expect("open the audit database");
    let start = std::time::Instant::now();
    loop {
        let rows: Vec<_> = audit
            .recent(1000)
            .expect("read audit rows")
            .into_iter()
            .filter(|r| r.record.platform == "mcp" && r.record.user_id == user)
            .collect();
        if complete(&rows) || start.elapsed() > std::time::Duration::from_secs(10) {
            return rows;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// Rows of at least `n` runs (refusals not counted).
pub fn ran_at_least(n: usize) -> impl Fn(&[coderunner_commands::AuditRow]) -> bool {
    move |rows| rows.iter().filter(|r| r.record.status != "refused").count() >= n
}

/// Every behaviour the issue asks of the tools, in one order, so both transports are held to the
/// same list: tools/list, list_languages, three languages, a plot, a failure, a timeout, an
/// unknown language, a limit above `tier`, malformed calls.
pub async fn check_every_tool_behaviour(client: &Client, tier: &str) {
    let tools = check_tools_list(client).await;
    check_list_languages(client).await;
    check_three_languages(client, &tools).await;
    check_plot(client).await;
    check_failure(client).await;
    check_timeout(client).await;
    check_unknown_language(client).await;
    check_limit_above_tier(client, tier).await;
    check_malformed_calls(client).await;
}
