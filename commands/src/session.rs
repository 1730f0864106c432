//! Chat side of notebook sessions: where `!run py` is a cell (`sessions.where`, the console),
//! the cell's reply (its displays as output and PNG attachments), and `!session`, `!restart`,
//! `!reset`'s session half. `!run --fresh`, `--privileged` and other languages stay one-shot.

use std::sync::Arc;

use base64::Engine as _;
use coderunner_config::SessionPlaces;
use coderunner_runner::OutputFile;

use crate::admission::{Asker, Wanted};
use crate::direct::RequestedLimits;
use crate::parse::RunCommand;
use crate::pipeline::{audit_base, fill_outcome};
use crate::refusal::Refusal;
use crate::render::{self, RunView};
use crate::sessions::SessionManager;
use crate::{fmt, Identity, Incoming, Pipeline, Place, Platform, Progress, Reply};

/// The session a message's place has: (manager key, workspace key), or `None` where `!run`
/// stays one-shot.
fn place_key(pipeline: &Pipeline, who: &Identity, place: &Place) -> Option<(String, String)> {
    let sessions = pipeline.sessions()?;
    let config = sessions.config();
    let on = match (place.thread, place.channel) {
        (Some(_), _) => config.places != SessionPlaces::None,
        (None, Some(_)) => config.places == SessionPlaces::Channels,
        (None, None) => config.console,
    };
    if !on {
        return None;
    }
    let ws = pipeline.workspaces().key_for(who, place).or_else(|| {
        // A place without a workspace still gets its own session directory.
        let id = place.thread.or(place.channel)?;
        Some(format!("session-{id}"))
    })?;
    Some((format!("chat:{ws}"), ws))
}

/// What a cell shows, as chat shows it: text after the output, figures as PNG files.
fn displays_into(
    outcome: &mut coderunner_runner::RunOutcome,
    display: &[coderunner_runner::session::Display],
) {
    let mut figure = 0;
    for d in display {
        match d.mime.as_str() {
            "text/plain" => {
                for text in [&mut outcome.stdout, &mut outcome.output] {
                    if !text.is_empty() && !text.ends_with('\n') {
                        text.push('\n');
                    }
                    text.push_str(&d.data);
                    text.push('\n');
                }
            }
            "image/png" => {
                if let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(&d.data) {
                    figure += 1;
                    outcome.files.push(OutputFile {
                        path: format!("figure-{figure}.png"),
                        size: bytes.len() as u64,
                        mime: "image/png".into(),
                        content: bytes,
                    });
                }
            }
            _ => {}
        }
    }
}

