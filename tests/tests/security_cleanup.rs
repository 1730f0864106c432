//! Killing coderunner itself mid-run: the PR_SET_PDEATHSIG chain and the pid namespace end every
//! sandboxed process (daemons included), and the next start-up sweeps the workdir and cgroups the
//! dead process left.

use std::time::{Duration, Instant};

use coderunner_tests::safety_net::{self, leftovers};

#[tokio::test]
async fn sigkill_of_coderunner_mid_run_leaves_nothing_after_the_next_start() {
    let _g = safety_net::exclusive().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let config = safety_net::config_file(dir.path());
    let program = dir.path().join("daemon.py");
    std::fs::write(
        &program,
        "import os, time\n\
         if os.fork() == 0:\n\
         \x20   os.setsid()\n\
         \x20   if os.fork() == 0:\n\
         \x20       time.sleep(3600)\n\
         \x20   os._exit(0)\n\
         time.sleep(3600)\n",
    )
    .expect("write");
    let mut cli = std::process::Command::new(coderunner_tests::harness::coderunner_bin())
        .args([
            "--config".as_ref(),
            config.as_os_str(),
            "run".as_ref(),
            program.as_os_str(),
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("coderunner run");
    // Wait until the sandboxed processes exist.
    let start = Instant::now();
    while leftovers()
        .iter()
        .filter(|l| l.starts_with("process"))
        .count()
        < 2
    {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the run never started: {:?}",
            leftovers()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    cli.kill().expect("SIGKILL coderunner");
    let _ = cli.wait();
    // Every sandboxed process dies with it, promptly.
    safety_net::assert_processes_die_with_coderunner().await;
    // The next coderunner start sweeps what the dead one could not remove.
    coderunner_runner::LocalRunner::new(safety_net::config()).expect("a new runner");
    let left = safety_net::leftovers_after(Duration::from_secs(2)).await;
    assert!(left.is_empty(), "left after the start-up sweep: {left:#?}");
}
