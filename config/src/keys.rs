//! Unknown-key detection over the whole file at once, so every misspelt key is reported (serde's
//! `deny_unknown_fields` stops at the first one).
//!
//! The set of known keys is not written out by hand: it is the embedded default config, serialised
//! back to YAML, with one sample of each list entry the default leaves empty. A field added to the
//! schema is therefore known here without touching this file.

use std::sync::OnceLock;

use serde_norway::{Mapping, Value};

use crate::environments::PackageSet;
use crate::error::Problem;
use crate::load::DEFAULT_YAML;
use crate::locate::KeyIndex;
use crate::schema::{ApiKey, ConfigFile, RemoteNode};
use crate::units::HumanDuration;

/// Maps whose keys are names the user chooses (profiles, languages...), by schema path; `*`
/// stands for any such name. Their entries are checked against the union of the default's entries.
const USER_KEYED: &[&str] = &[
    "config.profiles",
    "config.languages",
    "config.languages.*.env",
    "config.rate_limits.user",
    "config.rate_limits.guild",
    "config.environments.default.tiers",
    "config.environments.default.channels",
    "config.rate_limits.ai",
];
/// `config.environments` holds `default` and, beside it, package sets under names the user
/// chooses; the template carries one sample set under this name.
const SAMPLE_SET: &str = "<set>";

/// Every unknown key in `doc` (the parsed file), located in `index`. The unknown keys are removed
/// from `doc`, so the rest can still be checked for other problems.
pub(crate) fn take_unknown_keys(doc: &mut Value, index: &KeyIndex) -> Vec<Problem> {
    let mut out = Vec::new();
    walk(doc, template(), "", "", index, &mut out);
    out
}

/// The default config as a YAML value: the reference of which keys exist where.
fn template() -> &'static Value {
    static TEMPLATE: OnceLock<Value> = OnceLock::new();
    TEMPLATE.get_or_init(|| {
        let mut file: ConfigFile = match serde_norway::from_str(DEFAULT_YAML) {
            Ok(f) => f,
            // The default is tested to parse; without it there is no reference to check against.
            Err(_) => return Value::Null,
        };
        let http = &mut file.config.http;
        if http.api_keys.is_empty() {
            http.api_keys.push(ApiKey {
                name: String::new(),
                key_env: None,
                key_sha256: None,
                tier: String::new(),
            });
        }
        let runner = &mut file.config.runner;
        if runner.remote.is_empty() {
            runner.remote.push(RemoteNode {
                url: String::new(),
                key_env: String::new(),
                timeout: HumanDuration::from_secs(1),
                insecure: false,
            });
        }
        file.config
            .environments
            .sets
            .entry(SAMPLE_SET.to_string())
            .or_insert_with(|| PackageSet {
                python: vec![String::new()],
            });
        serde_norway::to_value(&file).unwrap_or(Value::Null)
    })
}

fn walk(
    user: &mut Value,
    tmpl: &Value,
    path: &str,
    schema: &str,
    index: &KeyIndex,
    out: &mut Vec<Problem>,
) {
    match (user, tmpl) {
        (Value::Mapping(u), Value::Mapping(t)) => {
            if schema == "config.environments" {
                let sample = Value::String(SAMPLE_SET.into());
                for (k, v) in u.iter_mut() {
                    let key = key_text(k);
                    let (entry, sub) = match t.get(k) {
                        Some(tv) if key == "default" => (tv, join(schema, "default")),
                        _ => (t.get(&sample).unwrap_or(&Value::Null), join(schema, "*")),
                    };
                    walk(v, entry, &join(path, &key), &sub, index, out);
                }
                return;
            }
            if USER_KEYED.contains(&schema) {
                let entry = union(t.values());
                for (k, v) in u.iter_mut() {
                    let key = key_text(k);
                    walk(v, &entry, &join(path, &key), &join(schema, "*"), index, out);
                }
                return;
            }
            let mut unknown_keys = Vec::new();
            for (k, v) in u.iter_mut() {
                let key = key_text(k);
                match t.get(k) {
                    Some(tv) => walk(v, tv, &join(path, &key), &join(schema, &key), index, out),
                    None => {
                        out.push(unknown(path, &key, t, index));
                        unknown_keys.push(k.clone());
                    }
                }
            }
            for k in unknown_keys {
                u.remove(&k);
            }
        }
        (Value::Sequence(u), Value::Sequence(t)) => {
            let entry = union(t.iter());
            for (i, v) in u.iter_mut().enumerate() {
                walk(
                    v,
                    &entry,
                    &format!("{path}[{i}]"),
                    &format!("{schema}[]"),
                    index,
                    out,
                );
            }
        }
        (Value::Tagged(u), _) => walk(&mut u.value, tmpl, path, schema, index, out),
        _ => {}
    }
}

