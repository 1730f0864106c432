//! The workdir's files: validating and writing input files, and collecting output files the
//! program created or changed, without following symlinks and within count, size, depth and time
//! caps.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsStr;
use std::fs::{self, File};
use std::io::{self, Read};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;
use std::time::{Duration, Instant};

use nix::dir::Dir;
use nix::fcntl::{openat, AtFlags, OFlag};
use nix::sys::stat::{fstatat, FileStat, Mode};

use crate::mime::guess_mime;
use crate::outcome::OutputFile;
use crate::request::InputFile;

mod untouched;

/// Longest accepted input path, in bytes.
pub const MAX_PATH_BYTES: usize = 255;
/// Most path components of an input file.
pub const MAX_PATH_DEPTH: usize = 8;
/// Names reserved for the runner's own files in the workdir (compiled programs).
pub const RESERVED_PREFIX: &str = ".coderunner";

/// Why an input file name was refused. Each message says what is wrong and what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FileNameError {
    #[error("a file name is empty; give every file a name such as `data.csv`")]
    Empty,
    #[error("file name `{0}` is absolute; use a path relative to the working directory, e.g. `data/input.txt`")]
    Absolute(String),
    #[error("file name `{0}` contains `..`; files must stay inside the working directory")]
    ParentDir(String),
    #[error("file name {0:?} contains a NUL byte; remove it")]
    Nul(String),
    #[error("file name `{name}` is {len} bytes long; the limit is {MAX_PATH_BYTES}")]
    TooLong { name: String, len: usize },
    #[error("file name `{0}` is nested too deeply; at most {MAX_PATH_DEPTH} directory levels are allowed")]
    TooDeep(String),
    #[error("file name `{0}` has an empty or `.` component; write it as a plain relative path like `dir/file.txt`")]
    BadComponent(String),
    #[error("file name `{0}` contains a control character; rename the file")]
    Control(String),
    #[error("file name `{0}` is reserved for the runner; rename the file")]
    Reserved(String),
    #[error("two files are both called `{0}`; rename one of them")]
    Duplicate(String),
    #[error("`{file}` is a file, but `{nested}` needs it to be a directory; rename one of them")]
    FileDirClash { file: String, nested: String },
}

/// Check one input file name: relative, no `..`, no NUL or control characters, at most
/// [`MAX_PATH_BYTES`] bytes and [`MAX_PATH_DEPTH`] components.
pub fn validate_input_path(name: &str) -> Result<(), FileNameError> {
    if name.is_empty() {
        return Err(FileNameError::Empty);
    }
    if name.contains('\0') {
        return Err(FileNameError::Nul(name.to_string()));
    }
    if name.len() > MAX_PATH_BYTES {
        return Err(FileNameError::TooLong {
            name: name.chars().take(40).collect::<String>() + "…",
            len: name.len(),
        });
    }
    if name.starts_with('/') {
        return Err(FileNameError::Absolute(name.to_string()));
    }
    if name.chars().any(char::is_control) {
        return Err(FileNameError::Control(name.escape_default().to_string()));
    }
    let parts: Vec<&str> = name.split('/').collect();
    if parts.contains(&"..") {
        return Err(FileNameError::ParentDir(name.to_string()));
    }
    if parts.iter().any(|p| p.is_empty() || *p == ".") {
        return Err(FileNameError::BadComponent(name.to_string()));
    }
    if parts.len() > MAX_PATH_DEPTH {
        return Err(FileNameError::TooDeep(name.to_string()));
    }
    if parts[0].starts_with(RESERVED_PREFIX) {
        return Err(FileNameError::Reserved(name.to_string()));
    }
    Ok(())
}

/// Check a whole set of input names: each valid, no duplicates, and no name that is both a file
/// and a directory (`dir` and `dir/x`).
pub fn validate_input_set<'a>(
    names: impl IntoIterator<Item = &'a str>,
) -> Result<(), FileNameError> {
    let mut files = BTreeSet::new();
    for name in names {
        validate_input_path(name)?;
        if !files.insert(name) {
            return Err(FileNameError::Duplicate(name.to_string()));
        }
    }
    for name in &files {
        let mut prefix = String::new();
        for part in name
            .split('/')
            .collect::<Vec<_>>()
            .iter()
            .rev()
            .skip(1)
            .rev()
        {
            if !prefix.is_empty() {
                prefix.push('/');
            }
            prefix.push_str(part);
            if files.contains(prefix.as_str()) {
                return Err(FileNameError::FileDirClash {
                    file: prefix.clone(),
                    nested: name.to_string(),
                });
            }
        }
    }
    Ok(())
}

