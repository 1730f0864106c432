//! The pipeline's shared state and its router: each command family lives in its own module
//! (`run`, `files`, `runs`, `help`, `ai`, `lint`); this file dispatches and holds what they share
//! (queue, audit, shutdown).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use coderunner_config::Config;
use coderunner_runner::{RunOutcome, RunRequest, Runner};
use tokio::sync::Notify;

use crate::ai::client::AiClient;
use crate::ai::memory::RecentRuns;
use crate::ai::AiKind;
use crate::audit::{Audit, AuditError, AuditRecord};
use crate::help;
use crate::limits::{LimiterClock, QueuePermit, RateGate, RunQueue};
use crate::parse::{self, Command};
use crate::refusal::{Refusal, RefusalKind};
use crate::versions::Versions;
use crate::workspace::{DiskWorkspaces, NoWorkspaces, WorkspaceError, Workspaces};
use crate::{Identity, Incoming, Place, Progress, Reply};

/// Why the pipeline could not start.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error(transparent)]
    Audit(#[from] AuditError),
    #[error(transparent)]
    Workspace(#[from] WorkspaceError),
}

/// How long `shutdown` waits for runs in flight before giving up on them.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(120);
/// How long after its answer an unprivileged run's audit row is written: long enough for a
/// fast run's answer to be sent first, short enough that a crash loses little.
const AUDIT_DEFER: Duration = Duration::from_millis(5);

/// Knobs of a pipeline besides its config; the defaults are production's.
pub struct PipelineOptions {
    /// The rate limiters' clock (tests pass `LimiterClock::Fake`).
    pub clock: LimiterClock,
    /// Where thread and session workspaces plug in.
    pub workspaces: Arc<dyn Workspaces>,
    /// How often idle rate-limit keys are dropped and audit retention is applied.
    pub housekeeping_every: Duration,
    /// What starts notebook sessions (the local sandbox); `None`: no sessions.
    pub sessions: Option<Arc<dyn coderunner_runner::session::SessionStarter>>,
}

impl Default for PipelineOptions {
    fn default() -> Self {
        PipelineOptions {
            clock: LimiterClock::real(),
            workspaces: Arc::new(NoWorkspaces),
            housekeeping_every: Duration::from_secs(60),
            sessions: None,
        }
    }
}

/// The chat pipeline, shared by every frontend (cheap to clone).
#[derive(Clone)]
pub struct Pipeline {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) config: Arc<Config>,
    pub(crate) runner: Arc<dyn Runner>,
    pub(crate) rate: RateGate,
    pub(crate) queue: RunQueue,
    pub(crate) audit: Audit,
    pub(crate) versions: Versions,
    pub(crate) workspaces: Arc<dyn Workspaces>,
    /// The model endpoint, when AI assist is on.
    pub(crate) ai: Option<AiClient>,
    /// Recent chat runs, for `!explain`, `!fix`, `!tests` and `!lint`.
    pub(crate) recent: RecentRuns,
    closing: AtomicBool,
    inflight: AtomicUsize,
    idle: Notify,
    housekeeping: Mutex<Option<tokio::task::JoinHandle<()>>>,
    sessions: Option<Arc<crate::sessions::SessionManager>>,
}

/// Counts a request in flight so `shutdown` can wait for it.
pub(crate) struct InFlight(Arc<Inner>);

impl Drop for InFlight {
    fn drop(&mut self) {
        if self.0.inflight.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}

impl Inner {
    fn housekeeping(&self) {
        self.rate.retain_recent();
        self.workspaces.sweep();
        if let Err(e) = self.audit.apply_retention() {
            tracing::error!(error = %e, "audit retention failed");
        }
    }
}

impl Pipeline {
    /// A pipeline with production options; opens the audit database under `data_dir`.
    /// Workspaces live on disk under `data_dir` (see `workspaces:` in the config).
    pub fn new(config: Arc<Config>, runner: Arc<dyn Runner>) -> Result<Pipeline, PipelineError> {
        let workspaces = Arc::new(DiskWorkspaces::open(&config)?);
        Self::with_options(
            config,
            runner,
            PipelineOptions {
                workspaces,
                ..PipelineOptions::default()
            },
        )
    }

