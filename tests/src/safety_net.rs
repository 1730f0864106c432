//! The security suite's outer safety net and its shared helpers.
//!
//! A regression in the sandbox must fail a test, never the machine running the tests. So every
//! sandbox the suites start lives under an outer cgroup (`coderunner-tests` in the memory and pids
//! hierarchies) with a hard memory cap (no swap) and a pids cap that hold even if a per-run limit
//! were broken; the suite uses its own scratch directory and uid range. The dangerous cases
//! (fork bombs, `kill(-1)`) first call [`dangerous_tests_allowed`], which runs a probe in the same
//! process and refuses (fails the test) unless the sandboxed uid is not 0 and the pids limit holds.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use coderunner_config::{ByteSize, Config, HumanDuration, Profile, WarmPool};
use coderunner_runner::{InputFile, LocalRunner, RunOutcome, RunRequest, Runner};
use tokio::sync::{OnceCell, RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::harness;

/// Parent cgroup of every sandbox the suites start (in each v1 hierarchy).
pub const CGROUP_PARENT: &str = "coderunner-tests";
/// Scratch directory of the suites' runners.
pub const SCRATCH: &str = "/run/coderunner-tests";
/// Uids the suites' sandboxes run as.
pub const UIDS: [u32; 2] = [210_000, 210_499];
/// Outer caps around all of the suites' sandboxes together.
pub const OUTER_MEMORY: u64 = 3 << 30;
pub const OUTER_PIDS: u64 = 1024;
/// Wall-clock limit of the suite's profile: short, so timeouts are quick to test.
pub const WALL: Duration = Duration::from_secs(4);
/// CPU limit of the suite's profile (below the wall limit, so a busy loop hits it first).
pub const CPU_SECS: u64 = 2;

/// Install the outer cgroup caps (idempotent). Panics when they cannot be set: the dangerous
/// tests must not run without them.
fn install_outer_limits() {
    for (controller, files) in [
        (
            "memory",
            vec![
                ("memory.limit_in_bytes", OUTER_MEMORY),
                ("memory.memsw.limit_in_bytes", OUTER_MEMORY),
            ],
        ),
        ("pids", vec![("pids.max", OUTER_PIDS)]),
    ] {
        let dir = Path::new("/sys/fs/cgroup")
            .join(controller)
            .join(CGROUP_PARENT);
        std::fs::create_dir_all(&dir)
            .unwrap_or_else(|e| panic!("safety net: creating {}: {e}", dir.display()));
        for (file, value) in files {
            let path = dir.join(file);
            if file.contains("memsw") && !path.exists() {
                continue; // no swap accounting: memory.limit_in_bytes alone is the cap
            }
            std::fs::write(&path, value.to_string())
                .unwrap_or_else(|e| panic!("safety net: writing {}: {e}", path.display()));
        }
    }
}

/// The suite's configuration: the embedded default with the safety net's cgroup parent, scratch
/// directory, uid range and helper binary, and a `default` profile with short time limits.
pub fn config() -> &'static Config {
    static CONFIG: OnceLock<Config> = OnceLock::new();
    CONFIG.get_or_init(|| {
        install_outer_limits();
        let mut c = Config::embedded_default().expect("embedded default config");
        c.runner.cgroup_parent = CGROUP_PARENT.into();
        c.runner.scratch_dir = PathBuf::from(SCRATCH);
        c.runner.uid_range = UIDS;
        c.runner.helper = Some(harness::sandbox_bin());
        // Cold by default, so every suite's runs and leftover checks stay as they were; the
        // warm_* suites turn the pool on themselves.
        c.runner.warm_pool = WarmPool::Slots(0);
        let p = c.profiles.get_mut("default").expect("default profile");
        p.wall_time = HumanDuration::from(WALL);
        p.cpu_time = HumanDuration::from_secs(CPU_SECS);
        c
    })
}

/// Whether this test process sends its runs through the warm pool and the Python zygote
/// (`CODERUNNER_TESTS_WARM=1`: scripts/test.sh runs the security suites a second time so, to
/// attack the pooled path with the very tests that attack the cold one).
pub fn warm_mode() -> bool {
    std::env::var_os("CODERUNNER_TESTS_WARM").is_some_and(|v| v == "1")
}

static RUNNER: OnceLock<LocalRunner> = OnceLock::new();

/// The suite's runner (one per test process): cold, or in [`warm_mode`] with a warm pool (one
/// slot per kind of run) whose runs wait for a slot rather than go cold. The pool lives on a
/// runtime of its own, as each test's runtime ends with the test.
pub fn runner() -> &'static LocalRunner {
    RUNNER.get_or_init(|| {
        if !warm_mode() {
            return LocalRunner::new(config()).expect("LocalRunner for the suite");
        }
        let rt = POOL_RUNTIME.get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .expect("the warm pool's runtime")
        });
        let _entered = rt.enter();
        let mut c = config().clone();
        c.runner.warm_pool = WarmPool::Slots(1);
        let runner = LocalRunner::new(&c)
            .expect("LocalRunner for the suite")
            .start_warm_pool_waiting(WARM_SLOT_WAIT);
        // SAFETY: registers a plain `extern "C" fn` that takes no arguments; libc keeps the
        // pointer until exit.
        let registered = unsafe { libc::atexit(shut_the_warm_pool_down_at_exit) };
        assert_eq!(registered, 0, "atexit for the warm pool's shutdown");
        runner
    })
}

