//! The per-run working directory: a size- and inode-capped tmpfs. As root, the parent mounts it
//! (so it can write inputs and read outputs) under `<scratch>/runs/<run id>`, it is bound into the
//! sandbox, and unmounted and removed after the run; stale ones from a crashed process are swept
//! at start-up. Rootless, the helper makes it as a detached mount whose fd the parent holds (see
//! `helper::workdir_tmpfs`): nothing on the host's disk, gone when the fd is closed.

use std::fs;
use std::io::{self, IoSliceMut};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Stdio;

use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags, UnixAddr};

/// One run's workdir on the host.
#[derive(Debug)]
pub(crate) struct Workdir {
    path: PathBuf,
    mounted: bool,
    removed: bool,
    /// Rootless: the detached tmpfs's mount fd (`path` then reaches it through /proc/self/fd).
    handle: Option<OwnedFd>,
}

impl Workdir {
    /// Create it (root mode); a tmpfs of `size` bytes owned by `owner` when `tmpfs`, a plain
    /// directory otherwise. Rootless workdirs come from [`Workdir::create_detached`].
    pub(crate) fn create(
        runs_dir: &Path,
        run_id: &str,
        size: u64,
        inodes: u64,
        owner: Option<(u32, u32)>,
        tmpfs: bool,
    ) -> io::Result<Workdir> {
        let path = runs_dir.join(run_id);
        fs::DirBuilder::new().mode(0o700).create(&path)?;
        let mut wd = Workdir {
            path,
            mounted: false,
            removed: false,
            handle: None,
        };
        if tmpfs {
            let mut opts = format!("size={size},nr_inodes={inodes},mode=0700");
            if let Some((uid, gid)) = owner {
                opts.push_str(&format!(",uid={uid},gid={gid}"));
            }
            mount(
                Some("tmpfs"),
                &wd.path,
                Some("tmpfs"),
                MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
                Some(opts.as_str()),
            )
            .map_err(|e| io::Error::other(format!("mounting the workdir tmpfs: {e}")))?;
            wd.mounted = true;
        }
        Ok(wd)
    }

    /// Rootless: a tmpfs of `size` bytes and `inodes` inodes, made by `helper` in a throwaway
    /// user namespace. A program cannot write past either cap (ENOSPC), and the host's disk never
    /// sees its files.
    pub(crate) async fn create_detached(
        helper: &Path,
        size: u64,
        inodes: u64,
    ) -> io::Result<Workdir> {
        let (ours, theirs) = std::os::unix::net::UnixStream::pair()?;
        let out = tokio::process::Command::new(helper)
            .arg0(crate::helper::PROGRAM_NAME)
            .args(["workdir", &size.to_string(), &inodes.to_string()])
            .env_clear()
            .stdin(Stdio::from(OwnedFd::from(theirs)))
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .output()
            .await?;
        let fd = receive_fd(&ours).ok_or_else(|| {
            io::Error::other(format!(
                "the sandbox helper made no workdir ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ))
        })?;
        Ok(Workdir {
            path: PathBuf::from(format!("/proc/self/fd/{}/.", fd.as_raw_fd())),
            mounted: false,
            removed: false,
            handle: Some(fd),
        })
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// What the helper's spec names as the workdir's source: the host directory, or for a
    /// detached tmpfs `/proc/<our pid>/fd/N` (the helper opens it before leaving our user
    /// namespace) and `true`.
    pub(crate) fn helper_source(&self) -> (PathBuf, bool) {
        match &self.handle {
            Some(fd) => (
                PathBuf::from(format!(
                    "/proc/{}/fd/{}",
                    std::process::id(),
                    fd.as_raw_fd()
                )),
                true,
            ),
            None => (self.path.clone(), false),
        }
    }

    /// Unmount and delete it.
    pub(crate) fn remove(&mut self) {
        if self.removed {
            return;
        }
        self.removed = true;
        if self.handle.take().is_some() {
            // Closing the last reference frees the tmpfs, whatever modes the program set.
            return;
        }
        if self.mounted {
            if let Err(e) = umount2(&self.path, MntFlags::MNT_DETACH) {
                tracing::error!(path = %self.path.display(), "unmounting a workdir: {e}");
            }
        }
        if let Err(e) = remove_tree(&self.path) {
            tracing::error!(path = %self.path.display(), "removing a workdir: {e}");
        }
    }
}

/// The fd the workdir helper sent on `socket` (it has exited, so it is there or never will be).
fn receive_fd(socket: &std::os::unix::net::UnixStream) -> Option<OwnedFd> {
    let mut byte = [0u8; 1];
    let mut iov = [IoSliceMut::new(&mut byte)];
    let mut space = nix::cmsg_space!([RawFd; 1]);
    let msg = recvmsg::<UnixAddr>(
        socket.as_raw_fd(),
        &mut iov,
        Some(&mut space),
        MsgFlags::MSG_DONTWAIT | MsgFlags::MSG_CMSG_CLOEXEC,
    )
    .ok()?;
    let mut got = None;
    for c in msg.cmsgs().ok()? {
        if let ControlMessageOwned::ScmRights(fds) = c {
            for f in fds {
                // SAFETY: an fd the kernel just installed for us; nobody else owns it.
                let owned = unsafe { OwnedFd::from_raw_fd(f) };
                got.get_or_insert(owned);
            }
        }
    }
    got
}

/// Delete a directory tree the program may have left unreadable (`chmod 000` on a
/// subdirectory stops even its owner from listing it, and rootless there is no CAP_DAC_OVERRIDE):
/// on failure, give every directory back its owner's rwx, never through a symlink, and retry.
pub(crate) fn remove_tree(path: &Path) -> io::Result<()> {
    match fs::remove_dir_all(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(_) => {
            make_removable(path, 0);
            fs::remove_dir_all(path)
        }
    }
}

/// Deeper than any workdir can be (its inode cap and the kernel's path limits bound it anyway).
const MAX_DEPTH: usize = 4096;

fn make_removable(dir: &Path, depth: usize) {
    let Ok(meta) = fs::symlink_metadata(dir) else {
        return;
    };
    if !meta.is_dir() || depth > MAX_DEPTH {
        return;
    }
    let _ = fs::set_permissions(dir, fs::Permissions::from_mode(0o700));
    if let Ok(entries) = fs::read_dir(dir) {
        for e in entries.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                make_removable(&e.path(), depth + 1);
            }
        }
    }
}

impl Drop for Workdir {
    fn drop(&mut self) {
        self.remove();
    }
}

/// Remove workdirs under `runs_dir` whose run id `is_stale`: unmount (it may still be a tmpfs
/// from a crashed process), then delete without following symlinks.
pub(crate) fn sweep(runs_dir: &Path, is_stale: impl Fn(&str) -> bool) -> usize {
    let Ok(entries) = fs::read_dir(runs_dir) else {
        return 0;
    };
    let mut removed = 0;
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if !is_stale(&name) {
            continue;
        }
        let path = e.path();
        // Several stacked mounts are possible in theory; unmount until it is a plain directory.
        while umount2(&path, MntFlags::MNT_DETACH).is_ok() {}
        if remove_tree(&path).is_ok() {
            removed += 1;
        }
    }
    removed
}
