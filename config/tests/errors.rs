//! Each class of config error: its message names what is wrong, the key path, the line, and what
//! is accepted. Configs are the embedded default with one edit, so every other key stays valid.

use coderunner_config::{Config, ConfigError, Problem, DEFAULT_YAML};

/// The default config with `from` replaced by `to` (exactly once).
fn edited(from: &str, to: &str) -> String {
    assert_eq!(
        DEFAULT_YAML.matches(from).count(),
        1,
        "`{from}` must occur once in default.yaml"
    );
    DEFAULT_YAML.replacen(from, to, 1)
}

/// 1-based line of the first line of `text` containing `needle` at or after line `after`.
fn line_of(text: &str, needle: &str, after: usize) -> usize {
    text.lines()
        .enumerate()
        .skip(after.saturating_sub(1))
        .find(|(_, l)| l.contains(needle))
        .map(|(i, _)| i + 1)
        .unwrap_or_else(|| panic!("`{needle}` not in text"))
}

fn problems(text: &str) -> (Vec<Problem>, String) {
    match Config::from_yaml_str(text, "test.yaml") {
        Ok(_) => panic!("config was accepted"),
        Err(e) => (e.problems().to_vec(), e.to_string()),
    }
}

/// The one problem at `path`, asserting there is exactly one problem in total.
fn only_problem(text: &str, path: &str) -> (Problem, String) {
    let (ps, msg) = problems(text);
    assert_eq!(ps.len(), 1, "expected exactly one problem, got: {msg}");
    assert_eq!(ps[0].path, path, "{msg}");
    (ps[0].clone(), msg)
}

#[test]
fn unknown_key_names_key_path_line_and_the_accepted_keys() {
    let text = edited("    prefix: \"!\"", "    prefx: \"!\"");
    let (p, msg) = only_problem(&text, "config.discord");
    let line = line_of(&text, "prefx:", 1);
    assert_eq!(p.line, Some(line));
    assert_eq!(p.column, Some(5));
    assert!(
        msg.contains(&format!(
            "config.discord: unknown key `prefx` at line {line} column 5; did you mean `prefix`? expected one of `token_env`, `prefix`"
        )),
        "{msg}"
    );
}

#[test]
fn every_unknown_key_is_reported_not_just_the_first() {
    let text = edited("    prefix: \"!\"", "    prefx: \"!\"");
    let text = text.replacen("      pids: 32\n", "      pidz: 32\n", 1);
    let text = text.replacen("  audit:\n", "  audti:\n", 1);
    let text = text.replacen("      memory: rlimit_as\n", "      memroy: rlimit_as\n", 1);
    let (ps, msg) = problems(&text);
    let got: Vec<(&str, Option<usize>)> = ps.iter().map(|p| (p.path.as_str(), p.line)).collect();
    assert_eq!(
        got,
        vec![
            ("config.discord", Some(line_of(&text, "prefx:", 1))),
            ("config.profiles.default", Some(line_of(&text, "pidz:", 1))),
            (
                "config.languages.python",
                Some(line_of(&text, "memroy:", 1))
            ),
            ("config", Some(line_of(&text, "audti:", 1))),
        ],
        "{msg}"
    );
    assert!(msg.starts_with("test.yaml: 4 problems:"), "{msg}");
}

#[test]
fn unknown_keys_and_bad_values_are_reported_together() {
    let text = edited("    prefix: \"!\"", "    prefx: \"!\"").replacen(
        "agent_type: CodeRunnerAgent",
        "agent_type: Foo",
        1,
    );
    let (ps, msg) = problems(&text);
    let got: Vec<(&str, Option<usize>)> = ps.iter().map(|p| (p.path.as_str(), p.line)).collect();
    assert_eq!(
        got,
        vec![
            ("config.discord", Some(line_of(&text, "prefx:", 1))),
            (
                "config.agent_type",
                Some(line_of(&text, "agent_type: Foo", 1))
            ),
        ],
        "{msg}"
    );
}