    /// [`Pipeline::new`] with notebook sessions started by `sessions`.
    pub fn with_sessions(
        config: Arc<Config>,
        runner: Arc<dyn Runner>,
        sessions: Option<Arc<dyn coderunner_runner::session::SessionStarter>>,
    ) -> Result<Pipeline, PipelineError> {
        let workspaces = Arc::new(DiskWorkspaces::open(&config)?);
        Self::with_options(
            config,
            runner,
            PipelineOptions {
                workspaces,
                sessions,
                ..PipelineOptions::default()
            },
        )
    }

    pub fn with_options(
        config: Arc<Config>,
        runner: Arc<dyn Runner>,
        options: PipelineOptions,
    ) -> Result<Pipeline, PipelineError> {
        let audit_path = config.resolve_data_path(&config.audit.path);
        let audit = Audit::open(
            &audit_path,
            usize::try_from(config.audit.code_cap.bytes()).unwrap_or(usize::MAX),
            config.audit.retention.as_duration(),
        )?;
        let rl = &config.rate_limits;
        let sessions = options.sessions.map(|starter| {
            Arc::new(crate::sessions::SessionManager::new(
                config.sessions.clone(),
                config.find_language("python").map(|(_, l)| l.clone()),
                starter,
                Arc::clone(&options.workspaces),
            ))
        });
        let inner = Arc::new(Inner {
            sessions,
            rate: RateGate::new(rl, options.clock),
            queue: RunQueue::new(
                rl.global_concurrency,
                rl.queue_length,
                rl.concurrent_per_user,
            ),
            audit,
            versions: Versions::default(),
            workspaces: options.workspaces,
            ai: AiClient::from_config(&config.ai),
            recent: RecentRuns::default(),
            closing: AtomicBool::new(false),
            inflight: AtomicUsize::new(0),
            idle: Notify::new(),
            housekeeping: Mutex::new(None),
            config,
            runner,
        });
        // Outside a runtime (plain unit tests) housekeeping runs only when asked.
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            let weak = Arc::downgrade(&inner);
            let mut every = options.housekeeping_every.max(Duration::from_millis(10));
            if inner.sessions.is_some() {
                // An idle session is parked at most half its idle time late.
                let idle = inner.config.sessions.idle.as_duration();
                every = every.min((idle / 2).max(Duration::from_secs(1)));
            }
            let task = handle.spawn(async move {
                let mut tick = tokio::time::interval(every);
                tick.tick().await;
                loop {
                    tick.tick().await;
                    match weak.upgrade() {
                        Some(inner) => {
                            inner.housekeeping();
                            if let Some(s) = inner.sessions.clone() {
                                drop(inner);
                                s.park_idle().await;
                            }
                        }
                        None => break,
                    }
                }
            });
            *inner
                .housekeeping
                .lock()
                .unwrap_or_else(PoisonError::into_inner) = Some(task);
        }
        tracing::info!(audit = %audit_path.display(), "pipeline ready");
        Ok(Pipeline { inner })
    }

    /// Notebook sessions, when this pipeline has a sandbox that starts them.
    pub fn sessions(&self) -> Option<&Arc<crate::sessions::SessionManager>> {
        self.inner.sessions.as_ref()
    }

    pub(crate) fn workspaces(&self) -> &Arc<dyn Workspaces> {
        &self.inner.workspaces
    }

    pub(crate) fn versions(&self) -> &Versions {
        &self.inner.versions
    }

    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The audit log (for `!runs`, the HTTP API and tests).
    pub fn audit(&self) -> &Audit {
        &self.inner.audit
    }

    /// Drop idle rate-limit keys and old audit rows now (also done on a timer).
    pub fn housekeeping(&self) {
        self.inner.housekeeping();
    }

    /// Rate-limit keys remembered now; bounded by recent users thanks to housekeeping.
    pub fn rate_limit_keys(&self) -> usize {
        self.inner.rate.tracked_keys()
    }

    /// Runs waiting for a free runner slot now.
    pub fn queued(&self) -> usize {
        self.inner.queue.waiting()
    }

