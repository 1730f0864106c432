//! `coderunner check-config`, `config print-default` and `languages`, run as the real binary:
//! exit codes, summaries, and error messages with key paths and lines.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use coderunner_tests::harness::{coderunner_bin, workspace_root};

fn coderunner(args: &[&str]) -> Output {
    Command::new(coderunner_bin())
        .args(args)
        .env_remove("CODERUNNER_CONFIG")
        .env("RUST_LOG", "warn")
        .output()
        .expect("run coderunner")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The default config with `from` replaced by `to`, written to a temp file.
fn edited_default(dir: &Path, from: &str, to: &str) -> (PathBuf, String) {
    let default = coderunner_config::DEFAULT_YAML;
    assert!(default.contains(from), "`{from}` not in the default");
    let yaml = default.replacen(from, to, 1);
    let path = dir.join("coderunner.yaml");
    std::fs::write(&path, &yaml).expect("write config");
    (path, yaml)
}

fn line_of(text: &str, needle: &str) -> usize {
    text.lines()
        .position(|l| l.contains(needle))
        .map(|i| i + 1)
        .expect("needle in text")
}

#[test]
fn check_config_on_the_default_says_ok_with_a_summary() {
    let out = coderunner(&["check-config"]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    assert!(
        stdout.starts_with("embedded default config: OK\n"),
        "{stdout}"
    );
    let configured = coderunner_config::Config::embedded_default()
        .expect("the default parses")
        .languages
        .len();
    assert!(configured >= 16, "the default configures every language");
    assert!(
        stdout.contains(&format!("languages ({configured}):")),
        "{stdout}"
    );
    assert!(
        stdout.contains("  python (aliases: py, python3, py3): interpreted, .py"),
        "{stdout}"
    );
    assert!(stdout.contains("  c (aliases: gcc): compiled"), "{stdout}");
    assert!(stdout.contains("tiers (3, lowest first):"), "{stdout}");
    assert!(
        stdout.contains("  admin: no roles (nobody on Discord is admin until you add your admin role's id to its `roles`: Developer Mode on, Server Settings -> Roles, right-click the role -> Copy Role ID); profile `default`, up to `data`, admin, --privileged uses `privileged`"),
        "{stdout}"
    );
    assert!(stdout.contains("profiles (3):"), "{stdout}");
    assert!(
        stdout.contains(
            "  privileged: wall 1m, cpu 1m, memory 1GiB, 64 pids, output 2MiB, network ON"
        ),
        "{stdout}"
    );
}

#[test]
fn print_default_is_the_shipped_file_and_passes_check_config() {
    let out = coderunner(&["config", "print-default"]);
    assert_eq!(out.status.code(), Some(0));
    let shipped = std::fs::read_to_string(workspace_root().join("config/default.yaml"))
        .expect("config/default.yaml");
    assert_eq!(text(&out.stdout), shipped);

    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("printed.yaml");
    std::fs::write(&path, &out.stdout).expect("write");
    let p = path.to_string_lossy().into_owned();
    let check = coderunner(&["check-config", &p]);
    assert_eq!(check.status.code(), Some(0), "{}", text(&check.stderr));
    assert!(text(&check.stdout).starts_with(&format!("{p}: OK\n")));
}

#[test]
fn agent_type_foo_is_refused_naming_the_field_and_the_expected_value() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (path, yaml) = edited_default(dir.path(), "agent_type: CodeRunnerAgent", "agent_type: Foo");
    let p = path.to_string_lossy().into_owned();
    let out = coderunner(&["check-config", &p]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        out.stdout.is_empty(),
        "nothing on stdout for an invalid config"
    );
    let line = line_of(&yaml, "agent_type: Foo");
    assert!(
        stderr.contains(&format!("{p}: INVALID, 1 problem:")),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "  - config.agent_type: `Foo` is not a supported agent type at line {line} column 3; agent_type must be `CodeRunnerAgent`"
        )),
        "{stderr}"
    );
}