#[test]
fn unknown_key_inside_a_list_entry_and_a_flow_map() {
    let text = edited(
        "        roles: []\n        profile: data\n",
        "        roles: []\n        rolez: []\n        profile: data\n",
    );
    let (p, _) = only_problem(&text, "config.access.tiers[1]");
    assert_eq!(p.line, Some(line_of(&text, "rolez:", 1)));
    let text = edited("member: {count: 5, per: 1m}", "member: {count: 5, pr: 1m}");
    let (p, msg) = only_problem(&text, "config.rate_limits.user.member");
    assert_eq!(p.line, Some(line_of(&text, "pr: 1m", 1)));
    assert!(msg.contains("unknown key `pr`"), "{msg}");
}

#[test]
fn agent_type_other_than_code_runner_agent_is_refused_by_name() {
    let text = edited("agent_type: CodeRunnerAgent", "agent_type: Foo");
    let (p, msg) = only_problem(&text, "config.agent_type");
    assert_eq!(p.line, Some(line_of(&text, "agent_type: Foo", 1)));
    assert!(
        msg.contains("config.agent_type: `Foo` is not a supported agent type"),
        "{msg}"
    );
    assert!(
        msg.contains("agent_type must be `CodeRunnerAgent`"),
        "{msg}"
    );
}

#[test]
fn zero_durations_are_refused_where_they_are_limits() {
    let text = edited("      wall_time: 10s\n", "      wall_time: 0s\n");
    let (p, msg) = only_problem(&text, "config.profiles.default.wall_time");
    assert_eq!(p.line, Some(line_of(&text, "wall_time: 0s", 1)));
    assert!(
        msg.contains("a duration of 0") && msg.contains("greater than zero"),
        "{msg}"
    );

    let text = edited(
        "member: {count: 5, per: 1m}",
        "member: {count: 5, per: 0ms}",
    );
    let (p, _) = only_problem(&text, "config.rate_limits.user.member.per");
    assert_eq!(p.line, Some(line_of(&text, "per: 0ms", 1)));
}

#[test]
fn negative_durations_and_sizes_are_refused_with_their_line() {
    let text = edited("      cpu_time: 10s\n", "      cpu_time: -5s\n");
    let (p, msg) = only_problem(&text, "config.profiles.default.cpu_time");
    assert_eq!(p.line, Some(line_of(&text, "cpu_time: -5s", 1)));
    assert!(msg.contains("negative"), "{msg}");
    let text = edited("      cpu_time: 10s\n", "      cpu_time: -5\n");
    let (_, msg) = only_problem(&text, "config.profiles.default.cpu_time");
    assert!(msg.contains("negative"), "{msg}");
    let text = edited("      memory: 256MiB\n", "      memory: -1MiB\n");
    let (_, msg) = only_problem(&text, "config.profiles.default.memory");
    assert!(msg.contains("negative"), "{msg}");
}

#[test]
fn memory_below_16_mib_is_refused() {
    let text = edited("      memory: 256MiB\n", "      memory: 8MiB\n");
    let (p, msg) = only_problem(&text, "config.profiles.default.memory");
    assert_eq!(p.line, Some(line_of(&text, "memory: 8MiB", 1)));
    assert!(
        msg.contains("8MiB of memory is too little") && msg.contains("at least `16MiB`"),
        "{msg}"
    );
    // Exactly the minimum is fine.
    let ok = edited("      memory: 256MiB\n", "      memory: 16MiB\n");
    assert!(Config::from_yaml_str(&ok, "ok").is_ok());
}

#[test]
fn tier_naming_an_unknown_profile_is_refused() {
    let text = edited("        profile: data\n", "        profile: dta\n");
    let (p, msg) = only_problem(&text, "config.access.tiers[1].profile");
    assert_eq!(p.line, Some(line_of(&text, "profile: dta", 1)));
    assert!(
        msg.contains("tier `data` names unknown profile `dta`"),
        "{msg}"
    );
    assert!(
        msg.contains("one of the profiles: `data`, `default`, `privileged`"),
        "{msg}"
    );
}

