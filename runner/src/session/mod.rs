//! Notebook sessions: a sandbox that lives across cells. One Python kernel (kernel.py) runs every
//! cell of a session in the same globals, in the session's workdir; the host sends cells over a
//! socket and cuts the sandbox's stdout and stderr into cells. The last expression, DataFrames
//! and open figures come back as displays. Each cell has a wall and a CPU time; past them the
//! kernel is interrupted, and a kernel still busy [`INTERRUPT_GRACE`] later is killed with its
//! session (the files stay with the caller). Parking pickles the variables into the workdir,
//! inside the sandbox, since pickles are untrusted data.

mod cell;
mod host;
mod inputs;
mod kernel;
mod open;
mod start;
mod streams;
mod warm;
mod wire;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use coderunner_config::{Language, Profile};
use serde::{Deserialize, Serialize};
use tokio::net::unix::OwnedWriteHalf;

use crate::cgroup::RunCgroup;
use crate::uids::UidLease;
use crate::workdir::Workdir;
use crate::{InputFile, LocalRunner, RunOutcome, RunnerError};

pub use start::start;

use host::{Holder, Reports};
use kernel::Kernel;
use streams::Streams;

/// How long an interrupted cell may take to stop before its session is killed.
pub const INTERRUPT_GRACE: Duration = Duration::from_secs(2);
/// Where a parked session's variables are, relative to the workdir (and the workspace).
pub const STATE_FILE: &str = ".session/state.pkl";

/// What a session starts with.
#[derive(Debug, Clone)]
pub struct SessionSpec {
    /// The language's configuration (Python: the interpreter, its env and mounts).
    pub language: Language,
    /// The workspace's files, written into the workdir (a parked state among them).
    pub files: Vec<InputFile>,
    /// The session's memory, pids, disk and per-cell defaults.
    pub limits: Profile,
    /// Extra environment variables (checked by the caller like a run's).
    pub env: Vec<(String, String)>,
}

/// One cell.
#[derive(Debug, Clone)]
pub struct Cell {
    pub code: String,
    pub stdin: String,
    /// The cell's wall time, CPU time and output cap (from the caller's tier and flags).
    pub limits: Profile,
}

/// Something a cell shows: `text/plain`, `text/html` or `image/png` (base64).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Display {
    pub mime: String,
    pub data: String,
}

/// What one cell did.
#[derive(Debug, Clone)]
pub struct CellOutcome {
    /// The run outcome's fields: status, output, times, files the cell wrote...
    pub outcome: RunOutcome,
    pub display: Vec<Display>,
    /// Set when the session ended with this cell (why, in words); its variables are gone.
    pub ended: Option<String>,
}

/// What parking saved.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Parked {
    pub saved: Vec<String>,
    /// (name, why) of the variables that could not be pickled.
    pub not_saved: Vec<(String, String)>,
    /// Names of imported modules, imported again on restore.
    pub modules: Vec<String>,
    /// The state file's bytes ([`STATE_FILE`]), for the workspace; `None` when the kernel did not
    /// write one.
    pub state: Option<Vec<u8>>,
}

/// What restoring brought back.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Restored {
    /// A parked state was there.
    #[serde(default)]
    pub found: bool,
    #[serde(default)]
    pub restored: Vec<String>,
    /// (name, why) of saved variables that did not load.
    #[serde(default)]
    pub failed: Vec<(String, String)>,
    /// (name, why) of variables that were not saved when the session was parked.
    #[serde(default)]
    pub not_saved: Vec<(String, String)>,
}