/// Write the input files under `dir`, owned by `owner` (uid, gid) so the program may change them.
pub(crate) fn write_inputs(
    dir: &Path,
    files: &[InputFile],
    owner: Option<(u32, u32)>,
) -> io::Result<()> {
    for f in files {
        let mut at = dir.to_path_buf();
        let parts: Vec<&str> = f.path.split('/').collect();
        for part in &parts[..parts.len() - 1] {
            at.push(part);
            match fs::create_dir(&at) {
                Ok(()) => chown(&at, owner)?,
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(e),
            }
        }
        at.push(parts[parts.len() - 1]);
        fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o644)
            .open(&at)
            .and_then(|mut file| io::Write::write_all(&mut file, &f.content))?;
        chown(&at, owner)?;
    }
    Ok(())
}

fn chown(path: &Path, owner: Option<(u32, u32)>) -> io::Result<()> {
    match owner {
        Some((uid, gid)) => std::os::unix::fs::lchown(path, Some(uid), Some(gid)),
        None => Ok(()),
    }
}

/// Identity of a file before the run, to tell unchanged inputs from outputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    ino: u64,
    size: u64,
    mtime_ns: i128,
}

/// The files in the workdir before the program ran.
#[derive(Debug, Default, Clone)]
pub(crate) struct Snapshot(BTreeMap<String, Stamp>);

fn stamp(meta: &fs::Metadata) -> Stamp {
    Stamp {
        ino: meta.ino(),
        size: meta.size(),
        mtime_ns: i128::from(meta.mtime()) * 1_000_000_000 + i128::from(meta.mtime_nsec()),
    }
}

impl Snapshot {
    /// Record the given (already written, trusted) input files.
    pub(crate) fn of_inputs(dir: &Path, files: &[InputFile]) -> Snapshot {
        Snapshot(
            files
                .iter()
                .filter_map(|f| {
                    let meta = fs::symlink_metadata(dir.join(&f.path)).ok()?;
                    Some((f.path.clone(), stamp(&meta)))
                })
                .collect(),
        )
    }
}

impl Snapshot {
    /// Record the files at `paths` as they are now (a session's workdir after a cell).
    pub(crate) fn of_paths<'a>(dir: &Path, paths: impl IntoIterator<Item = &'a str>) -> Snapshot {
        Snapshot(
            paths
                .into_iter()
                .filter_map(|p| {
                    let meta = fs::symlink_metadata(dir.join(p)).ok()?;
                    meta.is_file().then(|| (p.to_string(), stamp(&meta)))
                })
                .collect(),
        )
    }
}

/// Read the regular file `rel` beneath `dir` (hidden names included), at most `max` bytes, the
/// way [`collect_outputs`] does: never through a symlink, never blocking on a FIFO.
pub(crate) fn read_beneath(dir: &Path, rel: &str, max: u64) -> Option<Vec<u8>> {
    let root = open_dir_at(None, dir.as_os_str()).ok()?;
    read_regular(&root, rel, max)
}

/// Caps of the output-file scan.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CollectLimits {
    pub max_files: usize,
    pub max_total_bytes: u64,
    pub max_depth: usize,
    pub max_entries: usize,
    pub max_time: Duration,
}

