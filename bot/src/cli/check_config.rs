//! `coderunner check-config [PATH]`: validate a config file and print a summary of it, or every
//! problem found (each with its key path and line). Exit status 0 when valid, 1 otherwise.

use std::path::Path;
use std::process::ExitCode;

use coderunner_config::{Config, ConfigError, Profile, RoleRef};

/// Check `path` (else the `--config` file, else the embedded default).
pub fn execute(path: Option<&Path>) -> anyhow::Result<ExitCode> {
    let (source, loaded) = match path {
        Some(p) => (p.display().to_string(), Config::load(p)),
        None => (
            "embedded default config".to_string(),
            Config::embedded_default(),
        ),
    };
    match loaded {
        Ok(config) => {
            print!("{}", summary(&source, &config));
            Ok(ExitCode::SUCCESS)
        }
        Err(err @ ConfigError::Read { .. }) => {
            eprintln!("error: {err}");
            Ok(ExitCode::FAILURE)
        }
        Err(err) => {
            let problems = err.problems();
            eprintln!(
                "{source}: INVALID, {} problem{}:",
                problems.len(),
                if problems.len() == 1 { "" } else { "s" }
            );
            for p in problems {
                eprintln!("  - {p}");
            }
            eprintln!("Every key is documented in `coderunner config print-default`.");
            Ok(ExitCode::FAILURE)
        }
    }
}

/// The human summary of a valid config.
pub fn summary(source: &str, config: &Config) -> String {
    let mut out = format!(
        "{source}: OK\nagent: {} ({})\n",
        config.agent_id, config.agent_type
    );
    out += &format!("languages ({}):\n", config.languages.len());
    for (name, lang) in &config.languages {
        let aliases = if lang.aliases.is_empty() {
            String::new()
        } else {
            format!(" (aliases: {})", lang.aliases.join(", "))
        };
        let kind = if lang.compile.is_some() {
            "compiled"
        } else {
            "interpreted"
        };
        let exts: Vec<String> = lang.extensions.iter().map(|e| format!(".{e}")).collect();
        out += &format!("  {name}{aliases}: {kind}, {}\n", exts.join(" "));
    }
    out += &format!("tiers ({}, lowest first):\n", config.access.tiers.len());
    for t in &config.access.tiers {
        let roles = if t.roles.is_empty() && t.admin {
            "no roles (nobody on Discord is admin until you add your admin role's id to its `roles`: Developer Mode on, Server Settings -> Roles, right-click the role -> Copy Role ID)".to_string()
        } else if t.roles.is_empty() {
            "no roles".to_string()
        } else {
            format!(
                "roles {}",
                t.roles
                    .iter()
                    .map(|r| match r {
                        RoleRef::Id(id) => format!("id {id}"),
                        RoleRef::Name(n) => format!("named `{n}` (in access.guilds only)"),
                    })
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        let mut extra = String::new();
        if let Some(m) = &t.max_profile {
            extra += &format!(", up to `{m}`");
        }
        if t.admin {
            extra += ", admin";
        }
        if let Some(p) = &t.privileged_profile {
            extra += &format!(", --privileged uses `{p}`");
        }
        out += &format!("  {}: {roles}; profile `{}`{extra}\n", t.name, t.profile);
    }
    match &config.access.default_tier {
        Some(d) => out += &format!("  users without a listed role: {d}\n"),
        None => out += "  users without a listed role: refused\n",
    }
    out += &format!("profiles ({}):\n", config.profiles.len());
    for (name, p) in &config.profiles {
        out += &format!("  {name}: {}\n", profile_line(p));
    }
    let sets = &config.environments.sets;
    if !sets.is_empty() {
        out += &format!(
            "package sets ({}, built with `coderunner env build`):\n",
            sets.len()
        );
        for (name, set) in sets {
            let who = coderunner_commands::environments::defaults_of(config, name);
            let default = if who.is_empty() {
                String::new()
            } else {
                format!("; default for {}", who.join(", "))
            };
            out += &format!("  {name}: python {}{default}\n", set.python.join(", "));
        }
    }
    out += &ai_line(&config.ai);
    out
}

/// The `ai:` section in one line. The file cannot say whether the key variable is set where the
/// bot will run, so a variable missing here is a warning, not a problem that fails the check.
fn ai_line(ai: &coderunner_config::AiConfig) -> String {
    let Some(url) = ai.endpoint() else {
        return "ai: off (set ai.base_url to an OpenAI-compatible endpoint to enable !explain, !fix, !ask, !tests)\n".to_string();
    };
    let key = match &ai.api_key_env {
        None => "no API key sent".to_string(),
        Some(var) => match std::env::var_os(var) {
            Some(v) if !v.is_empty() => format!("API key from ${var}"),
            _ => format!(
                "API key from ${var}; WARNING: ${var} is not set in this environment, so every AI call fails until the bot's environment sets it"
            ),
        },
    };
    format!(
        "ai: {url}, model `{}`, {key}; timeout {}, at most {} tokens per answer, !fix tries up to {} times\n",
        ai.model, ai.timeout, ai.max_tokens, ai.attempts
    )
}

fn profile_line(p: &Profile) -> String {
    format!(
        "wall {}, cpu {}, memory {}, {} pids, output {}, network {}",
        p.wall_time,
        p.cpu_time,
        p.memory,
        p.pids,
        p.output,
        if p.network { "ON" } else { "off" }
    )
}