/// The warm pass's pool runtime: the pool outlives each test's own runtime.
static POOL_RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();

/// The test harness exits without dropping statics, so the pool's ready slots would leave their
/// workdir mounts behind (the next runner start sweeps them, but the suite must leave the machine
/// as it found it). Runs at process exit, after every test.
extern "C" fn shut_the_warm_pool_down_at_exit() {
    // A panic must not unwind into libc.
    let _ = std::panic::catch_unwind(|| {
        if let (Some(rt), Some(runner)) = (POOL_RUNTIME.get(), RUNNER.get()) {
            rt.block_on(async {
                let shutdown = runner.shutdown_warm_pool();
                if tokio::time::timeout(Duration::from_secs(30), shutdown)
                    .await
                    .is_err()
                {
                    eprintln!("safety_net: the warm pool did not shut down within 30 s");
                }
            });
        }
    });
}

/// How long a run of the warm pass waits for its slot (the zygote's preload on a busy host).
const WARM_SLOT_WAIT: Duration = Duration::from_secs(180);

/// A runner like [`runner`] whose sandboxes all run as `uid` (for tests that plant a process
/// with the sandbox's own uid outside it).
pub fn runner_with_uid(uid: u32) -> LocalRunner {
    let mut c = config().clone();
    c.runner.uid_range = [uid, uid];
    LocalRunner::new(&c).expect("LocalRunner with a single uid")
}

/// The suite's default profile.
pub fn profile() -> Profile {
    config().profiles["default"].clone()
}

/// A request running `code` as the main file of `language`.
pub fn request(language: &str, code: &str) -> RunRequest {
    let (name, spec) = config()
        .find_language(language)
        .unwrap_or_else(|| panic!("language {language} in the default config"));
    RunRequest {
        language: name.to_string(),
        files: vec![InputFile {
            path: spec.file.clone(),
            content: code.as_bytes().to_vec(),
        }],
        main: None,
        spec: spec.clone(),
        stdin: Vec::new(),
        args: Vec::new(),
        env: Vec::new(),
        limits: profile(),
        packages: None,
    }
}

/// Run a request through the real sandbox; a runner error fails the test. In [`warm_mode`], a
/// request the pool can serve (a language the zygote's sandbox holds, no compile stage, network,
/// extra environment or package set) must have gone warm.
pub async fn run_request(req: RunRequest) -> RunOutcome {
    let r = runner();
    let poolable = warm_mode()
        && ["python", "javascript", "bash"].contains(&req.language.as_str())
        && req.spec.compile.is_none()
        && !req.limits.network
        && req.env.is_empty()
        && req.packages.is_none();
    let warm_before = match poolable {
        true => r.warm_pool_report().await.map(|p| p.warm_runs),
        false => None,
    };
    let language = req.language.clone();
    let o = r.run(req).await.expect("the runner carried out the run");
    if let Some(before) = warm_before {
        let after = r.warm_pool_report().await.map_or(0, |p| p.warm_runs);
        assert!(
            after > before,
            "warm pass: a {language} run the pool can serve went cold: {o:?}"
        );
        eprintln!("warm pass: a {language} run went through the zygote");
    }
    o
}

/// Run `code` in `language` with the suite's profile.
pub async fn run(language: &str, code: &str) -> RunOutcome {
    run_request(request(language, code)).await
}

/// A size in bytes for profiles.
pub fn bytes(n: u64) -> ByteSize {
    ByteSize(n)
}

/// Tests that inspect global state (leftover processes, cgroups, mounts) run alone; all others
/// share the lock.
fn global_lock() -> &'static RwLock<()> {
    static LOCK: OnceLock<RwLock<()>> = OnceLock::new();
    LOCK.get_or_init(|| RwLock::new(()))
}

/// Hold while running an ordinary test.
pub async fn shared() -> RwLockReadGuard<'static, ()> {
    global_lock().read().await
}

/// Hold while running a test that checks for leftovers.
pub async fn exclusive() -> RwLockWriteGuard<'static, ()> {
    global_lock().write().await
}