/// Regular, non-hidden files under `dir` that are new or changed since `before`, sorted by path.
/// Symlinks, devices, FIFOs and sockets are skipped without being opened through; a file too big
/// for what is left of the byte budget is skipped, never truncated.
///
/// The walk never resolves a path string: every directory and file is opened relative to its
/// parent's fd with `O_NOFOLLOW`, starting from an fd of `dir`, so a directory swapped for a
/// symlink (to `/etc`, say) fails to open instead of leading out of the workdir. The runner calls
/// this only once every process of the run is gone; the fd walk is the second wall.
pub(crate) fn collect_outputs(
    dir: &Path,
    before: &Snapshot,
    limits: CollectLimits,
) -> Vec<OutputFile> {
    let Ok(root) = open_dir_at(None, dir.as_os_str()) else {
        return Vec::new();
    };
    let started = Instant::now();
    let mut found: Vec<(String, u64)> = Vec::new();
    let mut visited = 0usize;
    let mut stack: Vec<(String, usize)> = vec![(String::new(), 0)];
    'walk: while let Some((rel, depth)) = stack.pop() {
        let Ok(fd) = open_beneath(&root, &rel, true) else {
            continue;
        };
        let Ok(mut listing) = Dir::from_fd(fd) else {
            continue;
        };
        let mut names: Vec<String> = listing
            .iter()
            .flatten()
            // not UTF-8: cannot be named in the reply
            .filter_map(|e| e.file_name().to_str().ok().map(str::to_string))
            .filter(|n| !n.starts_with('.'))
            .collect();
        names.sort();
        let dir_fd = listing.as_fd();
        // Reverse so the stack pops in name order.
        for name in names.into_iter().rev() {
            visited += 1;
            if visited > limits.max_entries || started.elapsed() > limits.max_time {
                tracing::warn!(visited, "output file scan stopped at its cap");
                break 'walk;
            }
            let Ok(st) = fstatat(dir_fd, name.as_str(), AtFlags::AT_SYMLINK_NOFOLLOW) else {
                continue;
            };
            let child_rel = if rel.is_empty() {
                name
            } else {
                format!("{rel}/{name}")
            };
            let kind = st.st_mode & libc::S_IFMT;
            if kind == libc::S_IFDIR {
                if depth + 1 < limits.max_depth {
                    stack.push((child_rel, depth + 1));
                }
            } else if kind == libc::S_IFREG && before.0.get(&child_rel) != Some(&stat_stamp(&st)) {
                found.push((child_rel, st.st_size.max(0) as u64));
            }
        }
    }
    found.sort();
    let mut out = Vec::new();
    let mut budget = limits.max_total_bytes;
    for (rel, size) in found {
        if out.len() >= limits.max_files {
            break;
        }
        if size > budget {
            continue;
        }
        if let Some(content) = read_regular(&root, &rel, size) {
            budget -= content.len() as u64;
            out.push(OutputFile {
                mime: guess_mime(&rel, &content).to_string(),
                size: content.len() as u64,
                path: rel,
                content,
            });
        }
    }
    out
}

fn stat_stamp(st: &FileStat) -> Stamp {
    Stamp {
        ino: st.st_ino,
        size: st.st_size.max(0) as u64,
        mtime_ns: i128::from(st.st_mtime) * 1_000_000_000 + i128::from(st.st_mtime_nsec),
    }
}

/// Open a directory relative to `parent` (or the current directory) without following a symlink.
fn open_dir_at(parent: Option<&OwnedFd>, name: &OsStr) -> nix::Result<OwnedFd> {
    let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    match parent {
        Some(p) => openat(p, name, flags, Mode::empty()),
        None => nix::fcntl::open(name, flags, Mode::empty()),
    }
}

/// Open `rel` (slash-separated, no `..`) beneath `root` one component at a time, each with
/// `O_NOFOLLOW` (what openat2's RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS does, on every kernel): a
/// directory when `dir`, else a regular file opened non-blocking (a FIFO swapped in cannot hang
/// the scan).
fn open_beneath(root: &OwnedFd, rel: &str, dir: bool) -> nix::Result<OwnedFd> {
    let parts: Vec<&str> = rel.split('/').filter(|p| !p.is_empty()).collect();
    if parts.iter().any(|p| *p == "." || *p == "..") {
        return Err(nix::errno::Errno::EINVAL);
    }
    let mut at = root.try_clone().map_err(|_| nix::errno::Errno::EMFILE)?;
    let last = parts.len().saturating_sub(1);
    for (i, part) in parts.iter().enumerate() {
        at = if i < last || dir {
            open_dir_at(Some(&at), OsStr::new(part))?
        } else {
            openat(
                &at,
                *part,
                OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC,
                Mode::empty(),
            )?
        };
    }
    Ok(at)
}

