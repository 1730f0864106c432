//! The official MCP Inspector CLI (`@modelcontextprotocol/inspector`, installed from npm by
//! scripts/test.sh into .tools/mcp-inspector) lists the tools of `coderunner mcp`, with its strict
//! schema-portability check, and calls run_code: an independent client (the TypeScript SDK, which
//! validates structuredContent against the outputSchema) agreeing with ours.

mod mcp_support;

use std::path::PathBuf;
use std::process::{Command, Output};

use coderunner_tests::harness::{coderunner_bin, workspace_root};
use mcp_support::http_support::{test_config, write_config};
use serde_json::Value;

struct Inspector {
    node: PathBuf,
    launcher: PathBuf,
}

fn inspector() -> Inspector {
    let dir = workspace_root().join(".tools/mcp-inspector/node_modules");
    let found = Inspector {
        node: dir.join(".bin/node"),
        launcher: dir.join("@modelcontextprotocol/inspector/clients/launcher/build/index.js"),
    };
    assert!(
        found.node.exists() && found.launcher.exists(),
        "the MCP Inspector is not installed in {}; run `scripts/test.sh --setup-only`, which installs it from npm",
        dir.display()
    );
    found
}

/// `inspector --cli coderunner mcp ARGS...`, with HOME in `dir` so nothing is written elsewhere.
fn run_inspector(dir: &std::path::Path, config: &std::path::Path, args: &[&str]) -> Output {
    let i = inspector();
    let home = dir.join("home");
    std::fs::create_dir_all(&home).expect("home");
    Command::new(&i.node)
        .arg(&i.launcher)
        .arg("--cli")
        .arg(coderunner_bin())
        .arg("mcp")
        .arg("--cwd")
        .arg(dir)
        .args(["-e", &format!("CODERUNNER_CONFIG={}", config.display())])
        .args(["-e", "RUST_LOG=warn"])
        .args(args)
        .env("HOME", &home)
        .env("MCP_CATALOG_PATH", home.join("mcp.json"))
        .output()
        .expect("start the MCP Inspector")
}

fn stdout_json(out: &Output) -> Value {
    let stdout = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!(
            "Inspector output is not JSON ({e}); status {:?}\nstdout:\n{stdout}\nstderr:\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

#[test]
fn inspector_lists_the_tools_and_calls_run_code() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = write_config(test_config(dir.path()), dir.path());

    let out = run_inspector(dir.path(), &config, &["--method", "tools/list", "--strict"]);
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "tools/list --strict failed: {stderr}");
    assert!(
        !stderr.contains("Warning") && !stderr.contains("Error"),
        "the strict portability check found problems in the schemas:\n{stderr}"
    );
    let list = stdout_json(&out);
    let mut names: Vec<&str> = list["tools"]
        .as_array()
        .expect("tools")
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    names.sort_unstable();
    assert_eq!(names, ["list_languages", "run_code"], "{list}");
    println!("Inspector tools/list (names, titles):");
    for t in list["tools"].as_array().expect("tools") {
        println!("  {} — {}", t["name"], t["title"]);
    }

    let out = run_inspector(
        dir.path(),
        &config,
        &[
            "--method",
            "tools/call",
            "--tool-name",
            "run_code",
            "--tool-arg",
            "language=python",
            "--tool-arg",
            "code=import sys; print(sum(range(101)), sys.version_info[0])",
        ],
    );
    assert!(
        out.status.success(),
        "tools/call failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let result = stdout_json(&out);
    println!(
        "Inspector tools/call run_code output:\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(result["isError"], false, "{result}");
    assert_eq!(
        result["structuredContent"]["stdout"], "5050 3\n",
        "{result}"
    );
    let text = result["content"][0]["text"].as_str().unwrap_or_default();
    assert!(text.starts_with("✅ python 3"), "{text}");

    // A failing program through the Inspector: isError with the traceback.
    let out = run_inspector(
        dir.path(),
        &config,
        &[
            "--method",
            "tools/call",
            "--tool-name",
            "run_code",
            "--tool-arg",
            "language=python",
            "--tool-arg",
            "code=raise ValueError('bad input')",
        ],
    );
    let result = stdout_json(&out);
    assert_eq!(result["isError"], true, "{result}");
    let text = result["content"][0]["text"].as_str().unwrap_or_default();
    assert!(text.contains("ValueError: bad input"), "{text}");
}
