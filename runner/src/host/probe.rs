//! Probe children: a short-lived `/bin/true` whose pre-exec hook tries one kernel feature
//! (unshare, a seccomp filter). The attempt happens in the forked child, never in this
//! (possibly multi-threaded) process, and only async-signal-safe system calls run before exec.

use std::io;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long a probe child may take before it is killed and the probe counts as failed.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// A program that exists on every host of this kind and does nothing.
fn true_binary() -> &'static str {
    ["/bin/true", "/usr/bin/true"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .unwrap_or("/bin/true")
}

/// Run `hook` in a forked child just before it execs `/bin/true`; Ok when the hook succeeded
/// and the child exited 0, else the error (e.g. `EPERM` from unshare).
fn in_child<F>(hook: F) -> Result<(), String>
where
    F: FnMut() -> io::Result<()> + Send + Sync + 'static,
{
    let mut cmd = Command::new(true_binary());
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .env_clear();
    // SAFETY: the hook only makes raw system calls (unshare, prctl) on stack data: async-signal-safe.
    unsafe {
        cmd.pre_exec(hook);
    }
    let mut child = cmd.spawn().map_err(|e| e.to_string())?;
    let deadline = Instant::now() + PROBE_TIMEOUT;
    // A probe child is done in about a millisecond: poll finely at first, then back off.
    let mut pause = Duration::from_micros(100);
    loop {
        match child.try_wait() {
            Ok(Some(status)) if status.success() => return Ok(()),
            Ok(Some(status)) => return Err(format!("probe child failed: {status}")),
            Ok(None) if Instant::now() < deadline => {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(5));
            }
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err("probe child timed out".into());
            }
            Err(e) => return Err(e.to_string()),
        }
    }
}

/// Try `unshare(flags)` in a probe child.
pub(super) fn unshare(flags: libc::c_int) -> Result<(), String> {
    in_child(move || {
        // SAFETY: unshare only changes the calling (child) process's namespaces.
        if unsafe { libc::unshare(flags) } == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    })
}

/// Try to install an allow-everything seccomp filter (with no_new_privs) in a probe child: proves
/// the kernel accepts filters from this process, whatever filter it already runs under.
pub(super) fn seccomp_filter() -> Result<(), String> {
    in_child(|| {
        const BPF_RET_K: u16 = 0x06; // BPF_RET | BPF_K
        const SECCOMP_RET_ALLOW: u32 = 0x7fff_0000;
        let mut filter = [libc::sock_filter {
            code: BPF_RET_K,
            jt: 0,
            jf: 0,
            k: SECCOMP_RET_ALLOW,
        }];
        let prog = libc::sock_fprog {
            len: 1,
            filter: filter.as_mut_ptr(),
        };
        // SAFETY: prctl with documented arguments; `prog` and `filter` live on this stack frame.
        unsafe {
            if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 {
                return Err(io::Error::last_os_error());
            }
            if libc::prctl(
                libc::PR_SET_SECCOMP,
                libc::SECCOMP_MODE_FILTER,
                &prog as *const libc::sock_fprog,
            ) != 0
            {
                return Err(io::Error::last_os_error());
            }
        }
        Ok(())
    })
}

/// The kernel's Landlock ABI version (`landlock_create_ruleset(NULL, 0, VERSION)`), or why not.
pub(super) fn landlock_abi() -> Result<u32, String> {
    const LANDLOCK_CREATE_RULESET_VERSION: libc::c_uint = 1;
    // SAFETY: the documented version query: no ruleset attributes, size 0; creates nothing.
    let v = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<libc::c_void>(),
            0usize,
            LANDLOCK_CREATE_RULESET_VERSION,
        )
    };
    if v > 0 {
        u32::try_from(v).map_err(|_| format!("odd Landlock ABI {v}"))
    } else {
        let e = io::Error::last_os_error();
        Err(match e.raw_os_error() {
            Some(libc::ENOSYS) => "the kernel has no Landlock (ENOSYS)".into(),
            Some(libc::EOPNOTSUPP) => "Landlock is built in but disabled at boot (EOPNOTSUPP; add `landlock` to the lsm= boot parameter)".into(),
            _ => format!("landlock_create_ruleset failed: {e}"),
        })
    }
}