#[test]
fn privileged_profile_on_a_non_admin_tier_is_refused() {
    let text = edited(
        "        roles: []\n        profile: data\n",
        "        roles: []\n        privileged_profile: privileged\n        profile: data\n",
    );
    let (p, msg) = only_problem(&text, "config.access.tiers[1].privileged_profile");
    assert_eq!(
        p.line,
        Some(line_of(&text, "privileged_profile: privileged", 1))
    );
    assert!(
        msg.contains("not an admin tier") && msg.contains("admin: true"),
        "{msg}"
    );
}

#[test]
fn network_profile_as_an_ordinary_tier_profile_is_refused() {
    let text = edited(
        "        max_profile: data\n      - name: admin",
        "        max_profile: privileged\n      - name: admin",
    );
    let (_, msg) = only_problem(&text, "config.access.tiers[1].max_profile");
    assert!(msg.contains("network access"), "{msg}");
}

#[test]
fn the_same_alias_in_two_languages_is_refused() {
    let text = edited("aliases: [rs, rustc]", "aliases: [rs, rustc, PY]");
    let (p, msg) = only_problem(&text, "config.languages.rust.aliases");
    assert_eq!(p.line, Some(line_of(&text, "aliases: [rs, rustc, PY]", 1)));
    assert!(
        msg.contains("alias `PY` of `rust` is already an alias of `python`"),
        "{msg}"
    );
    // An alias equal to another language's name clashes too.
    let text = edited("aliases: [rs, rustc]", "aliases: [rs, rustc, Bash]");
    let (_, msg) = only_problem(&text, "config.languages.rust.aliases");
    assert!(msg.contains("is already language `bash`"), "{msg}");
}

#[test]
fn run_command_that_is_relative_is_refused() {
    let text = edited("run: [bash, \"{file}\"]", "run: [./bin/bash, \"{file}\"]");
    let (p, msg) = only_problem(&text, "config.languages.bash.run[0]");
    assert_eq!(p.line, Some(line_of(&text, "run: [./bin/bash", 1)));
    assert!(
        msg.contains("`./bin/bash` is neither an absolute path nor a bare command name"),
        "{msg}"
    );
    assert!(msg.contains("/usr/local/bin, /usr/bin and /bin"), "{msg}");
    let text = edited("compile: [gcc,", "compile: [bin/gcc,");
    only_problem(&text, "config.languages.c.compile[0]");
    let text = edited("run: [bash, \"{file}\"]", "run: [bash, \"{fiel}\"]");
    let (_, msg) = only_problem(&text, "config.languages.bash.run[1]");
    assert!(msg.contains("unknown placeholder `{fiel}`"), "{msg}");
}

#[test]
fn a_token_in_the_file_is_refused_without_echoing_it() {
    let token = "MTE4NjQ1MjM0NTY3ODkwMTIzNA.GabCdE.abcdefghijklmnopqrstuvwxyz0123456789AB";
    let text = edited("token_env: DISCORD_TOKEN", &format!("token_env: {token}"));
    let (p, msg) = only_problem(&text, "config.discord.token_env");
    assert_eq!(p.line, Some(line_of(&text, "token_env: MTE4", 1)));
    assert!(
        msg.contains("looks like a secret") && msg.contains("environment variable"),
        "{msg}"
    );
    assert!(
        !msg.contains(token) && !msg.contains("GabCdE"),
        "the message leaks the token: {msg}"
    );

    let text = edited("token_env: DISCORD_TOKEN", &format!("token: {token}"));
    let (p, msg) = only_problem(&text, "config.discord");
    assert_eq!(p.line, Some(line_of(&text, "token: MTE4", 1)));
    assert!(
        msg.contains("unknown key `token`: secrets never go in the config file"),
        "{msg}"
    );
    assert!(msg.contains("token_env"), "{msg}");
    assert!(!msg.contains("GabCdE"), "{msg}");
}

