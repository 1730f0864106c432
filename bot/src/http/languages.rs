//! `GET /v1/languages`: the configured languages with the versions found on this host, probed
//! once at start-up with the pipeline's version probe.

use axum::extract::State;
use axum::Json;
use coderunner_commands::versions::{Version, Versions};
use coderunner_config::{Config, Language};
use serde::Serialize;
use std::path::{Path, PathBuf};

use super::AppState;

/// Where bare command names are looked up (the same directories the sandbox binds).
const SEARCH_DIRS: [&str; 3] = ["/usr/local/bin", "/usr/bin", "/bin"];

/// One language as the API reports it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct LanguageInfo {
    pub name: String,
    pub aliases: Vec<String>,
    pub extensions: Vec<String>,
    /// e.g. `3.11.2`; null when the language has no version command or it failed.
    pub version: Option<String>,
    pub compiled: bool,
    /// Whether the interpreter or compiler exists on this host.
    pub available: bool,
}

#[derive(Debug, Serialize)]
pub struct LanguagesReply {
    pub languages: Vec<LanguageInfo>,
}

pub async fn list(State(state): State<AppState>) -> Json<LanguagesReply> {
    Json(LanguagesReply {
        languages: state.languages.as_ref().clone(),
    })
}

/// Probe every configured language (concurrently), with the pipeline's version probe.
pub async fn probe_all(config: &Config) -> Vec<LanguageInfo> {
    let versions = Versions::default();
    let probes = config
        .languages
        .iter()
        .map(|(name, lang)| probe(&versions, name.clone(), lang.clone()));
    futures_util::future::join_all(probes).await
}

async fn probe(versions: &Versions, name: String, lang: Language) -> LanguageInfo {
    // The program that must exist: the compiler for compiled languages, else the interpreter.
    let needed = lang
        .compile
        .as_ref()
        .and_then(|c| c.first())
        .or_else(|| lang.run.first())
        .and_then(|p| resolve(p));
    let version = versions.get(&name, &lang).await;
    LanguageInfo {
        available: needed.is_some() && !matches!(version, Version::Missing(_)),
        version: version.known().map(str::to_string),
        aliases: lang.aliases.clone(),
        extensions: lang.extensions.clone(),
        compiled: lang.compile.is_some(),
        name,
    }
}

/// A bare name is looked up in the sandbox's bin directories only (never the caller's PATH, which
/// may hold user shims such as pyenv's).
fn resolve(program: &str) -> Option<PathBuf> {
    if program.contains('{') {
        return None;
    }
    let path = Path::new(program);
    if path.is_absolute() {
        return path.is_file().then(|| path.to_path_buf());
    }
    SEARCH_DIRS
        .iter()
        .map(|d| Path::new(d).join(program))
        .find(|p| p.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn probes_the_real_python() {
        let config = Config::embedded_default().expect("default config");
        let langs = probe_all(&config).await;
        let py = langs
            .iter()
            .find(|l| l.name == "python")
            .expect("python listed");
        assert!(py.available, "/usr/bin/python3 should exist on this host");
        assert!(
            py.version.as_deref().is_some_and(|v| v.starts_with('3')),
            "{py:?}"
        );
    }
}
