//! The helper's process choreography: build the sandbox, fork the reaper (PID 1 of the new pid
//! namespace), which forks the program; relay what happened to the parent.

use std::ffi::CString;
use std::fs::File;
use std::io::Write;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

use nix::fcntl::OFlag;
use nix::sys::memfd::{memfd_create, MFdFlags};
use nix::sys::prctl;
use nix::sys::signal::Signal;
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::{
    chdir, execve, fork, pipe2, setgroups, sethostname, setresgid, setresuid, setsid, ForkResult,
    Gid, Pid, Uid,
};

use super::{
    caps, landlock, mounts, namespaces, read_to_end_bounded, rlimits, send, workdir_tmpfs, Context,
    SetupError,
};
use crate::protocol::{HelperSpec, Isolation, ProgramStdin, Report};
use crate::seccomp::unpack;

/// The id the program gets inside its nested user namespace in rootless mode.
const ROOTLESS_INNER_ID: u32 = 1000;
/// The zygote's channel to coderunner (see [`HelperSpec::zygote`]).
pub(crate) const ZYGOTE_CHANNEL: RawFd = 3;
/// Reports are a few short lines; anything longer is a bug, not data.
const REPORT_LIMIT: usize = 64 << 10;

/// Helper H: everything up to forking the reaper happens here, single-threaded.
pub(crate) fn run(spec: &HelperSpec, stdin: &[u8], control: &mut File) -> Result<(), SetupError> {
    if spec.argv.is_empty() {
        return Err(SetupError("the run spec has an empty argv".into()));
    }
    // Everything that allocates or can fail is prepared before the first fork.
    let argv = cstrings(spec.argv.iter().map(String::as_str))?;
    let env = cstrings(
        spec.env
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .iter()
            .map(String::as_str),
    )?;
    let seccomp: Vec<_> = spec.seccomp.iter().map(|p| unpack(p)).collect();
    let stdin_fd = match spec.stdin {
        ProgramStdin::Memfd => stdin_memfd(stdin)?,
        ProgramStdin::Fd3 => inherited_socket(3)?,
    };
    let (report_r, report_w) = pipe2(OFlag::O_CLOEXEC).ctx(|| "pipe2".into())?;
    let workdir = if spec.workdir_handle {
        Some(workdir_tmpfs::open_handle(&spec.workdir_host)?)
    } else {
        None
    };

    namespaces::enter(spec)?;

    let program = Program {
        spec,
        argv,
        env,
        seccomp,
        stdin_fd,
        report_w,
        workdir,
    };
    // SAFETY: this process is single-threaded, so the child may do anything.
    match unsafe { fork() }.ctx(|| "fork (reaper)".into())? {
        ForkResult::Child => {
            // Only the helper may hold the read end: its closing is how the reaper learns of
            // the helper's death.
            drop(report_r);
            reaper(program)
        }
        ForkResult::Parent { child } => {
            // First thing: the parent needs the reaper's pid to know when every process of the
            // run is gone should it have to kill us (the reaper outlives us for a moment then).
            send(
                control,
                &Report::Reaper {
                    pid: child.as_raw(),
                },
            );
            let Program {
                stdin_fd, report_w, ..
            } = program;
            drop((stdin_fd, report_w));
            if spec.zygote {
                close_fd(ZYGOTE_CHANNEL); // the zygote's, not ours
            }
            // The program writes straight to the parent's pipes; our copies would only keep
            // them open.
            close_fd(1);
            close_fd(2);
            // EOF comes when the reaper (and the program's CLOEXEC copy) are gone.
            let reports = read_to_end_bounded(report_r, REPORT_LIMIT);
            let status = waitpid(child, None);
            control
                .write_all(&reports)
                .ctx(|| "sending reports".into())?;
            let finished = Report::parse_stream(&reports).iter().any(|r| {
                matches!(
                    r,
                    Report::Exited { .. } | Report::Signaled { .. } | Report::SetupError { .. }
                )
            });
            if !finished {
                send(
                    control,
                    &Report::SetupError {
                        message: format!("the sandbox reaper ended without a result ({status:?})"),
                    },
                );
            }
            Ok(())
        }
    }
}

/// What the reaper hands to the program process.
struct Program<'a> {
    spec: &'a HelperSpec,
    argv: Vec<CString>,
    env: Vec<CString>,
    seccomp: Vec<seccompiler::BpfProgram>,
    stdin_fd: OwnedFd,
    report_w: OwnedFd,
    /// The rootless workdir's handle, until the reaper has attached it.
    workdir: Option<OwnedFd>,
}

