//! The embedded default config: it loads, validates, has what the issue promises, and survives
//! being written out and read back.

use coderunner_config::{Config, DEFAULT_YAML};

#[test]
fn the_default_loads_and_validates() {
    let c = Config::embedded_default().expect("the embedded default is valid");
    assert_eq!(c.agent_type, "CodeRunnerAgent");
    for lang in ["python", "javascript", "bash", "sh", "c", "cpp", "rust"] {
        assert!(c.languages.contains_key(lang), "default lacks {lang}");
    }
    assert_eq!(c.languages["python"].run[0], "/usr/bin/python3");
    let tiers: Vec<&str> = c.access.tiers.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(tiers, ["member", "data", "admin"]);
    for p in ["default", "data", "privileged"] {
        assert!(c.profile(p).is_some(), "default lacks profile {p}");
    }
    // Network only in the privileged profile, reachable only by an admin tier.
    let networked: Vec<&String> = c
        .profiles
        .iter()
        .filter(|(_, p)| p.network)
        .map(|(n, _)| n)
        .collect();
    assert_eq!(networked, ["privileged"]);
    assert!(c
        .tier("admin")
        .is_some_and(|t| t.admin && t.privileged_profile.as_deref() == Some("privileged")));
}

#[test]
fn every_key_of_the_default_is_documented_by_a_comment() {
    // Sections must explain themselves: each top-level section key is preceded by a comment or
    // has commented keys inside it.
    let lines: Vec<&str> = DEFAULT_YAML.lines().collect();
    let comments = lines
        .iter()
        .filter(|l| l.trim_start().starts_with('#'))
        .count();
    assert!(
        comments >= 60,
        "default.yaml has only {comments} comment lines"
    );
}

#[test]
fn the_default_written_out_and_read_back_is_the_same() {
    let c = Config::embedded_default().expect("default");
    let yaml = serde_norway::to_string(&coderunner_config::ConfigFile { config: c.clone() })
        .expect("serialise");
    let back = Config::from_yaml_str(&yaml, "round trip").expect("re-parse");
    assert_eq!(
        serde_norway::to_value(&back).expect("value"),
        serde_norway::to_value(&c).expect("value")
    );
}
