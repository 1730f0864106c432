//! `!run` from chat and direct runs from the HTTP API: language, files, access, limits, queue,
//! the run itself, render and audit.

use std::sync::Arc;

use coderunner_config::{Config, Language};
use coderunner_runner::{InputFile, RunOutcome, RunRequest};

use crate::access::Grant;
use crate::admission::{Asker, Wanted};
use crate::attachments;
use crate::audit::AuditRecord;
use crate::direct::{DirectRun, RequestedLimits};
use crate::environments;
use crate::parse::RunCommand;
use crate::pipeline::{audit_base, fill_outcome, Pipeline};
use crate::refusal::{Refusal, RefusalKind};
use crate::render::{self, RunView};
use crate::workspace;
use crate::{Incoming, Place, Progress, Reply};

impl Pipeline {
    pub(crate) async fn run_chat(
        &self,
        msg: &Incoming,
        run: RunCommand,
        progress: &dyn Progress,
    ) -> Reply {
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
        let grant = self.admit_asker(
            &Asker {
                who: &msg.who,
                place: &msg.place,
                tier: None,
            },
            Wanted::Limits {
                privileged: run.flags.privileged,
                limits: RequestedLimits {
                    wall_time: run.flags.timeout,
                    memory: run.flags.memory,
                },
            },
            record,
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
        let packages = environments::choose(
            &config,
            run.flags.env_set.as_deref(),
            &lang_name,
            &lang,
            msg.place.channel,
            &grant.tier,
        )?;

        let user_slot = self.take_turn(&grant, &msg.who, msg.place.guild)?;

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
            packages,
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
        if let Some(code) = &record.code {
            self.remember_run(
                &msg.who,
                &msg.place,
                crate::ai::memory::RunMemo {
                    language: lang_name.clone(),
                    code: code.clone(),
                    stdin: run.stdin.clone().unwrap_or_default(),
                    args: run.args.clone(),
                    outcome: outcome.clone(),
                    message: msg.message,
                    reply: None,
                },
            );
        }
        record.truncated |= rendered.cut;
        self.write_audit(record.clone()).await;
        Ok(rendered.reply)
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
        let wanted = match &req.profile {
            Some(profile) => Wanted::Within {
                privileged: req.privileged,
                profile,
            },
            None => Wanted::Limits {
                privileged: req.privileged,
                limits: req.limits,
            },
        };
        let place = Place::default();
        let asker = Asker {
            who: &req.who,
            place: &place,
            tier: Some(&req.tier),
        };
        let grant = self.admit_asker(&asker, wanted, record)?;
        let (lang_name, lang) = match config.find_language(&req.language) {
            Some((n, l)) => (n.to_string(), l.clone()),
            None => return Err(unknown_language(&config, &req.language)),
        };
        record.language = Some(lang_name.clone());
        let packages = environments::choose(
            &config,
            req.environment.as_deref(),
            &lang_name,
            &lang,
            None,
            &grant.tier,
        )?;
        let main = check_files(&req.files, req.main.as_deref(), &lang, &grant)?;
        let main_path = main.clone().unwrap_or_else(|| lang.file.clone());
        record.code = req
            .files
            .iter()
            .find(|f| f.path == main_path)
            .map(|f| String::from_utf8_lossy(&f.content).into_owned());
        let user_slot = self.take_turn(&grant, &req.who, None)?;
        let request = RunRequest {
            language: lang_name,
            spec: spec_for(&lang, &grant),
            files: req.files,
            main,
            stdin: req.stdin,
            args: req.args,
            env: req.env,
            limits: grant.limits,
            packages,
        };
        let (outcome, queue_ms) = self.execute(request, progress).await?;
        drop(user_slot);
        fill_outcome(record, &outcome, queue_ms);
        self.write_audit(record.clone()).await;
        Ok(outcome)
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

/// "unknown language `pyhton`; did you mean python?" with the `!langs` hint.
pub(crate) fn unknown_language(config: &Config, wanted: &str) -> Refusal {
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
