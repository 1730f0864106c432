//! What every configured language must do in the real sandbox (tests/tests/languages_*.rs): one
//! [`Case`] of small programs per language, and the checks run on each.

use std::time::Duration;

use coderunner_runner::{RunOutcome, RunStatus};

use crate::safety_net::{self, request, run, run_request, WALL};

/// The languages tests/tests/languages_compiled.rs and languages_scripted.rs cover (each of those
/// files checks that its cases are all here).
pub const COVERED: &[&str] = &[
    "rust",
    "go",
    "java",
    "typescript",
    "r",
    "ruby",
    "pypy",
    "lua",
    "php",
    "perl",
];

/// The programs one language is tested with.
pub struct Case {
    /// The configured language name.
    pub lang: &'static str,
    /// Prints `hello` and a newline.
    pub hello: &'static str,
    /// Reads one line from standard input and prints `got <line>`.
    pub stdin: &'static str,
    /// Prints its arguments joined by `|`.
    pub args: &'static str,
    /// Exits with status 3.
    pub exit3: &'static str,
    /// A program that does not compile, and what the error names (the file and line).
    pub compile_error: Option<(&'static str, &'static str)>,
    /// Whether compile errors come from a compile stage (`compile_error` status) or from the
    /// run itself (Java's single-file launch compiles in the JVM: a non-zero exit).
    pub compile_stage: bool,
    /// A program failing at run time on a known line, and what its error names.
    pub runtime_error: (&'static str, &'static str),
    /// Allocates and touches memory until stopped.
    pub memory_bomb: &'static str,
    /// Starts processes or threads (each kept alive) until refused and prints `made N`, or
    /// forks without end.
    pub bomb: &'static str,
}

/// Read `lang`'s runtime into the page cache, outside the sandbox. The development machine (and
/// CI, a machine like it) pages out files idle for about a minute (a DAMON `pageout` scheme), and a
/// run here has a 4 s wall limit: a big runtime's first start read back from disk can take longer
/// than that (seen: the JDK, whose source launcher touches tens of MiB of `lib/modules`, and PyPy,
/// whose libpypy is 57 MiB), which is the disk's time, not the sandbox's.
fn prime_page_cache(lang: &str) {
    match lang {
        "java" => {
            if let Some(lib) = std::fs::canonicalize("/usr/bin/java")
                .ok()
                .and_then(|java| Some(java.parent()?.parent()?.join("lib")))
            {
                read_all(&lib, 3);
            }
        }
        "pypy" => {
            for (dir, prefix) in [
                ("/usr/lib", "pypy3"),
                ("/usr/lib/x86_64-linux-gnu", "libpypy3"),
            ] {
                let Ok(entries) = std::fs::read_dir(dir) else {
                    continue;
                };
                for e in entries.flatten() {
                    if e.file_name().to_string_lossy().starts_with(prefix) {
                        read_all(&e.path(), 4);
                    }
                }
            }
        }
        _ => {}
    }
}

/// Read `path` (a file, or every file beneath a directory down to `depth` levels).
fn read_all(path: &std::path::Path, depth: usize) {
    if path.is_file() {
        let _ =
            std::fs::File::open(path).and_then(|mut f| std::io::copy(&mut f, &mut std::io::sink()));
        return;
    }
    let Ok(entries) = std::fs::read_dir(path) else {
        return;
    };
    for e in entries.flatten() {
        match e.file_type() {
            Ok(t) if t.is_file() => read_all(&e.path(), 0),
            Ok(t) if t.is_dir() && depth > 0 => read_all(&e.path(), depth - 1),
            _ => {}
        }
    }
}

/// Hello world, stdin, args, exit codes, a compile error and a runtime error with its line.
pub async fn basics(c: &Case) {
    let _g = safety_net::shared().await;
    let lang = c.lang;
    prime_page_cache(lang);
    assert!(
        COVERED.contains(&lang),
        "{lang} is listed in languages::COVERED"
    );

    let o = run(lang, c.hello).await;
    assert_eq!(
        (o.status, o.exit_code, o.stdout.as_str()),
        (RunStatus::Exited, Some(0), "hello\n"),
        "{lang} hello: {o:?}"
    );

    let mut req = request(lang, c.stdin);
    req.stdin = b"world and more\n".to_vec();
    let o = run_request(req).await;
    assert_eq!(
        o.stdout.trim_end(),
        "got world and more",
        "{lang} stdin: {o:?}"
    );

    let mut req = request(lang, c.args);
    req.args = vec!["a b".into(), "-c".into(), "".into(), "ü".into()];
    let o = run_request(req).await;
    assert_eq!(o.stdout.trim_end(), "a b|-c||ü", "{lang} args: {o:?}");

    let o = run(lang, c.exit3).await;
    assert_eq!(
        (o.status, o.exit_code),
        (RunStatus::Exited, Some(3)),
        "{lang} exit 3: {o:?}"
    );

    if let Some((code, names)) = c.compile_error {
        let o = run(lang, code).await;
        if c.compile_stage {
            assert_eq!(
                o.status,
                RunStatus::CompileError,
                "{lang} compile error: {o:?}"
            );
            let compile = o.compile.as_ref().expect("a compile outcome");
            assert!(
                compile.stderr.contains(names) || compile.stdout.contains(names),
                "{lang}: the compile error names {names}: {o:?}"
            );
        } else {
            assert_eq!(o.status, RunStatus::Exited, "{lang} compile error: {o:?}");
            assert_ne!(o.exit_code, Some(0), "{lang} compile error: {o:?}");
            assert!(o.output.contains(names), "{lang}: names {names}: {o:?}");
        }
    }

    let (code, names) = c.runtime_error;
    let o = run(lang, code).await;
    assert!(
        o.status == RunStatus::Exited && o.exit_code.is_some_and(|c| c != 0)
            || o.status == RunStatus::Signaled,
        "{lang} runtime error fails the run: {o:?}"
    );
    assert!(
        o.output.contains(names),
        "{lang}: the runtime error names {names}: {o:?}"
    );
}

