//! Namespaces: dying with the parent, unsharing mount/pid/net/ipc/uts/cgroup (and user when
//! rootless), and the ID maps a rootless sandbox needs.

use std::fs;
use std::os::fd::{AsFd, AsRawFd};

use nix::sched::{unshare, CloneFlags};
use nix::sys::prctl;
use nix::sys::signal::Signal;
use nix::unistd::{getegid, geteuid, getppid};

use super::{Context, SetupError};
use crate::protocol::{HelperSpec, Isolation, Network};

/// Ask for SIGKILL when the parent dies, and bail out if it already has (the prctl only covers
/// deaths after it is made). The parent's pid comes from the control socket's peer credentials
/// (socketpair records its creator), not from argv: argv is what `/proc/1/cmdline` shows inside
/// the sandbox, and the bot's host pid is none of the program's business.
pub(crate) fn die_with_parent(control: &impl AsFd) -> Result<(), SetupError> {
    prctl::set_pdeathsig(Signal::SIGKILL).ctx(|| "PR_SET_PDEATHSIG".into())?;
    // SAFETY: getsockopt fills a ucred of the size we pass.
    let mut creds: libc::ucred = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
    let rc = unsafe {
        libc::getsockopt(
            control.as_fd().as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            (&mut creds as *mut libc::ucred).cast(),
            &mut len,
        )
    };
    if rc != 0 {
        return Err(SetupError(format!(
            "reading the control socket's peer credentials: {}",
            std::io::Error::last_os_error()
        )));
    }
    if getppid().as_raw() != creds.pid {
        return Err(SetupError("the parent process is gone".into()));
    }
    Ok(())
}

/// Enter the run's namespaces. After this the next fork becomes PID 1 of the new pid namespace.
pub(crate) fn enter(spec: &HelperSpec) -> Result<(), SetupError> {
    let mut flags = CloneFlags::CLONE_NEWNS
        | CloneFlags::CLONE_NEWPID
        | CloneFlags::CLONE_NEWIPC
        | CloneFlags::CLONE_NEWUTS
        | CloneFlags::CLONE_NEWCGROUP;
    // Every run gets a network namespace of its own (about 0.6 ms here): a shared one, even
    // empty, lets concurrent runs reach each other over netlink and see each other's sockets in
    // /proc/net.
    if spec.network == Network::Isolated {
        flags |= CloneFlags::CLONE_NEWNET;
    }
    match spec.isolation {
        Isolation::Root { .. } => unshare(flags).ctx(|| "unshare(namespaces)".into()),
        Isolation::Rootless {
            outer_uid,
            outer_gid,
        } => {
            unshare(flags | CloneFlags::CLONE_NEWUSER)
                .ctx(|| "unshare(user + namespaces)".into())?;
            // Map the caller to root of the new user namespace: enough to mount and pivot.
            write_id_maps(0, outer_uid, 0, outer_gid)
        }
    }
}

/// Write this process's uid/gid maps (one line each, as an unprivileged process may).
pub(crate) fn write_id_maps(
    inside_uid: u32,
    outside_uid: u32,
    inside_gid: u32,
    outside_gid: u32,
) -> Result<(), SetupError> {
    fs::write("/proc/self/setgroups", "deny").ctx(|| "writing /proc/self/setgroups".into())?;
    fs::write(
        "/proc/self/uid_map",
        format!("{inside_uid} {outside_uid} 1\n"),
    )
    .ctx(|| "writing /proc/self/uid_map".into())?;
    fs::write(
        "/proc/self/gid_map",
        format!("{inside_gid} {outside_gid} 1\n"),
    )
    .ctx(|| "writing /proc/self/gid_map".into())
}

/// Rootless only: move the program into a nested user namespace where it is an ordinary user, so
/// it holds no capabilities over the namespaces the helper built.
pub(crate) fn drop_into_nested_userns(inner_id: u32) -> Result<(), SetupError> {
    let (uid, gid) = (geteuid().as_raw(), getegid().as_raw());
    unshare(CloneFlags::CLONE_NEWUSER).ctx(|| "unshare(nested user namespace)".into())?;
    write_id_maps(inner_id, uid, inner_id, gid)
}