#[test]
fn unknown_key_is_reported_with_path_line_and_suggestion() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (path, yaml) = edited_default(dir.path(), "    prefix: \"!\"", "    prefx: \"!\"");
    let out = coderunner(&["check-config", &path.to_string_lossy()]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let line = line_of(&yaml, "prefx:");
    assert!(
        stderr.contains(&format!(
            "config.discord: unknown key `prefx` at line {line} column 5; did you mean `prefix`?"
        )),
        "{stderr}"
    );
}

#[test]
fn several_problems_are_all_listed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let yaml = coderunner_config::DEFAULT_YAML
        .replacen("agent_type: CodeRunnerAgent", "agent_type: Foo", 1)
        .replacen("      memory: 256MiB\n", "      memory: 4MiB\n", 1)
        .replacen("        profile: data\n", "        profile: nope\n", 1);
    let path = dir.path().join("bad.yaml");
    std::fs::write(&path, &yaml).expect("write");
    let out = coderunner(&["check-config", &path.to_string_lossy()]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("INVALID, 3 problems:"), "{stderr}");
    for (path, needle) in [
        ("config.agent_type", "agent_type: Foo"),
        ("config.profiles.default.memory", "memory: 4MiB"),
        ("config.access.tiers[1].profile", "profile: nope"),
    ] {
        let line = line_of(&yaml, needle);
        assert!(
            stderr
                .lines()
                .any(|l| l.starts_with(&format!("  - {path}: "))
                    && l.contains(&format!(" at line {line} "))),
            "{path} at line {line} missing in:\n{stderr}"
        );
    }
}

#[test]
fn config_from_the_environment_and_the_flag_is_checked() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (path, _) = edited_default(dir.path(), "agent_type: CodeRunnerAgent", "agent_type: Foo");
    let out = Command::new(coderunner_bin())
        .arg("check-config")
        .env("CODERUNNER_CONFIG", &path)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("config.agent_type"));
    let p = path.to_string_lossy().into_owned();
    let out = coderunner(&["--config", &p, "check-config"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains(&p));
}

#[test]
fn a_missing_file_is_an_error_naming_it() {
    let out = coderunner(&["check-config", "/nonexistent/dir/coderunner.yaml"]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("cannot read config file /nonexistent/dir/coderunner.yaml"),
        "{stderr}"
    );
}

/// `program --version`'s first line, found only where the sandbox looks (never PATH).
fn host_version(program: &str) -> Option<String> {
    let path = ["/usr/local/bin", "/usr/bin", "/bin"]
        .iter()
        .map(|d| Path::new(d).join(program))
        .find(|p| p.is_file())?;
    let out = Command::new(path).arg("--version").output().ok()?;
    let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
    all.lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .map(str::to_string)
}

#[test]
fn languages_lists_host_versions_or_not_installed() {
    let out = coderunner(&["languages"]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    let row = |name: &str| {
        stdout
            .lines()
            .find(|l| l.starts_with(&format!("{name} ")))
            .unwrap_or_else(|| panic!("no row for {name}:\n{stdout}"))
            .to_string()
    };
    assert!(stdout.starts_with("LANGUAGE"), "{stdout}");
    let python = row("python");
    assert!(
        python.contains("py, python3, py3") && python.contains("interpreted"),
        "{python}"
    );
    let want = host_version("python3").expect("/usr/bin/python3 exists on this host");
    assert!(
        python.ends_with(&want),
        "python row `{python}` should end with `{want}`"
    );
    let c = row("c");
    assert!(c.contains("compiled"), "{c}");
    for (lang, program) in [("javascript", "node"), ("cpp", "g++"), ("rust", "rustc")] {
        let r = row(lang);
        match host_version(program) {
            Some(v) => assert!(r.ends_with(&v), "{lang}: `{r}` should end with `{v}`"),
            None => assert!(
                r.contains(&format!(
                    "not installed ({program} not found in /usr/local/bin, /usr/bin, /bin)"
                )),
                "{lang}: `{r}`"
            ),
        }
    }
}
