//! `!lint`: a static checker run inside the sandbox (pyflakes, `gcc -fsyntax-only`,
//! `node --check`, `bash -n`), its findings listed with line numbers. No model involved.

use std::sync::LazyLock;

use coderunner_config::Language;
use coderunner_runner::{RunOutcome, RunStatus};
use regex::Regex;

use crate::admission::{Asker, Wanted};
use crate::parse::RunCommand;
use crate::pipeline::{audit_base, fill_outcome, Pipeline};
use crate::refusal::Refusal;
use crate::render::{cut_chars, neutralize, MAX_REPLY_CHARS};
use crate::{Incoming, Progress, Reply};

impl Pipeline {
    /// `!lint`: the message's code block, or the asker's last run here.
    pub(crate) async fn lint_chat(
        &self,
        msg: &Incoming,
        run: RunCommand,
        progress: &dyn Progress,
    ) -> Reply {
        let mut record = audit_base(&msg.who, &msg.place);
        match self.lint(msg, &run, progress, &mut record).await {
            Ok(text) => Reply::text(text),
            Err(refusal) => {
                self.refused(record, &refusal).await;
                Reply::text(refusal.chat_line())
            }
        }
    }

    async fn lint(
        &self,
        msg: &Incoming,
        run: &RunCommand,
        progress: &dyn Progress,
        record: &mut crate::AuditRecord,
    ) -> Result<String, Refusal> {
        let config = std::sync::Arc::clone(&self.inner.config);
        let p = &config.discord.prefix;
        let asker = Asker {
            who: &msg.who,
            place: &msg.place,
            tier: None,
        };
        // A checker never needs network or more than the tier's own limits.
        let grant = self.admit_asker(&asker, Wanted::plain(), record)?;
        let wanted = run.language.as_deref().or(run.code_tag.as_deref());
        let (language, code) = match (&run.code, wanted) {
            (Some(code), Some(lang)) => (lang.to_string(), code.clone()),
            (Some(_), None) => {
                return Err(Refusal::bad_request(format!(
                    "which language is this? write it after `{p}lint` (e.g. `{p}lint python`) or tag the code block"
                )))
            }
            (None, _) => match self.inner.recent.find(&msg.who, &msg.place, msg.reply_to) {
                Some(memo) => (memo.language, memo.code),
                None => {
                    return Err(Refusal::bad_request(format!(
                        "nothing to lint: put the code in a code block after `{p}lint LANG`, or use `{p}lint` after your own `{p}run` here (or as a reply to its reply)"
                    )))
                }
            },
        };
        let (name, lang) = config
            .find_language(&language)
            .map(|(n, l)| (n.to_string(), l.clone()))
            .ok_or_else(|| crate::run::unknown_language(&config, &language))?;
        record.language = Some(name.clone());
        record.code = Some(code.clone());
        let Some((tool, command)) = checker(&name) else {
            return Err(Refusal::bad_request(format!(
                "`{p}lint` checks {LINTED}; there is no checker for {name}"
            )));
        };
        let user_slot = self.take_turn(&grant, &msg.who, msg.place.guild)?;
        let request = coderunner_runner::RunRequest {
            language: name.clone(),
            spec: spec(&lang, command),
            files: vec![coderunner_runner::InputFile {
                path: lang.file.clone(),
                content: code.into_bytes(),
            }],
            main: None,
            stdin: Vec::new(),
            args: Vec::new(),
            env: Default::default(),
            limits: grant.limits.clone(),
            packages: None,
        };
        let (outcome, queue_ms) = self.execute(request, progress).await?;
        drop(user_slot);
        fill_outcome(record, &outcome, queue_ms);
        self.write_audit(record.clone()).await;
        Ok(render(&name, tool, &outcome))
    }
}

/// The checker for a configured language name, as a `run` command (`{file}` is the source).
pub fn checker(language: &str) -> Option<(&'static str, Vec<String>)> {
    let words: (&str, &[&str]) = match language {
        "python" => (
            "pyflakes",
            &[
                "/usr/bin/python3",
                "-E",
                "-s",
                "-B",
                "-m",
                "pyflakes",
                "{file}",
            ],
        ),
        "c" => (
            "gcc -fsyntax-only -Wall -Wextra",
            &[
                "gcc",
                "-fsyntax-only",
                "-Wall",
                "-Wextra",
                "-std=gnu17",
                "{file}",
            ],
        ),
        "cpp" => (
            "g++ -fsyntax-only -Wall -Wextra",
            &[
                "g++",
                "-fsyntax-only",
                "-Wall",
                "-Wextra",
                "-std=gnu++20",
                "{file}",
            ],
        ),
        "javascript" => ("node --check", &["node", "--check", "{file}"]),
        "bash" => ("bash -n", &["bash", "-n", "{file}"]),
        "sh" => ("sh -n", &["sh", "-n", "{file}"]),
        _ => return None,
    };
    Some((words.0, words.1.iter().map(|w| w.to_string()).collect()))
}