/// A memory bomb ends as `memory_limit`, its peak within the limit, promptly; the next run works.
pub async fn memory_bomb(c: &Case) {
    let _g = safety_net::shared().await;
    let limit = safety_net::profile().memory.0;
    prime_page_cache(c.lang);
    let o = run(c.lang, c.memory_bomb).await;
    assert_eq!(o.status, RunStatus::MemoryLimit, "{}: {o:?}", c.lang);
    // cgroup v1 charges memory in per-cpu batches, so its high-water mark can pass the limit by
    // up to one batch (64 pages) before the limit is enforced; more than that would be a leak.
    const CHARGE_BATCH: u64 = 64 * 4096;
    assert!(
        o.peak_memory_bytes
            .is_some_and(|p| p <= limit + CHARGE_BATCH),
        "{}: peak {:?} over {limit}",
        c.lang,
        o.peak_memory_bytes
    );
    assert!(o.wall_ms <= prompt_ms(), "{}: ran {} ms", c.lang, o.wall_ms);
    let o = run(c.lang, c.hello).await;
    assert_eq!(
        o.stdout, "hello\n",
        "{}: a run after the bomb: {o:?}",
        c.lang
    );
}

/// A process or thread bomb is contained: it gets fewer than the pids limit, the run ends
/// promptly, the host stays responsive and nothing is left behind.
pub async fn process_bomb(c: &Case) {
    let _g = safety_net::exclusive().await;
    safety_net::dangerous_tests_allowed().await;
    prime_page_cache(c.lang);
    let lang = c.lang;
    let code = c.bomb;
    let bomb = tokio::spawn(async move { run(lang, code).await });
    tokio::time::sleep(Duration::from_millis(500)).await;
    let started = std::time::Instant::now();
    let status = tokio::process::Command::new("/bin/true")
        .status()
        .await
        .expect("spawn /bin/true");
    let during = started.elapsed();
    assert!(status.success());
    let o: RunOutcome = bomb.await.expect("join");
    assert!(
        during < Duration::from_secs(3),
        "{lang}: the host took {during:?} to run /bin/true during the bomb"
    );
    assert!(o.wall_ms <= prompt_ms(), "{lang}: ran {} ms", o.wall_ms);
    assert!(
        matches!(
            o.status,
            RunStatus::Exited | RunStatus::Signaled | RunStatus::Timeout | RunStatus::MemoryLimit
        ),
        "{lang}: {o:?}"
    );
    let pids = u64::from(safety_net::profile().pids);
    if let Some(made) = o
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("made ")?.trim().parse::<u64>().ok())
    {
        assert!(
            made < pids,
            "{lang}: the bomb made {made} with a pids limit of {pids}"
        );
        assert!(
            made > 0,
            "{lang}: the bomb made nothing, so it tested nothing: {o:?}"
        );
    }
    let left = safety_net::leftovers_after(Duration::from_secs(2)).await;
    assert!(left.is_empty(), "{lang}: left behind: {left:#?}");
}

/// The wall limit plus teardown slack.
fn prompt_ms() -> u64 {
    (WALL + Duration::from_secs(2)).as_millis() as u64
}

/// Generates the three tests of each case as a module named after it.
#[macro_export]
macro_rules! language_tests {
    ($($name:ident => $case:expr;)*) => {
        $(
            mod $name {
                use super::*;

                #[tokio::test]
                async fn hello_stdin_args_exit_codes_and_errors() {
                    $crate::languages::basics(&$case).await;
                }

                #[tokio::test]
                async fn memory_bomb_ends_as_memory_limit() {
                    $crate::languages::memory_bomb(&$case).await;
                }

                #[tokio::test]
                async fn process_or_thread_bomb_is_contained() {
                    $crate::languages::process_bomb(&$case).await;
                }
            }
        )*
    };
}