    pub(crate) fn track(&self) -> InFlight {
        self.inner.inflight.fetch_add(1, Ordering::AcqRel);
        InFlight(Arc::clone(&self.inner))
    }

    /// `None` when the message is not addressed to the bot (no prefix, or another bot's command).
    /// Otherwise the reply to post.
    pub async fn handle(&self, msg: Incoming, progress: &dyn Progress) -> Option<Reply> {
        let command = parse::parse(&self.inner.config.discord.prefix, &msg.text)?;
        let _flight = self.track();
        let config = &self.inner.config;
        let reply = match command {
            Command::Run(run) => match self.chat_cell(&msg, &run, progress).await {
                Some(reply) => reply,
                None => self.run_chat(&msg, run, progress).await,
            },
            Command::RunError(e) => {
                let refusal = Refusal::bad_request(format!(
                    "{e}. `{}help run` shows the syntax",
                    config.discord.prefix
                ));
                self.refused(audit_base(&msg.who, &msg.place), &refusal)
                    .await;
                Reply::text(refusal.chat_line())
            }
            Command::Languages => Reply::text(help::languages(config, &self.inner.versions).await),
            Command::Help { topic } => Reply::text(help::help(config, topic.as_deref())),
            Command::Runs { count } => Reply::text(self.runs(&msg.who, &msg.place, count)),
            Command::Files => Reply::text(self.list_workspace(&msg)),
            Command::Reset => {
                let mut text = self.reset_workspace(&msg).await;
                if let Some(note) = self.session_reset(&msg).await {
                    text.push('\n');
                    text.push_str(&note);
                }
                Reply::text(text)
            }
            Command::Session => Reply::text(self.session_status(&msg).await),
            Command::Restart => Reply::text(self.session_restart(&msg).await),
            Command::Explain => self.ai_chat(&msg, AiKind::Explain, "", progress).await,
            Command::Fix => self.ai_chat(&msg, AiKind::Fix, "", progress).await,
            Command::Tests => self.ai_chat(&msg, AiKind::Tests, "", progress).await,
            Command::Ask { words } => self.ai_chat(&msg, AiKind::Ask, &words, progress).await,
            Command::Lint(run) => self.lint_chat(&msg, run, progress).await,
        };
        Some(reply)
    }

    /// Wait for a runner slot, then run. Runner failures become a `sandbox_error` outcome.
    pub(crate) async fn execute(
        &self,
        request: RunRequest,
        progress: &dyn Progress,
    ) -> Result<(RunOutcome, u64), Refusal> {
        let (permit, queue_ms) = self.admit(progress).await?;
        Ok((self.run_admitted(request, permit).await, queue_ms))
    }

    /// Wait for a runner slot; returns it and the milliseconds waited.
    pub(crate) async fn admit(
        &self,
        progress: &dyn Progress,
    ) -> Result<(QueuePermit, u64), Refusal> {
        let waited = Instant::now();
        let permit = self.inner.queue.enter(progress).await?;
        let queue_ms = u64::try_from(waited.elapsed().as_millis()).unwrap_or(u64::MAX);
        progress.running().await;
        Ok((permit, queue_ms))
    }

    /// Run on the slot `permit`; runner failures become a `sandbox_error` outcome.
    pub(crate) async fn run_admitted(
        &self,
        request: RunRequest,
        permit: QueuePermit,
    ) -> RunOutcome {
        let outcome = match self.inner.runner.run(request).await {
            Ok(outcome) => outcome,
            Err(e) => {
                tracing::error!(error = %e, "the runner could not carry out a run");
                RunOutcome::sandbox_error(e.to_string())
            }
        };
        drop(permit);
        if outcome.status == coderunner_runner::RunStatus::SandboxError {
            tracing::error!(error = ?outcome.error, "sandbox error");
        }
        outcome
    }

    pub(crate) fn check_open(&self) -> Result<(), Refusal> {
        if self.inner.closing.load(Ordering::Acquire) {
            return Err(Refusal {
                kind: RefusalKind::Busy,
                message: "shutting down; no new runs start now, try again in a minute".into(),
                retry_after: Some(Duration::from_secs(60)),
            });
        }
        Ok(())
    }