/// Reaper R: PID 1 of the new pid namespace. Builds the root with its /proc, forks the program, reaps every
/// process until the program itself ends, reports, and exits, which kills whatever is left.
fn reaper(mut program: Program<'_>) -> ! {
    let mut report = File::from(
        program
            .report_w
            .try_clone()
            .unwrap_or_else(|_| std::process::exit(125)),
    );
    let setup = (|| {
        prctl::set_pdeathsig(Signal::SIGKILL).ctx(|| "PR_SET_PDEATHSIG (reaper)".into())?;
        // The prctl only covers deaths after it: if the helper died before, its end of the report
        // pipe is closed, and ours shows POLLERR.
        if helper_gone(&program.report_w) {
            std::process::exit(1);
        }
        // The reaper builds the root, not the helper: a fresh /proc for the new pid namespace
        // can only be mounted from inside it, and, in a user namespace, only while the host's
        // /proc is still visible in the mount namespace (before pivot_root), or the kernel
        // refuses it as "too revealing".
        mounts::build_root(program.spec, program.workdir.take())?;
        sethostname(&program.spec.hostname).ctx(|| "sethostname".into())
    })();
    if let Err(SetupError(message)) = setup {
        send(&mut report, &Report::SetupError { message });
        std::process::exit(1);
    }
    close_fd(0); // the control socket is the helper's, not ours
                 // SAFETY: single-threaded.
    let child = match unsafe { fork() } {
        Ok(ForkResult::Child) => program_main(program),
        Ok(ForkResult::Parent { child }) => child,
        Err(e) => {
            send(
                &mut report,
                &Report::SetupError {
                    message: format!("fork (program): {e}"),
                },
            );
            std::process::exit(1);
        }
    };
    if program.spec.zygote {
        close_fd(ZYGOTE_CHANNEL);
    }
    drop(program);
    close_fd(1);
    close_fd(2);
    let result = loop {
        match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::__WALL)) {
            Ok(WaitStatus::Exited(pid, code)) if pid == child => break Report::Exited { code },
            Ok(WaitStatus::Signaled(pid, sig, _)) if pid == child => {
                break Report::Signaled { signal: sig as i32 }
            }
            Ok(_) | Err(nix::errno::Errno::EINTR) => {}
            Err(e) => {
                break Report::SetupError {
                    message: format!("waiting for the program: {e}"),
                }
            }
        }
    };
    send(&mut report, &result);
    send(&mut report, &usage());
    let _ = report.flush();
    std::process::exit(0);
}

/// Whether the read end of the report pipe (held by the helper alone) is closed.
fn helper_gone(report_w: &OwnedFd) -> bool {
    let mut pfd = libc::pollfd {
        fd: report_w.as_raw_fd(),
        events: libc::POLLOUT,
        revents: 0,
    };
    // SAFETY: poll on one valid pollfd, without waiting.
    let n = unsafe { libc::poll(&mut pfd, 1, 0) };
    n == 1 && pfd.revents & libc::POLLERR != 0
}

/// Program P: the last steps before execve, in the order that keeps each one possible.
fn program_main(program: Program<'_>) -> ! {
    let mut report = File::from(
        program
            .report_w
            .try_clone()
            .unwrap_or_else(|_| std::process::exit(125)),
    );
    let result = (|| -> Result<std::convert::Infallible, SetupError> {
        let spec = program.spec;
        setsid().ctx(|| "setsid".into())?;
        dup_onto(program.stdin_fd.as_raw_fd(), 0)?;
        if spec.zygote {
            return zygote_exec(&program);
        }
        rlimits::apply(&spec.rlimits)?;
        match spec.isolation {
            Isolation::Root { uid, gid } => {
                caps::drop_bounding_and_ambient()?;
                setgroups(&[]).ctx(|| "setgroups".into())?;
                setresgid(Gid::from_raw(gid), Gid::from_raw(gid), Gid::from_raw(gid))
                    .ctx(|| "setresgid".into())?;
                // Leaving uid 0 for good clears every capability set (no keepcaps).
                setresuid(Uid::from_raw(uid), Uid::from_raw(uid), Uid::from_raw(uid))
                    .ctx(|| "setresuid".into())?;
                caps::clear()?;
            }
            Isolation::Rootless { .. } => {
                namespaces::drop_into_nested_userns(ROOTLESS_INNER_ID)?;
                caps::drop_bounding_and_ambient()?;
                caps::clear()?;
            }
        }
        chdir(spec.workdir.as_str()).ctx(|| format!("chdir {}", spec.workdir))?;
        if spec.landlock {
            let status = landlock::restrict(spec)?;
            send(
                &mut report,
                &Report::Landlock {
                    status: status.to_string(),
                },
            );
        }
        prctl::set_no_new_privs().ctx(|| "PR_SET_NO_NEW_PRIVS".into())?;
        for filter in &program.seccomp {
            seccompiler::apply_filter(filter).ctx(|| "installing seccomp".into())?;
        }
        mark_cloexec_from(3)?;
        let e = execve(&program.argv[0], &program.argv, &program.env);
        Err(SetupError(format!(
            "cannot execute {}: {}",
            spec.argv[0],
            e.map_or_else(|e| e.desc().to_string(), |_| "unknown".into())
        )))
    })();
    let Err(SetupError(message)) = result;
    send(&mut report, &Report::SetupError { message });
    // SAFETY: _exit is always safe; skip atexit handlers that belong to the helper.
    unsafe { libc::_exit(127) }
}

