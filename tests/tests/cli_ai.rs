//! The `ai:` section through the real binary: `check-config` refuses each bad value with its key
//! path and what is expected (and warns when the API key variable is not set here), and
//! `doctor` says whether the endpoint answers and with which models, against the fake
//! OpenAI-compatible server on loopback, without the AI line changing doctor's exit status.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use coderunner_tests::fake_ai::FakeAi;
use coderunner_tests::harness::coderunner_bin;

/// The default config with its `ai:` section set to `lines` (each `key: value`), and no warm
/// pool (doctor would start one; it has nothing to do with AI).
fn config_with_ai(dir: &Path, lines: &[&str]) -> PathBuf {
    let default = coderunner_config::DEFAULT_YAML.replacen("warm_pool: auto", "warm_pool: 0", 1);
    let default = default.as_str();
    let start = default
        .find("\n  ai:\n")
        .expect("the default has an ai: section")
        + 1;
    let end = start
        + default[start..]
            .find("\n\n")
            .or_else(|| default[start..].find("\n  mcp:"))
            .expect("the ai: section ends");
    let mut section = "  ai:\n".to_string();
    for l in lines {
        section.push_str(&format!("    {l}\n"));
    }
    let yaml = format!("{}{}{}", &default[..start], section, &default[end + 1..]);
    let path = dir.join("coderunner.yaml");
    std::fs::write(&path, yaml).expect("write config");
    path
}

fn coderunner(args: &[&str], env: &[(&str, &str)]) -> Output {
    // A directory of its own: the default config's data_dir is relative.
    let cwd = tempfile::tempdir().expect("dir");
    let mut cmd = Command::new(coderunner_bin());
    cmd.args(args)
        .current_dir(cwd.path())
        .env_remove("CODERUNNER_CONFIG")
        .env_remove("CR_TEST_AI_KEY")
        .env("RUST_LOG", "warn");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run coderunner")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn check(path: &Path, env: &[(&str, &str)]) -> Output {
    coderunner(&["check-config", path.to_str().expect("utf-8 path")], env)
}

#[test]
fn check_config_refuses_each_bad_ai_value_naming_the_key() {
    let dir = tempfile::tempdir().expect("dir");
    let path = config_with_ai(
        dir.path(),
        &[
            "base_url: ftp://127.0.0.1:11434/v1",
            "model: \"\"",
            "api_key_env: sk-live-0123456789",
            "timeout: 0s",
            "max_tokens: 0",
            "attempts: 0",
        ],
    );
    let out = check(&path, &[]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}{}", text(&out.stdout));
    assert!(stderr.contains("INVALID, 6 problems:"), "{stderr}");
    for (key, words) in [
        (
            "config.ai.base_url",
            "`ftp://127.0.0.1:11434/v1` is not an http(s) URL",
        ),
        ("config.ai.model", "no model is named"),
        (
            "config.ai.api_key_env",
            "`sk-live-0123456789` is not an environment variable name",
        ),
        ("config.ai.timeout", "a timeout of 0"),
        ("config.ai.max_tokens", "0 tokens"),
        ("config.ai.attempts", "0 attempts"),
    ] {
        assert!(
            stderr.lines().any(|l| l.contains(key) && l.contains(words)),
            "{key}: {words}\n{stderr}"
        );
    }
    assert!(
        stderr.contains("the NAME of the variable holding the key"),
        "the key refusal says what belongs there: {stderr}"
    );
    assert!(stderr.contains("between 1 and 10"), "{stderr}");

    // Too many attempts and a URL with a space are refused too; a good section passes.
    let path = config_with_ai(
        dir.path(),
        &[
            "base_url: http://127.0.0.1:11434/v1 oops",
            "model: qwen",
            "attempts: 11",
        ],
    );
    let stderr = text(&check(&path, &[]).stderr);
    assert!(stderr.contains("INVALID, 2 problems:"), "{stderr}");
    assert!(stderr.contains("config.ai.attempts"), "{stderr}");
    assert!(stderr.contains("config.ai.base_url"), "{stderr}");
}

