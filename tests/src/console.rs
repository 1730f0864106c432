//! Drives the real `coderunner` CLI (the console, unless other arguments are given) with input
//! piped in, in a working directory where its data dir and saved attachments land, and returns
//! what it printed.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::harness::coderunner_bin;

/// Generous: a hang fails the test instead of the suite.
pub const DEADLINE: Duration = Duration::from_secs(300);

/// What one `coderunner` process printed, and where it ran.
pub struct Transcript {
    pub stdout: String,
    pub stderr: String,
    pub success: bool,
    /// The working directory of the process.
    pub dir: PathBuf,
    /// Keeps a fresh directory alive as long as the transcript (None: the caller's directory).
    _temp: Option<tempfile::TempDir>,
}

impl Transcript {
    /// Where the console saves the files of replies.
    pub fn out_dir(&self) -> PathBuf {
        self.dir.join("coderunner-out")
    }
}

/// Pipe `input` into `coderunner ARGS` run in `dir`, with DISCORD_TOKEN and CODERUNNER_CONFIG
/// unset (so it uses the embedded default config and opens the console).
pub fn run_in(dir: &Path, args: &[&str], input: &str) -> Transcript {
    let mut child = Command::new(coderunner_bin())
        .args(args)
        .current_dir(dir)
        .env_remove("DISCORD_TOKEN")
        .env_remove("CODERUNNER_CONFIG")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start coderunner");
    let mut stdin = child.stdin.take().expect("stdin");
    let input = input.to_string();
    // A separate writer: the console may print (and fill its stdout pipe) before reading all input.
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(input.as_bytes());
    });
    // Read the output while the process runs, so a chatty one cannot block on a full pipe.
    let pid = child.id();
    let (done, finished) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(child.wait_with_output());
    });
    let out = match finished.recv_timeout(DEADLINE) {
        Ok(out) => out.expect("collect the output of coderunner"),
        Err(_) => {
            if let Ok(pid) = i32::try_from(pid) {
                // SAFETY: kill(2) on our own child's pid has no memory-safety preconditions.
                unsafe {
                    libc::kill(pid, libc::SIGKILL);
                }
            }
            panic!("coderunner did not finish within {DEADLINE:?}");
        }
    };
    writer.join().expect("writer");
    Transcript {
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        success: out.status.success(),
        dir: dir.to_path_buf(),
        _temp: None,
    }
}

/// Like [`run_in`], in a fresh temporary directory that `setup` may fill first.
pub fn run_fresh(args: &[&str], input: &str, setup: impl FnOnce(&Path)) -> Transcript {
    let temp = tempfile::tempdir().expect("temp dir");
    setup(temp.path());
    let mut t = run_in(temp.path(), args, input);
    t._temp = Some(temp);
    t
}
