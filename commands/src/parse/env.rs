//! The ```env block of a `!run` message: `KEY=value` lines, checked like the HTTP `env` object.

use super::ParseError;

/// Parse an env block's body. Blank lines and lines starting with `#` are skipped; a value keeps
/// everything after the first `=` (quotes included, as the shell would not strip them here).
pub(super) fn parse_block(body: &str) -> Result<Vec<(String, String)>, ParseError> {
    let mut vars = Vec::new();
    for (i, line) in body.lines().enumerate() {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let Some((name, value)) = line.split_once('=') else {
            return Err(ParseError::Env(format!(
                "line {} of the env block is not KEY=value: `{}`",
                i + 1,
                crate::render::cut_chars(trimmed, 40)
            )));
        };
        let name = name.trim().strip_prefix("export ").unwrap_or(name.trim());
        vars.push((name.trim().to_string(), value.to_string()));
    }
    coderunner_runner::user_env::check(&vars).map_err(|e| ParseError::Env(e.to_string()))?;
    Ok(vars)
}
