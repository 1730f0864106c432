//! The pipeline: parse -> access -> rate limit -> fetch -> run -> render -> audit, for every frontend.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use coderunner_config::{Config, Language};
use coderunner_runner::{InputFile, RunOutcome, RunRequest, Runner};
use tokio::sync::Notify;

use crate::access::{self, Grant};
use crate::attachments;
use crate::audit::{Audit, AuditError, AuditRecord};
use crate::direct::{DirectRun, RequestedLimits};
use crate::help;
use crate::limits::{LimiterClock, QueuePermit, RateGate, RunQueue};
use crate::parse::{self, Command, RunCommand};
use crate::refusal::{Refusal, RefusalKind};
use crate::render::{self, RunView};
use crate::runs;
use crate::versions::Versions;
use crate::workspace::{self, DiskWorkspaces, NoWorkspaces, WorkspaceError, Workspaces};
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
    inner: Arc<Inner>,
}

struct Inner {
    config: Arc<Config>,
    runner: Arc<dyn Runner>,
    rate: RateGate,
    queue: RunQueue,
    audit: Audit,
    versions: Versions,
    workspaces: Arc<dyn Workspaces>,
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
            let every = options.housekeeping_every.max(Duration::from_millis(10));
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

    pub(crate) fn rate(&self) -> &RateGate {
        &self.inner.rate
    }

