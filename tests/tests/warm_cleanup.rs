//! SIGKILL of `coderunner serve` with a full warm pool: the zygote and every ready slot die with
//! it (the PR_SET_PDEATHSIG chain and the zygote's pid namespace), and the next start-up sweeps
//! the cgroups and workdirs the dead process could not remove.

use std::time::{Duration, Instant};

use coderunner_config::{ApiKey, WarmPool};
use coderunner_tests::safety_net::{self, leftovers};

#[tokio::test]
async fn sigkill_of_serve_with_a_full_pool_leaves_nothing_after_the_next_start() {
    let _g = safety_net::exclusive().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = safety_net::config().clone();
    config.runner.warm_pool = WarmPool::Slots(2);
    config.data_dir = dir.path().join("data");
    config.http.api_keys = vec![ApiKey {
        name: "test".into(),
        key_env: None,
        // sha256 of `example-key`; the test never calls the API.
        key_sha256: Some("c018c41c1afaf2c0b66c64f97d0ee135657b699ad260f299234cd40a5d625e0e".into()),
        tier: "member".into(),
    }];
    let path = safety_net::write_config_file(dir.path(), &config);
    let mut serve = std::process::Command::new(coderunner_tests::harness::coderunner_bin())
        .arg("--config")
        .arg(&path)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("coderunner serve");
    // Full: a confined program process (running as a suite uid) in every slot of python,
    // javascript and bash.
    let start = Instant::now();
    let count = |kind: &str| leftovers().iter().filter(|l| l.starts_with(kind)).count();
    while count("process") < 6 {
        assert!(
            start.elapsed() < Duration::from_secs(180),
            "the pool never filled: {:?}",
            leftovers()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(count("cgroup") >= 6, "slot cgroups: {:?}", leftovers());
    assert!(count("mount") >= 6, "slot workdirs: {:?}", leftovers());
    serve.kill().expect("SIGKILL coderunner serve");
    let _ = serve.wait();
    safety_net::assert_processes_die_with_coderunner().await;
    // No zygote either (it runs as root, so the uid check above does not see it): within 2 s
    // nothing is left in the suite's cgroups but zombies (dead, waiting for the host's init to
    // reap them: they run nothing and hold no memory).
    let alive_in_suite_cgroups = || {
        std::fs::read_dir("/proc")
            .expect("/proc")
            .flatten()
            .filter(|p| {
                std::fs::read_to_string(p.path().join("cgroup"))
                    .is_ok_and(|c| c.contains(&format!("/{}/", safety_net::CGROUP_PARENT)))
                    && !std::fs::read_to_string(p.path().join("stat")).is_ok_and(|s| {
                        s.rsplit_once(')')
                            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'))
                    })
            })
            .count()
    };
    let waiting = Instant::now();
    while alive_in_suite_cgroups() > 0 && waiting.elapsed() < Duration::from_secs(2) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(alive_in_suite_cgroups(), 0, "a zygote outlived coderunner");
    coderunner_runner::LocalRunner::new(safety_net::config()).expect("a new runner");
    let left = safety_net::leftovers_after(Duration::from_secs(2)).await;
    assert!(left.is_empty(), "left after the start-up sweep: {left:#?}");
}