/// Capabilities the zygote keeps, and only because the slots it forks use them before they
/// drop every capability and run anything of the user's (runner/src/zygote/zygote.py):
/// CAP_SYS_ADMIN for the slot's namespaces (unshare, setns back into its own pid namespace) and
/// mounts (/proc, /tmp, /dev/shm, /work, /etc/passwd); CAP_SETUID and CAP_SETGID for the switch
/// to the run's uid and gid; CAP_SETPCAP to empty the slot program's bounding set. Everything
/// else (CAP_DAC_OVERRIDE, CAP_KILL, CAP_SYS_PTRACE, CAP_NET_ADMIN, CAP_SYS_RESOURCE, ...) is
/// gone from all its sets, bounding included, before it execs Python.
/// (Numbers from linux/capability.h: CAP_SETGID 6, CAP_SETUID 7, CAP_SETPCAP 8,
/// CAP_SYS_ADMIN 21.)
const ZYGOTE_CAPS: &[u32] = &[6, 7, 8, 21];

/// The zygote's last steps (see [`HelperSpec::zygote`]): everything of a run's set-up except the
/// uid change and Landlock (a Landlock domain forbids every mount, and is inherited by the slots,
/// which mount before confining themselves). It keeps uid 0 and [`ZYGOTE_CAPS`] alone, its
/// rlimits as soft limits (see [`rlimits::apply_soft`]), gets no_new_privs and its own seccomp
/// policy (the run's less its last filter, which refuses the namespace and mount calls; see
/// `seccomp::ZYGOTE_FILTERS`; each slot adds that filter), and keeps fd 3, its channel to
/// coderunner.
fn zygote_exec(program: &Program<'_>) -> Result<std::convert::Infallible, SetupError> {
    let spec = program.spec;
    if !matches!(spec.isolation, Isolation::Root { .. }) {
        return Err(SetupError("the zygote runs only in root mode".into()));
    }
    if program.seccomp.is_empty() {
        return Err(SetupError(
            "the zygote was given no seccomp policy; it does not start without one".into(),
        ));
    }
    rlimits::apply_soft(&spec.rlimits)?;
    chdir(spec.workdir.as_str()).ctx(|| format!("chdir {}", spec.workdir))?;
    caps::keep_only(ZYGOTE_CAPS)?;
    prctl::set_no_new_privs().ctx(|| "PR_SET_NO_NEW_PRIVS".into())?;
    for filter in &program.seccomp {
        seccompiler::apply_filter(filter).ctx(|| "installing the zygote's seccomp".into())?;
    }
    mark_cloexec_from(ZYGOTE_CHANNEL as u32 + 1)?;
    let e = execve(&program.argv[0], &program.argv, &program.env);
    Err(SetupError(format!(
        "cannot execute the zygote {}: {}",
        spec.argv[0],
        e.map_or_else(|e| e.desc().to_string(), |_| "unknown".into())
    )))
}

fn cstrings<'a>(items: impl Iterator<Item = &'a str>) -> Result<Vec<CString>, SetupError> {
    items
        .map(|s| CString::new(s).ctx(|| format!("argument or variable {s:?} contains NUL")))
        .collect()
}

/// The program's stdin: a sealed memfd, so no pump process is needed and it cannot be altered.
pub(crate) fn stdin_memfd(bytes: &[u8]) -> Result<OwnedFd, SetupError> {
    let fd = memfd_create("stdin", MFdFlags::MFD_CLOEXEC | MFdFlags::MFD_ALLOW_SEALING)
        .ctx(|| "memfd_create".into())?;
    let mut file = File::from(fd);
    file.write_all(bytes).ctx(|| "writing stdin".into())?;
    let raw = file.as_raw_fd();
    // SAFETY: plain fcntl/lseek calls on an fd we own.
    unsafe {
        libc::fcntl(
            raw,
            libc::F_ADD_SEALS,
            libc::F_SEAL_WRITE | libc::F_SEAL_GROW | libc::F_SEAL_SHRINK | libc::F_SEAL_SEAL,
        );
        if libc::lseek(raw, 0, libc::SEEK_SET) != 0 {
            return Err(SetupError("lseek on the stdin memfd failed".into()));
        }
    }
    Ok(OwnedFd::from(file))
}