/// Probe, once per test process, that a sandboxed program is not uid 0 and cannot exceed its pids
/// limit. Panics (failing the calling test before it starts its bomb) otherwise.
pub async fn dangerous_tests_allowed() {
    static PROBE: OnceCell<Result<(), String>> = OnceCell::const_new();
    let verdict = PROBE
        .get_or_init(|| async {
            let pids = profile().pids;
            let code = format!(
                "import os, time\n\
                 print('uid', os.getuid(), flush=True)\n\
                 n = 0\n\
                 for _ in range({}):\n\
                 \x20   try:\n\
                 \x20       p = os.fork()\n\
                 \x20   except OSError:\n\
                 \x20       break\n\
                 \x20   if p == 0:\n\
                 \x20       time.sleep(3)\n\
                 \x20       os._exit(0)\n\
                 \x20   n += 1\n\
                 print('forked', n, flush=True)\n",
                pids * 4
            );
            let o = run("python", &code).await;
            let field = |key: &str| -> Option<u64> {
                o.stdout
                    .lines()
                    .find_map(|l| l.strip_prefix(key)?.trim().parse().ok())
            };
            match (field("uid "), field("forked ")) {
                (Some(0), _) => Err("the sandboxed program runs as uid 0".to_string()),
                (Some(_), Some(n)) if n < u64::from(pids) => Ok(()),
                (Some(_), Some(n)) => Err(format!(
                    "the program forked {n} processes with a pids limit of {pids}"
                )),
                _ => Err(format!("the probe did not report: {o:?}")),
            }
        })
        .await;
    if let Err(why) = verdict {
        panic!("refusing to run a dangerous test: {why}");
    }
}

/// Processes running as a suite uid, run cgroups under the suite's parent, workdirs and mounts
/// under the suite's scratch directory: everything a finished run must not leave behind.
pub fn leftovers() -> Vec<String> {
    let mut found = Vec::new();
    if let Ok(procs) = std::fs::read_dir("/proc") {
        for p in procs.flatten() {
            let status = std::fs::read_to_string(p.path().join("status")).unwrap_or_default();
            let uid = status
                .lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|l| l.split_whitespace().next())
                .and_then(|u| u.parse::<u32>().ok());
            if uid.is_some_and(|u| (UIDS[0]..=UIDS[1]).contains(&u)) {
                let name = status.lines().next().unwrap_or("").to_string();
                found.push(format!(
                    "process {} ({name}) [uid {}]",
                    p.file_name().to_string_lossy(),
                    uid.unwrap_or_default()
                ));
            }
        }
    }
    for controller in ["memory", "pids", "cpu", "cpuacct"] {
        let dir = Path::new("/sys/fs/cgroup")
            .join(controller)
            .join(CGROUP_PARENT);
        if let Ok(entries) = std::fs::read_dir(&dir) {
            for e in entries.flatten() {
                if e.path().is_dir() {
                    found.push(format!("cgroup {}", e.path().display()));
                }
            }
        }
    }
    // In the warm pass, the pool's ready slots and zygote are not leftovers.
    let (pool_ids, pool_uids) = pool_footprint();
    found.retain(|f| {
        !pool_ids.iter().any(|id| f.ends_with(&format!("/{id}")))
            && !pool_uids
                .iter()
                .any(|u| f.starts_with("process") && f.ends_with(&format!("[uid {u}]")))
    });
    let runs = Path::new(SCRATCH).join("runs");
    if let Ok(entries) = std::fs::read_dir(&runs) {
        for e in entries.flatten() {
            found.push(format!("workdir {}", e.path().display()));
        }
    }
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    for line in mountinfo.lines() {
        if line.contains(&format!("{}/", runs.display())) {
            found.push(format!("mount {line}"));
        }
    }
    found.retain(|f| !pool_ids.iter().any(|id| f.contains(&format!("/runs/{id}"))));
    found
}

/// The warm pass's pool footprint (see [`LocalRunner::warm_pool_footprint`]) once it is not
/// making slots (at most 30 s); empty in the cold pass.
fn pool_footprint() -> (Vec<String>, Vec<u32>) {
    let Some(runner) = RUNNER.get() else {
        return Default::default();
    };
    let start = std::time::Instant::now();
    loop {
        match runner.warm_pool_footprint() {
            Some(f) => return f,
            None if start.elapsed() > Duration::from_secs(30) => return Default::default(),
            None => std::thread::sleep(Duration::from_millis(20)),
        }
    }
}

/// Wait up to `within` for [`leftovers`] to be empty; returns what is left.
pub async fn leftovers_after(within: Duration) -> Vec<String> {
    let start = std::time::Instant::now();
    loop {
        let left = leftovers();
        if left.is_empty() || start.elapsed() > within {
            return left;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Fail unless every sandboxed process (a `process` row of [`leftovers`]) is gone within 2 s of
/// the coderunner process that owned it being killed.
pub async fn assert_processes_die_with_coderunner() {
    let start = std::time::Instant::now();
    while leftovers().iter().any(|l| l.starts_with("process")) {
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "processes outlived coderunner: {:?}",
            leftovers()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Write the suite's config as a file the `coderunner` CLI can load (JSON is YAML).
pub fn config_file(dir: &Path) -> PathBuf {
    write_config_file(dir, config())
}

/// Write `config` as a file the `coderunner` CLI can load (JSON is YAML).
pub fn write_config_file(dir: &Path, config: &Config) -> PathBuf {
    let path = dir.join("coderunner-test-config.yaml");
    let text = serde_json::json!({ "config": config }).to_string();
    std::fs::write(&path, text).expect("writing the test config file");
    path
}
