//! Package sets ("environments"): extra packages the operator installs once with
//! `coderunner env build`, which a run picks with `!run --env=NAME` or gets by default per
//! channel, tier or for everyone. This file holds their schema, lookups and validation.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::error::Problem;
use crate::locate::KeyIndex;
use crate::schema::Config;

/// The set name that means "no set" (`!run --env=none` skips a default set).
pub const NO_SET: &str = "none";
/// Longest set name (it is a directory name and a chat flag).
pub const MAX_SET_NAME: usize = 32;
/// Longest requirement accepted (`name[extra]>=1.2,<2`).
const MAX_REQUIREMENT: usize = 200;

/// `config.environments`: the sets by name, and `default`, which set a run gets when it names none.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Environments {
    /// Which set a run gets when it names none.
    #[serde(default)]
    pub default: EnvironmentDefaults,
    /// Every other key is a set: its name and its packages.
    #[serde(flatten)]
    pub sets: BTreeMap<String, PackageSet>,
}

/// One set's packages, by kind. Only Python packages exist today.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackageSet {
    /// pip requirements (`polars`, `scikit-learn>=1.3`), installed from the package index.
    #[serde(default)]
    pub python: Vec<String>,
}

impl PackageSet {
    /// The requirements of `kind`.
    pub fn packages(&self, kind: PackageKind) -> &[String] {
        match kind {
            PackageKind::Python => &self.python,
        }
    }
}

/// `config.environments.default`: the set of a run that names none. The first that applies wins:
/// the channel's (a thread counts as its parent), then the tier's, then `everyone`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvironmentDefaults {
    /// Channel id (digits) -> set name.
    #[serde(default)]
    pub channels: BTreeMap<String, String>,
    /// Tier name -> set name.
    #[serde(default)]
    pub tiers: BTreeMap<String, String>,
    /// The set of every other run; null: none.
    #[serde(default)]
    pub everyone: Option<String>,
}

/// The kind of packages a language takes from a set (`packages: python` on the language).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PackageKind {
    /// Installed with pip into the set's `python/` directory, which goes on `PYTHONPATH`.
    Python,
}

impl PackageKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PackageKind::Python => "python",
        }
    }
}

impl Config {
    /// The set called `name` (exact).
    pub fn package_set(&self, name: &str) -> Option<&PackageSet> {
        self.environments.sets.get(name)
    }

    /// Where the sets are built: `environments/` under `data_dir`.
    pub fn environments_dir(&self) -> PathBuf {
        self.data_dir.join("environments")
    }

    /// The set a run gets when it names none: the channel's, else the tier's, else `everyone`'s.
    /// `None` when no default applies (or the default is `none`).
    pub fn default_package_set(&self, channel: Option<u64>, tier: &str) -> Option<&str> {
        let d = &self.environments.default;
        let by_channel = channel.and_then(|c| d.channels.get(&c.to_string()));
        let chosen = by_channel
            .or_else(|| d.tiers.get(tier))
            .or(d.everyone.as_ref())?;
        (chosen != NO_SET).then_some(chosen.as_str())
    }

    /// Names of sets close to `unknown`, best first, for "did you mean".
    pub fn suggest_package_sets(&self, unknown: &str) -> Vec<String> {
        let wanted = unknown.trim().to_ascii_lowercase();
        let mut scored: Vec<(f64, &String)> = self
            .environments
            .sets
            .keys()
            .map(|name| (strsim::jaro_winkler(&wanted, name), name))
            .filter(|(score, _)| *score >= 0.8)
            .collect();
        scored.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(b.1)));
        scored.into_iter().take(3).map(|(_, n)| n.clone()).collect()
    }
}

/// Whether `name` can name a set: lowercase letters, digits, `-` and `_`, starting with a letter
/// or digit, at most [`MAX_SET_NAME`] characters.
pub fn is_set_name(name: &str) -> bool {
    let mut chars = name.chars();
    name.len() <= MAX_SET_NAME
        && chars
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

/// Why `req` is not a requirement pip may be given: only a project name, optional extras and
/// version clauses. No options (`-r`, `--index-url`), paths, URLs (`name @ https://...`) or
/// markers, so the config cannot make pip read files or fetch from anywhere but the index.
pub fn requirement_problem(req: &str) -> Option<String> {
    let r = req.trim();
    if r.is_empty() {
        return Some("an empty requirement".into());
    }
    if r.len() > MAX_REQUIREMENT {
        return Some(format!("longer than {MAX_REQUIREMENT} characters"));
    }
    if r.starts_with('-') {
        return Some("looks like a pip option; options are not accepted here".into());
    }
    if let Some(c) = r
        .chars()
        .find(|c| matches!(c, '@' | '/' | '\\' | ':' | ';' | '#'))
    {
        return Some(format!(
            "`{c}` is not allowed: only a package name, extras and versions (no URLs, paths or markers)"
        ));
    }
    let name_end = r
        .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
        .unwrap_or(r.len());
    let (name, mut rest) = r.split_at(name_end);
    if name.is_empty() || !name.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return Some("does not start with a package name".into());
    }
    if let Some(extras) = rest.strip_prefix('[') {
        let Some(close) = extras.find(']') else {
            return Some("an extras list `[` is not closed".into());
        };
        let ok = extras[..close]
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | ',' | ' '));
        if !ok {
            return Some("extras are names separated by commas, e.g. `pandas[excel]`".into());
        }
        rest = &extras[close + 1..];
    }
    let version_chars = |c: char| {
        c.is_ascii_alphanumeric()
            || matches!(c, '.' | '*' | '+' | '!' | '<' | '>' | '=' | '~' | ',' | ' ')
    };
    if !rest.chars().all(version_chars) {
        return Some("after the name only version clauses may follow, e.g. `>=1.2,<2`".into());
    }
    if !rest.trim().is_empty() && !rest.trim_start().starts_with(['<', '>', '=', '~', '!']) {
        return Some("a version clause starts with an operator, e.g. `==1.2`".into());
    }
    None
}

