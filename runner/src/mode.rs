//! Minimal host probing the runner needs to pick its mode (root or rootless) and protections.
//! (The foundation's `host` module does the full live probing for `doctor`.)

use std::fs;

/// Whether coderunner runs as root (then it sandboxes without a user namespace, dropping each run
/// to its own uid).
pub(crate) fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// Whether unprivileged user namespaces can be created (rootless mode).
pub(crate) fn userns_available() -> bool {
    let max = fs::read_to_string("/proc/sys/user/max_user_namespaces")
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
        .unwrap_or(0);
    let debian_knob = fs::read_to_string("/proc/sys/kernel/unprivileged_userns_clone")
        .map(|s| s.trim() != "0")
        .unwrap_or(true);
    max > 0 && debian_knob
}

/// The kernel's Landlock ABI version, or `None` without Landlock.
pub(crate) fn landlock_abi() -> Option<i32> {
    const LANDLOCK_CREATE_RULESET_VERSION: libc::c_uint = 1;
    // SAFETY: the documented version query: no ruleset, size 0.
    let v = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<libc::c_void>(),
            0usize,
            LANDLOCK_CREATE_RULESET_VERSION,
        )
    };
    (v > 0).then_some(v as i32)
}

/// This process's start time in clock ticks since boot (field 22 of /proc/self/stat), used to
/// tell our own leftovers from a crashed process's even if its pid was reused.
pub(crate) fn start_time(pid: u32) -> Option<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may contain spaces and parentheses; fields resume after the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    rest.split_whitespace().nth(19)?.parse().ok()
}
