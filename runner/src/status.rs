//! Deciding a run's status from how it ended, why it was killed, and what its cgroup measured.

use nix::sys::signal::Signal;

use crate::cgroup::CgroupStats;
use crate::outcome::RunStatus;
use crate::spawn::{End, Kill};

/// What a user is told when the sandbox could not be set up (the detail goes to the log only).
pub(crate) const SETUP_FAILED: &str = "the sandbox could not be set up, so the program did not run; this is a problem on the server, not in your code (the operator's log has the details)";

/// The verdict on one stage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Verdict {
    pub status: RunStatus,
    pub exit_code: Option<i32>,
    pub signal: Option<String>,
    pub error: Option<String>,
}

/// The name of a signal number, e.g. `SIGSEGV`.
pub(crate) fn signal_name(sig: i32) -> String {
    Signal::try_from(sig).map_or_else(|_| format!("SIG{sig}"), |s| s.as_str().to_string())
}

/// Classify one stage. Kills by the parent win over what the program did afterwards; an OOM kill
/// or a CPU-limit signal is reported as its limit rather than as a plain signal.
pub(crate) fn classify(
    end: &End,
    killed: Option<Kill>,
    stats: &CgroupStats,
    wall_limit_ms: u64,
    cpu_limit_secs: u64,
    memory_limit: u64,
) -> Verdict {
    let verdict = |status, exit_code, signal, error: Option<String>| Verdict {
        status,
        exit_code,
        signal,
        error,
    };
    if let End::SetupError(msg) = end {
        // The detail names host paths (scratch dir, workdir, binds): the log keeps it, the user
        // gets the plain reason.
        tracing::error!(detail = %msg, "the sandbox could not be set up");
        return verdict(
            RunStatus::SandboxError,
            None,
            None,
            Some(SETUP_FAILED.into()),
        );
    }
    match killed {
        Some(Kill::Output) => {
            return verdict(
                RunStatus::OutputLimit,
                None,
                None,
                Some("the program was stopped because its output passed the limit".into()),
            )
        }
        Some(Kill::WallClock) => {
            return verdict(
                RunStatus::Timeout,
                None,
                None,
                Some(format!(
                    "wall-clock time limit of {} exceeded",
                    ms_text(wall_limit_ms)
                )),
            )
        }
        None => {}
    }
    match *end {
        End::Exited(code) => verdict(RunStatus::Exited, Some(code), None, None),
        End::Signaled(sig) => {
            let name = signal_name(sig);
            let oom = || {
                verdict(
                    RunStatus::MemoryLimit,
                    None,
                    Some(name.clone()),
                    Some("the program ran out of memory and was killed".into()),
                )
            };
            if stats.oom_kills > 0 && sig == libc::SIGKILL {
                oom()
            } else if sig == libc::SIGXCPU
                || sig == libc::SIGKILL && cpu_limit_hit(stats, cpu_limit_secs)
            {
                verdict(
                    RunStatus::Timeout,
                    None,
                    Some(name.clone()),
                    Some(format!("CPU time limit of {cpu_limit_secs}s exceeded")),
                )
            } else if runtime_out_of_memory(sig, stats, memory_limit) {
                oom()
            } else {
                verdict(RunStatus::Signaled, None, Some(name.clone()), None)
            }
        }
        End::SetupError(_) | End::Unknown => verdict(
            RunStatus::SandboxError,
            None,
            None,
            Some("the sandbox ended without reporting how the program ended".into()),
        ),
    }
}

/// A runtime that caps its own heap below the cgroup (node's `--max-old-space-size={heap_mib}`,
/// 3/4 of the limit) aborts instead of being OOM-killed: an abort-like signal with the limit hit
/// or a peak at that fraction is the memory limit too.
fn runtime_out_of_memory(sig: i32, stats: &CgroupStats, memory_limit: u64) -> bool {
    let abort_like = matches!(sig, libc::SIGABRT | libc::SIGTRAP | libc::SIGKILL);
    let near_limit = stats.memory_limit_hits > 0
        || stats
            .peak_memory
            .is_some_and(|p| memory_limit > 0 && p >= memory_limit / 4 * 3);
    abort_like && near_limit
}

fn cpu_limit_hit(stats: &CgroupStats, cpu_limit_secs: u64) -> bool {
    stats
        .cpu_ns
        .is_some_and(|ns| ns >= cpu_limit_secs.saturating_mul(1_000_000_000))
}

fn ms_text(ms: u64) -> String {
    if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        format!("{:.1}s", ms as f64 / 1000.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(oom: u64, cpu_s: u64) -> CgroupStats {
        CgroupStats {
            oom_kills: oom,
            cpu_ns: Some(cpu_s * 1_000_000_000),
            ..Default::default()
        }
    }

    #[test]
    fn verdicts() {
        let s0 = stats(0, 0);
        assert_eq!(
            classify(&End::Exited(3), None, &s0, 1000, 1, 1 << 28).exit_code,
            Some(3)
        );
        let v = classify(&End::Signaled(11), None, &s0, 1000, 1, 1 << 28);
        assert_eq!(
            (v.status, v.signal.as_deref()),
            (RunStatus::Signaled, Some("SIGSEGV"))
        );
        assert_eq!(
            classify(&End::Signaled(9), None, &stats(1, 0), 1000, 5, 1 << 28).status,
            RunStatus::MemoryLimit
        );
        let at_limit = CgroupStats {
            memory_limit_hits: 4,
            ..s0
        };
        assert_eq!(
            classify(&End::Signaled(6), None, &at_limit, 1000, 5, 1 << 28).status,
            RunStatus::MemoryLimit
        );
        assert_eq!(
            classify(&End::Exited(1), None, &at_limit, 1000, 5, 1 << 28).status,
            RunStatus::Exited
        );
        let near = CgroupStats {
            peak_memory: Some(200 << 20),
            ..s0
        };
        assert_eq!(
            classify(&End::Signaled(6), None, &near, 1000, 5, 256 << 20).status,
            RunStatus::MemoryLimit
        );
        assert_eq!(
            classify(&End::Signaled(11), None, &near, 1000, 5, 256 << 20).status,
            RunStatus::Signaled
        );
        let low = CgroupStats {
            peak_memory: Some(20 << 20),
            ..s0
        };
        assert_eq!(
            classify(&End::Signaled(6), None, &low, 1000, 5, 256 << 20).status,
            RunStatus::Signaled
        );
        assert_eq!(
            classify(&End::Signaled(libc::SIGXCPU), None, &s0, 1000, 5, 1 << 28).status,
            RunStatus::Timeout
        );
        assert_eq!(
            classify(&End::Signaled(9), None, &stats(0, 6), 1000, 5, 1 << 28).status,
            RunStatus::Timeout
        );
        assert_eq!(
            classify(&End::Signaled(9), None, &stats(0, 1), 1000, 5, 1 << 28).status,
            RunStatus::Signaled
        );
        let t = classify(&End::Unknown, Some(Kill::WallClock), &s0, 2500, 5, 1 << 28);
        assert_eq!(t.status, RunStatus::Timeout);
        assert!(t
            .error
            .as_deref()
            .is_some_and(|e| e.contains("wall-clock") && e.contains("2.5s")));
        assert_eq!(
            classify(&End::Exited(0), Some(Kill::Output), &s0, 1000, 5, 1 << 28).status,
            RunStatus::OutputLimit
        );
        assert_eq!(
            classify(&End::SetupError("x".into()), None, &s0, 1000, 5, 1 << 28).status,
            RunStatus::SandboxError
        );
    }
}
