//! AI assist: `!explain`, `!fix`, `!ask` and `!tests` (chat and HTTP alike). The model only
//! writes text; whatever code it writes runs in the sandbox under the asker's tier, never
//! privileged, and every call is rate-limited and audited.

pub mod client;
mod diff;
pub mod memory;
pub mod prompt;
mod reply;

use std::sync::Arc;

use coderunner_config::Language;
use coderunner_runner::{InputFile, RunOutcome, RunRequest, RunStatus};
use serde::Serialize;

use crate::admission::{Asker, Meter, Wanted};
use crate::audit::AiCallRecord;
use crate::pipeline::{audit_base, fill_outcome, Pipeline};
use crate::refusal::{Refusal, RefusalKind};
use crate::{Identity, Place, Progress};
use client::{AiError, ChatMessage};
use memory::RunMemo;

pub use reply::render;

/// The reply of every AI command while `ai.base_url` is unset.
pub const OFF_HINT: &str = "AI assist is off: set ai.base_url to an OpenAI-compatible endpoint (Ollama http://127.0.0.1:11434/v1, llama.cpp server http://127.0.0.1:8080/v1, vLLM, or a hosted one)";

/// Which AI command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AiKind {
    Explain,
    Fix,
    Ask,
    Tests,
}

impl AiKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AiKind::Explain => "explain",
            AiKind::Fix => "fix",
            AiKind::Ask => "ask",
            AiKind::Tests => "tests",
        }
    }
}

/// One AI command from any frontend.
#[derive(Debug, Clone)]
pub struct AiRequest {
    pub who: Identity,
    pub place: Place,
    /// The tier to act as (HTTP: the API key's); `None` finds it from the member's roles.
    pub tier: Option<String>,
    pub kind: AiKind,
    /// `!ask LANG`, or the language of `code`.
    pub language: Option<String>,
    /// The program (HTTP); chat uses the asker's remembered run instead.
    pub code: Option<String>,
    pub stdin: String,
    /// `!ask`'s request in plain words.
    pub question: String,
    /// The message id the command replies to, when the frontend knows it.
    pub reply_to: Option<u64>,
}

/// One test case and how the program did on it.
#[derive(Debug, Clone, Serialize)]
pub struct TestResult {
    pub name: String,
    pub stdin: String,
    pub expected: String,
    pub actual: String,
    pub status: String,
    pub passed: bool,
}

/// What an AI command produced: the model's words, its code and the runs' outcomes.
#[derive(Debug, Clone, Serialize)]
pub struct AiOutcome {
    pub command: AiKind,
    pub model: String,
    pub language: String,
    /// `!explain`'s explanation, or the model's words around its code.
    pub explanation: Option<String>,
    /// `!ask`: the program the model wrote; `!fix`: its last attempt; explain, tests: the
    /// program they were about.
    pub code: Option<String>,
    /// `!fix`: unified diff of the original against the last attempt.
    pub diff: Option<String>,
    /// `!fix`: attempts made, and whether the last one succeeded.
    pub attempts: u32,
    pub fixed: Option<bool>,
    /// The last run of model-written code; for explain, the run that was explained.
    pub run: Option<RunOutcome>,
    pub tests: Vec<TestResult>,
    /// The limits the runs had (for the reply's status line).
    #[serde(skip)]
    pub limits: coderunner_config::Profile,
}

impl AiOutcome {
    fn new(ctx: &Ctx, model: &str, language: &str) -> Self {
        AiOutcome {
            command: ctx.kind,
            limits: ctx.limits.clone(),
            model: model.to_string(),
            language: language.to_string(),
            explanation: None,
            code: None,
            diff: None,
            attempts: 0,
            fixed: None,
            run: None,
            tests: Vec::new(),
        }
    }
}

/// What a command knows while it works: who asks, under which limits.
struct Ctx {
    who: Identity,
    place: Place,
    tier: String,
    limits: coderunner_config::Profile,
    kind: AiKind,
}

/// The audit row of a run of model-written code, caused by the AI call `ai_call`.
fn model_run_record(
    ctx: &Ctx,
    lang_name: &str,
    code: &str,
    ai_call: Option<i64>,
) -> crate::AuditRecord {
    let mut record = audit_base(&ctx.who, &ctx.place);
    record.tier = Some(ctx.tier.clone());
    record.language = Some(lang_name.to_string());
    record.code = Some(code.to_string());
    record.ai_call = ai_call;
    record
}

