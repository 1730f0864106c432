//! What holds a session's sandbox on the host: the sandbox helper's process (a cold session) or a
//! fork of the warm pool's Python zygote (a warm one), and the reports that say how its kernel
//! ended (the helper's on its control socket, the slot reaper's on the slot socket).

use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;

use crate::protocol::Report;
use crate::zygote::Zygote;

/// The process side of a session's sandbox.
#[derive(Debug)]
pub(crate) enum Holder {
    /// The sandbox helper (killed when dropped, taking the sandbox with it).
    Helper(tokio::process::Child),
    /// A fork of the zygote: its processes live in the session's cgroup, which kills them. The
    /// zygote is kept alive for as long as the session lives, since the fork's reaper dies with
    /// it.
    Zygote { zygote: Option<Arc<Zygote>> },
}

impl Holder {
    /// Ask the holder's own process to die (the cgroup kills the sandbox's processes).
    pub(crate) fn start_kill(&mut self) {
        if let Holder::Helper(child) = self {
            let _ = child.start_kill();
        }
    }

    /// Wait up to `within` for the sandbox to end: the helper's exit, or the end of the slot
    /// reaper's reports (its socket closes when it exits).
    pub(crate) async fn wait(&mut self, reports: &mut Reports, within: Duration) {
        match self {
            Holder::Helper(child) => {
                let _ = tokio::time::timeout(within, child.wait()).await;
            }
            Holder::Zygote { .. } => {
                reports.wait(within).await;
            }
        }
    }

    pub(crate) fn is_warm(&self) -> bool {
        matches!(self, Holder::Zygote { .. })
    }

    /// Let go of the zygote (once the session's processes are gone). The last holder of a
    /// replaced zygote tears it down, which removes its cgroup synchronously (with retries):
    /// done off the async threads.
    pub(crate) async fn release(&mut self) {
        if let Holder::Zygote { zygote } = self {
            if let Some(z) = zygote.take() {
                let _ = tokio::task::spawn_blocking(move || drop(z)).await;
            }
        }
    }
}

/// The reports of a session's sandbox, read by a task until their stream ends.
#[derive(Debug, Default)]
pub(crate) struct Reports {
    task: Option<JoinHandle<Vec<Report>>>,
    got: Option<Vec<Report>>,
}

impl Reports {
    pub(crate) fn new(task: JoinHandle<Vec<Report>>) -> Reports {
        Reports {
            task: Some(task),
            got: None,
        }
    }

    /// Wait up to `within` for the stream to end; whether it did.
    pub(crate) async fn wait(&mut self, within: Duration) -> bool {
        let Some(task) = self.task.as_mut() else {
            return true;
        };
        match tokio::time::timeout(within, task).await {
            Ok(result) => {
                self.got = Some(result.unwrap_or_default());
                self.task = None;
                true
            }
            Err(_) => false,
        }
    }

    /// The reports, once the stream ended (at most `within` from now); empty when it did not.
    pub(crate) async fn take(&mut self, within: Duration) -> Vec<Report> {
        self.wait(within).await;
        self.got.take().unwrap_or_default()
    }
}