#[test]
fn check_config_summarises_ai_and_warns_when_the_key_variable_is_missing() {
    let dir = tempfile::tempdir().expect("dir");
    let out = coderunner(&["check-config"], &[]);
    assert!(
        text(&out.stdout).contains("\nai: off (set ai.base_url"),
        "{}",
        text(&out.stdout)
    );

    let path = config_with_ai(
        dir.path(),
        &[
            "base_url: http://127.0.0.1:11434/v1/",
            "model: qwen2.5-coder:7b",
            "api_key_env: CR_TEST_AI_KEY",
            "timeout: 45s",
            "max_tokens: 900",
            "attempts: 2",
        ],
    );
    let out = check(&path, &[]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    assert!(
        stdout.contains("ai: http://127.0.0.1:11434/v1, model `qwen2.5-coder:7b`, API key from $CR_TEST_AI_KEY; WARNING: $CR_TEST_AI_KEY is not set in this environment"),
        "{stdout}"
    );
    assert!(
        stdout.contains("timeout 45s, at most 900 tokens per answer, !fix tries up to 2 times"),
        "{stdout}"
    );

    let out = check(&path, &[("CR_TEST_AI_KEY", "secret-value-123")]);
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("API key from $CR_TEST_AI_KEY; timeout 45s"),
        "{stdout}"
    );
    assert!(!stdout.contains("WARNING"), "{stdout}");
    assert!(
        !stdout.contains("secret-value-123"),
        "the key itself is never printed: {stdout}"
    );
}

/// `doctor` with `path`; its stdout, its `ai:` line and its exit code.
fn doctor(path: Option<&Path>, env: &[(&str, &str)]) -> (String, String, Option<i32>) {
    let mut args = Vec::new();
    if let Some(p) = path {
        args.extend(["--config", p.to_str().expect("utf-8 path")]);
    }
    args.push("doctor");
    let out = coderunner(&args, env);
    let stdout = text(&out.stdout);
    let line = stdout
        .lines()
        .find(|l| l.starts_with("ai: "))
        .unwrap_or_else(|| panic!("no ai: line in\n{stdout}{}", text(&out.stderr)))
        .to_string();
    (stdout, line, out.status.code())
}

#[test]
fn doctor_says_whether_the_endpoint_answers_and_with_which_models() {
    let fake = FakeAi::start(Vec::new());
    let base = fake.base_url();
    let dir = tempfile::tempdir().expect("dir");

    let path = config_with_ai(dir.path(), &["base_url: null"]);
    let (_, off, off_code) = doctor(Some(&path), &[]);
    assert!(off.starts_with("ai: off (set ai.base_url"), "{off}");

    // Answering, and the configured model is among those listed; the key is sent.
    let url_line = format!("base_url: {base}");
    let path = config_with_ai(
        dir.path(),
        &[
            &url_line,
            "model: fake-coder",
            "api_key_env: CR_TEST_AI_KEY",
        ],
    );
    let (stdout, line, code) = doctor(Some(&path), &[("CR_TEST_AI_KEY", "k-0123")]);
    assert_eq!(
        line,
        format!("ai: {base} answers; models: fake-coder, fake-small (configured `fake-coder` is among them)"),
        "{stdout}"
    );
    assert!(
        stdout
            .trim_end()
            .lines()
            .last()
            .is_some_and(|l| l.starts_with("verdict: ")
                || l.starts_with("WARNING")
                || l.starts_with("runner.isolation")),
        "the verdict stays at the end: {stdout}"
    );
    assert_eq!(code, off_code, "the AI line never changes the exit status");
    let asked = fake.requests();
    assert_eq!(asked.len(), 1, "one GET /models");
    assert_eq!(asked[0].path, "/v1/models");
    assert_eq!(asked[0].authorization.as_deref(), Some("Bearer k-0123"));

    // Answering, but the configured model is not offered.
    let path = config_with_ai(dir.path(), &[&url_line, "model: llama-nonexistent"]);
    let (_, line, _) = doctor(Some(&path), &[]);
    assert!(
        line.ends_with("; WARNING: the configured model `llama-nonexistent` is not listed"),
        "{line}"
    );

    // The key variable is missing: nothing is asked, and the line says why.
    let before = fake.requests().len();
    let path = config_with_ai(
        dir.path(),
        &[
            &url_line,
            "model: fake-coder",
            "api_key_env: CR_TEST_AI_KEY",
        ],
    );
    let (_, line, _) = doctor(Some(&path), &[]);
    assert_eq!(
        line,
        format!("ai: {base} not asked for its models: the API key variable `CR_TEST_AI_KEY` (ai.api_key_env) is not set in the bot's environment"),
    );
    assert_eq!(fake.requests().len(), before, "no request without the key");

    // Nothing listening.
    let path = config_with_ai(
        dir.path(),
        &["base_url: http://127.0.0.1:9/v1", "model: fake-coder"],
    );
    let (_, line, code) = doctor(Some(&path), &[]);
    assert!(
        line.starts_with(
            "ai: http://127.0.0.1:9/v1 does not answer: the AI endpoint http://127.0.0.1:9/v1/models is unreachable"
        ),
        "{line}"
    );
    assert_eq!(code, off_code, "the AI line never changes the exit status");
}
