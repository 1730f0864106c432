//! Package sets through the real sandbox and the real binary: a set built from the package index
//! by `scripts/test.sh` (`coderunner env build`, cowsay from PyPI, which Debian does not ship for
//! python3) imports with `--env` and not without; the set is read-only to the program whatever it
//! tries; unknown, unbuilt and stale sets are refused with the close matches or the exact command
//! that builds them; a default set applies and `--env=none` opts out; `!langs`, `doctor` and a
//! second `env build` report it.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use coderunner_commands::environments::choose;
use coderunner_config::{Config, PackageSet};
use coderunner_runner::{RunStatus, Runner, RunnerError};
use coderunner_tests::console::run_in;
use coderunner_tests::harness::{coderunner_bin, workspace_root};
use coderunner_tests::safety_net::{self, request, run_request};

/// The set scripts/test.sh builds, and its requirement (the same in scripts/test.sh).
const SET: &str = "cowtest";
const REQUIREMENT: &str = "cowsay==6.1";

/// Where scripts/test.sh built the set (`coderunner env build` with data_dir .tools/env-test/data).
fn prebuilt() -> PathBuf {
    let dir = workspace_root()
        .join(".tools/env-test/data/environments")
        .join(SET);
    assert!(
        dir.join("manifest.json").is_file(),
        "the test package set is not built at {}: run `scripts/test.sh --setup-only` (it runs `coderunner env build` with network access to PyPI)",
        dir.display()
    );
    dir
}

/// The suite's config with `data_dir` in `dir`, the prebuilt set linked in as `cowtest`, and a
/// second set `unbuilt` that nobody built.
fn config_in(dir: &Path) -> Config {
    let mut c = safety_net::config().clone();
    c.data_dir = dir.join("data");
    let envs = c.environments_dir();
    std::fs::create_dir_all(&envs).expect("environments dir");
    std::os::unix::fs::symlink(prebuilt(), envs.join(SET)).expect("link the prebuilt set");
    let set = |req: &str| PackageSet {
        python: vec![req.to_string()],
    };
    c.environments.sets = BTreeMap::from([
        (SET.to_string(), set(REQUIREMENT)),
        ("unbuilt".to_string(), set("art==6.5")),
    ]);
    c
}

const IMPORT: &str = "import cowsay, os\nprint('cowsay', cowsay.__version__ if hasattr(cowsay, '__version__') else '?', os.path.dirname(cowsay.__file__), os.environ.get('PYTHONPATH'))\n";

#[tokio::test]
async fn a_set_imports_with_env_and_not_without() {
    let _g = safety_net::shared().await;
    let tmp = tempfile::tempdir().expect("tmp");
    let c = config_in(tmp.path());
    let (name, lang) = c.find_language("python").expect("python");
    let mount = choose(&c, Some(SET), name, lang, None, "member")
        .expect("the built set is chosen")
        .expect("a mount");
    assert_eq!(mount.name, SET);
    assert!(mount.dir.is_absolute() && mount.dir.ends_with("python"));

    let mut with = request("python", IMPORT);
    with.packages = Some(mount.clone());
    let o = run_request(with).await;
    assert_eq!(o.status, RunStatus::Exited, "{o:?}");
    assert!(
        o.stdout
            .contains("/opt/env/cowtest/cowsay /opt/env/cowtest"),
        "cowsay came from the set, on PYTHONPATH: {o:?}"
    );

    let without = run_request(request("python", IMPORT)).await;
    assert_eq!(without.exit_code, Some(1), "{without:?}");
    assert!(
        without
            .stderr
            .contains("ModuleNotFoundError: No module named 'cowsay'"),
        "cowsay is only in the set (Debian has no python3-cowsay): {without:?}"
    );

    // The runner itself refuses to mount a set for a language that does not take it.
    let mut ruby = request("ruby", "puts 1\n");
    ruby.packages = Some(mount);
    match safety_net::runner().run(ruby).await {
        Err(RunnerError::InvalidRequest(why)) => {
            assert!(why.contains("does not take python packages"), "{why}")
        }
        other => panic!("ruby with a python set was not refused: {other:?}"),
    }
}

