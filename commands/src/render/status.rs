//! The status line of a reply: language and version, the outcome in words, time and memory.

use coderunner_config::Profile;
use coderunner_runner::{RunOutcome, RunStatus};

use crate::fmt;

/// What a signal means, in a few words.
pub fn signal_meaning(name: &str) -> Option<&'static str> {
    Some(match name {
        "SIGSEGV" => "segmentation fault",
        "SIGABRT" => "aborted",
        "SIGKILL" => "killed",
        "SIGFPE" => "arithmetic error (e.g. division by zero)",
        "SIGILL" => "illegal instruction",
        "SIGBUS" => "bus error",
        "SIGTERM" => "terminated",
        "SIGPIPE" => "broken pipe",
        "SIGXCPU" => "CPU time limit exceeded",
        "SIGXFSZ" => "file size limit exceeded",
        "SIGSYS" => "system call blocked by the sandbox",
        "SIGINT" => "interrupted",
        "SIGHUP" => "hang-up",
        "SIGTRAP" => "trace trap",
        "SIGALRM" => "alarm clock",
        "SIGQUIT" => "quit",
        "SIGUSR1" | "SIGUSR2" => "user signal",
        _ => return None,
    })
}

/// The emoji that leads the status line.
pub fn emoji(outcome: &RunOutcome) -> &'static str {
    match outcome.status {
        RunStatus::Exited if outcome.exit_code == Some(0) => "✅",
        RunStatus::Exited => "❌",
        RunStatus::Signaled => "💥",
        RunStatus::Timeout => "⏱️",
        RunStatus::MemoryLimit => "🧠",
        RunStatus::OutputLimit => "✂️",
        RunStatus::CompileError => "🛠️",
        RunStatus::SandboxError => "⚠️",
    }
}

/// The outcome in words: "exit code 1", "killed by SIGSEGV, segmentation fault",
/// "timed out after 10 s", "memory limit 256 MiB exceeded", "output cut at 1 MiB".
pub fn outcome_words(outcome: &RunOutcome, limits: &Profile) -> String {
    let mut words = match outcome.status {
        RunStatus::Exited => match outcome.exit_code {
            Some(code) => format!("exit code {code}"),
            None => "exited".to_string(),
        },
        RunStatus::Signaled => match outcome.signal.as_deref() {
            Some(sig) => match signal_meaning(sig) {
                Some(meaning) => format!("killed by {sig}, {meaning}"),
                None => format!("killed by {sig}"),
            },
            None => "killed by a signal".to_string(),
        },
        RunStatus::Timeout => format!(
            "timed out after {}",
            fmt::duration(limits.wall_time.as_duration())
        ),
        RunStatus::MemoryLimit => format!(
            "memory limit {} exceeded",
            fmt::bytes(limits.memory.bytes())
        ),
        RunStatus::OutputLimit => format!(
            "output cut at {}, program stopped",
            fmt::bytes(limits.output.bytes())
        ),
        RunStatus::CompileError => match outcome.compile.as_ref().and_then(|c| c.exit_code) {
            Some(code) => format!("compile error (exit code {code})"),
            None => "compile error".to_string(),
        },
        RunStatus::SandboxError => "the sandbox could not run it".to_string(),
    };
    if outcome.truncated && outcome.status != RunStatus::OutputLimit {
        words.push_str(&format!(
            " · output cut at {}",
            fmt::bytes(limits.output.bytes())
        ));
    }
    words
}

/// `✅ python 3.11.2 · exit code 0 · 41 ms · 9.6 MiB peak`
pub fn status_line(
    language: &str,
    version: Option<&str>,
    outcome: &RunOutcome,
    limits: &Profile,
) -> String {
    let mut line = format!("{} **{language}", emoji(outcome));
    if let Some(v) = version {
        line.push(' ');
        line.push_str(v);
    }
    line.push_str("** · ");
    line.push_str(&outcome_words(outcome, limits));
    if outcome.status != RunStatus::SandboxError {
        let wall = match (&outcome.compile, outcome.status) {
            (Some(c), RunStatus::CompileError) => c.wall_ms,
            _ => outcome.wall_ms,
        };
        line.push_str(&format!(" · {}", fmt::millis(wall)));
        if let Some(peak) = outcome.peak_memory_bytes {
            line.push_str(&format!(" · {} peak", fmt::bytes(peak)));
        }
    }
    line
}