/// Read at most `size` bytes of the regular file `rel` beneath `root` (see [`open_beneath`]).
fn read_regular(root: &OwnedFd, rel: &str, size: u64) -> Option<Vec<u8>> {
    let file = File::from(open_beneath(root, rel, false).ok()?);
    if !file.metadata().ok()?.is_file() {
        return None;
    }
    let mut content = Vec::with_capacity(size as usize);
    file.take(size).read_to_end(&mut content).ok()?;
    Some(content)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn good_names_pass() {
        for n in [
            "main.py",
            "data/sales.csv",
            "a b.txt",
            "ünï.txt",
            "x/y/z/w.bin",
            "backslash\\ok",
        ] {
            assert_eq!(validate_input_path(n), Ok(()), "{n}");
        }
    }

    #[test]
    fn bad_names_are_refused_precisely() {
        assert_eq!(validate_input_path(""), Err(FileNameError::Empty));
        assert!(matches!(
            validate_input_path("/etc/passwd"),
            Err(FileNameError::Absolute(_))
        ));
        assert!(matches!(
            validate_input_path("../secret"),
            Err(FileNameError::ParentDir(_))
        ));
        assert!(matches!(
            validate_input_path("a/../../b"),
            Err(FileNameError::ParentDir(_))
        ));
        assert!(matches!(
            validate_input_path("a\0b"),
            Err(FileNameError::Nul(_))
        ));
        assert!(matches!(
            validate_input_path("a//b"),
            Err(FileNameError::BadComponent(_))
        ));
        assert!(matches!(
            validate_input_path("./a"),
            Err(FileNameError::BadComponent(_))
        ));
        assert!(matches!(
            validate_input_path("dir/"),
            Err(FileNameError::BadComponent(_))
        ));
        assert!(matches!(
            validate_input_path("a\nb"),
            Err(FileNameError::Control(_))
        ));
        assert!(matches!(
            validate_input_path(&"x".repeat(300)),
            Err(FileNameError::TooLong { len: 300, .. })
        ));
        assert!(matches!(
            validate_input_path("1/2/3/4/5/6/7/8/9"),
            Err(FileNameError::TooDeep(_))
        ));
        assert!(matches!(
            validate_input_path(".coderunner-bin"),
            Err(FileNameError::Reserved(_))
        ));
        let msg = validate_input_path("/abs").unwrap_err().to_string();
        assert!(msg.contains("relative"), "{msg}");
    }

    #[test]
    fn file_dir_clash_and_duplicates_are_refused() {
        assert_eq!(
            validate_input_set(["dir", "dir/test.txt"]),
            Err(FileNameError::FileDirClash {
                file: "dir".into(),
                nested: "dir/test.txt".into()
            })
        );
        assert_eq!(
            validate_input_set(["a", "a"]),
            Err(FileNameError::Duplicate("a".into()))
        );
        assert_eq!(validate_input_set(["dir/a", "dir/b", "c"]), Ok(()));
    }

    #[test]
    fn collects_new_and_changed_files_only_without_symlinks_or_hidden() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let d = tmp.path();
        let inputs = vec![
            InputFile {
                path: "keep.txt".into(),
                content: b"same".to_vec(),
            },
            InputFile {
                path: "edit.txt".into(),
                content: b"old".to_vec(),
            },
        ];
        write_inputs(d, &inputs, None).expect("write");
        let snap = Snapshot::of_inputs(d, &inputs);
        std::thread::sleep(Duration::from_millis(5));
        fs::write(d.join("edit.txt"), b"newer").expect("edit");
        fs::write(d.join("new.png"), b"\x89PNG\r\n\x1a\nrest").expect("new");
        fs::create_dir(d.join(".hidden")).expect("hidden dir");
        fs::write(d.join(".hidden/x.txt"), b"x").expect("hidden file");
        fs::write(d.join(".dot"), b"x").expect("dot file");
        std::os::unix::fs::symlink("/etc/passwd", d.join("passwd")).expect("symlink");
        let limits = CollectLimits {
            max_files: 10,
            max_total_bytes: 1 << 20,
            max_depth: 8,
            max_entries: 1000,
            max_time: Duration::from_secs(2),
        };
        let got = collect_outputs(d, &snap, limits);
        let names: Vec<&str> = got.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(names, ["edit.txt", "new.png"]);
        assert_eq!(got[1].mime, "image/png");
        assert_eq!(got[0].content, b"newer");
    }
}
