//! Rendering a RunOutcome as a chat reply: at most 2,000 characters plus files.

mod files;
mod status;
mod text;
mod verdict;

use coderunner_config::{OutputConfig, Profile};
use coderunner_runner::{RunOutcome, RunStatus};

pub use files::FileLimits;
pub use status::{outcome_words, signal_meaning, status_line};
pub use text::{chat_len, cut_chars, neutralize, plain, trim};
pub use verdict::verdict;

use crate::{fmt, Reply, ReplyFile};

/// A chat message may hold this many characters.
pub const MAX_REPLY_CHARS: usize = 2000;
/// Name of the attached full log.
pub const LOG_NAME: &str = "output.txt";
/// Room kept for the "showing N of M lines" note.
const TRIM_NOTE_RESERVE: usize = 160;
/// Skipped files named in the note at most.
const SKIPPED_NAMED: usize = 5;

/// Everything the reply to one run depends on.
#[derive(Debug, Clone, Copy)]
pub struct RunView<'a> {
    pub language: &'a str,
    pub version: Option<&'a str>,
    /// The code-block tag for highlighting (`py`).
    pub highlight: &'a str,
    pub limits: &'a Profile,
    pub outcome: &'a RunOutcome,
    pub expected: Option<&'a str>,
}

/// A rendered reply and whether the inline output was cut.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub reply: Reply,
    pub cut: bool,
}

/// What a workspace adds to a run's reply.
#[derive(Debug, Clone, Default)]
pub struct Extras {
    /// Files in the workspace after the run, shown on the status line ("📁 3 files").
    pub workspace_files: Option<usize>,
    /// Lines after the output, e.g. why the run's files were not kept.
    pub notes: Vec<String>,
}

/// The reply to a run.
pub fn render_run(view: &RunView<'_>, output: &OutputConfig, upload_limit: u64) -> Rendered {
    render_run_with(view, output, upload_limit, &Extras::default())
}

/// The reply to a run, with a workspace's file count and notes.
pub fn render_run_with(
    view: &RunView<'_>,
    output: &OutputConfig,
    upload_limit: u64,
    extras: &Extras,
) -> Rendered {
    let outcome = view.outcome;
    let head = match outcome.status {
        RunStatus::SandboxError => format!(
            "⚠️ **{}** · the sandbox could not run this: {}. That is a problem on the bot's side, not in your code; tell the bot's operator if it persists.",
            view.language,
            neutralize(cut_chars(outcome.error.as_deref().unwrap_or("unknown error"), 300))
        ),
        _ => status_line(view.language, view.version, outcome, view.limits),
    };
    let head = match extras.workspace_files {
        Some(n) if outcome.status != RunStatus::SandboxError => {
            format!(
                "{head} · 📁 {} in workspace",
                fmt::plural(n, "file", "files")
            )
        }
        _ => head,
    };
    let extra_notes: usize = extras.notes.iter().map(|n| chat_len(n) + 1).sum();
    let raw_log = log_text(outcome);
    let raw = plain(&raw_log);

    let verdict_line = match (view.expected, outcome.status) {
        (Some(_), RunStatus::CompileError | RunStatus::SandboxError) => {
            Some("❌ no output to compare with `expected`: the program did not run".to_string())
        }
        (Some(expected), _) => Some(verdict(&outcome.stdout, expected)),
        (None, _) => None,
    };
    let limits = FileLimits {
        max_files: output.max_files as usize,
        max_file_bytes: output.max_file_bytes.bytes(),
        total_bytes: upload_limit,
    };
    let max_lines = output.inline_lines as usize;
    let max_chars = output.inline_chars as usize;

    // The log's presence can change which files fit and so the notes' length; two passes settle it.
    let mut need_log =
        outcome.truncated || output.attach_full_log || trim(&raw, max_lines, max_chars).cut;
    let (picked, trimmed) = loop {
        let log = need_log.then(|| ReplyFile {
            name: LOG_NAME.to_string(),
            mime: "text/plain; charset=utf-8".to_string(),
            content: raw_log.clone().into_bytes(),
        });
        let picked = files::pick(log, &outcome.files, limits);
        let fixed = chat_len(&head)
            + verdict_line.as_deref().map_or(0, |v| chat_len(v) + 1)
            + skipped_note(&picked.skipped).map_or(0, |n| chat_len(&n) + 1)
            + extra_notes
            + view.highlight.len()
            + 10
            + TRIM_NOTE_RESERVE;
        let budget = max_chars.min(MAX_REPLY_CHARS.saturating_sub(fixed));
        let trimmed = trim(&raw, max_lines, budget);
        if trimmed.cut && !need_log {
            need_log = true;
            continue;
        }
        break (picked, trimmed);
    };

    let mut parts = vec![head];
    if raw.trim().is_empty() {
        parts.push("*(no output)*".to_string());
    } else {
        parts.push(format!("```{}\n{}\n```", view.highlight, trimmed.shown));
    }
    if trimmed.cut {
        parts.push(trim_note(&trimmed, raw.len()));
    } else if outcome.truncated {
        parts.push(format!(
            "✂️ the full log (`{LOG_NAME}`) ends where the output was cut"
        ));
    }
    if let Some(v) = verdict_line {
        parts.push(v);
    }
    if let Some(note) = skipped_note(&picked.skipped) {
        parts.push(note);
    }
    parts.extend(extras.notes.iter().cloned());
    let content = fit(parts.join("\n"));
    Rendered {
        reply: Reply {
            content,
            files: picked.files,
        },
        cut: trimmed.cut,
    }
}

/// The whole output as the log file holds it (compile output for a compile error).
fn log_text(outcome: &RunOutcome) -> String {
    match (&outcome.compile, outcome.status) {
        (Some(c), RunStatus::CompileError) => {
            let mut s = c.stdout.clone();
            if !s.is_empty() && !s.ends_with('\n') {
                s.push('\n');
            }
            s.push_str(&c.stderr);
            s
        }
        _ => outcome.output.clone(),
    }
}

fn trim_note(t: &text::Trimmed, total_bytes: usize) -> String {
    if t.shown_lines < t.total_lines {
        format!(
            "✂️ showing {} of {} — the full log is attached as `{LOG_NAME}` ({})",
            fmt::count(t.shown_lines),
            fmt::plural(t.total_lines, "line", "lines"),
            fmt::bytes(total_bytes as u64)
        )
    } else {
        format!(
            "✂️ long output cut to {} characters — the full log is attached as `{LOG_NAME}` ({})",
            fmt::count(chat_len(&t.shown)),
            fmt::bytes(total_bytes as u64)
        )
    }
}

fn skipped_note(skipped: &[String]) -> Option<String> {
    if skipped.is_empty() {
        return None;
    }
    let mut named: Vec<String> = skipped.iter().take(SKIPPED_NAMED).cloned().collect();
    if skipped.len() > SKIPPED_NAMED {
        named.push(format!("and {} more", skipped.len() - SKIPPED_NAMED));
    }
    Some(format!("⚠️ not attached: {}", named.join("; ")))
}

/// Last guard of the 2,000-character limit: cut, and close a code block left open.
fn fit(content: String) -> String {
    if chat_len(&content) <= MAX_REPLY_CHARS {
        return content;
    }
    let mut cut = cut_chars(&content, MAX_REPLY_CHARS - 6).to_string();
    if cut.matches("```").count() % 2 == 1 {
        cut.push_str("\n```");
    }
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests;
