//! Resource attacks against the real sandbox: fork bombs, memory bombs, output floods, busy
//! loops, sleepers, daemons and children that hold stdout. Each asserts the status, that the run
//! ended promptly, that nothing was left behind and that the host stayed responsive.

use std::time::{Duration, Instant};

use coderunner_runner::RunStatus;
use coderunner_tests::safety_net::{self, run, WALL};

/// Generous upper bound for "ended promptly" (the wall limit plus teardown slack).
fn prompt() -> u64 {
    (WALL + Duration::from_secs(2)).as_millis() as u64
}

/// The host answers: a trivial host process starts and finishes quickly.
async fn host_responsive() -> Duration {
    let t = Instant::now();
    let status = tokio::process::Command::new("/bin/true")
        .status()
        .await
        .expect("spawn /bin/true");
    assert!(status.success());
    t.elapsed()
}

async fn assert_nothing_left() {
    let left = safety_net::leftovers_after(Duration::from_secs(2)).await;
    assert!(left.is_empty(), "left behind: {left:#?}");
}

#[tokio::test]
async fn fork_bombs_end_and_leave_nothing() {
    let _g = safety_net::exclusive().await;
    safety_net::dangerous_tests_allowed().await;
    let bombs = [
        ("python", "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n"),
        ("bash", ":(){ :|:& };:"),
    ];
    for (lang, code) in bombs {
        let bomb = tokio::spawn(async move { run(lang, code).await });
        // While it rages, the host still runs things promptly.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let during = host_responsive().await;
        let o = bomb.await.expect("join");
        assert!(
            during < Duration::from_secs(3),
            "{lang}: host took {during:?} to run /bin/true"
        );
        assert!(o.wall_ms <= prompt(), "{lang}: ran {} ms", o.wall_ms);
        assert!(
            matches!(
                o.status,
                RunStatus::Timeout | RunStatus::Exited | RunStatus::Signaled
            ),
            "{lang}: {o:?}"
        );
        assert_nothing_left().await;
    }
}

#[tokio::test]
async fn memory_bombs_hit_the_memory_limit() {
    let _g = safety_net::shared().await;
    let limit = safety_net::profile().memory.0;
    let bombs = [
        ("python", "b = bytearray(10 * 1024**3)\nprint(len(b))"),
        (
            "javascript",
            "const a = []; for (;;) a.push(new Array(1e6).fill(1.5));",
        ),
        (
            "javascript",
            "const a = []; for (;;) a.push(Buffer.alloc(1 << 20, 1));",
        ),
    ];
    for (lang, code) in bombs {
        let o = run(lang, code).await;
        assert_eq!(o.status, RunStatus::MemoryLimit, "{lang} {code}: {o:?}");
        assert!(
            o.peak_memory_bytes.is_some_and(|p| p <= limit),
            "{lang}: peak {:?} over {limit}",
            o.peak_memory_bytes
        );
        assert!(o.wall_ms <= prompt());
    }
    // The bot (this process) is unaffected: a normal run right after works.
    assert_eq!(
        run("python", "print('still fine')").await.stdout,
        "still fine\n"
    );
}

#[tokio::test]
async fn output_floods_stop_at_the_cap() {
    let _g = safety_net::shared().await;
    let cap = safety_net::profile().output.0 as usize;
    let floods = [
        ("bash", "yes"),
        ("python", "while True: print('abcdefghij')"),
        (
            "python",
            "import sys\ns = 'x' * (1 << 20)\nfor _ in range(2048): sys.stdout.write(s)",
        ),
        (
            "python",
            "import sys\nwhile True: sys.stderr.write('e' * 4096)",
        ),
    ];
    for (lang, code) in floods {
        let o = run(lang, code).await;
        assert_eq!(
            o.status,
            RunStatus::OutputLimit,
            "{code}: {:?}",
            (o.status, o.wall_ms)
        );
        assert!(o.truncated);
        assert_eq!(
            o.stdout.len() + o.stderr.len(),
            cap,
            "{code}: exactly the cap is kept"
        );
        assert_eq!(o.output.len(), cap);
        assert!(
            o.wall_ms < 3000,
            "{code}: killed promptly, took {} ms",
            o.wall_ms
        );
    }
}

#[tokio::test]
async fn busy_loops_hit_the_cpu_limit_and_sleepers_the_wall_clock() {
    let _g = safety_net::shared().await;
    // A long wall limit so the CPU limit is what stops it even on a loaded machine.
    let mut req = safety_net::request("python", "while True: pass");
    req.limits.wall_time = coderunner_config::HumanDuration::from_secs(60);
    req.limits.cpu_time = coderunner_config::HumanDuration::from_secs(1);
    let o = safety_net::run_request(req).await;
    assert_eq!(o.status, RunStatus::Timeout, "{o:?}");
    assert!(
        o.error.as_deref().is_some_and(|e| e.contains("CPU")),
        "{o:?}"
    );
    assert!(o.cpu_ms >= 900, "cpu_ms {}", o.cpu_ms);
    let o = run("python", "import time; time.sleep(3600)").await;
    assert_eq!(o.status, RunStatus::Timeout, "{o:?}");
    assert!(
        o.error.as_deref().is_some_and(|e| e.contains("wall-clock")),
        "{o:?}"
    );
    assert!(
        o.wall_ms >= WALL.as_millis() as u64 && o.wall_ms <= prompt(),
        "wall {}",
        o.wall_ms
    );
    // Teardown of a timed-out run is quick: well under a second past the deadline.
    assert!(
        o.wall_ms < WALL.as_millis() as u64 + 1000,
        "teardown took {} ms",
        o.wall_ms - WALL.as_millis() as u64
    );
}

