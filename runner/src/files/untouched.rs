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
            names.push(name.to_string());
        }
        if names.len() != self.0.len() {
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::super::{collect_outputs, write_inputs, CollectLimits, Snapshot};
    use crate::request::InputFile;

    fn input(path: &str, content: &str) -> InputFile {
        InputFile {
            path: path.into(),
            content: content.as_bytes().to_vec(),
        }
    }

    /// A workdir with `inputs` written and snapshotted, changed by `change`; returns what the
    /// look says, after checking it never contradicts the full scan.
    fn look(inputs: &[InputFile], change: impl FnOnce(&std::path::Path)) -> bool {
        let dir = tempfile::tempdir().expect("temp dir");
        write_inputs(dir.path(), inputs, None).expect("inputs written");
        let snapshot = Snapshot::of_inputs(dir.path(), inputs);
        change(dir.path());
        let untouched = snapshot.untouched(dir.path());
        let limits = CollectLimits {
            max_files: 10,
            max_total_bytes: 1 << 20,
            max_depth: 8,
            max_entries: 1000,
            max_time: Duration::from_secs(5),
        };
        if untouched {
            assert!(
                collect_outputs(dir.path(), &snapshot, limits).is_empty(),
                "the look said untouched, the scan found outputs"
            );
        }
        untouched
    }

    #[test]
    fn only_a_workdir_left_as_its_inputs_is_untouched() {
        let inputs = [input("main.sh", "echo 1\n"), input("data.csv", "a\n1\n")];
        assert!(look(&inputs, |_| {}));
        assert!(look(&inputs, |d| std::fs::write(d.join(".hidden"), "x")
            .expect("w")));
        assert!(look(&[], |_| {}));
        assert!(!look(&inputs, |d| std::fs::write(d.join("out.txt"), "x")
            .expect("w")));
        assert!(!look(&inputs, |d| std::fs::write(
            d.join("data.csv"),
            "b\n2\n3\n"
        )
        .expect("w")));
        assert!(!look(&inputs, |d| {
            std::fs::remove_file(d.join("data.csv")).expect("rm");
            std::fs::write(d.join("data.csv"), "a\n1\n").expect("w");
        }));
        assert!(!look(&inputs, |d| std::fs::remove_file(d.join("data.csv"))
            .expect("rm")));
        assert!(!look(&inputs, |d| std::fs::create_dir(d.join("plots"))
            .expect("mkdir")));
        assert!(!look(&inputs, |d| {
            std::fs::remove_file(d.join("data.csv")).expect("rm");
            std::os::unix::fs::symlink("/etc/passwd", d.join("data.csv")).expect("ln");
        }));
        // An input below the top level: the full scan decides.
        assert!(!look(&[input("lib/util.py", "x = 1\n")], |_| {}));
    }
}
