//! The wire protocol between the parent (LocalRunner) and the `coderunner-sandbox` helper.
//!
//! The helper's fd 0 is one end of a Unix socket pair. The parent writes a length-prefixed JSON
//! [`HelperSpec`] followed by a length-prefixed blob (the program's stdin) only after it has put
//! the helper into the run's cgroup, so the helper cannot run anything before it is contained.
//! The helper answers with newline-separated JSON [`Report`]s and then exits.

#[cfg(test)]
use std::io::Write;
use std::io::{self, Read};
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// Largest spec or stdin blob the helper accepts (a sanity bound, not a policy).
pub const MAX_FRAME: u64 = 256 << 20;

/// How the helper isolates the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Isolation {
    /// coderunner is root: no user namespace; the program drops to `uid`/`gid` (host ids).
    Root { uid: u32, gid: u32 },
    /// coderunner is not root: a user namespace maps the caller's ids; the program runs as an
    /// unprivileged id in a second, nested user namespace so it holds no capabilities.
    Rootless { outer_uid: u32, outer_gid: u32 },
}

/// Where the program's network comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Network {
    /// A fresh, empty network namespace of the run's own (loopback down).
    Isolated,
    /// Share the host's network (privileged profiles only).
    Host,
}

/// Where the program's standard input comes from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum ProgramStdin {
    /// A sealed memfd holding the stdin frame (a one-shot run).
    #[default]
    Memfd,
    /// The helper's fd 3, a socket the parent keeps open: a session's kernel speaks its framed
    /// protocol over it for as long as the session lives (the stdin frame is then empty).
    Fd3,
}

/// Resource limits applied with setrlimit in the program process.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rlimits {
    pub cpu_secs: u64,
    pub file_size: u64,
    pub open_files: u64,
    pub processes: u64,
    pub stack: u64,
    /// RLIMIT_AS, for languages whose memory strategy allows it when no cgroup bounds memory.
    pub address_space: Option<u64>,
}

/// Everything the helper needs to build the sandbox and start the program.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HelperSpec {
    /// argv; `argv[0]` is an absolute path that exists inside the sandbox.
    pub argv: Vec<String>,
    /// The complete environment of the program.
    pub env: Vec<(String, String)>,
    pub isolation: Isolation,
    pub network: Network,
    /// An empty host directory the helper mounts its private root tmpfs on (inside its own mount
    /// namespace, so concurrent runs can share it).
    pub root_mountpoint: PathBuf,
    /// Host directory bound read-write at `workdir`; with `workdir_handle`, the `/proc/PID/fd/N`
    /// path of coderunner's fd of a detached workdir tmpfs instead.
    pub workdir_host: PathBuf,
    /// Rootless mode: `workdir_host` names a detached tmpfs (see `helper::workdir_tmpfs`), which
    /// the sandbox attaches rather than binds.
    #[serde(default)]
    pub workdir_handle: bool,
    /// The working directory inside the sandbox, e.g. `/work`.
    pub workdir: String,
    /// Host paths bound read-only at the same path inside (directories or files).
    pub ro_binds: Vec<PathBuf>,
    /// Host directories mounted read-only elsewhere inside: (host, inside), e.g. a package set at
    /// `/opt/env/NAME` (as an overlay, so mountinfo does not show the host path).
    #[serde(default)]
    pub ro_binds_at: Vec<(PathBuf, String)>,
    /// Symlinks created in the new root: (path, target), e.g. (`/bin`, `usr/bin`).
    pub symlinks: Vec<(String, String)>,
    /// Small files generated in the new root: (path, content), e.g. `/etc/passwd`.
    pub files: Vec<(String, String)>,
    pub tmp_size: u64,
    pub shm_size: u64,
    /// Inode cap of each tmpfs the helper mounts.
    pub tmpfs_inodes: u64,
    pub rlimits: Rlimits,
    pub hostname: String,
    /// Apply Landlock (refused runs are reported, never silently unprotected).
    pub landlock: bool,
    /// Seccomp programs, each instruction packed by [`crate::seccomp::pack`]; applied in order.
    pub seccomp: Vec<Vec<u64>>,
    /// The program's fd 0.
    #[serde(default)]
    pub stdin: ProgramStdin,
    /// The warm pool's zygote, not a run: the program keeps uid 0 and the few capabilities its
    /// slots need to confine themselves (helper/exec.rs `ZYGOTE_CAPS`), gets no Landlock (it
    /// would forbid the slots' mounts; each run applies it to itself), and `seccomp` is the
    /// zygote's part of the run's policy (all but the filter refusing namespace and mount calls),
    /// applied with no_new_privs. It keeps fd 3, its channel to coderunner. It never runs user
    /// code.
    #[serde(default)]
    pub zygote: bool,
}

