//! Package sets appear in the sandbox as read-only overlayfs mounts, not binds, so that
//! `/proc/self/mountinfo` inside shows no host path.
//!
//! A bind mount's root field in mountinfo is the bound directory's path within its filesystem,
//! which for a package set is the host's `data_dir/envs/<set>/...`. An overlay is a filesystem of
//! its own (root `/`, source `overlay`), and its options show the lower layers as they were
//! named: here `/proc/self/fd/<n>` of the helper, which says nothing about the host. Without an
//! upper layer overlayfs wants two lower layers; the second is an empty tmpfs, detached again
//! once the overlay is mounted (overlayfs keeps private clones of its layers' mounts). An empty
//! directory of the root tmpfs would not do: removed, it stays referenced, and the root's
//! read-only remount then fails with EBUSY; kept, the program would see it.

use std::fs::{self, File};
use std::os::fd::AsRawFd;
use std::path::Path;

use nix::mount::{mount, umount2, MntFlags, MsFlags};

use super::{Context, SetupError};

/// Mount `host` (a directory) read-only at `dst`, through an overlay. `scratch` is a writable
/// directory of the sandbox's own root tmpfs, for the empty second layer.
pub(crate) fn mount_read_only(host: &Path, dst: &Path, scratch: &Path) -> Result<(), SetupError> {
    let lower = File::open(host).ctx(|| format!("opening the package set {}", host.display()))?;
    let empty_dir = scratch.join(".coderunner-empty-layer");
    fs::create_dir(&empty_dir).ctx(|| format!("creating {}", empty_dir.display()))?;
    mount(
        Some("tmpfs"),
        &empty_dir,
        Some("tmpfs"),
        MsFlags::MS_RDONLY | MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
        Some("size=4k,nr_inodes=1,mode=0755"),
    )
    .ctx(|| format!("mounting an empty tmpfs on {}", empty_dir.display()))?;
    let result = File::open(&empty_dir)
        .ctx(|| format!("opening {}", empty_dir.display()))
        .and_then(|empty| {
            fs::create_dir_all(dst).ctx(|| format!("creating {}", dst.display()))?;
            let options = format!(
                "lowerdir=/proc/self/fd/{}:/proc/self/fd/{}",
                lower.as_raw_fd(),
                empty.as_raw_fd()
            );
            mount(
                Some("overlay"),
                dst,
                Some("overlay"),
                MsFlags::MS_RDONLY | MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
                Some(options.as_str()),
            )
            .ctx(|| format!("mounting the package set {} (overlayfs)", host.display()))
        });
    let detached = umount2(&empty_dir, MntFlags::MNT_DETACH)
        .ctx(|| format!("detaching {}", empty_dir.display()));
    let removed = fs::remove_dir(&empty_dir).ctx(|| format!("removing {}", empty_dir.display()));
    result.and(detached).and(removed)
}