#[test]
fn api_keys_need_exactly_one_well_formed_key_source() {
    let with = |entry: &str| {
        edited(
            "    api_keys: []",
            &format!("    api_keys:\n      - {entry}"),
        )
    };
    let (_, msg) = only_problem(&with("{name: ci, tier: member}"), "config.http.api_keys[0]");
    assert!(msg.contains("neither key_env nor key_sha256"), "{msg}");
    let both = with(&format!(
        "{{name: ci, key_env: CI_KEY, key_sha256: {}, tier: member}}",
        "a".repeat(64)
    ));
    let (_, msg) = only_problem(&both, "config.http.api_keys[0]");
    assert!(msg.contains("both key_env and key_sha256"), "{msg}");
    let text = with("{name: ci, key_sha256: 9f86d08, tier: member}");
    let (p, msg) = only_problem(&text, "config.http.api_keys[0].key_sha256");
    assert_eq!(p.line, Some(line_of(&text, "key_sha256: 9f86d08", 1)));
    assert!(msg.contains("64 hex digits"), "{msg}");
    let good = with(&format!(
        "{{name: ci, key_sha256: {}, tier: member}}",
        "0123456789abcdef".repeat(4)
    ));
    assert!(Config::from_yaml_str(&good, "ok").is_ok());
    let (_, msg) = only_problem(
        &with("{name: ci, key_env: CI_KEY, tier: gold}"),
        "config.http.api_keys[0].tier",
    );
    assert!(msg.contains("unknown tier `gold`"), "{msg}");
    // The misplaced secret is named first; the entry then lacks a key source, said too.
    let (ps, msg) = problems(&with("{name: ci, key: hunter2hunter2, tier: member}"));
    assert_eq!(ps.len(), 2, "{msg}");
    assert_eq!(ps[0].path, "config.http.api_keys[0]");
    assert!(
        ps[0].what.contains("secrets never go in the config file"),
        "{msg}"
    );
    assert!(ps[0].expected.contains("key_sha256"), "{msg}");
    assert!(
        ps[1].what.contains("neither key_env nor key_sha256"),
        "{msg}"
    );
    assert!(!msg.contains("hunter2"), "the message leaks the key: {msg}");
}

#[test]
fn reversed_uid_range_and_uid_zero_are_refused() {
    let text = edited("uid_range: [200000, 200999]", "uid_range: [200999, 200000]");
    let (p, msg) = only_problem(&text, "config.runner.uid_range");
    assert_eq!(p.line, Some(line_of(&text, "uid_range: [200999", 1)));
    assert!(msg.contains("reversed"), "{msg}");
    let text = edited("uid_range: [200000, 200999]", "uid_range: [0, 10]");
    let (_, msg) = only_problem(&text, "config.runner.uid_range");
    assert!(msg.contains("uid 0"), "{msg}");
}

#[test]
fn rate_limit_for_an_unknown_tier_and_unknown_default_tier() {
    let text = edited(
        "      data: {count: 20, per: 1m}",
        "      dta: {count: 20, per: 1m}",
    );
    let (p, msg) = only_problem(&text, "config.rate_limits.user.dta");
    assert_eq!(p.line, Some(line_of(&text, "dta: {count", 1)));
    assert!(msg.contains("unknown tier `dta`"), "{msg}");
    let text = edited("default_tier: member", "default_tier: guest");
    let (_, msg) = only_problem(&text, "config.access.default_tier");
    assert!(
        msg.contains("unknown tier `guest`") && msg.contains("null"),
        "{msg}"
    );
}

#[test]
fn dangerous_mounts_are_refused() {
    let text = edited(
        "      mounts: [/etc/matplotlibrc, /etc/fonts]\n",
        "      mounts: [/root/.cache]\n",
    );
    let (_, msg) = only_problem(&text, "config.languages.python.mounts[0]");
    assert!(msg.contains("may not be bound into the sandbox"), "{msg}");
}

