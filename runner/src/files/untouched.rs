//! The common case of a run that wrote no file, told without the full output scan: a look at
//! the workdir's top level, cheap and bounded enough to do inline rather than on a blocking
//! thread (whose two thread hops cost a fast run more than the look itself).

use std::ffi::OsStr;
use std::path::Path;

use nix::dir::Dir;
use nix::fcntl::AtFlags;
use nix::sys::stat::fstatat;

use super::{open_dir_at, stat_stamp, Snapshot};

/// Most directory entries the look reads before it leaves the answer to the full scan.
const MAX_ENTRIES: usize = 64;

impl Snapshot {
    /// Whether `dir` is exactly as the snapshot recorded it, so [`super::collect_outputs`]
    /// would find nothing: every input sits at the top level, and the top level holds those
    /// names and no other (dot-files aside, which the scan skips too), each still the same
    /// regular file (inode, size, mtime). `false` says only "scan to know".
    pub(crate) fn untouched(&self, dir: &Path) -> bool {
        if self.0.keys().any(|k| k.contains('/')) {
            return false;
        }
        let Ok(fd) = open_dir_at(None, dir.as_os_str()) else {
            return false;
        };
        let Ok(mut listing) = Dir::from_fd(fd) else {
            return false;
        };
        let mut seen = 0usize;
        let mut read = 0usize;
        let mut names = Vec::new();
        for entry in listing.iter() {
            read += 1;
            let Ok(entry) = entry else { return false };
            let name = entry.file_name().to_bytes();
            if read > MAX_ENTRIES {
                return false;
            }
            if name.first() == Some(&b'.') {
                continue;
            }
            let Ok(name) = std::str::from_utf8(name) else {
                return false;
            };
            if !self.0.contains_key(name) {
                return false;
            }
            seen += 1;
            names.push(name.to_string());
        }
        if seen != self.0.len() {
            return false;
        }
        let dir_fd = std::os::fd::AsFd::as_fd(&listing);
        names.iter().all(|name| {
            fstatat(dir_fd, OsStr::new(name), AtFlags::AT_SYMLINK_NOFOLLOW).is_ok_and(|st| {
                st.st_mode & libc::S_IFMT == libc::S_IFREG
                    && self.0.get(name) == Some(&stat_stamp(&st))
            })
        })
    }
}