fn succeeded(o: &RunOutcome) -> bool {
    o.status == RunStatus::Exited && o.exit_code == Some(0)
}

impl Pipeline {
    /// Run one AI command. Refusals cover "AI off", limits, and model failures (with a clear message).
    pub async fn ai(&self, req: AiRequest, progress: &dyn Progress) -> Result<AiOutcome, Refusal> {
        let _flight = self.track();
        let mut record = audit_base(&req.who, &req.place);
        match self.ai_inner(req, progress, &mut record).await {
            Ok(outcome) => Ok(outcome),
            Err(refusal) => {
                if refusal.kind != RefusalKind::AiOff {
                    self.refused(record, &refusal).await;
                }
                Err(refusal)
            }
        }
    }

    async fn ai_inner(
        &self,
        req: AiRequest,
        progress: &dyn Progress,
        record: &mut crate::AuditRecord,
    ) -> Result<AiOutcome, Refusal> {
        let Some(client) = self.inner.ai.clone() else {
            return Err(Refusal::new(RefusalKind::AiOff, OFF_HINT));
        };
        let asker = Asker {
            who: &req.who,
            place: &req.place,
            tier: req.tier.as_deref(),
        };
        // Model-written code never runs privileged, whatever the asker may do by hand.
        let grant = self.admit_asker(&asker, Wanted::plain(), record)?;
        self.charge(&grant, &req.who, Meter::Ai)?;
        let ctx = Ctx {
            who: req.who.clone(),
            place: req.place.clone(),
            tier: grant.tier.clone(),
            limits: grant.limits.clone(),
            kind: req.kind,
        };
        if req.kind == AiKind::Ask {
            return self.ask(&ctx, &client, &req, progress).await;
        }
        let memo = self.subject(&ctx, &req, progress).await?;
        match req.kind {
            AiKind::Explain => self.explain(&ctx, &client, &memo).await,
            AiKind::Fix => self.fix(&ctx, &client, &memo, progress).await,
            _ => self.tests(&ctx, &client, &memo, progress).await,
        }
    }

    /// The run an explain/fix/tests is about: the request's code (run now), or the asker's
    /// remembered run.
    async fn subject(
        &self,
        ctx: &Ctx,
        req: &AiRequest,
        progress: &dyn Progress,
    ) -> Result<RunMemo, Refusal> {
        let p = &self.inner.config.discord.prefix;
        if let Some(code) = &req.code {
            let (name, lang) = self.ai_language(req.language.as_deref())?;
            let outcome = self
                .run_model_code(ctx, &name, &lang, code, &req.stdin, None, progress)
                .await?;
            return Ok(RunMemo {
                language: name,
                code: code.clone(),
                stdin: req.stdin.clone(),
                args: Vec::new(),
                outcome,
                message: None,
                reply: None,
            });
        }
        self.inner
            .recent
            .find(&req.who, &req.place, req.reply_to)
            .ok_or_else(|| {
                Refusal::bad_request(format!(
                    "there is no run of yours here to {}: use `{p}{}` as a reply to a run's reply, or after your own `{p}run` in this channel",
                    req.kind.as_str(),
                    req.kind.as_str()
                ))
            })
    }

    /// A configured language by name or alias; `!ask` without one writes Python.
    fn ai_language(&self, wanted: Option<&str>) -> Result<(String, Language), Refusal> {
        let config = &self.inner.config;
        let found = match wanted {
            Some(w) => config.find_language(w),
            None => config
                .find_language("python")
                .or_else(|| config.languages.iter().next().map(|(n, l)| (n.as_str(), l))),
        };
        found
            .map(|(n, l)| (n.to_string(), l.clone()))
            .ok_or_else(|| crate::run::unknown_language(config, wanted.unwrap_or("?")))
    }