#[test]
fn all_semantic_problems_are_collected() {
    let text = edited("agent_type: CodeRunnerAgent", "agent_type: Foo")
        .replacen("      memory: 256MiB\n", "      memory: 1MiB\n", 1)
        .replacen("uid_range: [200000, 200999]", "uid_range: [2, 1]", 1);
    let (ps, msg) = problems(&text);
    let paths: Vec<&str> = ps.iter().map(|p| p.path.as_str()).collect();
    assert_eq!(
        paths,
        vec![
            "config.agent_type",
            "config.profiles.default.memory",
            "config.runner.uid_range"
        ],
        "{msg}"
    );
    assert!(ps.iter().all(|p| p.line.is_some()), "{msg}");
}

#[test]
fn syntax_and_type_errors_carry_their_line() {
    let text = edited("    guilds: []\n    # FOR", "    guilds: [\n    # FOR");
    let (ps, msg) = problems(&text);
    assert_eq!(ps.len(), 1, "{msg}");
    assert!(ps[0].line.is_some(), "{msg}");
    let text = edited(
        "      pids: 32\n      output: 1MiB",
        "      pids: many\n      output: 1MiB",
    );
    let (p, msg) = only_problem(&text, "config.profiles.default.pids");
    assert_eq!(p.line, Some(line_of(&text, "pids: many", 1)));
    assert!(msg.contains("invalid type"), "{msg}");
    let text = edited("      wall_time: 10s\n", "      wall_time: 10 parsecs\n");
    let (_, msg) = only_problem(&text, "config.profiles.default.wall_time");
    assert!(
        msg.contains("is not a duration") && msg.contains("`10s`"),
        "{msg}"
    );
}

#[test]
fn settings_outside_config_and_empty_files_are_explained() {
    let (ps, msg) = problems("agent_id: x\nagent_type: CodeRunnerAgent\n");
    assert_eq!(ps[0].path, "(top level)", "{msg}");
    assert!(msg.contains("`config:`"), "{msg}");
    let (ps, msg) = problems("# nothing\n");
    assert_eq!(ps.len(), 1, "{msg}");
    assert!(msg.contains("empty"), "{msg}");
}

#[test]
fn read_errors_name_the_file() {
    let err = Config::load(std::path::Path::new("/nonexistent/coderunner.yaml"))
        .err()
        .map(|e| (matches!(e, ConfigError::Read { .. }), e.to_string()));
    let (is_read, msg) = err.expect("missing file refused");
    assert!(
        is_read && msg.contains("/nonexistent/coderunner.yaml"),
        "{msg}"
    );
}

/// The admin tier's `roles` line in the default (it ships empty: no Discord admin).
const ADMIN_ROLES: &str = "        # Nobody on Discord is admin until you add your admin role's id here.\n        roles: []\n";
/// The data tier's `roles` line.
const DATA_ROLES: &str = "        roles: []\n        profile: data\n";

#[test]
fn a_role_name_in_an_admin_tier_is_refused_with_how_to_find_the_id() {
    for guilds in ["guilds: []", "guilds: [1180000000000000001]"] {
        let text = edited(ADMIN_ROLES, "        roles: [Admin]\n").replacen(
            "    guilds: []\n    # Channel",
            &format!("    {guilds}\n    # Channel"),
            1,
        );
        let (p, msg) = only_problem(&text, "config.access.tiers[2].roles[0]");
        assert_eq!(p.line, Some(line_of(&text, "roles: [Admin]", 1)));
        assert!(
            msg.contains("admin tier") && msg.contains("`Admin`"),
            "{msg}"
        );
        assert!(
            msg.contains("Developer Mode") && msg.contains("Copy Role ID"),
            "the message says how to find the id: {msg}"
        );
    }
}