/// What the helper tells the parent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Report {
    /// The reaper's pid (in the helper's, i.e. the host's, pid namespace): when it has exited,
    /// every process of the run has (it is PID 1 of the run's pid namespace).
    Reaper { pid: i32 },
    /// The sandbox could not be set up; the program never ran.
    SetupError { message: String },
    /// How Landlock ended up (e.g. `fully_enforced`).
    Landlock { status: String },
    /// The program exited normally.
    Exited { code: i32 },
    /// The program was killed by a signal.
    Signaled { signal: i32 },
    /// Resource usage of everything the reaper waited for (rusage fallback).
    Usage {
        max_rss_kib: u64,
        user_us: u64,
        system_us: u64,
    },
    /// The reaper (PID 1 of the run's pid namespace) has no child left, alive or dead, after
    /// the program ended: no process of the run but itself exists, and it sends nothing more.
    /// A warm slot's reaper says so (with its other reports, in one packet) and then waits to
    /// be let go, so the run's end and answer do not wait for, or compete with, its exit (a
    /// fork of the zygote tears down a large address space). It is trusted as the cold path's
    /// reaper is: the program never ran in it.
    Alone,
}

impl Report {
    /// One line of the report stream.
    pub fn to_line(&self) -> String {
        let mut s = serde_json::to_string(self).unwrap_or_else(|_| {
            r#"{"kind":"setup_error","message":"unencodable report"}"#.to_string()
        });
        s.push('\n');
        s
    }

    /// Parse a report stream; lines that do not parse are reported as a setup error.
    pub fn parse_stream(bytes: &[u8]) -> Vec<Report> {
        String::from_utf8_lossy(bytes)
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                serde_json::from_str(l).unwrap_or_else(|_| Report::SetupError {
                    message: format!("the sandbox helper sent an unreadable report line: {l:?}"),
                })
            })
            .collect()
    }
}

/// Write one length-prefixed frame.
#[cfg(test)]
pub fn write_frame(w: &mut impl Write, bytes: &[u8]) -> io::Result<()> {
    w.write_all(&(bytes.len() as u64).to_le_bytes())?;
    w.write_all(bytes)
}

/// Encode a frame into a buffer (for async writers).
pub fn encode_frame(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
    out.extend_from_slice(bytes);
}

/// Read one length-prefixed frame of at most [`MAX_FRAME`] bytes.
pub fn read_frame(r: &mut impl Read) -> io::Result<Vec<u8>> {
    let mut len = [0u8; 8];
    r.read_exact(&mut len)?;
    let len = u64::from_le_bytes(len);
    if len > MAX_FRAME {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("frame of {len} bytes exceeds {MAX_FRAME}"),
        ));
    }
    let mut buf = vec![0u8; len as usize];
    r.read_exact(&mut buf)?;
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip() {
        let mut buf = Vec::new();
        write_frame(&mut buf, b"hello").expect("write");
        encode_frame(&mut buf, b"");
        let mut r = &buf[..];
        assert_eq!(read_frame(&mut r).expect("first"), b"hello");
        assert_eq!(read_frame(&mut r).expect("second"), b"");
        assert!(read_frame(&mut r).is_err());
    }

    #[test]
    fn oversized_frame_is_refused() {
        let mut buf = (MAX_FRAME + 1).to_le_bytes().to_vec();
        buf.extend_from_slice(b"x");
        assert!(read_frame(&mut &buf[..]).is_err());
    }

    #[test]
    fn reports_round_trip_and_garbage_is_an_error() {
        let r = Report::Signaled { signal: 9 };
        let mut s = r.to_line();
        s.push_str("not json\n");
        let parsed = Report::parse_stream(s.as_bytes());
        assert_eq!(parsed[0], r);
        assert!(matches!(parsed[1], Report::SetupError { .. }));
    }
}