impl Pipeline {
    /// Run model-written Python (`!ask`) as a cell of the place's session, the way the asker's
    /// own `!run py` there would; `None` where `!run` is one-shot (and for programs: HTTP and
    /// MCP callers have their own sessions by id). The caller has admitted the asker.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn cell_for_model(
        &self,
        who: &Identity,
        place: &Place,
        code: &str,
        stdin: &str,
        limits: &coderunner_config::Profile,
        record: &mut crate::AuditRecord,
        progress: &dyn Progress,
    ) -> Option<Result<coderunner_runner::RunOutcome, Refusal>> {
        if !matches!(who.platform, Platform::Discord | Platform::Console) {
            return None;
        }
        let (key, ws) = place_key(self, who, place)?;
        let sessions = Arc::clone(self.sessions()?);
        let result = async {
            let mut turn = sessions.turn(&key, &ws, who).await;
            let (permit, queue_ms) = self.admit(progress).await?;
            let reply = sessions
                .run_cell(&mut turn, code.to_string(), stdin.to_string(), limits)
                .await;
            drop(permit);
            drop(turn);
            let reply = reply?;
            fill_outcome(record, &reply.cell.outcome, queue_ms);
            let mut outcome = reply.cell.outcome.clone();
            displays_into(&mut outcome, &reply.cell.display);
            // What the session itself says (restored, ended) reaches the asker too.
            for note in reply.notes.iter().chain(reply.cell.ended.iter()) {
                if !outcome.stderr.is_empty() && !outcome.stderr.ends_with('\n') {
                    outcome.stderr.push('\n');
                }
                outcome.stderr.push_str(&format!("[session] {note}\n"));
            }
            Ok(outcome)
        }
        .await;
        Some(result)
    }

    /// `!run` as a cell when the place has a session and the run is a plain Python code block;
    /// `None`: run it one-shot.
    pub(crate) async fn chat_cell(
        &self,
        msg: &Incoming,
        run: &RunCommand,
        progress: &dyn Progress,
    ) -> Option<Reply> {
        // A message with attachments runs one-shot: its files are kept in the workspace, and
        // join the live session before its next cell. So does a run asking for a package set or
        // an `env` block: a session's Python has neither.
        if run.flags.fresh
            || run.flags.privileged
            || run.flags.env_set.is_some()
            || !run.env.is_empty()
            || run.code.is_none()
            || !msg.attachments.is_empty()
        {
            return None;
        }
        let config = self.config();
        // Where a package set is the default, a one-shot run gets it; a cell could not.
        let tier = crate::access::tier_for(config, &msg.who, &msg.place).ok()?;
        if config
            .default_package_set(msg.place.channel, &tier.name)
            .is_some()
        {
            return None;
        }
        let wanted = run.language.as_deref().or(run.code_tag.as_deref())?;
        if config.find_language(wanted).map(|(n, _)| n) != Some("python") {
            return None;
        }
        let (key, ws) = place_key(self, &msg.who, &msg.place)?;
        let sessions = Arc::clone(self.sessions()?);
        let _flight = self.track();
        let mut record = audit_base(&msg.who, &msg.place);
        record.language = Some("python".into());
        record.code = run.code.clone();
        match self
            .cell_in(&sessions, msg, run, &key, &ws, progress, &mut record)
            .await
        {
            Ok(reply) => Some(reply),
            Err(refusal) => {
                self.refused(record, &refusal).await;
                Some(Reply::text(refusal.chat_line()))
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn cell_in(
        &self,
        sessions: &Arc<SessionManager>,
        msg: &Incoming,
        run: &RunCommand,
        key: &str,
        ws: &str,
        progress: &dyn Progress,
        record: &mut crate::AuditRecord,
    ) -> Result<Reply, Refusal> {
        let config = self.config();
        let grant = self.admit_asker(
            &Asker {
                who: &msg.who,
                place: &msg.place,
                tier: None,
            },
            Wanted::Limits {
                privileged: false,
                limits: RequestedLimits {
                    wall_time: run.flags.timeout,
                    memory: run.flags.memory,
                },
            },
            record,
        )?;
        let user_slot = self.take_turn(&grant, &msg.who, msg.place.guild)?;
        let mut turn = match msg.message {
            Some(id) => sessions.turn_in_order(key, ws, &msg.who, id).await,
            None => sessions.turn(key, ws, &msg.who).await,
        };
        let mut notes = Vec::new();
        if turn.ahead > 0 {
            notes.push(format!(
                "⏳ waited for {} of this session ahead of it",
                fmt::plural(turn.ahead, "cell", "cells")
            ));
        }
        let (permit, queue_ms) = self.admit(progress).await?;
        let reply = sessions
            .run_cell(
                &mut turn,
                run.code.clone().unwrap_or_default(),
                run.stdin.clone().unwrap_or_default(),
                &grant.limits,
            )
            .await;
        drop(permit);
        drop(turn);
        drop(user_slot);
        let reply = reply?;
        fill_outcome(record, &reply.cell.outcome, queue_ms);
        // `!explain`, `!fix`, `!tests` and `!lint` work on a cell as on a run (the cell's own code).
        self.remember_run(
            &msg.who,
            &msg.place,
            crate::ai::memory::RunMemo {
                language: "python".to_string(),
                code: run.code.clone().unwrap_or_default(),
                stdin: run.stdin.clone().unwrap_or_default(),
                args: run.args.clone(),
                outcome: reply.cell.outcome.clone(),
                message: msg.message,
                reply: None,
            },
        );
        notes.extend(reply.notes.iter().map(|n| format!("🧠 {n}")));
        if let Some(why) = &reply.cell.ended {
            notes.push(format!("🧠 {why}"));
        }
        let version = match config.find_language("python") {
            Some((name, lang)) => Some(self.versions().get(name, lang).await),
            None => None,
        };
        let mut outcome = reply.cell.outcome.clone();
        displays_into(&mut outcome, &reply.cell.display);
        let rendered = render::render_run_with(
            &RunView {
                language: "python",
                version: version.as_ref().and_then(|v| v.known()),
                highlight: "py",
                limits: &grant.limits,
                outcome: &outcome,
                expected: run.expected.as_deref(),
            },
            &config.output,
            config.discord.upload_limit.bytes(),
            &render::Extras {
                workspace_files: self.workspaces().file_count(ws),
                notes,
            },
        );
        record.truncated |= rendered.cut;
        self.write_audit(record.clone()).await;
        Ok(rendered.reply)
    }

    /// `!session`: age, idle time, memory, variables, files.
    pub(crate) async fn session_status(&self, msg: &Incoming) -> String {
        let p = &self.config().discord.prefix;
        let Some((key, ws)) = place_key(self, &msg.who, &msg.place) else {
            return format!("🧠 no session here: `{p}run py` is one-shot in this place (sessions live in threads; `{p}help session`)");
        };
        let files = self.workspaces().file_count(&ws).unwrap_or(0);
        let Some(sessions) = self.sessions() else {
            return String::new();
        };
        let Some(info) = sessions.info(&key).await.filter(|i| i.live) else {
            return format!("🧠 no live session here yet; the next `{p}run py` starts one (a parked one is restored). 📁 {}", fmt::plural(files, "file", "files"));
        };
        let mut s = format!(
            "🧠 Python {} session: up {}, idle {}, memory {} of {}\n",
            info.python.unwrap_or_default(),
            fmt_secs(info.age.unwrap_or_default().as_secs()),
            fmt_secs(info.idle.as_secs()),
            info.memory_used
                .map(fmt::bytes)
                .unwrap_or_else(|| "?".into()),
            info.memory_limit
                .map(fmt::bytes)
                .unwrap_or_else(|| "?".into()),
        );
        if info.variables.is_empty() {
            s.push_str("no variables yet\n");
        }
        for v in info.variables.iter().take(30) {
            s.push_str(&format!(
                "`{}`: {} ({})\n",
                render::neutralize(render::cut_chars(&v.name, 40)).replace('`', "'"),
                render::neutralize(render::cut_chars(&v.kind, 60)).replace('`', "'"),
                fmt::bytes(v.size)
            ));
        }
        s.push_str(&format!(
            "📁 {} (`{p}files`)",
            fmt::plural(files, "file", "files")
        ));
        s
    }

    /// `!restart`: a new interpreter; the files stay.
    pub(crate) async fn session_restart(&self, msg: &Incoming) -> String {
        let p = &self.config().discord.prefix;
        let Some((key, ws)) = place_key(self, &msg.who, &msg.place) else {
            return format!("🧠 no session here to restart (`{p}help session`)");
        };
        let Some(sessions) = self.sessions() else {
            return String::new();
        };
        sessions.restart(&key, &ws, &msg.who).await;
        "🧠 restarted: the next cell gets a new Python; the files are kept".into()
    }

    /// The session half of `!reset`: end it without parking (the files go with the workspace).
    pub(crate) async fn session_reset(&self, msg: &Incoming) -> Option<String> {
        let (key, _) = place_key(self, &msg.who, &msg.place)?;
        self.sessions()?
            .close(&key)
            .await
            .then(|| "🧠 the session's variables are cleared too".to_string())
    }
}

fn fmt_secs(s: u64) -> String {
    match s {
        0..=59 => format!("{s} s"),
        60..=3599 => format!("{} min", s / 60),
        _ => format!("{} h {} min", s / 3600, s % 3600 / 60),
    }
}