/// Security review item 7: a set is mounted as an overlay, so the sandbox's mountinfo names no
/// host path (a bind's root field would be the set's path on the host, under data_dir).
#[tokio::test]
async fn a_set_mount_shows_no_host_path() {
    let _g = safety_net::shared().await;
    let tmp = tempfile::tempdir().expect("tmp");
    let c = config_in(tmp.path());
    let (name, lang) = c.find_language("python").expect("python");
    let mount = choose(&c, Some(SET), name, lang, None, "member")
        .expect("the built set is chosen")
        .expect("a mount");
    let mut req = request(
        "python",
        "import cowsay\nprint(open('/proc/self/mountinfo').read())\n",
    );
    req.packages = Some(mount.clone());
    let o = run_request(req).await;
    assert_eq!(o.status, RunStatus::Exited, "{o:?}");
    let line = o
        .stdout
        .lines()
        .find(|l| l.split(' ').nth(4) == Some("/opt/env/cowtest"))
        .unwrap_or_else(|| panic!("no mount at /opt/env/cowtest: {o:?}"));
    assert!(
        line.contains(" - overlay ") && line.contains(" ro,"),
        "{line}"
    );
    let host_paths = [
        tmp.path().to_string_lossy().into_owned(),
        prebuilt().to_string_lossy().into_owned(),
        mount.dir.to_string_lossy().into_owned(),
        ".tools/env-test".to_string(),
        "environments/".to_string(),
    ];
    for host_path in host_paths {
        assert!(
            !o.stdout.contains(&host_path),
            "mountinfo shows the host path {host_path}: {}",
            o.stdout
        );
    }
}

/// Every file under `dir` with its size, mode and mtime: the set before and after an attack.
fn snapshot(dir: &Path) -> Vec<(PathBuf, u64, u32, i64)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("read_dir") {
            let e = e.expect("entry");
            let m = std::fs::symlink_metadata(e.path()).expect("metadata");
            out.push((e.path(), m.len(), m.mode(), m.mtime()));
            if m.is_dir() {
                stack.push(e.path());
            }
        }
    }
    out.sort();
    out
}

#[tokio::test]
async fn a_run_cannot_change_its_set() {
    let _g = safety_net::shared().await;
    let tmp = tempfile::tempdir().expect("tmp");
    let c = config_in(tmp.path());
    let (name, lang) = c.find_language("python").expect("python");
    let mount = choose(&c, Some(SET), name, lang, None, "member")
        .expect("chosen")
        .expect("mount");
    let before = snapshot(&mount.dir);
    let attack = r#"
import os, cowsay
pkg = os.path.dirname(cowsay.__file__)
init = os.path.join(pkg, "__init__.py")
attempts = {
    "overwrite a module": lambda: open(init, "w").write("print('owned')"),
    "append to a module": lambda: open(init, "a").write("\nprint('owned')"),
    "create a module": lambda: open("/opt/env/cowtest/evil.py", "w").write("x"),
    "create beside the set": lambda: open("/opt/env/evil.py", "w").write("x"),
    "mkdir in the set": lambda: os.mkdir("/opt/env/cowtest/d"),
    "chmod a module": lambda: os.chmod(init, 0o777),
    "rename a module": lambda: os.rename(init, init + ".bak"),
    "unlink a module": lambda: os.unlink(init),
    "touch a module": lambda: os.utime(init, (0, 0)),
    "symlink into the set": lambda: os.symlink("/work/x", "/opt/env/cowtest/link"),
    "rmdir the package": lambda: os.rmdir(pkg),
    "truncate a module": lambda: os.truncate(init, 0),
}
for what, act in attempts.items():
    try:
        act()
        print("DONE", what)
    except OSError as e:
        print("refused", what, e.errno)
import importlib; importlib.reload(cowsay)
print("still", cowsay.get_output_string("cow", "ok").count("ok"))
"#;
    let mut req = request("python", attack);
    req.packages = Some(mount.clone());
    let o = run_request(req).await;
    assert_eq!(o.status, RunStatus::Exited, "{o:?}");
    assert!(
        !o.stdout.contains("DONE"),
        "an attack changed the set: {}",
        o.stdout
    );
    let refused = o
        .stdout
        .lines()
        .filter(|l| l.starts_with("refused "))
        .count();
    assert_eq!(refused, 12, "every attempt was refused: {}", o.stdout);
    // EROFS (30) from the read-only mount, or EACCES/EPERM where Landlock or ownership stops it first.
    for line in o.stdout.lines().filter(|l| l.starts_with("refused ")) {
        let errno: i32 = line
            .rsplit(' ')
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or(-1);
        assert!([30, 13, 1].contains(&errno), "unexpected errno: {line}");
    }
    assert!(o.stdout.contains("still 1"), "{o:?}");
    assert_eq!(snapshot(&mount.dir), before, "the set on the host changed");
}

