//! Talking to a live kernel: a cell (with its wall time, CPU time and output cap enforced from
//! outside), parking, restoring, listing variables.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::json;

use super::{
    wire, Cell, CellOutcome, Display, Parked, Restored, Session, Variable, INTERRUPT_GRACE,
    STATE_FILE,
};
use crate::files::{self, CollectLimits, Snapshot};
use crate::output::into_text;
use crate::status::signal_name;
use crate::{RunOutcome, RunStatus};

/// How often a running cell's CPU time and output are checked.
const WATCH_EVERY: Duration = Duration::from_millis(25);
/// How long the cell's last output may trail its reply.
const SETTLE_WITHIN: Duration = Duration::from_secs(1);
const SCAN_MAX_DEPTH: usize = 16;
const SCAN_MAX_ENTRIES: usize = 20_000;
const SCAN_MAX_TIME: Duration = Duration::from_secs(2);

/// Why the host interrupted the kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Interrupt {
    Wall,
    Cpu,
    Output,
}

/// How one request went.
struct Exchange {
    reply: Option<Vec<u8>>,
    interrupted: Option<Interrupt>,
    /// The kernel was still busy [`INTERRUPT_GRACE`] after the interrupt and was killed.
    killed: bool,
}

#[derive(Deserialize)]
struct CellReply {
    status: String,
    #[serde(default)]
    exit_code: i32,
    #[serde(default)]
    display: Vec<Display>,
}

#[derive(Deserialize)]
struct ParkReply {
    #[serde(default)]
    saved: Vec<String>,
    #[serde(default)]
    not_saved: Vec<(String, String)>,
    #[serde(default)]
    modules: Vec<String>,
    #[serde(default)]
    error: Option<String>,
}

#[derive(Deserialize)]
struct VarsReply {
    #[serde(default)]
    variables: Vec<Variable>,
}

fn secs(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s.fract() == 0.0 {
        format!("{s:.0} s")
    } else {
        format!("{s:.1} s")
    }
}

impl Session {
    fn cpu_ns(&self) -> Option<u64> {
        self.cgroup
            .as_ref()
            .and_then(|c| c.stats().cpu_ns)
            .or_else(|| self.kernel.as_ref().and_then(|k| k.cpu_ns()))
    }

