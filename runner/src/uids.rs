//! Per-run uids: each concurrent run holds one uid of the configured range, leased with an
//! advisory lock file so concurrent coderunner processes (the bot and a `coderunner run`) never
//! hand out the same uid. A lock dies with its process, so a crash leaks nothing.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

/// The pool of uids `[first, last]`.
#[derive(Debug)]
pub(crate) struct UidPool {
    dir: PathBuf,
    first: u32,
    last: u32,
    next: AtomicU32,
}

/// A uid held for the duration of one run.
#[derive(Debug)]
pub(crate) struct UidLease {
    pub uid: u32,
    _lock: File,
}

impl UidPool {
    pub(crate) fn new(dir: PathBuf, first: u32, last: u32) -> io::Result<UidPool> {
        fs::create_dir_all(&dir)?;
        // Start at a per-process offset so two processes rarely contend for the same lock.
        let span = last - first + 1;
        let start = first + std::process::id() % span;
        Ok(UidPool {
            dir,
            first,
            last,
            next: AtomicU32::new(start),
        })
    }

    /// Lease a free uid, or `None` when every uid of the range is in use.
    pub(crate) fn lease(&self) -> io::Result<Option<UidLease>> {
        let span = self.last - self.first + 1;
        for _ in 0..span {
            let n = self.next.fetch_add(1, Ordering::Relaxed);
            let uid = self.first + (n - self.first) % span;
            let file = OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(self.dir.join(uid.to_string()))?;
            // SAFETY: flock on an fd we own.
            let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
            if rc == 0 {
                return Ok(Some(UidLease { uid, _lock: file }));
            }
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concurrent_leases_differ_and_are_released() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let pool = UidPool::new(tmp.path().to_path_buf(), 500, 501).expect("pool");
        let a = pool.lease().expect("io").expect("first");
        let b = pool.lease().expect("io").expect("second");
        assert_ne!(a.uid, b.uid);
        assert!(
            pool.lease().expect("io").is_none(),
            "range of two is exhausted"
        );
        drop(a);
        assert!(pool.lease().expect("io").is_some());
    }
}
