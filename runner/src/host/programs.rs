//! Finds a language's programs on this host the way the sandbox will (bare names only in
//! /usr/local/bin, /usr/bin, /bin; never the caller's PATH) and asks them for their version.

use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use coderunner_config::Language;

/// The only directories bare command names are looked up in, in order.
pub const SEARCH_DIRS: [&str; 3] = ["/usr/local/bin", "/usr/bin", "/bin"];
/// A version command that takes longer than this counts as broken.
pub const VERSION_TIMEOUT: Duration = Duration::from_secs(3);
/// Bytes of version output read at most.
const VERSION_OUTPUT_CAP: u64 = 16 * 1024;

/// Where `program` (an absolute path or a bare name) is on this host, if it is an executable file.
pub fn resolve(program: &str) -> Option<PathBuf> {
    let executable = |p: &Path| {
        p.metadata()
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if program.starts_with('/') {
        let p = PathBuf::from(program);
        return executable(&p).then_some(p);
    }
    if program.is_empty() || program.contains('/') {
        return None;
    }
    SEARCH_DIRS
        .iter()
        .map(|d| Path::new(d).join(program))
        .find(|p| executable(p))
}

/// The host program a language depends on: the compiler for compiled languages (their run
/// command is the `{exe}` they produce, or an interpreter of it such as node for TypeScript that
/// esbuild turned into JavaScript: the compiler is the part a host is likelier to lack), else the
/// interpreter.
pub fn main_program(lang: &Language) -> Option<&str> {
    match &lang.compile {
        Some(compile) if !compile.is_empty() => compile.first().map(String::as_str),
        _ => lang.run.first().map(String::as_str),
    }
}

/// Whether a language has a compile stage.
pub fn is_compiled(lang: &Language) -> bool {
    lang.compile.as_ref().is_some_and(|c| !c.is_empty())
}

/// What this host has of one language.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LanguageStatus {
    pub name: String,
    /// The program looked for (e.g. `python3`, `/usr/bin/python3`, `gcc`).
    pub program: String,
    /// Where it was found.
    pub path: Option<PathBuf>,
    /// The first line of the version command's output, or why there is none.
    pub version: Result<String, String>,
    pub compiled: bool,
}

impl LanguageStatus {
    pub fn installed(&self) -> bool {
        self.path.is_some()
    }
}

/// Look a language up on this host and run its version command (with a short timeout).
pub fn language_status(name: &str, lang: &Language) -> LanguageStatus {
    let program = main_program(lang).unwrap_or_default().to_string();
    let path = resolve(&program);
    let version = match (&path, lang.version.first()) {
        (None, _) => Err(format!(
            "not installed ({program} is not in {})",
            if program.starts_with('/') {
                "this host".to_string()
            } else {
                SEARCH_DIRS.join(", ")
            }
        )),
        (Some(_), None) => Err("no version command configured".into()),
        (Some(_), Some(_)) => version(&lang.version),
    };
    LanguageStatus {
        name: name.to_string(),
        program,
        path,
        version,
        compiled: is_compiled(lang),
    }
}

/// Run a version command (program resolved like the sandbox does) and return its first line.
pub fn version(cmd: &[String]) -> Result<String, String> {
    let program = cmd.first().ok_or("empty version command")?;
    let path = resolve(program)
        .ok_or_else(|| format!("{program} is not in {}", SEARCH_DIRS.join(", ")))?;
    let mut child = Command::new(&path)
        .args(&cmd[1..])
        .env_clear()
        .env("PATH", SEARCH_DIRS.join(":"))
        .env("LC_ALL", "C")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", path.display()))?;
    let readers: Vec<_> = [
        child
            .stdout
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
        child
            .stderr
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
    ]
    .into_iter()
    .flatten()
    .map(|r| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = r.take(VERSION_OUTPUT_CAP).read_to_end(&mut buf);
            buf
        })
    })
    .collect();
    let deadline = Instant::now() + VERSION_TIMEOUT;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Ok(status),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(10)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                break Err(format!(
                    "`{}` did not answer within {}s",
                    cmd.join(" "),
                    VERSION_TIMEOUT.as_secs()
                ));
            }
            Err(e) => break Err(e.to_string()),
        }
    };
    let outputs: Vec<Vec<u8>> = readers.into_iter().filter_map(|h| h.join().ok()).collect();
    let status = status?;
    let first_line = outputs
        .iter()
        .flat_map(|o| {
            String::from_utf8_lossy(o)
                .lines()
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .map(|l| l.trim().to_string())
        .find(|l| !l.is_empty());
    match (status.success(), first_line) {
        (true, Some(line)) => Ok(line),
        (true, None) => Err(format!("`{}` printed nothing", cmd.join(" "))),
        (false, line) => Err(format!(
            "`{}` failed ({status}){}",
            cmd.join(" "),
            line.map(|l| format!(": {l}")).unwrap_or_default()
        )),
    }
}