impl Restored {
    /// "restored 3 variables (df, model, xs); not saved: gen (generator)", or `None` when
    /// there was nothing to restore.
    pub fn note(&self) -> Option<String> {
        if !self.found {
            return None;
        }
        let n = self.restored.len();
        let mut s = format!(
            "restored {n} variable{}{}",
            if n == 1 { "" } else { "s" },
            if n == 0 {
                String::new()
            } else {
                format!(" ({})", self.restored.join(", "))
            }
        );
        let pairs = |v: &[(String, String)]| {
            v.iter()
                .map(|(n, why)| format!("{n} ({why})"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        if !self.not_saved.is_empty() {
            s.push_str(&format!("; not saved: {}", pairs(&self.not_saved)));
        }
        if !self.failed.is_empty() {
            s.push_str(&format!("; could not restore: {}", pairs(&self.failed)));
        }
        Some(s)
    }
}

/// A variable of the session, for `!session` and `GET /v1/sessions/{id}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Variable {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub size: u64,
}

/// A live session sandbox: started by the sandbox helper (cold), or forked from the warm pool's
/// Python zygote when the runner has one that can serve it (warm; the same confinement, with
/// the data stack already imported). Dropping it kills its processes and removes its cgroup and
/// workdir; [`Session::close`] does the same and waits for it.
#[derive(Debug)]
pub struct Session {
    id: String,
    holder: Holder,
    cgroup: Option<RunCgroup>,
    workdir: Workdir,
    _lease: Option<UidLease>,
    to_kernel: OwnedWriteHalf,
    replies: Option<tokio::sync::mpsc::Receiver<Vec<u8>>>,
    streams: Streams,
    kernel: Option<Kernel>,
    /// Paths in the workdir as of the last cell (what counts as unchanged).
    known: BTreeSet<String>,
    limits: Profile,
    started: Instant,
    python: String,
    ended: Option<String>,
    reports: Reports,
}

impl Drop for Session {
    fn drop(&mut self) {
        // A warm session's processes have no helper to take them along: its cgroup does.
        if let Some(cg) = &self.cgroup {
            cg.kill_all();
        }
    }
}

impl Session {
    /// The session's sandbox id (its workdir and cgroup name).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The Python version of the kernel.
    pub fn python(&self) -> &str {
        &self.python
    }

    /// Whether it was forked from the warm pool's zygote (rather than started cold).
    pub fn is_warm(&self) -> bool {
        self.holder.is_warm()
    }

    /// When it started.
    pub fn started(&self) -> Instant {
        self.started
    }

    /// Why it ended, if it has (then it runs no more cells).
    pub fn ended(&self) -> Option<&str> {
        self.ended.as_deref()
    }

    /// Memory in use now and the session's limit, in bytes.
    pub fn memory(&self) -> (Option<u64>, u64) {
        (
            self.kernel.as_ref().and_then(Kernel::rss),
            self.limits.memory.0,
        )
    }

    /// Kill the session's processes and remove its sandbox.
    pub async fn close(mut self) {
        self.kill().await;
        if let Some(cg) = self.cgroup.take() {
            cg.remove().await;
        }
        self.workdir.remove();
        self.holder.release().await;
    }

    async fn kill(&mut self) {
        if let Some(cg) = &self.cgroup {
            cg.kill_all();
        }
        self.holder.start_kill();
        self.holder
            .wait(&mut self.reports, Duration::from_secs(5))
            .await;
    }

    /// Why the sandbox never became a session, from the helper's reports.
    async fn setup_failure(&mut self) -> String {
        self.holder
            .wait(&mut self.reports, Duration::from_secs(5))
            .await;
        let reports = self.reports.take(Duration::from_secs(2)).await;
        let why = reports.into_iter().find_map(|r| match r {
            crate::protocol::Report::SetupError { message } => Some(message),
            _ => None,
        });
        let stderr = crate::output::into_text(self.streams.take().stderr);
        match why {
            Some(m) => format!("the session's sandbox could not be set up: {m}"),
            None => format!(
                "the session's kernel did not start{}",
                if stderr.trim().is_empty() {
                    String::new()
                } else {
                    format!(": {}", stderr.trim())
                }
            ),
        }
    }
}

/// Something that starts sessions: the local sandbox (a remote runner has none yet).
#[async_trait::async_trait]
pub trait SessionStarter: Send + Sync {
    async fn start_session(&self, spec: SessionSpec) -> Result<Session, RunnerError>;
}

#[async_trait::async_trait]
impl SessionStarter for LocalRunner {
    async fn start_session(&self, spec: SessionSpec) -> Result<Session, RunnerError> {
        match start(self, spec).await {
            Err(e @ (RunnerError::Sandbox(_) | RunnerError::Io(_))) => {
                tracing::error!(error = %e, "a session sandbox could not be set up");
                Err(RunnerError::Sandbox(
                    "a problem on the server, not in your code (the operator's log has the details)"
                        .into(),
                ))
            }
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_restore_note_names_what_came_back_and_what_did_not() {
        let r = Restored {
            found: true,
            restored: vec!["df".into(), "model".into(), "xs".into()],
            failed: vec![],
            not_saved: vec![("gen".into(), "generator".into())],
        };
        assert_eq!(
            r.note().as_deref(),
            Some("restored 3 variables (df, model, xs); not saved: gen (generator)")
        );
        assert_eq!(Restored::default().note(), None);
    }
}