    pub(crate) fn queue(&self) -> &RunQueue {
        &self.inner.queue
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
        };
        Some(reply)
    }

    /// `!files`: the workspace of the message's thread, channel or session.
    fn list_workspace(&self, msg: &Incoming) -> String {
        let ws = &self.inner.workspaces;
        ws.list(ws.key_for(&msg.who, &msg.place).as_deref())
    }

    /// `!reset`, under the workspace's lock so it never lands in the middle of a run.
    async fn reset_workspace(&self, msg: &Incoming) -> String {
        let ws = &self.inner.workspaces;
        let admin =
            access::tier_for(&self.inner.config, &msg.who, &msg.place).is_ok_and(|t| t.admin);
        match ws.key_for(&msg.who, &msg.place) {
            Some(key) => {
                let lock = ws.lock(&key);
                let _held = lock.lock().await;
                ws.reset(Some(&key), &msg.who, admin)
            }
            None => ws.reset(None, &msg.who, admin),
        }
    }

    fn runs(&self, who: &Identity, place: &Place, count: Option<usize>) -> String {
        let tier = match access::tier_for(&self.inner.config, who, place) {
            Ok(t) => t,
            Err(r) => return r.chat_line(),
        };
        if !tier.admin {
            return Refusal::not_allowed(format!(
                "`{}runs` is for admins, and your tier is `{}`",
                self.inner.config.discord.prefix, tier.name
            ))
            .chat_line();
        }
        match self.inner.audit.recent(count.unwrap_or(10).clamp(1, 25)) {
            Ok(rows) => runs::render(&rows),
            Err(e) => {
                tracing::error!(error = %e, "reading the audit log failed");
                "⚠️ could not read the audit log; see the bot's log".to_string()
            }
        }
    }

    async fn run_chat(&self, msg: &Incoming, run: RunCommand, progress: &dyn Progress) -> Reply {
        let mut record = audit_base(&msg.who, &msg.place);
        record.privileged = run.flags.privileged;
        match self.chat_run(msg, &run, progress, &mut record).await {
            Ok(reply) => reply,
            Err(refusal) => {
                self.refused(record, &refusal).await;
                Reply::text(refusal.chat_line())
            }
        }
    }

    async fn chat_run(
        &self,
        msg: &Incoming,
        run: &RunCommand,
        progress: &dyn Progress,
        record: &mut AuditRecord,
    ) -> Result<Reply, Refusal> {
        let config = Arc::clone(&self.inner.config);
        let prefix = &config.discord.prefix;
        self.check_open()?;
        access::check_place(&config, &msg.place)?;
        let tier = access::tier_for(&config, &msg.who, &msg.place)?;
        record.tier = Some(tier.name.clone());
        let grant = access::grant(
            &config,
            tier,
            run.flags.privileged,
            RequestedLimits {
                wall_time: run.flags.timeout,
                memory: run.flags.memory,
            },
        )?;
        attachments::check_declared(
            &msg.attachments,
            grant.limits.file_size.bytes(),
            grant.limits.workdir_size.bytes(),
        )?;
        if run.code.is_none() && msg.attachments.is_empty() {
            return Err(Refusal::bad_request(format!(
                "nothing to run: write `{prefix}run LANG` and then your code in a code block, or attach a source file. Example: {prefix}run py `print(\"hello\")` — `{prefix}help run` has more"
            )));
        }
        let (lang_name, lang, program_idx) = resolve_language(&config, run, &msg.attachments)?;
        record.language = Some(lang_name.clone());
        record.code = run.code.clone();

        self.inner
            .rate
            .check(&grant.tier, &user_key(&msg.who), msg.place.guild)?;
        let user_slot = self.inner.queue.claim_user(&user_key(&msg.who))?;

        let workspaces = Arc::clone(&self.inner.workspaces);
        let (ws_key, ws_note) =
            workspace::key_for_run(workspaces.as_ref(), &msg.who, &msg.place, grant.privileged);
        // Held from before_run to after_run: runs in one workspace take turns. Taken before a
        // runner slot, so a run holding a slot never waits for a workspace.
        let ws_lock = ws_key.as_deref().map(|key| workspaces.lock(key));
        let _ws_held = match &ws_lock {
            Some(lock) => Some(lock.lock().await),
            None => None,
        };
        // Attachments are downloaded only once the run has a slot: a queued run holds no files.
        let (permit, queue_ms) = self.admit(progress).await?;
        let reserved: Vec<String> = match run.code {
            Some(_) => vec![lang.file.clone()],
            None => Vec::new(),
        };
        let fetched = attachments::fetch_all(
            &msg.attachments,
            program_idx,
            grant.limits.file_size.bytes(),
            grant.limits.workdir_size.bytes(),
            &reserved,
        )
        .await?;
        let mut files = Vec::new();
        let main = match (&run.code, fetched.program) {
            (Some(code), _) => {
                files.push(InputFile {
                    path: lang.file.clone(),
                    content: code.clone().into_bytes(),
                });
                None
            }
            (None, Some((name, code))) => {
                record.code = Some(code.clone());
                files.push(InputFile {
                    path: name.clone(),
                    content: code.into_bytes(),
                });
                Some(name)
            }
            (None, None) => return Err(Refusal::bad_request(
                "none of the attachments is a program I recognise; put the code in a code block",
            )),
        };
        files.extend(fetched.data);
        // Attachments persist; a code block's program does not (the next message brings its own).
        let kept: Vec<InputFile> = match (&ws_key, &run.code) {
            (None, _) => Vec::new(),
            (Some(_), Some(_)) => files.iter().skip(1).cloned().collect(),
            (Some(_), None) => files.clone(),
        };
        if let Some(key) = &ws_key {
            workspaces.before_run(key, &mut files, grant.limits.workdir_size.bytes())?;
        }
        let request = RunRequest {
            language: lang_name.clone(),
            spec: spec_for(&lang, &grant),
            files,
            main,
            stdin: run.stdin.clone().unwrap_or_default().into_bytes(),
            args: run.args.clone(),
            env: run.env.clone(),
            limits: grant.limits.clone(),
        };
        let outcome = self.run_admitted(request, permit).await;
        drop(user_slot);
        let mut extras = render::Extras::default();
        extras.notes.extend(ws_note);
        if let Some(key) = &ws_key {
            extras
                .notes
                .extend(workspaces.after_run(key, &msg.who, &kept, &outcome));
            extras.workspace_files = workspaces.file_count(key);
        }

        let version = self.inner.versions.get(&lang_name, &lang).await;
        let highlight = lang.highlight.clone().unwrap_or_else(|| lang_name.clone());
        let rendered = render::render_run_with(
            &RunView {
                language: &lang_name,
                version: version.known(),
                highlight: &highlight,
                limits: &grant.limits,
                outcome: &outcome,
                expected: run.expected.as_deref(),
            },
            &config.output,
            config.discord.upload_limit.bytes(),
            &extras,
        );
        fill_outcome(record, &outcome, queue_ms);
        record.truncated |= rendered.cut;
        self.write_audit(record.clone()).await;
        Ok(rendered.reply)
    }

    /// Wait for a runner slot, then run. Runner failures become a `sandbox_error` outcome.
    async fn execute(
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
    async fn run_admitted(&self, request: RunRequest, permit: QueuePermit) -> RunOutcome {
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

    /// The HTTP entry point: skips parse and render; same access, limits, queue and audit.
    pub async fn run_direct(
        &self,
        req: DirectRun,
        progress: &dyn Progress,
    ) -> Result<RunOutcome, Refusal> {
        let _flight = self.track();
        let mut record = audit_base(&req.who, &Place::default());
        record.privileged = req.privileged;
        record.tier = Some(req.tier.clone());
        record.language = Some(req.language.clone());
        match self.direct(req, progress, &mut record).await {
            Ok(outcome) => Ok(outcome),
            Err(refusal) => {
                self.refused(record, &refusal).await;
                Err(refusal)
            }
        }
    }

    async fn direct(
        &self,
        req: DirectRun,
        progress: &dyn Progress,
        record: &mut AuditRecord,
    ) -> Result<RunOutcome, Refusal> {
        let config = Arc::clone(&self.inner.config);
        self.check_open()?;
        let tier = config.tier(&req.tier).ok_or_else(|| {
            Refusal::not_allowed(format!("the tier `{}` is not configured", req.tier))
        })?;
        let grant: Grant = match &req.profile {
            Some(wanted) => access::grant_within(&config, tier, req.privileged, wanted)?,
            None => access::grant(&config, tier, req.privileged, req.limits)?,
        };
        let (lang_name, lang) = match config.find_language(&req.language) {
            Some((n, l)) => (n.to_string(), l.clone()),
            None => return Err(unknown_language(&config, &req.language)),
        };
        record.language = Some(lang_name.clone());
        let main = check_files(&req.files, req.main.as_deref(), &lang, &grant)?;
        let main_path = main.clone().unwrap_or_else(|| lang.file.clone());
        record.code = req
            .files
            .iter()
            .find(|f| f.path == main_path)
            .map(|f| String::from_utf8_lossy(&f.content).into_owned());
        self.inner
            .rate
            .check(&grant.tier, &user_key(&req.who), None)?;
        let user_slot = self.inner.queue.claim_user(&user_key(&req.who))?;
        let request = RunRequest {
            language: lang_name,
            spec: spec_for(&lang, &grant),
            files: req.files,
            main,
            stdin: req.stdin,
            args: req.args,
            env: req.env,
            limits: grant.limits,
        };
        let (outcome, queue_ms) = self.execute(request, progress).await?;
        drop(user_slot);
        fill_outcome(record, &outcome, queue_ms);
        self.write_audit(record.clone()).await;
        Ok(outcome)
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

    pub(crate) async fn write_audit(&self, record: AuditRecord) {
        let inner = Arc::clone(&self.inner);
        let written = tokio::task::spawn_blocking(move || inner.audit.record(&record)).await;
        match written {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::error!(error = %e, "writing the audit row failed"),
            Err(e) => tracing::error!(error = %e, "the audit writer panicked"),
        }
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
        if let Err(e) = self.inner.audit.checkpoint() {
            tracing::error!(error = %e, "flushing the audit log failed");
        }
    }
}

/// The language as this run uses it: a privileged run gets the language's `privileged_run`.
fn spec_for(lang: &Language, grant: &Grant) -> Language {
    if grant.privileged {
        lang.for_privileged()
    } else {
        lang.clone()
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

/// "unknown language `pyhton`; did you mean python?" with the `!langs` hint.
fn unknown_language(config: &Config, wanted: &str) -> Refusal {
    let shown = render::neutralize(render::cut_chars(wanted, 40)).replace('`', "'");
    let p = &config.discord.prefix;
    let suggestions = config.suggest_languages(wanted);
    let message = match suggestions.as_slice() {
        [] => format!("unknown language `{shown}`; `{p}langs` lists the languages I run"),
        [one] => {
            format!("unknown language `{shown}`; did you mean **{one}**? `{p}langs` lists them all")
        }
        many => format!(
            "unknown language `{shown}`; did you mean {}? `{p}langs` lists them all",
            many.iter()
                .map(|s| format!("**{s}**"))
                .collect::<Vec<_>>()
                .join(" or ")
        ),
    };
    Refusal::new(RefusalKind::UnknownLanguage, message)
}

/// The language (explicit > the block's tag > the program attachment's extension) and which
/// attachment is the program when there is no code block.
fn resolve_language(
    config: &Config,
    run: &RunCommand,
    attachments: &[crate::AttachmentRef],
) -> Result<(String, Language, Option<usize>), Refusal> {
    let explicit = match run.language.as_deref() {
        Some(l) => Some(
            config
                .find_language(l)
                .ok_or_else(|| unknown_language(config, l))?,
        ),
        None => None,
    };
    let p = &config.discord.prefix;
    if run.code.is_some() {
        if let Some((n, l)) = explicit {
            return Ok((n.to_string(), l.clone(), None));
        }
        return match run.code_tag.as_deref() {
            Some(tag) => match config.find_language(tag) {
                Some((n, l)) => Ok((n.to_string(), l.clone(), None)),
                None => Err(unknown_language(config, tag)),
            },
            None => Err(Refusal::new(
                RefusalKind::UnknownLanguage,
                format!("which language is this? write it after `{p}run` (e.g. `{p}run python`) or tag the code block (```py); `{p}langs` lists them"),
            )),
        };
    }
    // No code block: the program is an attachment.
    let by_ext = |want: Option<&str>| {
        attachments.iter().position(|a| {
            config
                .language_for_extension(&attachments::sanitize_name(&a.name))
                .is_some_and(|(n, _)| want.is_none_or(|w| w == n))
        })
    };
    let idx = match explicit {
        Some((n, _)) => by_ext(Some(n)).or_else(|| by_ext(None)),
        None => by_ext(None),
    };
    let Some(idx) = idx else {
        let names: Vec<String> = attachments
            .iter()
            .take(5)
            .map(|a| format!("`{}`", attachments::sanitize_name(&a.name)))
            .collect();
        return Err(Refusal::bad_request(format!(
            "none of the attachments ({}) is a program I know by its extension; put the code in a code block, or attach a source file such as `main.py` (`{p}langs` lists the extensions)",
            names.join(", ")
        )));
    };
    let file_name = attachments::sanitize_name(&attachments[idx].name);
    let (n, l) = match explicit {
        Some(found) => found,
        None => config
            .language_for_extension(&file_name)
            .ok_or_else(|| unknown_language(config, &file_name))?,
    };
    Ok((n.to_string(), l.clone(), Some(idx)))
}

/// Files of a direct run: within size limits, with a program among them. Returns `main`.
fn check_files(
    files: &[InputFile],
    main: Option<&str>,
    lang: &Language,
    grant: &Grant,
) -> Result<Option<String>, Refusal> {
    if files.is_empty() {
        return Err(Refusal::bad_request("no files: send at least the program"));
    }
    let per_file = grant.limits.file_size.bytes();
    let mut total = 0u64;
    for f in files {
        let safe = !f.path.is_empty()
            && !f.path.starts_with('/')
            && f.path
                .split('/')
                .all(|c| !c.is_empty() && c != "." && c != "..");
        if !safe {
            return Err(Refusal::bad_request(format!(
                "file path `{}` is not allowed; use a relative path without `..`",
                render::cut_chars(&f.path, 100)
            )));
        }
        if f.content.len() as u64 > per_file {
            return Err(Refusal::bad_request(format!(
                "`{}` is {}, over the {} limit per file",
                render::cut_chars(&f.path, 100),
                crate::fmt::bytes(f.content.len() as u64),
                crate::fmt::bytes(per_file)
            )));
        }
        total += f.content.len() as u64;
    }
    if total > grant.limits.workdir_size.bytes() {
        return Err(Refusal::bad_request(format!(
            "the files add up to {}, more than the {} working directory",
            crate::fmt::bytes(total),
            crate::fmt::bytes(grant.limits.workdir_size.bytes())
        )));
    }
    let has = |p: &str| files.iter().any(|f| f.path == p);
    match main {
        Some(m) if has(m) => Ok(Some(m.to_string())),
        Some(m) => Err(Refusal::bad_request(format!(
            "`main` names `{}`, which is not among the files",
            render::cut_chars(m, 100)
        ))),
        None if has(&lang.file) => Ok(None),
        None if files.len() == 1 => Ok(Some(files[0].path.clone())),
        None => Err(Refusal::bad_request(format!(
            "which file is the program? name it `{}` or set `main`",
            lang.file
        ))),
    }
}
