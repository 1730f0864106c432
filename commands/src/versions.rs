//! Language versions for status lines and `!langs`, asked once per language and cached.

use std::collections::HashMap;
use std::sync::OnceLock;
use std::time::Duration;

use coderunner_config::Language;
use regex::Regex;
use tokio::sync::Mutex;

/// The version command is the operator's, run on the host, but it must not stall a reply.
const VERSION_TIMEOUT: Duration = Duration::from_secs(5);
/// Where bare command names are looked up (as the runner does).
const SEARCH_PATH: &str = "/usr/local/bin:/usr/bin:/bin";

/// What asking a language for its version found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Version {
    /// "3.11.2".
    Known(String),
    /// No version command is configured.
    Unknown,
    /// The version command could not run: the language is probably not installed.
    Missing(String),
}

impl Version {
    pub fn known(&self) -> Option<&str> {
        match self {
            Version::Known(v) => Some(v),
            _ => None,
        }
    }
}

/// Cache of versions by language name.
#[derive(Default)]
pub struct Versions {
    cache: Mutex<HashMap<String, Version>>,
}

impl Versions {
    pub async fn get(&self, name: &str, lang: &Language) -> Version {
        if let Some(v) = self.cache.lock().await.get(name) {
            return v.clone();
        }
        let v = probe(lang).await;
        self.cache.lock().await.insert(name.to_string(), v.clone());
        v
    }
}

fn version_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| Regex::new(r"\d+\.\d+(?:\.\d+)?").expect("valid version pattern"))
}

async fn probe(lang: &Language) -> Version {
    let Some((program, args)) = lang.version.split_first() else {
        return Version::Unknown;
    };
    let mut cmd = tokio::process::Command::new(program);
    cmd.args(args)
        .env_clear()
        .env("PATH", SEARCH_PATH)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    let out = match tokio::time::timeout(VERSION_TIMEOUT, cmd.output()).await {
        Ok(Ok(out)) => out,
        Ok(Err(e)) => return Version::Missing(format!("{program}: {e}")),
        Err(_) => return Version::Missing(format!("{program} did not answer in time")),
    };
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    match version_re().find(first) {
        Some(m) => Version::Known(m.as_str().to_string()),
        None if out.status.success() => Version::Unknown,
        None => Version::Missing(format!("{program} exited with {}", out.status)),
    }
}
