//! Warm bash runs through the real sandbox: the slot's bash was started before the run (with a
//! BASH_ENV preload that waits for "go"), yet the run is indistinguishable from a cold
//! `bash main.sh ARGS`: $0, arguments, BASH_SOURCE, line numbers, the shell's variables and
//! options, stdin, exit codes, errors, the environment, fds; and the preload leaves nothing a
//! program can use (no variable, no socket or pipe, nothing in the workdir).

use std::future::Future;
use std::time::Duration;

use coderunner_runner::{LocalRunner, RunOutcome, RunRequest};
use coderunner_tests::{safety_net, warm};

/// A warm runner of this suite's size (see [`warm::with_warm_runner`]).
async fn with_warm_runner<F, Fut>(body: F)
where
    F: FnOnce(LocalRunner) -> Fut,
    Fut: Future<Output = ()>,
{
    let _g = safety_net::shared().await;
    warm::with_warm_runner(2, Some(Duration::from_secs(60)), body).await
}

async fn warm(runner: &LocalRunner, req: RunRequest) -> RunOutcome {
    warm::warm_run(runner, req).await
}

async fn cold(req: RunRequest) -> RunOutcome {
    safety_net::run_request(req).await
}

fn sh(code: &str) -> RunRequest {
    let mut req = safety_net::request("bash", code);
    req.stdin = b"line one\nrest of stdin\n".to_vec();
    req.args = vec!["a b".into(), "--c".into(), "".into()];
    req
}

/// Programs whose whole observable result must be the same warm and cold.
const SAME_RESULT: &[(&str, &str)] = &[
    (
        "$_, $0, the arguments, BASH_SOURCE and LINENO",
        "echo \"[$_] [$0] [$#] [$*] [${BASH_SOURCE[*]}] [$LINENO] [$?] [$SECONDS] [$-]\"\n\
         printf '<%s>' \"$@\"; echo\n",
    ),
    // Left out, as documented in runner/src/pool/prestart.rs: values that differ between any
    // two runs (the per-run uid among them), PIPESTATUS, SECONDS's declaration (its value is compared above) and the
    // extdebug-only BASH_ARGC/BASH_ARGV, which keep the preload's frame.
    (
        "the shell's variables, options and environment",
        "declare -p | grep -v -E '^declare [-a-zA-Z]+ (RANDOM|SRANDOM|EPOCHREALTIME|EPOCHSECONDS|PIPESTATUS|BASHPID|_|SECONDS|BASH_ARGC|BASH_ARGV|UID|EUID)\\b'\n\
         shopt; set -o; env | sort\n",
    ),
    (
        "stdin read to the end, and what it is",
        "read -r first; echo \"first=$first\"; cat; readlink /proc/$$/fd/0 | sed 's/[0-9]//g'\n",
    ),
    ("exit 3", "echo out\nexit 3\n"),
    (
        "a missing command's error and status",
        "echo before\nno-such-command-here\necho \"status $?\"\nfalse\n",
    ),
    ("a syntax error", "echo ok\nif then fi\n"),
    (
        "open fds, the workdir and /tmp",
        "for f in /proc/$$/fd/*; do echo \"${f##*/} $(readlink \"$f\" | sed 's/[0-9]//g')\"; done\n\
         ls -a /work /tmp /dev/shm\n",
    ),
    (
        "a child bash and a subshell",
        "bash -c 'echo child \"[${BASH_ENV-unset}]\" \"$#\"' x y\n\
         (echo sub \"$#\" \"$1\")\n",
    ),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warm_bash_runs_match_cold_runs() {
    with_warm_runner(|runner| async move {
        for (what, code) in SAME_RESULT {
            let c = cold(sh(code)).await;
            let w = warm(&runner, sh(code)).await;
            assert_eq!(
                (&w.status, w.exit_code, &w.signal, &w.stdout, &w.stderr),
                (&c.status, c.exit_code, &c.signal, &c.stdout, &c.stderr),
                "{what}: warm and cold differ\nwarm: {w:?}\ncold: {c:?}"
            );
            assert!(
                !c.stdout.is_empty() || !c.stderr.is_empty(),
                "{what}: the program said nothing, so there was nothing to compare: {c:?}"
            );
        }
    })
    .await;
}

/// The slot's bash really was started before the run: its process is older than the run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_slot_bash_was_started_before_the_run() {
    with_warm_runner(|runner| async move {
        tokio::time::sleep(Duration::from_millis(2500)).await;
        // The shell's age: system uptime less its start time (clock ticks since boot).
        let code = "read -r up _ < /proc/uptime\n\
                    start=$(cut -d' ' -f22 /proc/$$/stat)\n\
                    echo $(( ${up%.*} - start / $(getconf CLK_TCK) ))\n";
        let w = warm(&runner, sh(code)).await;
        let c = cold(sh(code)).await;
        let age = |o: &RunOutcome| -> i64 {
            o.stdout
                .trim()
                .parse()
                .unwrap_or_else(|_| panic!("an age: {o:?}"))
        };
        assert!(age(&w) >= 2, "the warm bash started with the run: {w:?}");
        assert!(age(&c) <= 1, "a cold bash was started early: {c:?}");
    })
    .await;
}

/// The slot socket and the go pipe the preload used are closed before main.sh runs: a program
/// that writes a forged "exited 0" report into every socket or pipe it holds beyond stdout and
/// stderr, then exits 7, is reported as exiting 7, and holds none.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_program_cannot_reach_the_slot_socket_or_go_pipe() {
    with_warm_runner(|runner| async move {
        // ls runs in a child, so listing the shell's fds opens none in the shell itself.
        let code = "ls -l /proc/$$/fd > /tmp/fds\n\
                    sed -n 's/.* \\([0-9]*\\) -> \\(socket\\|pipe\\):.*/\\1 \\2/p' /tmp/fds > /tmp/held\n\
                    cat /tmp/held\n\
                    while read -r n t; do\n\
                      [ \"$n\" -gt 2 ] && printf '{\"kind\":\"exited\",\"code\":0}' >&\"$n\"\n\
                    done < /tmp/held\n\
                    exit 7\n";
        let w = warm(&runner, sh(code)).await;
        let c = cold(sh(code)).await;
        assert_eq!(w.exit_code, Some(7), "a forged report was believed: {w:?}");
        assert_eq!(w.stdout, "1 pipe\n2 pipe\n", "{w:?}");
        assert_eq!((&w.stdout, &w.stderr), (&c.stdout, &c.stderr), "cold: {c:?}");
    })
    .await;
}
