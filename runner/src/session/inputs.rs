//! Files added to a live session between cells: what its workspace gained after the session
//! started (a CSV attached to a one-shot run, say). The host writes them into a directory the
//! session's own code controls, so only top-level names, never through a link and never over
//! anything already there.

use std::ffi::CString;
use std::fs::File;
use std::io::Write;
use std::os::fd::{AsRawFd, FromRawFd};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};

use super::Session;
use crate::InputFile;

impl Session {
    /// Whether the session's workdir has an entry (of any kind, links included) named `name`.
    pub fn has_entry(&self, name: &str) -> bool {
        std::fs::symlink_metadata(self.workdir.path().join(name)).is_ok()
    }

    /// Write each of `files` that is a top-level, non-hidden name the workdir lacks, owned like
    /// the workdir; returns the names written. A name the session made meanwhile (a file, a
    /// link, anything) is left alone, and a file that does not fit is not kept half-written.
    pub fn add_missing_files(&mut self, files: &[InputFile]) -> Vec<String> {
        let Ok(dir) = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_DIRECTORY | libc::O_NOFOLLOW)
            .open(self.workdir.path())
        else {
            return Vec::new();
        };
        let owner = dir
            .metadata()
            .ok()
            // SAFETY: geteuid has no preconditions.
            .filter(|m| m.uid() != unsafe { libc::geteuid() })
            .map(|m| (m.uid(), m.gid()));
        let mut written = Vec::new();
        for f in files {
            let name = f.path.as_str();
            if name.is_empty() || name.contains('/') || name.starts_with('.') {
                continue;
            }
            match write_new(&dir, name, &f.content, owner) {
                Ok(()) => {
                    self.known.insert(name.to_string());
                    written.push(name.to_string());
                }
                Err(e) => tracing::debug!(file = name, error = %e, "not added to a live session"),
            }
        }
        written
    }
}

/// Create `name` in `dir` (O_EXCL with O_NOFOLLOW: never an existing entry, never a link) and
/// fill it; on failure nothing of it stays.
fn write_new(
    dir: &File,
    name: &str,
    content: &[u8],
    owner: Option<(u32, u32)>,
) -> std::io::Result<()> {
    let c =
        CString::new(name).map_err(|_| std::io::Error::from(std::io::ErrorKind::InvalidInput))?;
    // SAFETY: openat with a valid directory fd and a NUL-terminated name; returns a new fd or -1.
    let fd = unsafe {
        libc::openat(
            dir.as_raw_fd(),
            c.as_ptr(),
            libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW | libc::O_CLOEXEC,
            0o644 as libc::c_uint,
        )
    };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: a fresh fd owned here.
    let mut file = unsafe { File::from_raw_fd(fd) };
    let filled = (|| {
        if let Some((uid, gid)) = owner {
            std::os::unix::fs::fchown(&file, Some(uid), Some(gid))?;
        }
        file.write_all(content)
    })();
    if filled.is_err() {
        // SAFETY: unlinkat with a valid directory fd and the name just created.
        unsafe { libc::unlinkat(dir.as_raw_fd(), c.as_ptr(), 0) };
    }
    filled
}
