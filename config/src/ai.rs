//! The `ai:` section: an OpenAI-compatible endpoint for AI assist (off unless `base_url` is set).

use serde::{Deserialize, Serialize};

use crate::units::HumanDuration;

/// Where AI assist sends its chat completions. With `base_url` unset every AI command answers
/// with a hint saying how to switch it on.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AiConfig {
    /// The endpoint's base, ending in `/v1` (e.g. Ollama `http://127.0.0.1:11434/v1`).
    #[serde(default)]
    pub base_url: Option<String>,
    /// The model name the endpoint knows (e.g. `qwen2.5-coder:7b`).
    #[serde(default)]
    pub model: String,
    /// Name of the environment variable holding the API key (never the key itself); unset
    /// sends no Authorization header, which local servers accept.
    #[serde(default)]
    pub api_key_env: Option<String>,
    /// How long one call may take before the user is told the model is too slow.
    #[serde(default = "default_timeout")]
    pub timeout: HumanDuration,
    /// Cap on the tokens one answer may use (sent as `max_tokens`).
    #[serde(default = "default_max_tokens")]
    pub max_tokens: u32,
    /// How many corrected programs `!fix` tries before giving up.
    #[serde(default = "default_attempts")]
    pub attempts: u32,
}

impl Default for AiConfig {
    fn default() -> Self {
        AiConfig {
            base_url: None,
            model: String::new(),
            api_key_env: None,
            timeout: default_timeout(),
            max_tokens: default_max_tokens(),
            attempts: default_attempts(),
        }
    }
}

impl AiConfig {
    /// The base URL without a trailing slash, when AI assist is on.
    pub fn endpoint(&self) -> Option<&str> {
        self.base_url
            .as_deref()
            .map(|u| u.trim().trim_end_matches('/'))
            .filter(|u| !u.is_empty())
    }

    /// Problems with the section as (key path, what is wrong, what is expected).
    pub(crate) fn problems(&self) -> Vec<(String, String, String)> {
        let mut out = Vec::new();
        let mut bad = |key: &str, what: String, expected: &str| {
            out.push((format!("config.ai.{key}"), what, expected.to_string()));
        };
        let Some(url) = self.endpoint() else {
            return out;
        };
        let scheme_ok = url.starts_with("http://") || url.starts_with("https://");
        if !scheme_ok || url.contains(char::is_whitespace) {
            bad(
                "base_url",
                format!("`{url}` is not an http(s) URL"),
                "an OpenAI-compatible base such as http://127.0.0.1:11434/v1 (Ollama) or http://127.0.0.1:8080/v1 (llama.cpp)",
            );
        }
        if self.model.trim().is_empty() {
            bad(
                "model",
                "no model is named".to_string(),
                "the model to use, e.g. `qwen2.5-coder:7b` (`coderunner doctor` lists what the endpoint offers)",
            );
        }
        if let Some(env) = &self.api_key_env {
            let valid = !env.is_empty()
                && env.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && !env.starts_with(|c: char| c.is_ascii_digit());
            if !valid {
                bad(
                    "api_key_env",
                    format!("`{env}` is not an environment variable name"),
                    "the NAME of the variable holding the key (e.g. OPENAI_API_KEY), never the key itself",
                );
            }
        }
        if self.timeout.as_duration().is_zero() {
            bad(
                "timeout",
                "a timeout of 0".to_string(),
                "a duration such as 60s",
            );
        }
        if self.max_tokens == 0 || self.max_tokens > 32_768 {
            bad(
                "max_tokens",
                format!("{} tokens", self.max_tokens),
                "between 1 and 32768 (1024 fits a program and its explanation)",
            );
        }
        if self.attempts == 0 || self.attempts > 10 {
            bad(
                "attempts",
                format!("{} attempts", self.attempts),
                "between 1 and 10",
            );
        }
        out
    }
}

fn default_timeout() -> HumanDuration {
    HumanDuration::from_secs(60)
}

fn default_max_tokens() -> u32 {
    1024
}

fn default_attempts() -> u32 {
    3
}