    /// Send `request` and wait for the reply, interrupting the kernel past `wall` (or `cpu`, or
    /// the cell's output cap when `watch_output`), and killing it [`INTERRUPT_GRACE`] later.
    async fn exchange(
        &mut self,
        request: serde_json::Value,
        wall: Duration,
        cpu: Option<Duration>,
        watch_output: bool,
    ) -> Exchange {
        let failed = Exchange {
            reply: None,
            interrupted: None,
            killed: false,
        };
        let Some(mut replies) = self.replies.take() else {
            return failed;
        };
        if !wire::send(&mut self.to_kernel, &request).await {
            self.replies = Some(replies);
            return failed;
        }
        let started = tokio::time::Instant::now();
        let cpu_before = self.cpu_ns().unwrap_or(0);
        let mut interrupted: Option<(Interrupt, tokio::time::Instant)> = None;
        let mut tick = tokio::time::interval(WATCH_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let far = started + Duration::from_secs(365 * 24 * 3600);
        let result = loop {
            let hard = interrupted.map(|(_, at)| at + INTERRUPT_GRACE);
            let mut wanted = None;
            tokio::select! {
                frame = replies.recv() => break Exchange {
                    reply: frame,
                    interrupted: interrupted.map(|(i, _)| i),
                    killed: false,
                },
                _ = tokio::time::sleep_until(started + wall), if interrupted.is_none() => {
                    wanted = Some(Interrupt::Wall);
                }
                _ = tokio::time::sleep_until(hard.unwrap_or(far)), if hard.is_some() => {
                    self.kill().await;
                    break Exchange {
                        reply: None,
                        interrupted: interrupted.map(|(i, _)| i),
                        killed: true,
                    };
                }
                _ = tick.tick(), if interrupted.is_none() => {
                    if watch_output && self.streams.overflowed() {
                        wanted = Some(Interrupt::Output);
                    } else if let Some(limit) = cpu {
                        let used = self.cpu_ns().unwrap_or(0).saturating_sub(cpu_before);
                        if u128::from(used) > limit.as_nanos() {
                            wanted = Some(Interrupt::Cpu);
                        }
                    }
                }
            }
            if let Some(why) = wanted {
                let now = tokio::time::Instant::now();
                // Without the kernel's pid there is no gentle way: the grace is skipped.
                let at = match &self.kernel {
                    Some(k) if k.interrupt() => now,
                    _ => now - INTERRUPT_GRACE,
                };
                interrupted = Some((why, at));
            }
        };
        self.replies = Some(replies);
        result
    }

    /// Why the session died just now, in words, from its cgroup and its helper.
    async fn death(&mut self, killed: bool, wall: Duration) -> (RunStatus, String, Option<String>) {
        let stats = self.cgroup.as_ref().map(|c| c.stats()).unwrap_or_default();
        if !killed {
            // The kernel died by itself: let the helper forward how it ended before it goes.
            self.holder
                .wait(&mut self.reports, Duration::from_secs(2))
                .await;
        }
        self.kill().await;
        const GONE: &str =
            "its variables are gone; its files are kept. The next cell starts a new session";
        if killed {
            return (
                RunStatus::Timeout,
                format!(
                    "the cell ran past its {} wall time and was still busy {} after being interrupted, so the session was ended: {GONE}",
                    secs(wall),
                    secs(INTERRUPT_GRACE)
                ),
                None,
            );
        }
        if stats.oom_kills > 0 || stats.memory_limit_hits > 0 {
            return (
                RunStatus::MemoryLimit,
                format!(
                    "the session ran out of memory (its limit is {} MiB) and was ended: {GONE}",
                    self.limits.memory.0 >> 20
                ),
                None,
            );
        }
        let signal = self
            .reports
            .take(Duration::from_secs(2))
            .await
            .into_iter()
            .find_map(|r| match r {
                crate::protocol::Report::Signaled { signal } => Some(signal),
                _ => None,
            });
        (
            RunStatus::Signaled,
            format!("the session's Python ended unexpectedly: {GONE}"),
            signal.map(signal_name),
        )
    }

    /// Run one cell.
    pub async fn run_cell(&mut self, cell: Cell) -> CellOutcome {
        if let Some(why) = &self.ended {
            let mut outcome = RunOutcome::sandbox_error(format!("this session has ended: {why}"));
            outcome.status = RunStatus::SandboxError;
            return CellOutcome {
                outcome,
                display: Vec::new(),
                ended: Some(why.clone()),
            };
        }
        static SEQ: AtomicU64 = AtomicU64::new(0);
        let marker = format!(
            "\u{0}\u{1b}[coderunner cell end {} {}]\u{0}",
            SEQ.fetch_add(1, Ordering::Relaxed),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0)
        );
        let wall = cell.limits.wall_time.as_duration();
        let cpu = cell.limits.cpu_time.as_duration();
        self.streams
            .begin(marker.as_bytes(), cell.limits.output.0 as usize);
        let began = Instant::now();
        let cpu_before = self.cpu_ns();
        let ex = self
            .exchange(
                json!({"op": "cell", "code": cell.code, "stdin": cell.stdin, "marker": marker}),
                wall,
                Some(cpu),
                true,
            )
            .await;
        let elapsed = began.elapsed();
        let reply: Option<CellReply> = ex.reply.as_deref().and_then(wire::decode);
        let died = reply.is_none();
        let (mut status, mut exit_code, mut signal, mut error, mut ended) =
            (RunStatus::Exited, None, None, None, None);
        let mut display = Vec::new();
        if died {
            let (s, why, sig) = self.death(ex.killed, wall).await;
            status = s;
            signal = sig;
            error = Some(why.clone());
            ended = Some(why);
        } else if let Some(r) = reply {
            display = r.display;
            exit_code = Some(r.exit_code);
            let _ = r.status;
        }
        self.streams.settle(SETTLE_WITHIN).await;
        let captured = self.streams.take();
        if !died {
            match ex.interrupted {
                Some(Interrupt::Wall) => {
                    status = RunStatus::Timeout;
                    error = Some(format!("the cell ran past its {} wall time and was interrupted (KeyboardInterrupt); the session and its variables are kept", secs(wall)));
                }
                Some(Interrupt::Cpu) => {
                    status = RunStatus::Timeout;
                    error = Some(format!("the cell used more than its {} of CPU time and was interrupted (KeyboardInterrupt); the session and its variables are kept", secs(cpu)));
                }
                Some(Interrupt::Output) => {
                    status = RunStatus::OutputLimit;
                    error = Some("the cell was interrupted because its output passed the limit; the session and its variables are kept".into());
                }
                None => {}
            }
        }
        if ended.is_some() {
            self.ended = ended.clone();
        }
        let cpu_ms = match (cpu_before, self.cpu_ns()) {
            (Some(a), Some(b)) => b.saturating_sub(a) / 1_000_000,
            _ => 0,
        };
        let peak = self
            .cgroup
            .as_ref()
            .and_then(|c| c.stats().peak_memory)
            .or_else(|| self.kernel.as_ref().and_then(|k| k.rss()));
        let files = self.collect(&cell.limits).await;
        CellOutcome {
            outcome: RunOutcome {
                status,
                exit_code,
                signal,
                stdout: into_text(captured.stdout),
                stderr: into_text(captured.stderr),
                output: into_text(captured.output),
                truncated: captured.truncated,
                wall_ms: elapsed.as_millis() as u64,
                cpu_ms,
                peak_memory_bytes: peak,
                files,
                compile: None,
                error,
            },
            display,
            ended,
        }
    }