    /// One call to the model, audited whatever happens. Returns the answer and the audit id.
    async fn call_model(
        &self,
        ctx: &Ctx,
        client: &client::AiClient,
        messages: &[ChatMessage],
    ) -> Result<(client::Answer, Option<i64>), Refusal> {
        let prompt_bytes = messages.iter().map(|m| m.content.len()).sum::<usize>();
        let started = std::time::Instant::now();
        let result = client.chat(messages).await;
        let mut call = AiCallRecord {
            platform: ctx.who.platform.as_str().to_string(),
            user_id: ctx.who.user_id.clone(),
            user_name: ctx.who.display.clone(),
            tier: ctx.tier.clone(),
            command: ctx.kind.as_str().to_string(),
            model: client.model().to_string(),
            prompt_bytes: prompt_bytes as u64,
            latency_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            ..AiCallRecord::default()
        };
        match &result {
            Ok(answer) => {
                call.status = "ok".into();
                call.answer_bytes = Some(answer.text.len() as u64);
                call.prompt_tokens = answer.usage.and_then(|u| u.prompt_tokens);
                call.completion_tokens = answer.usage.and_then(|u| u.completion_tokens);
            }
            Err(e) => call.status = e.kind().into(),
        }
        let id = self.write_ai_audit(call).await;
        match result {
            Ok(answer) => Ok((answer, id)),
            Err(e) => Err(model_refusal(&e)),
        }
    }

    async fn write_ai_audit(&self, call: AiCallRecord) -> Option<i64> {
        let inner = Arc::clone(&self.inner);
        match tokio::task::spawn_blocking(move || inner.audit.record_ai(&call)).await {
            Ok(Ok(id)) => Some(id),
            Ok(Err(e)) => {
                tracing::error!(error = %e, "writing the AI audit row failed");
                None
            }
            Err(e) => {
                tracing::error!(error = %e, "the audit writer panicked");
                None
            }
        }
    }

    /// Run code in the sandbox under the asker's tier (never privileged), with the place's
    /// workspace, through the shared queue; audited as a run caused by `ai_call`.
    #[allow(clippy::too_many_arguments)]
    async fn run_model_code(
        &self,
        ctx: &Ctx,
        lang_name: &str,
        lang: &Language,
        code: &str,
        stdin: &str,
        ai_call: Option<i64>,
        progress: &dyn Progress,
    ) -> Result<RunOutcome, Refusal> {
        let mut record = model_run_record(ctx, lang_name, code, ai_call);
        let user_slot = self.user_slot(&ctx.who)?;
        let mut files = vec![InputFile {
            path: lang.file.clone(),
            content: code.as_bytes().to_vec(),
        }];
        let workspaces = Arc::clone(&self.inner.workspaces);
        let ws_key = workspaces.key_for(&ctx.who, &ctx.place);
        let ws_lock = ws_key.as_deref().map(|key| workspaces.lock(key));
        let _ws_held = match &ws_lock {
            Some(lock) => Some(lock.lock().await),
            None => None,
        };
        if let Some(key) = &ws_key {
            workspaces.before_run(key, &mut files, ctx.limits.workdir_size.bytes())?;
        }
        let request = RunRequest {
            language: lang_name.to_string(),
            spec: lang.clone(),
            files,
            main: None,
            stdin: stdin.as_bytes().to_vec(),
            args: Vec::new(),
            env: Default::default(),
            limits: ctx.limits.clone(),
            // The place's default package set, as the asker's own run here would get.
            packages: crate::environments::choose(
                &self.inner.config,
                None,
                lang_name,
                lang,
                ctx.place.channel,
                &ctx.tier,
            )?,
        };
        let (outcome, queue_ms) = self.execute(request, progress).await?;
        drop(user_slot);
        if let Some(key) = &ws_key {
            // The model's program is not kept; what it wrote (a plot, a CSV) is.
            let _ = workspaces.after_run(key, &ctx.who, &[], &outcome);
        }
        fill_outcome(&mut record, &outcome, queue_ms);
        self.write_audit(record).await;
        Ok(outcome)
    }

    /// In a notebook session, `!ask`'s Python runs as a cell: it sees (and leaves) the session's
    /// variables, like the asker's own `!run py` there. `None`: no session here.
    async fn ask_as_cell(
        &self,
        ctx: &Ctx,
        lang_name: &str,
        code: &str,
        stdin: &str,
        ai_call: Option<i64>,
        progress: &dyn Progress,
    ) -> Option<Result<RunOutcome, Refusal>> {
        if lang_name != "python" {
            return None;
        }
        let mut record = model_run_record(ctx, lang_name, code, ai_call);
        let user_slot = match self.user_slot(&ctx.who) {
            Ok(slot) => slot,
            Err(refusal) => return Some(Err(refusal)),
        };
        let outcome = self
            .cell_for_model(
                &ctx.who,
                &ctx.place,
                code,
                stdin,
                &ctx.limits,
                &mut record,
                progress,
            )
            .await?;
        drop(user_slot);
        if outcome.is_ok() {
            self.write_audit(record).await;
        }
        Some(outcome)
    }

