//! The kernel process as the host sees it: found once by its parent (the session's reaper) and
//! held by a pidfd, so an interrupt can never reach another process that reused its pid.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// The session's Python, for interrupts and its memory use.
#[derive(Debug)]
pub(crate) struct Kernel {
    pub pid: i32,
    pidfd: OwnedFd,
}

/// The parent pid in a `/proc/PID/stat` line (after the command name, which may hold spaces).
fn parent_of(stat: &str) -> Option<i32> {
    let rest = &stat[stat.rfind(')')? + 2..];
    rest.split_whitespace().nth(1)?.parse().ok()
}

impl Kernel {
    /// The only child of `reaper` (PID 1 of the session's pid namespace forks exactly one
    /// program). Scans /proc: this kernel has no /proc/PID/task/TID/children.
    pub(crate) fn find(reaper: i32) -> Option<Kernel> {
        let entries = std::fs::read_dir("/proc").ok()?;
        for e in entries.flatten() {
            let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
                continue;
            };
            if parent_of(&stat) != Some(reaper) {
                continue;
            }
            // SAFETY: pidfd_open takes a pid and flags and returns a new fd or -1.
            let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
            if fd < 0 {
                return None;
            }
            // SAFETY: a fresh fd from pidfd_open, owned here.
            let pidfd = unsafe { OwnedFd::from_raw_fd(fd as i32) };
            // Still the reaper's child now that it is pinned: not a reused pid.
            let again = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok();
            if again.as_deref().and_then(parent_of) != Some(reaper) {
                return None;
            }
            return Some(Kernel { pid, pidfd });
        }
        None
    }

    /// Send SIGINT (Python raises KeyboardInterrupt in the cell).
    pub(crate) fn interrupt(&self) -> bool {
        // SAFETY: pidfd_send_signal on our pidfd with no siginfo.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_pidfd_send_signal,
                self.pidfd.as_raw_fd(),
                libc::SIGINT,
                std::ptr::null::<libc::siginfo_t>(),
                0,
            )
        };
        rc == 0
    }

    /// Resident memory of the kernel in bytes (VmRSS), when it is alive.
    pub(crate) fn rss(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid)).ok()?;
        let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
        let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kib * 1024)
    }

    /// CPU time of the kernel process (user + system) in nanoseconds.
    pub(crate) fn cpu_ns(&self) -> Option<u64> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid)).ok()?;
        let rest = &stat[stat.rfind(')')? + 2..];
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let ticks: u64 =
            fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
        // SAFETY: sysconf has no preconditions.
        let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
        Some(ticks * 1_000_000_000 / hz)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_parent_is_read_after_a_name_with_spaces_and_parens() {
        assert_eq!(parent_of("42 (a b) c) S 7 42 42 0"), Some(7));
        assert_eq!(parent_of("garbage"), None);
    }
}