/// Take over an fd the parent passed (a session's socket), refusing anything but a socket so a
/// confused parent cannot hand the program one of the helper's own files.
fn inherited_socket(fd: RawFd) -> Result<OwnedFd, SetupError> {
    // SAFETY: fstat fills the struct we pass; a bad fd only makes it fail.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    if unsafe { libc::fstat(fd, &mut st) } != 0 || st.st_mode & libc::S_IFMT != libc::S_IFSOCK {
        return Err(SetupError(format!(
            "fd {fd} is not the session socket the parent should have passed"
        )));
    }
    // SAFETY: fd is open (fstat succeeded) and nothing else in the helper owns it; close on exec,
    // so only the program's dup onto fd 0 survives its execve.
    unsafe {
        libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC);
        Ok(<OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd))
    }
}

fn dup_onto(fd: RawFd, target: RawFd) -> Result<(), SetupError> {
    // SAFETY: dup2 on fds we own; the target is replaced atomically.
    if unsafe { libc::dup2(fd, target) } < 0 {
        return Err(SetupError(format!(
            "dup2 to fd {target}: {}",
            std::io::Error::last_os_error()
        )));
    }
    Ok(())
}

fn close_fd(fd: RawFd) {
    // SAFETY: closing a standard fd we will not use again.
    unsafe {
        libc::close(fd);
    }
}

/// Make every fd from `first` up close on exec, so nothing but stdio reaches the program.
/// close_range(CLOSE_RANGE_CLOEXEC) needs Linux 5.11; older kernels answer ENOSYS or EINVAL and
/// get the fd-by-fd fallback. Any other failure refuses the run rather than leak an fd.
fn mark_cloexec_from(first: u32) -> Result<(), SetupError> {
    const CLOSE_RANGE_CLOEXEC: libc::c_uint = 1 << 2;
    // SAFETY: close_range only changes fd flags.
    let rc = unsafe { libc::syscall(libc::SYS_close_range, first, u32::MAX, CLOSE_RANGE_CLOEXEC) };
    if rc == 0 {
        return Ok(());
    }
    let e = std::io::Error::last_os_error();
    match e.raw_os_error() {
        Some(libc::ENOSYS | libc::EINVAL) => cloexec_one_by_one(first),
        _ => Err(SetupError(format!("close_range: {e}"))),
    }
}

/// The pre-5.11 way: FD_CLOEXEC on every fd up to the hard RLIMIT_NOFILE (fds cannot be numbered
/// higher), skipping the ones that are not open.
pub(crate) fn cloexec_one_by_one(first: u32) -> Result<(), SetupError> {
    let (_, hard) = nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
        .ctx(|| "getrlimit(RLIMIT_NOFILE)".into())?;
    // The helper's own fds are few and low; a huge hard limit only costs time in this fallback.
    let last = hard.min(1 << 20) as libc::c_int;
    for fd in first as libc::c_int..last {
        // SAFETY: fcntl on an fd number; EBADF for numbers that are not open.
        let rc = unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
        if rc != 0 && std::io::Error::last_os_error().raw_os_error() != Some(libc::EBADF) {
            return Err(SetupError(format!(
                "marking fd {fd} close-on-exec: {}",
                std::io::Error::last_os_error()
            )));
        }
    }
    Ok(())
}

/// Usage of everything the reaper waited for: the program and orphans it adopted.
fn usage() -> Report {
    // SAFETY: getrusage fills the struct we pass.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe {
        libc::getrusage(libc::RUSAGE_CHILDREN, &mut ru);
    }
    let us = |t: libc::timeval| (t.tv_sec as u64) * 1_000_000 + t.tv_usec as u64;
    Report::Usage {
        max_rss_kib: ru.ru_maxrss.max(0) as u64,
        user_us: us(ru.ru_utime),
        system_us: us(ru.ru_stime),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pre_5_11_fallback_marks_every_fd_close_on_exec() {
        // An fd without FD_CLOEXEC, as one inherited by accident would be.
        // SAFETY: dup of stdin's fd number; plain fcntl calls on the copy.
        let fd = unsafe { libc::fcntl(0, libc::F_DUPFD, 100) };
        assert!(fd >= 100, "dup");
        assert_eq!(
            unsafe { libc::fcntl(fd, libc::F_GETFD) } & libc::FD_CLOEXEC,
            0
        );
        cloexec_one_by_one(fd as u32).expect("fallback");
        let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
        unsafe { libc::close(fd) };
        assert_ne!(flags & libc::FD_CLOEXEC, 0, "fd {fd} is still inherited");
    }
}
