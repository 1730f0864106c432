//! Loading a config from YAML text or a file, and the embedded default: syntax, then unknown keys
//! (all of them), then types, then meaning (all problems), each located by line. Unknown keys and
//! problems of meaning are reported together.

use std::path::Path;

use serde_norway::Value;

use crate::error::{ConfigError, Problem};
use crate::locate::KeyIndex;
use crate::schema::{Config, ConfigFile};

/// The default configuration, compiled into the binary.
pub const DEFAULT_YAML: &str = include_str!("../default.yaml");

impl Config {
    /// The embedded default configuration.
    pub fn embedded_default() -> Result<Config, ConfigError> {
        Config::from_yaml_str(DEFAULT_YAML, "embedded default config")
    }

    /// Parse and validate YAML text; `source_name` names it in error messages.
    pub fn from_yaml_str(text: &str, source_name: &str) -> Result<Config, ConfigError> {
        let invalid = |problems: Vec<Problem>| ConfigError::Invalid {
            source_name: source_name.to_string(),
            problems,
        };
        let index = KeyIndex::new(text);
        let mut doc: Value =
            serde_norway::from_str(text).map_err(|e| invalid(vec![from_serde(&e)]))?;
        if doc.is_null() {
            return Err(invalid(vec![Problem::new(
                "config",
                "the file is empty",
                "a `config:` mapping; start from `coderunner config print-default`",
            )]));
        }
        let mut problems = crate::keys::take_unknown_keys(&mut doc, &index);
        if !problems.is_empty() {
            // The rest of the file (unknown keys removed) is still checked, so one run reports
            // everything; if it does not even parse without them, the unknown keys come first.
            if let Ok(file) = serde_norway::from_value::<ConfigFile>(doc) {
                problems.extend(crate::validate::validate(&file.config, &index));
            }
            return Err(invalid(problems));
        }
        let file: ConfigFile =
            serde_norway::from_str(text).map_err(|e| invalid(vec![from_serde(&e)]))?;
        let problems = crate::validate::validate(&file.config, &index);
        if !problems.is_empty() {
            return Err(invalid(problems));
        }
        tracing::debug!(source = source_name, "config loaded");
        Ok(file.config)
    }

    /// Read, parse and validate a config file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Config::from_yaml_str(&text, &path.display().to_string())
    }
}

/// A serde_norway error (syntax, wrong type, missing key) as a located problem. Its text is
/// `path: message at line L column C`; the parts go into their own fields.
fn from_serde(e: &serde_norway::Error) -> Problem {
    let mut text = e.to_string();
    let (line, column) = match e.location() {
        Some(loc) => {
            let suffix = format!(" at line {} column {}", loc.line(), loc.column());
            if let Some(stripped) = text.strip_suffix(&suffix) {
                text = stripped.to_string();
            }
            (Some(loc.line()), Some(loc.column()))
        }
        None => (None, None),
    };
    let (path, what) = match text.split_once(": ") {
        Some((p, rest)) if p.starts_with("config") && !p.contains(' ') => {
            (p.to_string(), rest.to_string())
        }
        _ => ("config".to_string(), text),
    };
    let expected = if what.starts_with("missing field") {
        "add it (see `coderunner config print-default` for every key)"
    } else if what.contains("invalid type") || what.contains("unknown variant") {
        "see `coderunner config print-default` for the accepted values"
    } else {
        ""
    };
    let mut p = Problem::new(path, what, expected);
    p.line = line;
    p.column = column;
    p
}