#[test]
fn unknown_unbuilt_and_stale_sets_are_refused_with_what_to_do() {
    let tmp = tempfile::tempdir().expect("tmp");
    let mut c = config_in(tmp.path());
    let (name, lang) = c.find_language("python").expect("python");
    let (name, lang) = (name.to_string(), lang.clone());
    let refusal = |c: &Config, set: &str| {
        choose(c, Some(set), &name, &lang, None, "member")
            .expect_err("refused")
            .message
    };
    let m = refusal(&c, "cowtst");
    assert!(
        m.contains("unknown package set `cowtst`; did you mean `cowtest`?")
            && m.contains("`unbuilt`"),
        "{m}"
    );
    let m = refusal(&c, "unbuilt");
    assert!(
        m.contains("package set `unbuilt` is not built")
            && m.contains("`coderunner env build unbuilt`"),
        "{m}"
    );
    let (rb, rb_lang) = c.find_language("ruby").expect("ruby");
    let m = choose(&c, Some(SET), rb, rb_lang, None, "member")
        .expect_err("ruby")
        .message;
    assert!(m.contains("ruby does not take packages"), "{m}");
    // The config asks for another version than the one built: stale until rebuilt.
    c.environments.sets.insert(
        SET.into(),
        PackageSet {
            python: vec!["cowsay==6.0".into()],
        },
    );
    let m = refusal(&c, SET);
    assert!(
        m.contains("changed in the config since it was built")
            && m.contains("cowsay==6.0")
            && m.contains("`coderunner env build cowtest`"),
        "{m}"
    );
    // No sets at all.
    c.environments.sets.clear();
    let m = refusal(&c, "ml");
    assert!(m.contains("no package sets are configured"), "{m}");
}

