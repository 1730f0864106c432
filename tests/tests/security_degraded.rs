//! Degraded hosts fail closed: with `runner.cgroups: false` (the simulation of a host without
//! cgroups) and the default `runner.isolation: full`, runs are refused with a message naming what
//! is missing and how to get it, and `doctor` says the same; under `degraded_ok` runs go ahead but
//! `cgroup_only` languages are still refused. A sandbox set-up error reaches the user without host
//! paths. (Rootless mode has its own suite, `security_rootless`.)

use coderunner_config::{Config, IsolationPolicy};
use coderunner_runner::{LocalRunner, RunStatus, Runner};
use coderunner_tests::harness::{coderunner_bin, sandbox_bin};
use coderunner_tests::safety_net::{self, request};

/// The suite's config on a host "without cgroups".
fn without_cgroups(isolation: IsolationPolicy) -> Config {
    let mut c = safety_net::config().clone();
    c.runner.cgroups = false;
    c.runner.isolation = isolation;
    c
}

#[tokio::test]
async fn without_cgroups_full_isolation_refuses_runs_and_says_why() {
    let _g = safety_net::shared().await;
    let runner = LocalRunner::new(&without_cgroups(IsolationPolicy::Full)).expect("runner");
    assert!(
        !runner.summary().degraded.is_empty(),
        "{:?}",
        runner.summary()
    );
    let o = runner
        .run(request(
            "python",
            "open('ran', 'w').write('x')\nprint('RAN')",
        ))
        .await
        .expect("an outcome");
    assert_eq!(o.status, RunStatus::SandboxError, "{o:?}");
    assert!(!o.stdout.contains("RAN") && o.files.is_empty(), "{o:?}");
    let why = o.error.unwrap_or_default();
    for needle in ["refused", "cgroup memory", "How to get it", "degraded_ok"] {
        assert!(why.contains(needle), "`{needle}` missing from: {why}");
    }
    assert!(!why.contains("/sys/fs/cgroup/"), "a host path: {why}");

    // doctor agrees: not full, runs refused, and how to get the cgroups back.
    let dir = tempfile::tempdir().expect("tempdir");
    let config = safety_net::write_config_file(dir.path(), &without_cgroups(IsolationPolicy::Full));
    let out = std::process::Command::new(coderunner_bin())
        .arg("--config")
        .arg(&config)
        .arg("doctor")
        .output()
        .expect("doctor");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{text}");
    assert!(text.contains("verdict: degraded"), "{text}");
    assert!(text.contains("runs are REFUSED"), "{text}");
    assert!(
        text.contains("writable memory, pids and cpu cgroups"),
        "{text}"
    );
}

#[tokio::test]
async fn without_cgroups_degraded_ok_runs_but_refuses_cgroup_only_languages() {
    let _g = safety_net::shared().await;
    let runner = LocalRunner::new(&without_cgroups(IsolationPolicy::DegradedOk)).expect("runner");
    let o = runner
        .run(request("python", "print('python ran')"))
        .await
        .expect("an outcome");
    assert_eq!(o.stdout, "python ran\n", "{o:?}");
    // Node's memory is bounded only by its cgroup: without one it must not run at all.
    let o = runner
        .run(request("node", "console.log('NODE RAN')"))
        .await
        .expect("an outcome");
    assert_eq!(o.status, RunStatus::SandboxError, "{o:?}");
    assert!(!o.stdout.contains("NODE RAN"), "{o:?}");
    let why = o.error.unwrap_or_default();
    assert!(why.contains("cgroup_only"), "{why}");

    // doctor warns loudly.
    let dir = tempfile::tempdir().expect("tempdir");
    let config =
        safety_net::write_config_file(dir.path(), &without_cgroups(IsolationPolicy::DegradedOk));
    let out = std::process::Command::new(coderunner_bin())
        .arg("--config")
        .arg(&config)
        .arg("doctor")
        .output()
        .expect("doctor");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("WARNING: runner.isolation: degraded_ok"),
        "{text}"
    );
}

#[tokio::test]
async fn a_set_up_error_reaches_the_user_without_host_paths() {
    let _g = safety_net::shared().await;
    // A language whose program exists on the host but not inside the sandbox: the helper's
    // execve fails, and its message names the host path.
    let host_program = sandbox_bin();
    let mut c = safety_net::config().clone();
    let mut lang = c.languages["python"].clone();
    lang.aliases.clear();
    lang.extensions = vec!["hostpath".into()];
    lang.run = vec![host_program.display().to_string(), "{file}".into()];
    c.languages.insert("hostpath".into(), lang);
    let runner = LocalRunner::new(&c).expect("runner");
    let mut req = request("python", "print(1)");
    req.language = "hostpath".into();
    req.spec = c.languages["hostpath"].clone();
    let o = runner.run(req).await.expect("an outcome");
    assert_eq!(o.status, RunStatus::SandboxError, "{o:?}");
    let shown = serde_json::to_string(&o).expect("json");
    for host_path in [
        host_program.display().to_string(),
        safety_net::SCRATCH.to_string(),
        "/work/wt".to_string(),
        "target/debug".to_string(),
    ] {
        assert!(
            !shown.contains(&host_path),
            "the user sees the host path {host_path}: {shown}"
        );
    }
    assert!(
        o.error.unwrap_or_default().contains("could not be set up"),
        "no plain reason"
    );
}
