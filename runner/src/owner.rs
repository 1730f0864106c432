//! Identifies this coderunner process in run ids, so the start-up sweep can tell a crashed
//! process's leftovers from those of a live one (even after its pid was reused).

use std::fs;
use std::sync::atomic::{AtomicU64, Ordering};

/// A process's start time in clock ticks since boot (field 22 of /proc/PID/stat).
fn start_time(pid: u32) -> Option<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may contain spaces and parentheses; fields resume after the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// `<pid>.<start time>` of a process (start time 0 when it does not exist).
pub(crate) fn owner_tag(pid: u32) -> String {
    format!("{pid}.{}", start_time(pid).unwrap_or(0))
}

/// A fresh run id `<owner tag>-<seq>` for a run directory or cgroup. The sequence is per process,
/// not per runner: two LocalRunners in one process (tests, or an embedder) must never name a run
/// directory or cgroup the same.
pub(crate) fn next_run_id(owner_tag: &str) -> String {
    static RUN_SEQ: AtomicU64 = AtomicU64::new(0);
    format!("{owner_tag}-{}", RUN_SEQ.fetch_add(1, Ordering::Relaxed))
}

/// A run id `<pid>.<start>-<seq>` is stale when its process is no longer the one that made it.
/// Names that are not run ids are never stale (not ours to touch).
pub(crate) fn is_stale(run_id: &str, ours: &str) -> bool {
    let Some((tag, _)) = run_id.rsplit_once('-') else {
        return false;
    };
    if tag == ours {
        return false;
    }
    let Some((pid, _)) = tag.split_once('.') else {
        return false;
    };
    match pid.parse::<u32>() {
        Ok(pid) => owner_tag(pid) != tag,
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_detection_spares_live_and_foreign_names() {
        let ours = owner_tag(std::process::id());
        assert!(!is_stale(&format!("{ours}-3"), &ours));
        // pid 1 is alive, but with another start time it is a dead owner whose pid was reused.
        assert!(is_stale("1.999999999-0", &ours));
        assert!(!is_stale(&format!("{}-0", owner_tag(1)), &ours));
        assert!(!is_stale("netns", &ours));
        assert!(!is_stale("somebody-elses", &ours));
    }
}