    pub(crate) async fn refused(&self, mut record: AuditRecord, refusal: &Refusal) {
        record.status = "refused".to_string();
        record.refusal_kind = Some(refusal.kind.as_str().to_string());
        record.refusal_reason = Some(refusal.message.clone());
        tracing::info!(user = %record.user_id, kind = refusal.kind.as_str(), reason = %refusal.message, "refused");
        self.write_audit(record).await;
    }

    /// Audit a run or a refusal. A privileged run's row is written before its answer; any
    /// other row is written [`AUDIT_DEFER`] later, after the answer has gone out (readers of
    /// the audit, `!runs` and the API among them, still see it: see audit/deferred.rs).
    pub(crate) async fn write_audit(&self, record: AuditRecord) {
        let inner = Arc::clone(&self.inner);
        if !record.privileged {
            if inner.audit.defer(record) {
                tokio::spawn(async move {
                    tokio::time::sleep(AUDIT_DEFER).await;
                    let written =
                        tokio::task::spawn_blocking(move || inner.audit.write_deferred_now()).await;
                    log_audit_write(written);
                });
            }
            return;
        }
        let written = tokio::task::spawn_blocking(move || inner.audit.record(&record)).await;
        log_audit_write(written);
    }

    /// Stop accepting runs, wait for those in flight (up to a grace period), flush the audit log.
    pub async fn shutdown(&self) {
        self.inner.closing.store(true, Ordering::Release);
        let deadline = Instant::now() + SHUTDOWN_GRACE;
        while self.inner.inflight.load(Ordering::Acquire) > 0 && Instant::now() < deadline {
            let notified = self.inner.idle.notified();
            if self.inner.inflight.load(Ordering::Acquire) == 0 {
                break;
            }
            let _ = tokio::time::timeout(Duration::from_millis(200), notified).await;
        }
        if let Some(s) = &self.inner.sessions {
            s.park_all().await;
        }
        self.inner.queue.close();
        if let Some(task) = self
            .inner
            .housekeeping
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        {
            task.abort();
        }
        if let Err(e) = self.inner.audit.write_deferred_now() {
            tracing::error!(error = %e, "writing the last audit rows failed");
        }
        if let Err(e) = self.inner.audit.checkpoint() {
            tracing::error!(error = %e, "flushing the audit log failed");
        }
    }
}

fn log_audit_write(written: Result<Result<(), AuditError>, tokio::task::JoinError>) {
    match written {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::error!(error = %e, "writing the audit row failed"),
        Err(e) => tracing::error!(error = %e, "the audit writer panicked"),
    }
}

pub(crate) fn user_key(who: &Identity) -> String {
    // An API key is one caller whether it speaks REST (`/v1/runs`) or MCP (`/mcp`): one quota and
    // one concurrency budget, so switching protocol does not double what a key may run. (The stdio
    // MCP server is its own process with no API keys, so its fixed user cannot meet a key here.)
    let scope = match who.platform {
        crate::Platform::Mcp => crate::Platform::Http,
        other => other,
    };
    format!("{}:{}", scope.as_str(), who.user_id)
}

pub(crate) fn audit_base(who: &Identity, place: &Place) -> AuditRecord {
    AuditRecord {
        platform: who.platform.as_str().to_string(),
        user_id: who.user_id.clone(),
        user_name: who.display.clone(),
        guild: place.guild,
        channel: place.channel,
        thread: place.thread,
        ..AuditRecord::default()
    }
}

pub(crate) fn fill_outcome(record: &mut AuditRecord, outcome: &RunOutcome, queue_ms: u64) {
    record.status = outcome.status.as_str().to_string();
    record.exit_code = outcome.exit_code;
    record.signal = outcome.signal.clone();
    record.queue_ms = Some(queue_ms);
    record.wall_ms = Some(outcome.wall_ms);
    record.cpu_ms = Some(outcome.cpu_ms);
    record.peak_memory_bytes = outcome.peak_memory_bytes;
    record.output_bytes = Some(outcome.output.len() as u64);
    record.truncated = outcome.truncated;
}