/// `coderunner --config FILE ARGS` in `dir`.
fn cli(dir: &Path, config: &Path, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(coderunner_bin())
        .arg("--config")
        .arg(config)
        .args(args)
        .current_dir(dir)
        .env("RUST_LOG", "warn")
        .output()
        .expect("run coderunner");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn the_binary_runs_refuses_lists_and_rebuilds_idempotently() {
    let _g = safety_net::shared().await;
    let tmp = tempfile::tempdir().expect("tmp");
    let c = config_in(tmp.path());
    let file = safety_net::write_config_file(tmp.path(), &c);
    std::fs::write(tmp.path().join("cow.py"), IMPORT).expect("program");

    let (ok, out, err) = cli(tmp.path(), &file, &["run", "--env", SET, "cow.py"]);
    assert!(ok && out.contains("/opt/env/cowtest/cowsay"), "{out}{err}");
    let (ok, out, err) = cli(tmp.path(), &file, &["run", "cow.py"]);
    assert!(
        !ok && out.contains("No module named 'cowsay'"),
        "{out}{err}"
    );
    let (ok, _, err) = cli(tmp.path(), &file, &["run", "--env", "cowtst", "cow.py"]);
    assert!(!ok && err.contains("did you mean `cowtest`?"), "{err}");
    let (ok, _, err) = cli(tmp.path(), &file, &["run", "--env", "unbuilt", "cow.py"]);
    assert!(
        !ok && err.contains("`coderunner env build unbuilt`"),
        "{err}"
    );

    // Built and matching the config: nothing to do, and no network needed to find that out.
    let (ok, out, err) = cli(tmp.path(), &file, &["env", "build", SET]);
    assert!(ok, "{out}{err}");
    assert!(out.contains("cowtest: up to date (cowsay 6.1)"), "{out}");
    let (ok, _, err) = cli(tmp.path(), &file, &["env", "build", "cowtst"]);
    assert!(!ok && err.contains("did you mean cowtest?"), "{err}");

    let (_, out, _) = cli(tmp.path(), &file, &["languages"]);
    assert!(
        out.lines()
            .any(|l| l.starts_with("cowtest") && l.contains("ok") && l.contains("cowsay 6.1")),
        "{out}"
    );
    let (ok, out, _) = cli(tmp.path(), &file, &["doctor"]);
    assert!(
        out.lines()
            .any(|l| l.starts_with("unbuilt") && l.contains("not built")),
        "{out}"
    );
    assert!(out.contains("package sets not ready: unbuilt"), "{out}");
    assert!(!ok, "doctor fails while a set is not built");
}

#[tokio::test]
async fn chat_flag_default_set_and_langs_through_the_console() {
    let _g = safety_net::shared().await;
    let tmp = tempfile::tempdir().expect("tmp");
    let mut c = config_in(tmp.path());
    let file = safety_net::write_config_file(tmp.path(), &c);
    let program = "```py\nimport cowsay\nprint(cowsay.get_output_string('cow', 'moo').splitlines()[1])\n```\n";
    let input = format!(
        "!run --env=cowtest py\n{program}!run py\n{program}!run --env=unbuilt py\n{program}!run --env=cowtst py\n{program}!langs\n"
    );
    let t = run_in(
        tmp.path(),
        &["--config", file.to_str().expect("utf-8"), "console"],
        &input,
    );
    let out = &t.stdout;
    assert!(out.contains("| moo |"), "--env=cowtest imports: {out}");
    assert!(
        out.contains("No module named 'cowsay'"),
        "without --env it does not: {out}"
    );
    assert!(
        out.contains("package set `unbuilt` is not built on this server yet; the operator builds it with `coderunner env build unbuilt`"),
        "{out}"
    );
    assert!(out.contains("did you mean `cowtest`?"), "{out}");
    assert!(out.contains("**cowtest**: cowsay 6.1"), "!langs: {out}");
    assert!(
        out.contains("**unbuilt** — not built on this host"),
        "{out}"
    );

    // A default for everyone: no flag needed, and --env=none opts out.
    c.environments.default.everyone = Some(SET.into());
    let file = safety_net::write_config_file(tmp.path(), &c);
    let input = format!("!run py\n{program}!run --env=none py\n{program}");
    let t = run_in(
        tmp.path(),
        &["--config", file.to_str().expect("utf-8"), "console"],
        &input,
    );
    let out = &t.stdout;
    assert_eq!(out.matches("| moo |").count(), 1, "{out}");
    assert!(out.contains("No module named 'cowsay'"), "{out}");
}

#[tokio::test]
async fn direct_runs_name_a_set_as_http_and_mcp_do() {
    use coderunner_commands::{
        DirectRun, Identity, NoProgress, Pipeline, Platform, RequestedLimits,
    };
    use coderunner_runner::InputFile;
    use std::sync::Arc;

    let _g = safety_net::shared().await;
    let tmp = tempfile::tempdir().expect("tmp");
    let c = Arc::new(config_in(tmp.path()));
    let runner: Arc<dyn Runner> = Arc::new(safety_net::runner().clone());
    let pipeline = Pipeline::new(Arc::clone(&c), runner).expect("pipeline");
    let run = |environment: Option<&str>| DirectRun {
        who: Identity {
            platform: Platform::Http,
            user_id: "ci".into(),
            display: "ci".into(),
            roles: Vec::new(),
        },
        tier: "member".into(),
        language: "python".into(),
        files: vec![InputFile {
            path: "main.py".into(),
            content: IMPORT.as_bytes().to_vec(),
        }],
        main: None,
        stdin: Vec::new(),
        args: Vec::new(),
        env: Vec::new(),
        environment: environment.map(str::to_string),
        limits: RequestedLimits::default(),
        privileged: false,
        profile: None,
    };
    let o = pipeline
        .run_direct(run(Some(SET)), &NoProgress)
        .await
        .expect("runs with the set");
    assert!(o.stdout.contains("/opt/env/cowtest/cowsay"), "{o:?}");
    let o = pipeline
        .run_direct(run(None), &NoProgress)
        .await
        .expect("runs without");
    assert!(o.stderr.contains("No module named 'cowsay'"), "{o:?}");
    let refusal = pipeline
        .run_direct(run(Some("unbuilt")), &NoProgress)
        .await
        .expect_err("refused");
    assert_eq!(refusal.kind, coderunner_commands::RefusalKind::BadRequest);
    assert!(
        refusal.message.contains("`coderunner env build unbuilt`"),
        "{}",
        refusal.message
    );
    pipeline.shutdown().await;
}
