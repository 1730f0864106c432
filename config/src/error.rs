//! Why a configuration was refused: one `Problem` per thing wrong, each saying what, where and what
//! is accepted.

use std::fmt;

/// One thing wrong with a config: `path: what at line L column C; expected`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Key path, e.g. `config.profiles.default.memory` (`config` for the whole file).
    pub path: String,
    /// 1-based line of the key in the file, when it is written there.
    pub line: Option<usize>,
    /// 1-based column of the key, when known.
    pub column: Option<usize>,
    /// What is wrong, e.g. "unknown key `prefx`".
    pub what: String,
    /// What is accepted instead, e.g. "expected one of `prefix`, `guilds`".
    pub expected: String,
}

impl Problem {
    pub(crate) fn new(
        path: impl Into<String>,
        what: impl Into<String>,
        expected: impl Into<String>,
    ) -> Self {
        Self {
            path: path.into(),
            line: None,
            column: None,
            what: what.into(),
            expected: expected.into(),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.what)?;
        match (self.line, self.column) {
            (Some(l), Some(c)) => write!(f, " at line {l} column {c}")?,
            (Some(l), None) => write!(f, " at line {l}")?,
            _ => {}
        }
        if !self.expected.is_empty() {
            write!(f, "; {}", self.expected)?;
        }
        Ok(())
    }
}

/// Why a configuration could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    /// Everything found wrong with the text (all of it, not just the first thing).
    #[error("{source_name}: {}", Problems(.problems))]
    Invalid {
        source_name: String,
        problems: Vec<Problem>,
    },
}

impl ConfigError {
    /// The problems found (empty for a read error).
    pub fn problems(&self) -> &[Problem] {
        match self {
            ConfigError::Read { .. } => &[],
            ConfigError::Invalid { problems, .. } => problems,
        }
    }
}

struct Problems<'a>(&'a [Problem]);

impl fmt::Display for Problems<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            [one] => write!(f, "{one}"),
            many => {
                write!(f, "{} problems:", many.len())?;
                for p in many {
                    write!(f, "\n  - {p}")?;
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{ConfigError, Problem};

    #[test]
    fn one_problem_is_one_line_and_many_are_a_list() {
        let mut p = Problem::new(
            "config.discord",
            "unknown key `prefx`",
            "expected one of `prefix`",
        );
        p.line = Some(23);
        p.column = Some(5);
        let one = ConfigError::Invalid {
            source_name: "bot.yaml".into(),
            problems: vec![p.clone()],
        };
        assert_eq!(
            one.to_string(),
            "bot.yaml: config.discord: unknown key `prefx` at line 23 column 5; expected one of `prefix`"
        );
        let q = Problem::new("config.agent_id", "is empty", "");
        let two = ConfigError::Invalid {
            source_name: "bot.yaml".into(),
            problems: vec![p, q],
        };
        assert_eq!(
            two.to_string(),
            "bot.yaml: 2 problems:\n  - config.discord: unknown key `prefx` at line 23 column 5; expected one of `prefix`\n  - config.agent_id: is empty"
        );
        assert_eq!(two.problems().len(), 2);
    }
}
