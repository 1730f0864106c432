//! Which package set (`config.environments`) a run gets: the one it names (`--env=NAME`, HTTP
//! and MCP `environment`), else the default of its channel, tier or everyone; refused, with the
//! command that fixes it, when the set is unknown, not built or built from other requirements.

use coderunner_config::{Config, Language, NO_SET};
use coderunner_runner::packages::{self, SetState};
use coderunner_runner::PackageMount;

use crate::refusal::Refusal;

/// The set mount for a run of `lang_name` (`lang`), or `None` for a run without one.
/// `requested` is what the run named; `channel` and `tier` choose a default.
pub fn choose(
    config: &Config,
    requested: Option<&str>,
    lang_name: &str,
    lang: &Language,
    channel: Option<u64>,
    tier: &str,
) -> Result<Option<PackageMount>, Refusal> {
    let (name, explicit) = match requested.map(str::trim) {
        Some(NO_SET) => return Ok(None),
        Some(name) => (name, true),
        None => match config.default_package_set(channel, tier) {
            Some(name) => (name, false),
            None => return Ok(None),
        },
    };
    let Some(set) = config.package_set(name) else {
        return Err(unknown(config, name));
    };
    let kind = match lang.packages {
        Some(kind) if !set.packages(kind).is_empty() => kind,
        // A default set simply does not apply to languages that cannot use it.
        _ if !explicit => return Ok(None),
        Some(kind) => {
            return Err(Refusal::bad_request(format!(
                "package set `{name}` has no {} packages, so {lang_name} cannot use it",
                kind.as_str()
            )))
        }
        None => {
            let takers: Vec<&str> = config
                .languages
                .iter()
                .filter(|(_, l)| l.packages.is_some_and(|k| !set.packages(k).is_empty()))
                .map(|(n, _)| n.as_str())
                .collect();
            return Err(Refusal::bad_request(format!(
                "{lang_name} does not take packages from a set; package set `{name}` is for {}",
                takers.join(", ")
            )));
        }
    };
    let whose = if explicit {
        format!("package set `{name}`")
    } else {
        format!("package set `{name}` (the default here; `--env={NO_SET}` runs without it)")
    };
    let build = packages::build_command(name);
    match packages::state(config, name) {
        SetState::Ready(_) => {}
        SetState::NotBuilt => {
            return Err(Refusal::bad_request(format!(
                "{whose} is not built on this server yet; the operator builds it with `{build}`"
            )))
        }
        SetState::Stale { why, .. } => {
            return Err(Refusal::bad_request(format!(
                "{whose} changed in the config since it was built ({why}); the operator rebuilds it with `{build}`"
            )))
        }
        SetState::Broken(why) => {
            tracing::error!(set = name, %why, "package set unreadable");
            return Err(Refusal::bad_request(format!(
                "{whose} is damaged on this server; the operator rebuilds it with `{build}`"
            )));
        }
    }
    let dir = packages::kind_dir(&packages::set_dir(config, name), kind);
    // The runner mounts an absolute, symlink-free path.
    let dir = std::fs::canonicalize(&dir).map_err(|e| {
        tracing::error!(set = name, dir = %dir.display(), error = %e, "package set directory");
        Refusal::bad_request(format!(
            "{whose} is damaged on this server; the operator rebuilds it with `{build}`"
        ))
    })?;
    Ok(Some(PackageMount {
        name: name.to_string(),
        kind,
        dir,
    }))
}

/// "unknown package set `mll`; did you mean `ml`? ..." or "no package sets are configured".
fn unknown(config: &Config, wanted: &str) -> Refusal {
    let shown: String = wanted
        .chars()
        .take(40)
        .map(|c| if c == '`' { '\'' } else { c })
        .collect();
    let sets: Vec<String> = config
        .environments
        .sets
        .keys()
        .map(|n| format!("`{n}`"))
        .collect();
    if sets.is_empty() {
        return Refusal::bad_request(format!(
            "unknown package set `{shown}`: no package sets are configured on this server (`config.environments`)"
        ));
    }
    let close = config.suggest_package_sets(wanted);
    let hint = match close.as_slice() {
        [] => String::new(),
        some => format!(
            "did you mean {}? ",
            some.iter()
                .map(|s| format!("`{s}`"))
                .collect::<Vec<_>>()
                .join(" or ")
        ),
    };
    Refusal::bad_request(format!(
        "unknown package set `{shown}`; {hint}the sets here are {}",
        sets.join(", ")
    ))
}

/// How one configured set stands, for `!langs`, `coderunner languages` and `doctor`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetReport {
    pub name: String,
    /// Built and matching the config.
    pub ready: bool,
    /// `ok`, `not built`, `changed since built` or `damaged`.
    pub status: &'static str,
    /// The installed versions when ready, else the command that builds it (and why).
    pub detail: String,
}

/// Every configured set, by name.
pub fn report(config: &Config) -> Vec<SetReport> {
    config
        .environments
        .sets
        .keys()
        .map(|name| {
            let build = packages::build_command(name);
            let (ready, status, detail) = match packages::state(config, name) {
                SetState::Ready(m) => (true, "ok", versions_line(&m)),
                SetState::NotBuilt => (false, "not built", format!("build it: `{build}`")),
                SetState::Stale { why, .. } => (
                    false,
                    "changed since built",
                    format!("{why}; rebuild it: `{build}`"),
                ),
                SetState::Broken(why) => {
                    (false, "damaged", format!("{why}; rebuild it: `{build}`"))
                }
            };
            SetReport {
                name: name.clone(),
                ready,
                status,
                detail,
            }
        })
        .collect()
}

/// `cowsay 6.1, numpy 1.26.4` (at most 8 shown, then how many more).
pub fn versions_line(m: &packages::Manifest) -> String {
    let all = m.versions(coderunner_config::PackageKind::Python);
    let mut shown: Vec<String> = all
        .iter()
        .take(8)
        .map(|i| format!("{} {}", i.name, i.version))
        .collect();
    if all.len() > 8 {
        shown.push(format!("and {} more", all.len() - 8));
    }
    if shown.is_empty() {
        "no packages".into()
    } else {
        shown.join(", ")
    }
}

/// Who gets a set without asking, in words (`everyone`, `tier data`, `channel 123`), per set.
pub fn defaults_of(config: &Config, set: &str) -> Vec<String> {
    let d = &config.environments.default;
    let mut who: Vec<String> = d
        .channels
        .iter()
        .filter(|(_, s)| *s == set)
        .map(|(c, _)| format!("channel {c}"))
        .collect();
    who.extend(
        d.tiers
            .iter()
            .filter(|(_, s)| *s == set)
            .map(|(t, _)| format!("tier {t}")),
    );
    if d.everyone.as_deref() == Some(set) {
        who.push("everyone else".into());
    }
    who
}
