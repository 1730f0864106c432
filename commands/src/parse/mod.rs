//! Chat grammar: turns a message's text into a `Command` (DESIGN §3). Never panics on any input.

mod args;
mod env;
mod fences;

use std::time::Duration;

use coderunner_config::{ByteSize, HumanDuration};

pub use fences::{find_blocks, Block};

/// Characters that are invisible in chat and only get in the way (copied from rendered
/// messages, or typed by editors); removed before parsing.
const ZERO_WIDTH: &[char] = &['\u{200B}', '\u{200C}', '\u{200D}', '\u{2060}', '\u{FEFF}'];

/// A message addressed to the bot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Run(RunCommand),
    /// `!run` that could not be understood: the reply explains what was wrong.
    RunError(ParseError),
    Languages,
    Help {
        topic: Option<String>,
    },
    Runs {
        count: Option<usize>,
    },
    Files,
    Reset,
    /// `!session`: the thread's notebook session.
    Session,
    /// `!restart`: a new interpreter, the files kept.
    Restart,
    /// `!explain`, `!fix`, `!tests`: about the asker's last run (or the one replied to).
    Explain,
    Fix,
    Tests,
    /// `!ask [LANG] question`: the words after `!ask` (the language is resolved later).
    Ask {
        words: String,
    },
    /// `!lint [LANG]` with a code block, or alone for the last run's code.
    Lint(RunCommand),
}

/// Flags given before the language.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunFlags {
    pub privileged: bool,
    /// `--fresh`: one-shot even where `!run py` is a session cell.
    pub fresh: bool,
    pub timeout: Option<Duration>,
    /// Bytes.
    pub memory: Option<u64>,
    /// `--env=NAME`: the package set to run with (`none`: not even the default one).
    pub env_set: Option<String>,
}

/// `!run [FLAGS] [LANG] [ARGS...]` with its code blocks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunCommand {
    pub flags: RunFlags,
    /// The language as written after the flags, if any.
    pub language: Option<String>,
    pub args: Vec<String>,
    /// The program's source, when the message has one (a fenced, inline or bare block).
    pub code: Option<String>,
    /// The tag of the program's fence (`py`), a language hint when `language` is absent.
    pub code_tag: Option<String>,
    /// A block tagged `stdin` or `input`.
    pub stdin: Option<String>,
    /// A block tagged `expected`: the output the program should print.
    pub expected: Option<String>,
    /// A block tagged `env`: `KEY=value` lines for the program's environment.
    pub env: Vec<(String, String)>,
}

/// Why a `!run` message could not be understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("unknown flag `{0}`; the flags are --privileged, --fresh, --timeout=SECS, --memory=SIZE and --env=SET, written before the language")]
    UnknownFlag(String),
    #[error("`{flag}` needs {what}, e.g. `{example}`")]
    BadFlagValue {
        flag: String,
        what: &'static str,
        example: &'static str,
    },
    #[error("found {0} code blocks; put the program in one block, tag input with ```stdin, the expected output with ```expected and environment variables with ```env")]
    SeveralPrograms(usize),
    #[error("there are two ```{0} blocks; give at most one")]
    DuplicateBlock(String),
    #[error("an argument has an unclosed quote; close it or remove it")]
    UnclosedQuote,
    #[error("{0}")]
    Env(String),
}

/// Parse `text` for a bot with command prefix `prefix`. `None`: not addressed to the bot.
pub fn parse(prefix: &str, text: &str) -> Option<Command> {
    let text = normalize(text);
    let rest = text.trim_start().strip_prefix(prefix)?;
    if prefix.is_empty() {
        return None;
    }
    // The command word ends at whitespace or at a fence (`!run```py` has no space).
    let end = rest
        .find(|c: char| c.is_whitespace() || c == '`' || c == '~')
        .unwrap_or(rest.len());
    let word = rest.get(..end)?.to_ascii_lowercase();
    let tail = rest.get(end..).unwrap_or("");
    let command = match word.as_str() {
        "run" | "r" | "eval" | "exec" => match parse_run(tail) {
            Ok(run) => Command::Run(run),
            Err(e) => Command::RunError(e),
        },
        "langs" | "languages" | "lang" => Command::Languages,
        "help" => Command::Help {
            topic: tail
                .split_whitespace()
                .next()
                .map(|t| t.trim_start_matches(prefix).to_ascii_lowercase()),
        },
        "runs" => Command::Runs {
            count: tail
                .split_whitespace()
                .next()
                .and_then(|n| n.parse::<usize>().ok()),
        },
        "files" => Command::Files,
        "reset" => Command::Reset,
        "session" => Command::Session,
        "restart" => Command::Restart,
        "explain" => Command::Explain,
        "fix" => Command::Fix,
        "tests" => Command::Tests,
        "ask" => Command::Ask {
            words: tail.trim().to_string(),
        },
        "lint" => match parse_run(tail) {
            Ok(run) => Command::Lint(run),
            Err(e) => Command::RunError(e),
        },
        _ => return None,
    };
    Some(command)
}

/// CRLF and lone CR become LF; zero-width characters go.
fn normalize(text: &str) -> String {
    text.replace("\r\n", "\n")
        .replace('\r', "\n")
        .chars()
        .filter(|c| !ZERO_WIDTH.contains(c))
        .collect()
}

