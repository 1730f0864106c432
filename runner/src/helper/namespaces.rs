//! Namespaces: dying with the parent, unsharing mount/pid/net/ipc/uts/cgroup (and user when
//! rootless), and the ID maps a rootless sandbox needs.

use std::fs;

use nix::sched::{unshare, CloneFlags};
use nix::sys::prctl;
use nix::sys::signal::Signal;
use nix::unistd::{getegid, geteuid, getppid};

use super::{netns, Context, SetupError};
use crate::protocol::{HelperSpec, Isolation, Network};

/// Ask for SIGKILL when the parent dies, and bail out if it already has (the prctl only covers
/// deaths after it is made).
pub(crate) fn die_with_parent(expected_parent: Option<i32>) -> Result<(), SetupError> {
    prctl::set_pdeathsig(Signal::SIGKILL).ctx(|| "PR_SET_PDEATHSIG".into())?;
    if let Some(pid) = expected_parent {
        if getppid().as_raw() != pid {
            return Err(SetupError("the parent process is gone".into()));
        }
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
    match &spec.network {
        Network::Isolated => flags |= CloneFlags::CLONE_NEWNET,
        // Joined before any user namespace: setns needs CAP_SYS_ADMIN over the netns's owner.
        Network::Join(path) => netns::join(path)?,
        Network::Host => {}
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
