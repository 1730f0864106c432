//! One `coderunner` binary is enough: copied alone into an empty directory (no
//! `coderunner-sandbox` beside it, no `runner.helper` in the config), it starts itself as the
//! sandbox helper, and the run is still fully sandboxed. (Every suite that drives the binary
//! without `runner.helper` uses the embedded helper too; this one proves no sibling is needed.)

use std::process::Command;

use coderunner_tests::harness::coderunner_bin;
use coderunner_tests::safety_net;

#[test]
fn the_coderunner_binary_alone_runs_sandboxed_code() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bin = dir.path().join("coderunner");
    std::fs::copy(coderunner_bin(), &bin).expect("copy the coderunner binary");
    assert!(
        !dir.path().join("coderunner-sandbox").exists(),
        "the helper must not be beside the copy"
    );

    let mut config = safety_net::config().clone();
    config.runner.helper = None;
    let config_path = safety_net::write_config_file(dir.path(), &config);

    // The program reports who it runs as and what it can see, so the assertions prove the
    // sandbox was really built by the embedded helper, not skipped.
    let program = dir.path().join("probe.py");
    std::fs::write(
        &program,
        "import os\n\
         print('uid', os.getuid())\n\
         print('pid', os.getpid())\n\
         print('host root dir', os.path.exists('/root'))\n\
         print('shadow', os.path.exists('/etc/shadow'))\n",
    )
    .expect("write the program");

    let out = Command::new(&bin)
        .arg("--config")
        .arg(&config_path)
        .args(["run", "--json"])
        .arg(&program)
        .output()
        .expect("run the lone coderunner binary");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "stdout: {stdout}\nstderr: {stderr}");
    let outcome: serde_json::Value = serde_json::from_str(&stdout).expect("RunOutcome JSON");
    assert_eq!(outcome["status"], "exited", "{stdout}");
    assert_eq!(outcome["exit_code"], 0, "{stdout}");
    let text = outcome["stdout"].as_str().expect("stdout text");

    let uid: u32 = text
        .lines()
        .find_map(|l| l.strip_prefix("uid "))
        .and_then(|v| v.parse().ok())
        .expect("the program printed its uid");
    let [first, last] = config.runner.uid_range;
    assert!(
        (first..=last).contains(&uid),
        "ran as uid {uid}, not a per-run uid in {first}-{last}: {text}"
    );
    // PID 1 is the reaper, so the program is the second process of a fresh pid namespace.
    assert!(
        text.contains("pid 2\n"),
        "not in its own pid namespace: {text}"
    );
    assert!(
        text.contains("shadow False"),
        "the host's /etc is visible: {text}"
    );
    assert!(
        text.contains("host root dir False"),
        "the host's /root is visible in the sandbox: {text}"
    );
}
