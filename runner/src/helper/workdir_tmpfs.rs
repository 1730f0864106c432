//! The rootless workdir: a size- and inode-capped tmpfs that an unprivileged coderunner cannot
//! mount on the host, so the helper makes it in a throwaway user + mount namespace as a detached
//! mount (fsopen/fsmount), hands coderunner the mount's fd, and each stage's sandbox attaches a
//! clone of it at the workdir. Nothing of it is on the host's disk or in the host's mount table;
//! it is gone when coderunner closes the fd.

use std::ffi::CString;
use std::io::IoSlice;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::Path;

use nix::sched::{unshare, CloneFlags};
use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags, UnixAddr};
use nix::unistd::{getegid, geteuid};

use super::namespaces::{die_with_parent, write_id_maps};
use super::{Context, SetupError};

// <linux/mount.h>; libc has the syscall numbers but not every flag.
const FSOPEN_CLOEXEC: libc::c_uint = 0x1;
const FSCONFIG_SET_STRING: libc::c_uint = 1;
const FSCONFIG_CMD_CREATE: libc::c_uint = 6;
const FSMOUNT_CLOEXEC: libc::c_uint = 0x1;
const MOUNT_ATTR_NOSUID: libc::c_uint = 0x2;
const MOUNT_ATTR_NODEV: libc::c_uint = 0x4;
const OPEN_TREE_CLONE: libc::c_uint = 0x1;
const OPEN_TREE_CLOEXEC: libc::c_uint = libc::O_CLOEXEC as libc::c_uint;
const MOVE_MOUNT_F_EMPTY_PATH: libc::c_uint = 0x4;

/// `coderunner-sandbox workdir SIZE INODES` (fd 0: a Unix socket to coderunner): make the tmpfs
/// and send its mount fd back; exits 0 once sent. Errors go to stderr, which coderunner logs.
pub(crate) fn create_main(size: &str, inodes: &str) -> i32 {
    // SAFETY: fd 0 is the socket coderunner passed as our stdin; we own it from here on.
    let control = unsafe { OwnedFd::from_raw_fd(0) };
    let result = (|| {
        let size: u64 = size.parse().ctx(|| format!("workdir size `{size}`"))?;
        let inodes: u64 = inodes
            .parse()
            .ctx(|| format!("workdir inodes `{inodes}`"))?;
        die_with_parent(&control)?;
        let mount = make(size, inodes)?;
        let fds = [mount.as_raw_fd()];
        sendmsg::<UnixAddr>(
            control.as_raw_fd(),
            &[IoSlice::new(b"w")],
            &[ControlMessage::ScmRights(&fds)],
            MsgFlags::MSG_NOSIGNAL,
            None,
        )
        .ctx(|| "sending the workdir's mount fd".into())?;
        Ok::<(), SetupError>(())
    })();
    match result {
        Ok(()) => 0,
        Err(SetupError(message)) => {
            eprintln!("coderunner-sandbox workdir: {message}");
            1
        }
    }
}