    async fn explain(
        &self,
        ctx: &Ctx,
        client: &client::AiClient,
        memo: &RunMemo,
    ) -> Result<AiOutcome, Refusal> {
        let (answer, _) = self.call_model(ctx, client, &prompt::explain(memo)).await?;
        let mut out = AiOutcome::new(ctx, client.model(), &memo.language);
        out.explanation = Some(answer.text.trim().to_string());
        // What was explained, for API clients (the chat reply shows only the explanation).
        out.code = Some(memo.code.clone());
        out.run = Some(memo.outcome.clone());
        Ok(out)
    }

    async fn fix(
        &self,
        ctx: &Ctx,
        client: &client::AiClient,
        memo: &RunMemo,
        progress: &dyn Progress,
    ) -> Result<AiOutcome, Refusal> {
        let (_, lang) = self.ai_language(Some(&memo.language))?;
        let attempts = self.inner.config.ai.attempts.max(1);
        let mut out = AiOutcome::new(ctx, client.model(), &memo.language);
        let mut code = memo.code.clone();
        let mut outcome = memo.outcome.clone();
        for round in 1..=attempts {
            let messages = prompt::fix(memo, &code, &outcome, round);
            let (answer, call) = self.call_model(ctx, client, &messages).await?;
            let Some(new_code) = prompt::first_code_block(&answer.text) else {
                return Err(model_refusal(&AiError::NoCode));
            };
            out.explanation = Some(prompt::prose(&answer.text));
            code = new_code;
            outcome = self
                .run_model_code(
                    ctx,
                    &memo.language,
                    &lang,
                    &code,
                    &memo.stdin,
                    call,
                    progress,
                )
                .await?;
            out.attempts = round;
            if succeeded(&outcome) {
                break;
            }
        }
        out.fixed = Some(succeeded(&outcome));
        out.diff = Some(diff::unified(
            &lang.file,
            &format!("{} (fixed)", lang.file),
            &memo.code,
            &code,
        ));
        out.code = Some(code);
        out.run = Some(outcome);
        Ok(out)
    }

    async fn ask(
        &self,
        ctx: &Ctx,
        client: &client::AiClient,
        req: &AiRequest,
        progress: &dyn Progress,
    ) -> Result<AiOutcome, Refusal> {
        let p = &self.inner.config.discord.prefix;
        if req.question.trim().is_empty() {
            return Err(Refusal::bad_request(format!(
                "what should the program do? e.g. `{p}ask python plot revenue by month from sales.csv`"
            )));
        }
        let (name, lang) = self.ai_language(req.language.as_deref())?;
        let files = self.workspace_summary(ctx);
        let messages = prompt::ask(&name, &req.question, &files);
        let (answer, call) = self.call_model(ctx, client, &messages).await?;
        let Some(code) = prompt::first_code_block(&answer.text) else {
            return Err(model_refusal(&AiError::NoCode));
        };
        let outcome = match self
            .ask_as_cell(ctx, &name, &code, &req.stdin, call, progress)
            .await
        {
            Some(outcome) => outcome?,
            None => {
                self.run_model_code(ctx, &name, &lang, &code, &req.stdin, call, progress)
                    .await?
            }
        };
        let mut out = AiOutcome::new(ctx, client.model(), &name);
        out.explanation = Some(prompt::prose(&answer.text)).filter(|s| !s.is_empty());
        out.code = Some(code);
        out.run = Some(outcome);
        Ok(out)
    }