/// Every problem with `config.environments`, located in `index`.
pub(crate) fn validate(config: &Config, index: &KeyIndex) -> Vec<Problem> {
    let mut out = Vec::new();
    let mut bad = |path: &str, what: String, expected: String| {
        let mut p = Problem::new(path, what, expected);
        if let Some(pos) = index.find_nearest(path) {
            p.line = Some(pos.line);
            p.column = Some(pos.column);
        }
        out.push(p);
    };
    let envs = &config.environments;
    let takers = |kind: PackageKind| -> Vec<&str> {
        config
            .languages
            .iter()
            .filter(|(_, l)| l.packages == Some(kind))
            .map(|(n, _)| n.as_str())
            .collect()
    };
    for (name, set) in &envs.sets {
        let path = format!("config.environments.{name}");
        if name == NO_SET {
            bad(
                &path,
                format!("`{NO_SET}` cannot name a set"),
                format!("`--env={NO_SET}` means a run without any set; choose another name"),
            );
        } else if !is_set_name(name) {
            bad(
                &path,
                format!("`{name}` is not a set name"),
                format!(
                    "lowercase letters, digits, `-` and `_` (at most {MAX_SET_NAME}), e.g. `ml`"
                ),
            );
        }
        if set.python.is_empty() {
            bad(
                &path,
                format!("set `{name}` has no packages"),
                "list some, e.g. `python: [scikit-learn, polars]`, or remove the set".into(),
            );
        }
        for (i, req) in set.python.iter().enumerate() {
            if let Some(why) = requirement_problem(req) {
                bad(
                    &format!("{path}.python[{i}]"),
                    format!("`{req}` {why}"),
                    "a pip requirement such as `polars`, `scikit-learn>=1.3` or `pandas[excel]==2.1.4`"
                        .into(),
                );
            }
        }
        if !set.python.is_empty() && takers(PackageKind::Python).is_empty() {
            bad(
                &format!("{path}.python"),
                format!("set `{name}` has python packages, but no language takes them"),
                "add `packages: python` to the python language (as in the default config)".into(),
            );
        }
    }
    let names: Vec<String> = envs.sets.keys().map(|n| format!("`{n}`")).collect();
    let listed = if names.is_empty() {
        "no sets are defined under `environments`".to_string()
    } else {
        format!("one of the sets: {}", names.join(", "))
    };
    let mut check_set = |path: &str, set: &str| {
        if set != NO_SET && !envs.sets.contains_key(set) {
            let close = config.suggest_package_sets(set);
            let hint = match close.first() {
                Some(c) => format!("did you mean `{c}`? "),
                None => String::new(),
            };
            bad(
                path,
                format!("names unknown set `{set}`"),
                format!("{hint}{listed}, or `{NO_SET}`"),
            );
        }
    };
    let d = &envs.default;
    if let Some(set) = &d.everyone {
        check_set("config.environments.default.everyone", set);
    }
    for (tier, set) in &d.tiers {
        check_set(&format!("config.environments.default.tiers.{tier}"), set);
    }
    for (channel, set) in &d.channels {
        check_set(
            &format!("config.environments.default.channels.{channel}"),
            set,
        );
    }
    let tiers: Vec<String> = config
        .access
        .tiers
        .iter()
        .map(|t| format!("`{}`", t.name))
        .collect();
    let mut more = Vec::new();
    for tier in d.tiers.keys() {
        if config.tier(tier).is_none() {
            more.push((
                format!("config.environments.default.tiers.{tier}"),
                format!("names unknown tier `{tier}`"),
                format!("one of the tiers: {}", tiers.join(", ")),
            ));
        }
    }
    for channel in d.channels.keys() {
        if channel.is_empty() || !channel.bytes().all(|b| b.is_ascii_digit()) {
            more.push((
                format!("config.environments.default.channels.{channel}"),
                format!("`{channel}` is not a channel id"),
                "the channel's id (digits; Discord: right-click the channel -> Copy Channel ID)"
                    .into(),
            ));
        }
    }
    for (path, what, expected) in more {
        bad(&path, what, expected);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requirements_are_names_extras_and_versions_only() {
        for ok in [
            "polars",
            "scikit-learn>=1.3",
            "pandas[excel]==2.1.4",
            "cowsay==6.1",
            "numpy >=1.26, <2",
            "zope.interface~=6.0",
        ] {
            assert_eq!(requirement_problem(ok), None, "{ok}");
        }
        for bad in [
            "",
            "-r /etc/shadow",
            "--index-url=https://evil.example",
            "pkg @ https://evil.example/pkg.whl",
            "./local/dir",
            "pkg; python_version<'3'",
            "pkg[extra",
            "pkg 1.0",
            "git+https://x/y",
        ] {
            assert!(requirement_problem(bad).is_some(), "{bad} was accepted");
        }
    }

    #[test]
    fn set_names() {
        assert!(is_set_name("ml"));
        assert!(is_set_name("data-2024_b"));
        assert!(!is_set_name("ML"));
        assert!(!is_set_name("-x"));
        assert!(!is_set_name("a/b"));
        assert!(!is_set_name(&"a".repeat(33)));
        assert!(!is_set_name(""));
    }
}