/// A detached tmpfs of `size` bytes and `inodes` inodes, owned by the caller's ids, nosuid and
/// nodev. Made in a user namespace of our own (the only place an unprivileged process may create
/// a tmpfs); the mount outlives it for as long as an fd refers to it.
fn make(size: u64, inodes: u64) -> Result<OwnedFd, SetupError> {
    let (uid, gid) = (geteuid().as_raw(), getegid().as_raw());
    unshare(CloneFlags::CLONE_NEWUSER | CloneFlags::CLONE_NEWNS)
        .ctx(|| "unshare(user + mount namespace) for the workdir".into())?;
    write_id_maps(0, uid, 0, gid)?;
    let fs = check_fd(
        // SAFETY: fsopen with a NUL-terminated name and flags; returns a new fd or -1.
        unsafe { libc::syscall(libc::SYS_fsopen, c"tmpfs".as_ptr(), FSOPEN_CLOEXEC) },
        "fsopen(tmpfs)",
    )?;
    for (key, value) in [
        ("source", "workdir".to_string()),
        ("size", size.to_string()),
        ("nr_inodes", inodes.to_string()),
        ("mode", "0700".to_string()),
    ] {
        let (k, v) = (cstring(key)?, cstring(&value)?);
        // SAFETY: fsconfig on our fs context with NUL-terminated key and value.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_fsconfig,
                fs.as_raw_fd(),
                FSCONFIG_SET_STRING,
                k.as_ptr(),
                v.as_ptr(),
                0,
            )
        };
        check(rc, || format!("fsconfig {key}={value}"))?;
    }
    // SAFETY: fsconfig's create command takes no key or value.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_fsconfig,
            fs.as_raw_fd(),
            FSCONFIG_CMD_CREATE,
            std::ptr::null::<libc::c_char>(),
            std::ptr::null::<libc::c_void>(),
            0,
        )
    };
    check(rc, || "creating the workdir tmpfs".into())?;
    check_fd(
        // SAFETY: fsmount of a created fs context; returns a new fd or -1.
        unsafe {
            libc::syscall(
                libc::SYS_fsmount,
                fs.as_raw_fd(),
                FSMOUNT_CLOEXEC,
                MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV,
            )
        },
        "fsmount(workdir)",
    )
}

/// Open the workdir handle `path` (`/proc/PID/fd/N` of coderunner's mount fd). Must happen
/// before the helper enters its user namespace: from inside it, coderunner's fds are out of
/// reach.
pub(crate) fn open_handle(path: &Path) -> Result<OwnedFd, SetupError> {
    let p = cstring(&path.to_string_lossy())?;
    check_fd(
        // SAFETY: open with a NUL-terminated path; returns a new fd or -1.
        libc::c_long::from(unsafe {
            libc::open(
                p.as_ptr(),
                libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC,
            )
        }),
        "opening the workdir handle",
    )
}

/// Attach the workdir at `at` (in our mount namespace): a clone of the detached tmpfs, so the
/// next stage of the run can attach it again. A kernel that cannot clone a detached mount from a
/// user namespace (before Linux 6.15) gets the mount itself, which works once: runs with a
/// compile stage then fail at their second stage instead of going on without a capped workdir.
pub(crate) fn attach(handle: &OwnedFd, at: &Path) -> Result<(), SetupError> {
    // SAFETY: open_tree on our O_PATH fd with an empty path; returns a new fd or -1.
    let clone = unsafe {
        libc::syscall(
            libc::SYS_open_tree,
            handle.as_raw_fd(),
            c"".as_ptr(),
            OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | libc::AT_EMPTY_PATH as libc::c_uint,
        )
    };
    let clone = if clone < 0 && nix::errno::Errno::last() == nix::errno::Errno::EINVAL {
        None
    } else {
        Some(check_fd(clone, "cloning the workdir mount")?)
    };
    let from: RawFd = clone.as_ref().unwrap_or(handle).as_raw_fd();
    let to = cstring(&at.to_string_lossy())?;
    // SAFETY: move_mount from an fd (empty path) to a NUL-terminated absolute path.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            from,
            c"".as_ptr(),
            libc::AT_FDCWD,
            to.as_ptr(),
            MOVE_MOUNT_F_EMPTY_PATH,
        )
    };
    check(rc, || {
        "attaching the workdir (rootless mode needs Linux 6.15 or newer for runs with a compile stage)".into()
    })
}

fn cstring(s: &str) -> Result<CString, SetupError> {
    CString::new(s).map_err(|_| SetupError(format!("a NUL byte in {s:?}")))
}

fn check(rc: libc::c_long, what: impl FnOnce() -> String) -> Result<(), SetupError> {
    if rc == 0 {
        Ok(())
    } else {
        Err(SetupError(format!(
            "{}: {}",
            what(),
            std::io::Error::last_os_error()
        )))
    }
}

fn check_fd(rc: libc::c_long, what: &str) -> Result<OwnedFd, SetupError> {
    if rc < 0 {
        return Err(SetupError(format!(
            "{what}: {}",
            std::io::Error::last_os_error()
        )));
    }
    // SAFETY: the kernel just returned this fd to us; nobody else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(rc as RawFd) })
}
