//! `coderunner languages`: each configured language, its aliases, whether it is compiled, and the
//! version this host has (found the way the sandbox finds it), or "not installed".

use std::path::Path;
use std::process::ExitCode;

use coderunner_runner::host::language_status;

/// Print the table for the config at `config_path` (or the embedded default).
pub fn execute(config_path: Option<&Path>) -> anyhow::Result<ExitCode> {
    let config = super::load_config(config_path)?;
    let rows: Vec<[String; 4]> = config
        .languages
        .iter()
        .map(|(name, lang)| {
            let status = language_status(name, lang);
            let version = match (&status.path, &status.version) {
                (_, Ok(v)) => v.clone(),
                (None, Err(_)) => format!(
                    "not installed ({} not found in {})",
                    status.program,
                    if status.program.starts_with('/') {
                        "this host".to_string()
                    } else {
                        coderunner_runner::host::SEARCH_DIRS.join(", ")
                    }
                ),
                (Some(path), Err(e)) => format!("installed at {} ({e})", path.display()),
            };
            [
                name.clone(),
                if lang.aliases.is_empty() {
                    "-".into()
                } else {
                    lang.aliases.join(", ")
                },
                if status.compiled {
                    "compiled".into()
                } else {
                    "interpreted".into()
                },
                version,
            ]
        })
        .collect();
    print!(
        "{}",
        super::table::render(
            &["LANGUAGE", "ALIASES", "KIND", "VERSION ON THIS HOST"],
            &rows
        )
    );
    print!(
        "{}",
        sets_table(&coderunner_commands::environments::report(&config))
    );
    Ok(ExitCode::SUCCESS)
}

/// The package sets as a table (nothing when the config has none), after a blank line.
pub fn sets_table(sets: &[coderunner_commands::environments::SetReport]) -> String {
    if sets.is_empty() {
        return String::new();
    }
    let rows: Vec<[String; 3]> = sets
        .iter()
        .map(|s| [s.name.clone(), s.status.to_string(), s.detail.clone()])
        .collect();
    format!(
        "\n{}",
        super::table::render(&["PACKAGE SET", "STATUS", "PACKAGES"], &rows)
    )
}