/// The problem for `key` not being one of `known`'s keys under `parent`.
fn unknown(parent: &str, key: &str, known: &Mapping, index: &KeyIndex) -> Problem {
    let names: Vec<String> = known.keys().map(key_text).collect();
    let listed = names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ");
    let lower = key.to_ascii_lowercase();
    let secretish = ["token", "secret", "password", "passwd"]
        .iter()
        .any(|s| lower.contains(s))
        || lower == "key"
        || lower == "api_key";
    let (what, expected) = if parent.is_empty() {
        (
            format!("unknown top-level key `{key}`"),
            "the file has a single top-level key, `config:`, with every setting indented under it (see `coderunner config print-default`)".to_string(),
        )
    } else if secretish {
        let hint = if parent.starts_with("config.http.api_keys") {
            "write `key_env: VARIABLE` (the environment variable holding the key) or `key_sha256: <hex digest of the key>`".to_string()
        } else if parent.starts_with("config.runner.remote") {
            "write `key_env: VARIABLE`, the environment variable holding the node's key".to_string()
        } else {
            "put the secret in the environment and name the variable with `token_env` (e.g. `token_env: DISCORD_TOKEN`)".to_string()
        };
        (
            format!("unknown key `{key}`: secrets never go in the config file"),
            format!("{hint}; keys here are {listed}"),
        )
    } else {
        let close = names
            .iter()
            .map(|n| (strsim::jaro_winkler(&lower, n), n))
            .filter(|(score, _)| *score >= 0.85)
            .max_by(|a, b| a.0.total_cmp(&b.0))
            .map(|(_, n)| format!("did you mean `{n}`? "))
            .unwrap_or_default();
        (
            format!("unknown key `{key}`"),
            format!("{close}expected one of {listed}"),
        )
    };
    let mut p = Problem::new(
        if parent.is_empty() {
            "(top level)"
        } else {
            parent
        },
        what,
        expected,
    );
    if let Some(pos) = index.find(&join(parent, key)) {
        p.line = Some(pos.line);
        p.column = Some(pos.column);
    }
    p
}

/// One mapping holding every key that appears in any of `values` (the shape of a list entry or
/// of a user-named map's value).
fn union<'a>(values: impl Iterator<Item = &'a Value>) -> Value {
    let mut merged = Mapping::new();
    let mut other = None;
    for v in values {
        match v {
            Value::Mapping(m) => {
                for (k, v) in m {
                    if !merged.contains_key(k) {
                        merged.insert(k.clone(), v.clone());
                    }
                }
            }
            v => other = Some(v.clone()),
        }
    }
    if merged.is_empty() {
        other.unwrap_or(Value::Null)
    } else {
        Value::Mapping(merged)
    }
}

fn key_text(k: &Value) -> String {
    match k {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Null => "null".into(),
        other => serde_norway::to_string(other)
            .map(|s| s.trim().to_string())
            .unwrap_or_else(|_| "?".into()),
    }
}

fn join(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_string()
    } else {
        format!("{parent}.{key}")
    }
}