    /// Names and sizes of the workspace's files, and each CSV's header line, for `!ask`.
    fn workspace_summary(&self, ctx: &Ctx) -> String {
        let ws = &self.inner.workspaces;
        let Some(key) = ws.key_for(&ctx.who, &ctx.place) else {
            return String::new();
        };
        let mut files = Vec::new();
        if ws
            .before_run(&key, &mut files, ctx.limits.workdir_size.bytes())
            .is_err()
        {
            return String::new();
        }
        let mut out = String::new();
        for f in files.iter().take(50) {
            out.push_str(&format!(
                "- {} ({} bytes)",
                f.path.replace(['\n', '\r'], " "),
                f.content.len()
            ));
            if f.path.to_ascii_lowercase().ends_with(".csv") {
                let head = String::from_utf8_lossy(&f.content);
                if let Some(line) = head.lines().next() {
                    out.push_str(&format!(
                        ", header: {}",
                        crate::render::cut_chars(line, 300)
                    ));
                }
            }
            out.push('\n');
        }
        out
    }

    async fn tests(
        &self,
        ctx: &Ctx,
        client: &client::AiClient,
        memo: &RunMemo,
        progress: &dyn Progress,
    ) -> Result<AiOutcome, Refusal> {
        let (_, lang) = self.ai_language(Some(&memo.language))?;
        let (answer, call) = self.call_model(ctx, client, &prompt::tests(memo)).await?;
        let Some(cases) = prompt::test_cases(&answer.text) else {
            return Err(Refusal::new(
                RefusalKind::AiFailed,
                "the model's answer has no ```json list of test cases, so there is nothing to run; try again",
            ));
        };
        let mut out = AiOutcome::new(ctx, client.model(), &memo.language);
        for (i, case) in cases.into_iter().enumerate() {
            let outcome = self
                .run_model_code(
                    ctx,
                    &memo.language,
                    &lang,
                    &memo.code,
                    &case.stdin,
                    call,
                    progress,
                )
                .await?;
            let passed =
                succeeded(&outcome) && outcome.stdout.trim() == case.expected_stdout.trim();
            out.tests.push(TestResult {
                name: if case.name.trim().is_empty() {
                    format!("case {}", i + 1)
                } else {
                    case.name
                },
                stdin: case.stdin,
                expected: case.expected_stdout,
                actual: outcome.stdout.clone(),
                status: outcome.status.as_str().to_string(),
                passed,
            });
        }
        out.code = Some(memo.code.clone());
        Ok(out)
    }

    /// A chat AI command: the reply, or the refusal as a chat line.
    pub(crate) async fn ai_chat(
        &self,
        msg: &crate::Incoming,
        kind: AiKind,
        words: &str,
        progress: &dyn Progress,
    ) -> crate::Reply {
        let (language, question) = match kind {
            AiKind::Ask => {
                let first = words.split_whitespace().next().unwrap_or("");
                match self.inner.config.find_language(first) {
                    Some((name, _)) => (
                        Some(name.to_string()),
                        words
                            .trim_start()
                            .get(first.len()..)
                            .unwrap_or("")
                            .trim()
                            .to_string(),
                    ),
                    None => (None, words.trim().to_string()),
                }
            }
            _ => (None, String::new()),
        };
        let req = AiRequest {
            who: msg.who.clone(),
            place: msg.place.clone(),
            tier: None,
            kind,
            language,
            code: None,
            stdin: String::new(),
            question,
            reply_to: msg.reply_to,
        };
        match self.ai(req, progress).await {
            Ok(out) => render(&self.inner.config, &out),
            Err(refusal) => crate::Reply::text(refusal.chat_line()),
        }
    }

    /// Remember a chat run so a later `!explain`/`!fix`/`!tests` knows what it is about.
    pub(crate) fn remember_run(&self, who: &Identity, place: &Place, memo: RunMemo) {
        self.inner.recent.remember(who, place, memo);
    }

    /// The frontend posted its answer to `msg` as message `reply`: a later `!explain`, `!fix`,
    /// `!tests` or `!lint` sent as a reply to that message is about `msg`'s run (if it was one).
    pub fn replied(&self, msg: &crate::Incoming, reply: u64) {
        if let Some(message) = msg.message {
            self.inner
                .recent
                .replied(&msg.who, &msg.place, message, reply);
        }
    }
}

/// A model failure as a refusal the user can act on (429 keeps its retry time).
fn model_refusal(e: &AiError) -> Refusal {
    match e {
        AiError::RateLimited { retry_after } => Refusal {
            kind: RefusalKind::RateLimited,
            message: e.to_string(),
            retry_after: *retry_after,
        },
        _ => Refusal::new(RefusalKind::AiFailed, e.to_string()),
    }
}