#[tokio::test]
async fn daemons_and_stdout_holders_do_not_outlive_the_run() {
    let _g = safety_net::exclusive().await;
    // Double fork + setsid: a classic daemon that sleeps forever.
    let daemon = "import os, time\n\
                  if os.fork() == 0:\n\
                  \x20   os.setsid()\n\
                  \x20   if os.fork() == 0:\n\
                  \x20       time.sleep(3600)\n\
                  \x20   os._exit(0)\n\
                  print('parent done')\n";
    let o = run("python", daemon).await;
    assert_eq!(
        (o.status, o.exit_code),
        (RunStatus::Exited, Some(0)),
        "{o:?}"
    );
    assert!(
        o.wall_ms < 2000,
        "the run ends with its main process: {} ms",
        o.wall_ms
    );
    assert_nothing_left().await;
    // A background child keeps stdout open after the main process exits.
    let o = run("bash", "(sleep 3600; echo late) &\necho main done").await;
    assert_eq!(
        (o.status, o.stdout.as_str()),
        (RunStatus::Exited, "main done\n"),
        "{o:?}"
    );
    assert!(
        o.wall_ms < 2000,
        "not held open by the child: {} ms",
        o.wall_ms
    );
    assert_nothing_left().await;
    // Hundreds of processes at the deadline are gone promptly too.
    let o = run("bash", "for i in $(seq 25); do sleep 3600 & done; wait").await;
    assert_eq!(o.status, RunStatus::Timeout);
    assert_nothing_left().await;
}

#[tokio::test]
async fn kill_minus_one_and_killing_the_parent_are_contained() {
    let _g = safety_net::exclusive().await;
    safety_net::dangerous_tests_allowed().await;
    // A sentinel outside the sandbox with the very uid the sandbox will use.
    let uid = safety_net::UIDS[1] + 1;
    let runner = safety_net::runner_with_uid(uid);
    let mut sentinel = {
        use std::os::unix::process::CommandExt;
        std::process::Command::new("/bin/sleep")
            .arg("60")
            .uid(uid)
            .gid(uid)
            .spawn()
            .expect("sentinel")
    };
    let code = "import os, signal\n\
                try:\n\
                \x20   os.kill(-1, signal.SIGKILL)\n\
                except OSError as e:\n\
                \x20   print('kill -1:', e)\n\
                for target in (os.getppid(), 1):\n\
                \x20   try:\n\
                \x20       os.kill(target, signal.SIGKILL)\n\
                \x20       print('killed', target)\n\
                \x20   except OSError as e:\n\
                \x20       print('kill', target, e.strerror)\n";
    use coderunner_runner::Runner;
    let o = runner
        .run(safety_net::request("python", code))
        .await
        .expect("run");
    // kill(-1) kills the program itself (it is in its own pid namespace); that is the only victim.
    assert!(
        matches!(o.status, RunStatus::Signaled | RunStatus::Exited),
        "{o:?}"
    );
    assert_eq!(
        sentinel.try_wait().expect("sentinel status"),
        None,
        "the sentinel outside was killed"
    );
    let o = runner
        .run(safety_net::request(
            "python",
            &code.replace("os.kill(-1, signal.SIGKILL)", "pass"),
        ))
        .await
        .expect("run");
    assert!(o.stdout.contains("kill 1 Operation not permitted"), "{o:?}");
    assert_eq!(sentinel.try_wait().expect("sentinel status"), None);
    sentinel.kill().expect("stop sentinel");
    let _ = sentinel.wait();
}

#[tokio::test]
async fn flood_costs_the_bot_no_more_than_the_cap() {
    let _g = safety_net::shared().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let config = safety_net::config_file(dir.path());
    let program = dir.path().join("flood.py");
    // 2 GB in one line without a newline.
    std::fs::write(
        &program,
        "import sys\ns = 'x' * (1 << 20)\nfor _ in range(2048): sys.stdout.write(s)\n",
    )
    .expect("write");
    // stdout goes to a file: a pipe nobody drains while we poll would block the CLI.
    let json_path = dir.path().join("outcome.json");
    let mut child = std::process::Command::new(coderunner_tests::harness::coderunner_bin())
        .args([
            "--config".as_ref(),
            config.as_os_str(),
            "run".as_ref(),
            "--json".as_ref(),
            program.as_os_str(),
        ])
        .stdout(std::fs::File::create(&json_path).expect("outcome file"))
        .spawn()
        .expect("coderunner run");
    let pid = child.id();
    let mut peak_kib = 0u64;
    while child.try_wait().expect("wait").is_none() {
        if let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) {
            if let Some(v) = status.lines().find_map(|l| l.strip_prefix("VmHWM:")) {
                peak_kib =
                    peak_kib.max(v.trim().trim_end_matches(" kB").trim().parse().unwrap_or(0));
            }
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let json = std::fs::read(&json_path).expect("outcome");
    let outcome: serde_json::Value = serde_json::from_slice(&json).expect("RunOutcome JSON");
    assert_eq!(outcome["status"], "output_limit");
    eprintln!(
        "MEASURED: coderunner peak RSS during a 2 GB output flood: {:.1} MiB",
        peak_kib as f64 / 1024.0
    );
    assert!(peak_kib > 0, "sampled the RSS");
    assert!(peak_kib < 64 * 1024, "coderunner peaked at {peak_kib} KiB");
}
