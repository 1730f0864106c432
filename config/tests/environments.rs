//! `config.environments`: package sets and their defaults parse, and every mistake is refused
//! with the key path, the line and what is accepted.

use coderunner_config::{Config, DEFAULT_YAML};

/// The default config with `environments: {}` replaced by `block` (indented under `config:`).
fn with_environments(block: &str) -> String {
    assert_eq!(DEFAULT_YAML.matches("  environments: {}\n").count(), 1);
    DEFAULT_YAML.replacen("  environments: {}\n", block, 1)
}

fn errors(text: &str) -> String {
    match Config::from_yaml_str(text, "test.yaml") {
        Ok(_) => panic!("config was accepted:\n{text}"),
        Err(e) => e.to_string(),
    }
}

const GOOD: &str = "  environments:
    ml:
      python: [scikit-learn>=1.3, polars]
    teaching:
      python: [cowsay==6.1]
    default:
      channels: {\"123456789012345678\": teaching}
      tiers: {data: ml, member: none}
      everyone: teaching
";

#[test]
fn sets_and_defaults_parse_and_resolve_channel_then_tier_then_everyone() {
    let c = Config::from_yaml_str(&with_environments(GOOD), "good.yaml").expect("valid");
    assert_eq!(
        c.package_set("ml").map(|s| s.python.clone()),
        Some(vec!["scikit-learn>=1.3".to_string(), "polars".to_string()])
    );
    assert!(c.package_set("default").is_none(), "default is not a set");
    assert_eq!(
        c.default_package_set(Some(123456789012345678), "data"),
        Some("teaching")
    );
    assert_eq!(c.default_package_set(Some(1), "data"), Some("ml"));
    assert_eq!(c.default_package_set(None, "member"), None, "`none`");
    assert_eq!(c.default_package_set(None, "admin"), Some("teaching"));
    assert_eq!(c.suggest_package_sets("teachng"), vec!["teaching"]);
    // The embedded default has no sets, and python takes python packages.
    let d = Config::embedded_default().expect("default");
    assert!(d.environments.sets.is_empty());
    assert_eq!(d.default_package_set(Some(1), "member"), None);
    assert_eq!(
        d.find_language("python").and_then(|(_, l)| l.packages),
        Some(coderunner_config::PackageKind::Python)
    );
}

#[test]
fn unknown_keys_inside_sets_and_defaults_are_named() {
    let text = with_environments("  environments:\n    ml:\n      pyhton: [polars]\n");
    let msg = errors(&text);
    assert!(
        msg.contains("config.environments.ml: unknown key `pyhton`")
            && msg.contains("did you mean `python`?"),
        "{msg}"
    );
    let text = with_environments(
        "  environments:\n    ml:\n      python: [polars]\n    default:\n      everybody: ml\n",
    );
    let msg = errors(&text);
    assert!(
        msg.contains("config.environments.default: unknown key `everybody`")
            && msg.contains("`everyone`"),
        "{msg}"
    );
}

#[test]
fn bad_names_requirements_and_references_are_each_reported() {
    let text = with_environments(
        "  environments:
    ML:
      python: [polars]
    none:
      python: [polars]
    empty: {}
    evil:
      python: [\"--index-url=https://evil.example\", \"x @ https://evil.example/x.whl\", ok-pkg]
    default:
      tiers: {data: mll, wizards: ml}
      channels: {general: ml}
      everyone: nope
",
    );
    let msg = errors(&text);
    for needle in [
        "config.environments.ML: `ML` is not a set name",
        "config.environments.none: `none` cannot name a set",
        "config.environments.empty: set `empty` has no packages",
        "config.environments.evil.python[0]: `--index-url=https://evil.example` looks like a pip option",
        "config.environments.evil.python[1]: `x @ https://evil.example/x.whl` `@` is not allowed",
        "config.environments.default.tiers.data: names unknown set `mll`",
        "config.environments.default.tiers.wizards: names unknown tier `wizards`",
        "config.environments.default.channels.general: `general` is not a channel id",
        "config.environments.default.everyone: names unknown set `nope`",
    ] {
        assert!(msg.contains(needle), "missing `{needle}` in:\n{msg}");
    }
    assert!(!msg.contains("ok-pkg"), "{msg}");
    // Each problem carries its line.
    assert!(msg.contains("is not a set name at line"), "{msg}");
}

#[test]
fn a_set_no_language_takes_is_refused() {
    let text = with_environments("  environments:\n    ml:\n      python: [polars]\n").replacen(
        "      packages: python\n",
        "",
        1,
    );
    let msg = errors(&text);
    assert!(
        msg.contains("config.environments.ml.python: set `ml` has python packages, but no language takes them")
            && msg.contains("packages: python"),
        "{msg}"
    );
}
