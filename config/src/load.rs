//! Loading a config from YAML text or a file, and the embedded default.

use std::path::Path;

use crate::schema::{Config, ConfigFile};

/// The default configuration, compiled into the binary.
pub const DEFAULT_YAML: &str = include_str!("../default.yaml");

/// Why a configuration was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{source_name}: {message}")]
    Invalid {
        source_name: String,
        message: String,
    },
}

impl Config {
    /// The embedded default configuration.
    pub fn embedded_default() -> Result<Config, ConfigError> {
        Config::from_yaml_str(DEFAULT_YAML, "embedded default config")
    }

    /// Parse and validate YAML text; `source_name` names it in error messages.
    pub fn from_yaml_str(text: &str, source_name: &str) -> Result<Config, ConfigError> {
        let file: ConfigFile = serde_norway::from_str(text).map_err(|e| ConfigError::Invalid {
            source_name: source_name.to_string(),
            message: e.to_string(),
        })?;
        let config = file.config;
        if config.agent_type != "CodeRunnerAgent" {
            return Err(ConfigError::Invalid {
                source_name: source_name.to_string(),
                message: format!(
                    "config.agent_type: `{}` is not supported; agent_type must be `CodeRunnerAgent`",
                    config.agent_type
                ),
            });
        }
        Ok(config)
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
