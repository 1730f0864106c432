//! The child side: the single-threaded `coderunner-sandbox` helper that builds the sandbox.
//!
//! Process tree of one run:
//! ```text
//! coderunner (tokio) ── helper H (this binary; in the run's cgroup before it reads its spec)
//!                          └── reaper R (PID 1 of a new pid namespace, fresh /proc)
//!                                 └── program P (setsid, rlimits, uid drop, Landlock, seccomp, execve)
//! ```
//! H dies with coderunner (PR_SET_PDEATHSIG), R dies with H, and when R exits the kernel kills
//! everything left in the pid namespace, so no process outlives the run.

mod caps;
pub(crate) mod exec;
pub(crate) mod landlock;
mod mounts;
mod namespaces;
mod package_overlay;
pub(crate) mod rlimits;
mod workdir_tmpfs;

use std::fmt::Display;
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{FromRawFd, OwnedFd};

use crate::protocol::{read_frame, HelperSpec, Report};

/// A setup step failed; the message says which and why.
#[derive(Debug)]
pub(crate) struct SetupError(pub String);

/// Attach "what we were doing" to any displayable error.
pub(crate) trait Context<T> {
    fn ctx(self, what: impl FnOnce() -> String) -> Result<T, SetupError>;
}

impl<T, E: Display> Context<T> for Result<T, E> {
    fn ctx(self, what: impl FnOnce() -> String) -> Result<T, SetupError> {
        self.map_err(|e| SetupError(format!("{}: {e}", what())))
    }
}

/// The helper's program name: the `coderunner-sandbox` binary's, and `argv[0]` of every helper
/// process, so an executable that embeds the helper can tell it was started as one.
pub const PROGRAM_NAME: &str = "coderunner-sandbox";

static EMBEDDED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Declare that the running executable also serves as the helper when it is started under
/// [`PROGRAM_NAME`] (it checks [`started_as_helper`] first thing in `main`). A runner whose config
/// names no helper then uses this executable, so one binary is enough.
pub fn embed() {
    EMBEDDED.store(true, std::sync::atomic::Ordering::Relaxed);
}

/// Whether [`embed`] was called in this process.
pub(crate) fn embedded() -> bool {
    EMBEDDED.load(std::sync::atomic::Ordering::Relaxed)
}

/// Whether this process was started as the helper (`argv[0]` is [`PROGRAM_NAME`]); an embedding
/// executable must then call [`main`] before anything else, while still single-threaded.
pub fn started_as_helper() -> bool {
    std::env::args_os()
        .next()
        .is_some_and(|a| std::path::Path::new(&a).file_name() == Some(PROGRAM_NAME.as_ref()))
}

/// Entry point of the `coderunner-sandbox` binary; returns the process exit code.
///
/// Usage: `coderunner-sandbox run` (spec on fd 0), or `coderunner-sandbox workdir SIZE INODES`
/// (rootless mode: make a run's workdir tmpfs and send its mount fd over fd 0).
pub fn main() -> i32 {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("run") if args.len() == 2 => run_helper(),
        Some("workdir") if args.len() == 4 => workdir_tmpfs::create_main(&args[2], &args[3]),
        _ => usage(),
    }
}

fn usage() -> i32 {
    eprintln!(
        "coderunner-sandbox is started by coderunner, not by hand.\n\
         usage: coderunner-sandbox run   (run spec on fd 0)"
    );
    2
}

fn run_helper() -> i32 {
    // SAFETY: fd 0 is the control socket the parent passed as our stdin; we own it from here on.
    let mut control = unsafe { File::from_raw_fd(0) };
    let result = (|| {
        namespaces::die_with_parent(&control)?;
        let spec: HelperSpec = serde_json::from_slice(
            &read_frame(&mut control).ctx(|| "reading the run spec".into())?,
        )
        .ctx(|| "decoding the run spec".into())?;
        let stdin = read_frame(&mut control).ctx(|| "reading the program's stdin".into())?;
        exec::run(&spec, &stdin, &mut control)
    })();
    match result {
        Ok(()) => 0,
        Err(SetupError(message)) => {
            send(&mut control, &Report::SetupError { message });
            1
        }
    }
}

/// Send one report line; a parent that stopped listening is not our problem any more.
pub(crate) fn send(out: &mut impl Write, report: &Report) {
    let _ = out.write_all(report.to_line().as_bytes());
}

/// Read a pipe to EOF (bounded, so a confused writer cannot make the helper grow).
pub(crate) fn read_to_end_bounded(fd: OwnedFd, limit: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let _ = File::from(fd).take(limit as u64).read_to_end(&mut out);
    out
}