#[test]
fn a_role_name_needs_the_servers_it_applies_to() {
    let text = edited(
        DATA_ROLES,
        "        roles: [analysts]\n        profile: data\n",
    );
    let (_, msg) = only_problem(&text, "config.access.tiers[1].roles[0]");
    assert!(
        msg.contains("access.guilds") && msg.contains("Copy Role ID"),
        "{msg}"
    );
    // Listing the servers makes the name acceptable for an ordinary tier.
    let scoped = text.replacen(
        "    guilds: []\n    # Channel",
        "    guilds: [1180000000000000001]\n    # Channel",
        1,
    );
    let config = Config::from_yaml_str(&scoped, "t.yaml").expect("a scoped name is accepted");
    assert_eq!(
        config.tier("data").map(|t| t.roles.clone()),
        Some(vec![coderunner_config::RoleRef::Name("analysts".into())])
    );
}

#[test]
fn a_role_id_in_quotes_is_an_id_and_an_admin_id_is_accepted() {
    let text = edited(
        ADMIN_ROLES,
        "        roles: [\"1180000000000000102\", 1180000000000000103]\n",
    );
    let config = Config::from_yaml_str(&text, "t.yaml").expect("ids are fine in an admin tier");
    assert_eq!(
        config.tier("admin").map(|t| t.roles.clone()),
        Some(vec![
            coderunner_config::RoleRef::Id(1_180_000_000_000_000_102),
            coderunner_config::RoleRef::Id(1_180_000_000_000_000_103),
        ])
    );
}

#[test]
fn plain_http_to_another_machine_needs_insecure() {
    let node = "    remote: []\n";
    let text = edited(
        node,
        "    remote:\n      - {url: \"http://10.1.2.3:8080\", key_env: RUNNER_KEY}\n",
    );
    let (_, msg) = only_problem(&text, "config.runner.remote[0].url");
    assert!(
        msg.contains("insecure: true") && msg.contains("https://"),
        "{msg}"
    );
    for ok in [
        "{url: \"http://10.1.2.3:8080\", key_env: RUNNER_KEY, insecure: true}",
        "{url: \"https://10.1.2.3:8443\", key_env: RUNNER_KEY}",
        "{url: \"http://127.0.0.1:8080\", key_env: RUNNER_KEY}",
    ] {
        let text = edited(node, &format!("    remote:\n      - {ok}\n"));
        assert!(Config::from_yaml_str(&text, "t.yaml").is_ok(), "{ok}");
    }
}

#[test]
fn a_workspace_file_cap_of_zero_is_refused() {
    let text = edited("    max_files: 1000\n", "    max_files: 0\n");
    let (_, msg) = only_problem(&text, "config.workspaces.max_files");
    assert!(msg.contains("at least 1"), "{msg}");
}

#[test]
fn mcp_tier_origins_hosts_and_output_are_checked() {
    let (p, msg) = only_problem(
        &edited("    tier: member\n", "    tier: gold\n"),
        "config.mcp.tier",
    );
    assert!(msg.contains("unknown tier `gold`"), "{msg}");
    assert!(msg.contains("member"), "the known tiers are listed: {msg}");
    assert!(p.line.is_some(), "{msg}");

    let (_, msg) = only_problem(
        &edited(
            "    allowed_origins: []\n",
            "    allowed_origins: [\"app.example.com\", \"https://ok.example.com\"]\n",
        ),
        "config.mcp.allowed_origins[0]",
    );
    assert!(msg.contains("not a browser origin"), "{msg}");

    let (_, msg) = only_problem(
        &edited(
            "    allowed_hosts: [localhost, 127.0.0.1, \"::1\"]\n",
            "    allowed_hosts: []\n",
        ),
        "config.mcp.allowed_hosts",
    );
    assert!(msg.contains("is empty"), "{msg}");

    let (_, msg) = only_problem(
        &edited("    output_chars: 20000\n", "    output_chars: 10\n"),
        "config.mcp.output_chars",
    );
    assert!(msg.contains("at least 200"), "{msg}");

    // And the default's mcp section is valid as shipped.
    let c = Config::from_yaml_str(DEFAULT_YAML, "default.yaml").expect("default parses");
    assert_eq!(c.mcp.tier, "member");
    assert!(c.mcp.allowed_origins.is_empty());
}