/// Languages `!lint` knows, for its help and refusals.
pub const LINTED: &str = "python, c, cpp, javascript, bash and sh";

/// The language's own spec (mounts, env, memory strategy) with the checker as its program.
pub fn spec(lang: &Language, command: Vec<String>) -> Language {
    let mut spec = lang.clone();
    spec.compile = None;
    spec.run = command;
    spec
}

/// One finding: the line (and column) it points at, and the checker's words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub line: u32,
    pub column: Option<u32>,
    pub message: String,
}

static FILE_LINE_COL: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"^(?:\S*/)?main\.\w+:(\d+):(?:(\d+):)?\s*(.+)$").ok());
static BASH_LINE: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"^(?:\S*/)?main\.\w+: line (\d+): (.+)$").ok());
static NODE_LINE: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"^(?:\S*/)?main\.\w+:(\d+)$").ok());
static NODE_ERROR: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"^[A-Za-z]*Error: .+$").ok());

/// Findings in a checker's output, in order (gcc's "note:" lines are kept with their line).
pub fn findings(output: &str) -> Vec<Finding> {
    let mut out = Vec::new();
    let (Some(flc), Some(bash), Some(node_line), Some(node_error)) = (
        FILE_LINE_COL.as_ref(),
        BASH_LINE.as_ref(),
        NODE_LINE.as_ref(),
        NODE_ERROR.as_ref(),
    ) else {
        return out;
    };
    let mut pending_node_line: Option<u32> = None;
    for line in output.lines() {
        if let Some(c) = node_line.captures(line) {
            pending_node_line = c[1].parse().ok();
            continue;
        }
        if let (Some(n), true) = (pending_node_line, node_error.is_match(line)) {
            out.push(Finding {
                line: n,
                column: None,
                message: line.to_string(),
            });
            pending_node_line = None;
            continue;
        }
        if let Some(c) = bash.captures(line) {
            if let Ok(n) = c[1].parse() {
                out.push(Finding {
                    line: n,
                    column: None,
                    message: c[2].to_string(),
                });
            }
            continue;
        }
        if let Some(c) = flc.captures(line) {
            if let Ok(n) = c[1].parse() {
                out.push(Finding {
                    line: n,
                    column: c.get(2).and_then(|m| m.as_str().parse().ok()),
                    message: c[3].to_string(),
                });
            }
        }
    }
    out
}

/// The reply: a line per finding, or "no findings", or why the checker could not say.
pub fn render(language: &str, tool: &str, outcome: &RunOutcome) -> String {
    let text = if outcome.output.is_empty() {
        format!("{}{}", outcome.stdout, outcome.stderr)
    } else {
        outcome.output.clone()
    };
    let found = findings(&text);
    let head = format!("🔎 **lint {language}** ({tool})");
    let clean_exit = outcome.status == RunStatus::Exited && outcome.exit_code == Some(0);
    if found.is_empty() {
        if clean_exit {
            return format!("{head} · ✅ no findings");
        }
        let why = match outcome.status {
            RunStatus::Exited => format!(
                "the checker exited with {}",
                outcome.exit_code.unwrap_or(-1)
            ),
            other => format!("the checker ended with `{}`", other.as_str()),
        };
        let shown = neutralize(cut_chars(text.trim(), 1_200)).replace("```", "'''");
        return format!("{head} · ⚠️ {why}:\n```\n{shown}\n```");
    }
    let mut out = format!(
        "{head} · {}",
        crate::fmt::plural(found.len(), "finding", "findings")
    );
    for f in &found {
        let at = match f.column {
            Some(col) => format!("line {}:{col}", f.line),
            None => format!("line {}", f.line),
        };
        let line = format!("\n• **{at}** — {}", neutralize(cut_chars(&f.message, 200)));
        if out.chars().count() + line.chars().count() > MAX_REPLY_CHARS - 10 {
            out.push_str("\n…");
            break;
        }
        out.push_str(&line);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_each_checkers_format() {
        let py = "main.py:1:1: 'os' imported but unused\nmain.py:2:7: undefined name 'x'\n";
        let f = findings(py);
        assert_eq!(f.len(), 2);
        assert_eq!((f[1].line, f[1].column), (2, Some(7)));
        assert_eq!(f[1].message, "undefined name 'x'");

        let gcc = "main.c: In function 'main':\nmain.c:1:26: error: 'y' undeclared\n    1 | int main(){int x; return y;}\n      |   ^\n";
        let f = findings(gcc);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].line, 1);
        assert!(f[0].message.starts_with("error: 'y'"));

        let node = "/work/main.js:3\nlet a = (;\n         ^\n\nSyntaxError: Unexpected token ';'\n    at wrapSafe (node:internal)\n";
        let f = findings(node);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].line, 3);
        assert_eq!(f[0].message, "SyntaxError: Unexpected token ';'");

        let bash = "main.sh: line 3: syntax error: unexpected end of file\n";
        let f = findings(bash);
        assert_eq!(
            (f[0].line, f[0].message.as_str()),
            (3, "syntax error: unexpected end of file")
        );
    }
}