/// Everything after `!run`.
fn parse_run(tail: &str) -> Result<RunCommand, ParseError> {
    let blocks = find_blocks(tail);
    let mut run = RunCommand::default();

    // The header is what precedes the first block, or the first line when there is none.
    let header_end = match blocks.first() {
        Some(b) => b.start,
        None => tail.find('\n').unwrap_or(tail.len()),
    };
    let header = tail.get(..header_end).unwrap_or("");
    // A header spanning lines before a fence: only its first line holds flags and language.
    let (header_line, header_rest) = header.split_once('\n').unwrap_or((header, ""));
    parse_header(header_line, &mut run)?;

    let mut programs: Vec<&Block> = Vec::new();
    let mut seen_env = false;
    for block in &blocks {
        match block.tag.as_deref().map(str::to_ascii_lowercase).as_deref() {
            Some("stdin" | "input") => set_once(&mut run.stdin, "stdin", &block.body)?,
            Some("expected") => set_once(&mut run.expected, "expected", &block.body)?,
            Some("env") => {
                if seen_env {
                    return Err(ParseError::DuplicateBlock("env".into()));
                }
                seen_env = true;
                run.env = env::parse_block(&block.body)?;
            }
            _ => programs.push(block),
        }
    }
    if programs.len() > 1 {
        return Err(ParseError::SeveralPrograms(programs.len()));
    }
    if let Some(program) = programs.first() {
        run.code = Some(program.body.clone());
        run.code_tag = program.tag.clone();
    } else if blocks.is_empty() {
        // No block at all: lines after the header are the program ("!run py\nprint(1)").
        let bare = tail.get(header_end..).unwrap_or("").trim_matches('\n');
        if !bare.trim().is_empty() {
            run.code = Some(bare.to_string());
        }
    } else if !header_rest.trim().is_empty() {
        // Only a stdin/expected block, with the program written bare above it.
        run.code = Some(header_rest.trim_matches('\n').to_string());
    }
    if let Some(code) = run.code.as_mut() {
        if !code.ends_with('\n') {
            code.push('\n');
        }
    }
    if let Some(stdin) = run.stdin.as_mut() {
        // A last line without a newline would make `input()` see EOF instead of the line.
        if !stdin.is_empty() && !stdin.ends_with('\n') {
            stdin.push('\n');
        }
    }
    Ok(run)
}

fn set_once(slot: &mut Option<String>, tag: &str, body: &str) -> Result<(), ParseError> {
    if slot.is_some() {
        return Err(ParseError::DuplicateBlock(tag.to_string()));
    }
    *slot = Some(body.to_string());
    Ok(())
}

/// `[FLAGS] [LANG] [ARGS...]`: flags come first; the first other word is the language.
fn parse_header(line: &str, run: &mut RunCommand) -> Result<(), ParseError> {
    let words = args::split(line).ok_or(ParseError::UnclosedQuote)?;
    let mut words = words.into_iter();
    for word in words.by_ref() {
        if !word.starts_with("--") {
            run.language = Some(word);
            break;
        }
        parse_flag(&word, &mut run.flags)?;
    }
    run.args = words.collect();
    Ok(())
}

fn parse_flag(word: &str, flags: &mut RunFlags) -> Result<(), ParseError> {
    let (name, value) = match word.split_once('=') {
        Some((n, v)) => (n.to_ascii_lowercase(), Some(v)),
        None => (word.to_ascii_lowercase(), None),
    };
    match (name.as_str(), value) {
        ("--privileged", None) => flags.privileged = true,
        ("--fresh", None) => flags.fresh = true,
        ("--timeout", Some(v)) => {
            flags.timeout = Some(parse_duration(v).ok_or_else(|| ParseError::BadFlagValue {
                flag: "--timeout".into(),
                what: "a number of seconds",
                example: "--timeout=5",
            })?)
        }
        ("--memory", Some(v)) => {
            flags.memory = Some(
                v.parse::<ByteSize>()
                    .ok()
                    .filter(|b| b.bytes() > 0)
                    .map(ByteSize::bytes)
                    .ok_or_else(|| ParseError::BadFlagValue {
                        flag: "--memory".into(),
                        what: "a size",
                        example: "--memory=128MiB",
                    })?,
            )
        }
        ("--env", Some(v)) if is_set_word(v) => flags.env_set = Some(v.to_ascii_lowercase()),
        ("--env", _) => {
            return Err(ParseError::BadFlagValue {
                flag: "--env".into(),
                what: "the name of a package set (`!langs` lists them)",
                example: "--env=ml",
            })
        }
        ("--timeout", None) => {
            return Err(ParseError::BadFlagValue {
                flag: "--timeout".into(),
                what: "a number of seconds",
                example: "--timeout=5",
            })
        }
        ("--memory", None) => {
            return Err(ParseError::BadFlagValue {
                flag: "--memory".into(),
                what: "a size",
                example: "--memory=128MiB",
            })
        }
        _ => return Err(ParseError::UnknownFlag(word.to_string())),
    }
    Ok(())
}

/// A word that can be a set name (checked against the config later, with suggestions).
fn is_set_word(v: &str) -> bool {
    !v.is_empty()
        && v.len() <= 64
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// A bare number is seconds; otherwise the config's duration syntax (`500ms`, `1m`).
fn parse_duration(v: &str) -> Option<Duration> {
    let d = match v.trim().parse::<f64>() {
        Ok(secs) if secs.is_finite() && secs > 0.0 && secs < 1e9 => Duration::from_secs_f64(secs),
        Ok(_) => return None,
        Err(_) => v.parse::<HumanDuration>().ok()?.as_duration(),
    };
    (!d.is_zero()).then_some(d)
}

#[cfg(test)]
mod tests;