    /// The files the cell wrote or changed (never hidden ones, never through a symlink).
    async fn collect(&mut self, limits: &coderunner_config::Profile) -> Vec<crate::OutputFile> {
        let dir = self.workdir.path().to_path_buf();
        let before = Snapshot::of_paths(&dir, self.known.iter().map(String::as_str));
        let scan = CollectLimits {
            max_files: limits.output_files as usize,
            max_total_bytes: limits.output_files_bytes.0,
            max_depth: SCAN_MAX_DEPTH,
            max_entries: SCAN_MAX_ENTRIES,
            max_time: SCAN_MAX_TIME,
        };
        let files =
            tokio::task::spawn_blocking(move || files::collect_outputs(&dir, &before, scan))
                .await
                .unwrap_or_default();
        self.known.extend(files.iter().map(|f| f.path.clone()));
        files
    }

    /// Pickle what can be pickled into [`STATE_FILE`] (inside the sandbox) and hand the file
    /// over. The session is to be closed afterwards.
    pub async fn park(&mut self, within: Duration) -> Result<Parked, String> {
        if let Some(why) = &self.ended {
            return Err(format!("the session has ended: {why}"));
        }
        let ex = self
            .exchange(json!({"op": "park"}), within, None, false)
            .await;
        let reply: ParkReply = ex
            .reply
            .as_deref()
            .and_then(wire::decode)
            .ok_or_else(|| format!("the session did not answer within {}", secs(within)))?;
        if let Some(e) = reply.error {
            return Err(format!("saving the variables failed: {e}"));
        }
        let dir = self.workdir.path().to_path_buf();
        let max = self.limits.workdir_size.0;
        let state = tokio::task::spawn_blocking(move || files::read_beneath(&dir, STATE_FILE, max))
            .await
            .ok()
            .flatten();
        Ok(Parked {
            saved: reply.saved,
            not_saved: reply.not_saved,
            modules: reply.modules,
            state,
        })
    }

    /// Load a parked state the workdir holds ([`STATE_FILE`]), then delete it there.
    pub async fn restore(&mut self, within: Duration) -> Restored {
        let ex = self
            .exchange(json!({"op": "restore"}), within, None, false)
            .await;
        let restored: Option<Restored> = ex.reply.as_deref().and_then(wire::decode);
        match restored {
            Some(r) => r,
            None => {
                let (_, why, _) = self.death(ex.killed, within).await;
                self.ended = Some(why.clone());
                Restored {
                    found: true,
                    failed: vec![("(state)".into(), why)],
                    ..Restored::default()
                }
            }
        }
    }

    /// The session's variables with their type and size.
    pub async fn variables(&mut self) -> Vec<Variable> {
        if self.ended.is_some() {
            return Vec::new();
        }
        let ex = self
            .exchange(json!({"op": "vars"}), Duration::from_secs(5), None, false)
            .await;
        ex.reply
            .as_deref()
            .and_then(wire::decode::<VarsReply>)
            .map(|r| r.variables)
            .unwrap_or_default()
    }
}
