//! Semantic validation of a parsed config: every value that parses but cannot work (zero limits,
//! dangling tier/profile names, clashing aliases, relative commands, secrets in the file...).
//! All problems are collected; each says what is wrong, where and what is accepted.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use crate::error::Problem;
use crate::locate::KeyIndex;
use crate::schema::{CompileLimits, Config, Language, Profile, RoleRef, Tier};
use crate::units::{ByteSize, HumanDuration};

/// The only agent type this program implements (from the Code Runner Agent seed).
pub const AGENT_TYPE: &str = "CodeRunnerAgent";
/// The least memory a run or compile stage may be given; below it no interpreter starts.
pub const MIN_MEMORY: ByteSize = ByteSize::mib(16);
/// Fewest open files an interpreter needs (stdio, shared libraries, its own modules).
pub const MIN_OPEN_FILES: u32 = 16;
/// Placeholders a command may contain.
pub const PLACEHOLDERS: &[&str] = &["{file}", "{exe}", "{heap_mib}", "{memory_mib}", "{workdir}"];
/// Discord's limit on one message is 2000 characters; replies need room around the output.
const MAX_INLINE_CHARS: u32 = 1900;
/// How an operator finds a role id, for messages about role names.
const HOW_TO_FIND_A_ROLE_ID: &str = "the role's id: in Discord turn on Developer Mode (User Settings -> Advanced), then Server Settings -> Roles, right-click the role -> Copy Role ID, and write the number here, e.g. `roles: [123456789012345678]`";
/// Discord allows 10 attachments per message.
const MAX_ATTACHMENTS: u32 = 10;

/// Every problem with `config`, located in the text indexed by `index`.
pub(crate) fn validate(config: &Config, index: &KeyIndex) -> Vec<Problem> {
    let mut c = Checker {
        index,
        problems: Vec::new(),
    };
    c.top(config);
    c.discord(config);
    for (name, profile) in &config.profiles {
        c.profile(&format!("config.profiles.{name}"), profile);
    }
    c.access(config);
    c.rate_limits(config);
    c.languages(config);
    c.output(config);
    c.audit_http(config);
    c.runner(config);
    for (path, what, expected) in config.ai.problems() {
        c.bad(&path, what, expected);
    }
    c.mcp(config);
    c.problems
        .extend(crate::environments::validate(config, index));
    c.problems
}

struct Checker<'a> {
    index: &'a KeyIndex,
    problems: Vec<Problem>,
}

impl Checker<'_> {
    fn bad(&mut self, path: &str, what: impl Into<String>, expected: impl Into<String>) {
        let mut p = Problem::new(path, what, expected);
        if let Some(pos) = self.index.find_nearest(path) {
            p.line = Some(pos.line);
            p.column = Some(pos.column);
        }
        self.problems.push(p);
    }

    fn top(&mut self, config: &Config) {
        if config.agent_type != AGENT_TYPE {
            self.bad(
                "config.agent_type",
                format!("`{}` is not a supported agent type", config.agent_type),
                format!("agent_type must be `{AGENT_TYPE}`"),
            );
        }
        if config.agent_id.trim().is_empty() {
            self.bad(
                "config.agent_id",
                "is empty",
                "give this agent instance a unique name, e.g. `code_runner_agent_01`",
            );
        }
        if config.data_dir.as_os_str().is_empty() {
            self.bad(
                "config.data_dir",
                "is empty",
                "a directory for the audit database and workspaces, e.g. `coderunner-data`",
            );
        }
    }

    fn discord(&mut self, config: &Config) {
        let d = &config.discord;
        self.env_name("config.discord.token_env", &d.token_env, "DISCORD_TOKEN");
        if d.prefix.is_empty() || d.prefix.chars().any(char::is_whitespace) {
            self.bad(
                "config.discord.prefix",
                format!("`{}` cannot be a command prefix", d.prefix),
                "one or more characters without spaces, e.g. `!`",
            );
        }
        if let Some(base) = &d.api_base {
            self.url("config.discord.api_base", base);
        }
        self.nonzero_size("config.discord.upload_limit", d.upload_limit);
    }

    fn profile(&mut self, path: &str, p: &Profile) {
        self.positive(&format!("{path}.wall_time"), p.wall_time);
        self.positive(&format!("{path}.cpu_time"), p.cpu_time);
        self.memory(&format!("{path}.memory"), p.memory);
        self.at_least(&format!("{path}.pids"), p.pids, 1, "processes");
        self.nonzero_size(&format!("{path}.output"), p.output);
        for (key, size) in [
            ("workdir_size", p.workdir_size),
            ("tmp_size", p.tmp_size),
            ("shm_size", p.shm_size),
        ] {
            if size < ByteSize::mib(1) {
                self.bad(
                    &format!("{path}.{key}"),
                    format!("{size} is too small for a tmpfs"),
                    "at least `1MiB`, e.g. `16MiB`",
                );
            }
        }
        self.at_least(
            &format!("{path}.open_files"),
            p.open_files,
            MIN_OPEN_FILES,
            "open files (interpreters need their standard streams, libraries and modules)",
        );
        if !(p.cpus.is_finite() && p.cpus > 0.0 && p.cpus <= 1024.0) {
            self.bad(
                &format!("{path}.cpus"),
                format!("`{}` is not a CPU share", p.cpus),
                "a number of cores greater than 0, e.g. `1` or `0.5`",
            );
        }
        self.compile_limits(&format!("{path}.compile"), &p.compile);
    }

    fn compile_limits(&mut self, path: &str, c: &CompileLimits) {
        self.positive(&format!("{path}.wall_time"), c.wall_time);
        self.positive(&format!("{path}.cpu_time"), c.cpu_time);
        self.memory(&format!("{path}.memory"), c.memory);
        self.at_least(&format!("{path}.pids"), c.pids, 1, "processes");
        self.nonzero_size(&format!("{path}.output"), c.output);
    }

    fn access(&mut self, config: &Config) {
        let a = &config.access;
        let profiles = known(config.profiles.keys());
        if a.tiers.is_empty() {
            self.bad(
                "config.access.tiers",
                "no tiers are defined",
                "at least one tier, e.g. `- {name: member, profile: default}`",
            );
        }
        let mut seen: HashMap<String, usize> = HashMap::new();
        for (i, t) in a.tiers.iter().enumerate() {
            let path = format!("config.access.tiers[{i}]");
            if t.name.trim().is_empty() {
                self.bad(
                    &format!("{path}.name"),
                    "is empty",
                    "a tier name, e.g. `member`",
                );
            } else if let Some(first) = seen.insert(t.name.to_ascii_lowercase(), i) {
                self.bad(
                    &format!("{path}.name"),
                    format!("tier `{}` is defined twice (also tiers[{first}])", t.name),
                    "tier names are unique (case-insensitive)",
                );
            }
            for (key, value) in [
                ("profile", Some(&t.profile)),
                ("max_profile", t.max_profile.as_ref()),
                ("privileged_profile", t.privileged_profile.as_ref()),
            ] {
                let Some(name) = value else { continue };
                match config.profiles.get(name) {
                    None => self.bad(
                        &format!("{path}.{key}"),
                        format!("tier `{}` names unknown profile `{name}`", t.name),
                        format!("one of the profiles: {profiles}"),
                    ),
                    Some(p) if p.network && key != "privileged_profile" => self.bad(
                        &format!("{path}.{key}"),
                        format!(
                            "tier `{}` uses profile `{name}`, which has network access, for ordinary runs",
                            t.name
                        ),
                        "a profile with `network: true` may only be an admin tier's `privileged_profile`",
                    ),
                    Some(_) => {}
                }
            }
            self.tier_roles(&path, t, a.guilds.is_empty());
            if t.privileged_profile.is_some() && !t.admin {
                self.bad(
                    &format!("{path}.privileged_profile"),
                    format!(
                        "tier `{}` is not an admin tier but has a privileged_profile",
                        t.name
                    ),
                    "only tiers with `admin: true` may run --privileged; remove privileged_profile or set admin: true",
                );
            }
        }
        let tiers = known(a.tiers.iter().map(|t| &t.name));
        if let Some(d) = &a.default_tier {
            if config.tier(d).is_none() {
                self.bad(
                    "config.access.default_tier",
                    format!("names unknown tier `{d}`"),
                    format!("one of the tiers: {tiers}, or null to refuse users without a role"),
                );
            }
        }
    }

    /// Role names are for convenience in known servers only: anyone can create a role with any
    /// name in a server of their own and invite the bot there.
    fn tier_roles(&mut self, path: &str, t: &Tier, no_guilds: bool) {
        for (j, role) in t.roles.iter().enumerate() {
            let RoleRef::Name(name) = role else { continue };
            let at = format!("{path}.roles[{j}]");
            if name.trim().is_empty() {
                self.bad(&at, "an empty role name", HOW_TO_FIND_A_ROLE_ID);
            } else if t.admin || t.privileged_profile.is_some() {
                self.bad(
                    &at,
                    format!(
                        "tier `{}` is an admin tier and gives it to the role NAMED `{name}`; anyone who can create a role called `{name}` in any server the bot is in would become admin",
                        t.name
                    ),
                    HOW_TO_FIND_A_ROLE_ID,
                );
            } else if no_guilds {
                self.bad(
                    &at,
                    format!(
                        "tier `{}` names the role `{name}`, but a role name only counts in the servers listed in `access.guilds`, which is empty",
                        t.name
                    ),
                    format!("{HOW_TO_FIND_A_ROLE_ID}; or list your server ids in `access.guilds` (then the bot answers only there)"),
                );
            }
        }
    }

    fn rate_limits(&mut self, config: &Config) {
        let r = &config.rate_limits;
        let tiers = known(config.access.tiers.iter().map(|t| &t.name));
        for (kind, map) in [("user", &r.user), ("guild", &r.guild), ("ai", &r.ai)] {
            for (tier, q) in map {
                let path = format!("config.rate_limits.{kind}.{tier}");
                if config.tier(tier).is_none() {
                    self.bad(
                        &path,
                        format!("names unknown tier `{tier}`"),
                        format!("one of the tiers: {tiers}"),
                    );
                }
                if q.count == 0 {
                    self.bad(
                        &format!("{path}.count"),
                        "a quota of 0 runs",
                        "at least 1; to leave a tier unlimited, remove its entry",
                    );
                }
                self.positive(&format!("{path}.per"), q.per);
            }
        }
        self.at_least(
            "config.rate_limits.concurrent_per_user",
            r.concurrent_per_user,
            1,
            "runs",
        );
        self.at_least(
            "config.rate_limits.global_concurrency",
            r.global_concurrency,
            1,
            "runs",
        );
    }

    fn languages(&mut self, config: &Config) {
        if config.languages.is_empty() {
            self.bad(
                "config.languages",
                "no languages are defined",
                "at least one language (see `coderunner config print-default`)",
            );
        }
        // Names and aliases share one case-insensitive namespace: `!run X` must mean one thing.
        let mut names: BTreeMap<String, String> = BTreeMap::new();
        for name in config.languages.keys() {
            names.insert(name.to_ascii_lowercase(), format!("language `{name}`"));
        }
        let mut extensions: BTreeMap<String, String> = BTreeMap::new();
        for (name, lang) in &config.languages {
            let path = format!("config.languages.{name}");
            if name.is_empty() || name.chars().any(char::is_whitespace) {
                self.bad(
                    &path,
                    format!("`{name}` is not a language name"),
                    "a name without spaces, e.g. `python`",
                );
            }
            if !lang.preload.is_empty() && name != "python" {
                self.bad(
                    &format!("{path}.preload"),
                    "only the language named `python` has a zygote to preload modules into",
                    "remove `preload` here, or list the modules under `languages.python.preload`",
                );
            }
            for (i, module) in lang.preload.iter().enumerate() {
                let valid = !module.is_empty()
                    && module.split('.').all(|part| {
                        part.chars()
                            .next()
                            .is_some_and(|c| c.is_alphabetic() || c == '_')
                            && part.chars().all(|c| c.is_alphanumeric() || c == '_')
                    });
                if !valid {
                    self.bad(
                        &format!("{path}.preload[{i}]"),
                        format!("`{module}` is not a Python module name"),
                        "a dotted module name such as `numpy` or `matplotlib.pyplot`",
                    );
                }
            }
            for (i, alias) in lang.aliases.iter().enumerate() {
                let key = alias.to_ascii_lowercase();
                let here = format!("an alias of `{name}`");
                if alias.is_empty() || alias.chars().any(char::is_whitespace) {
                    self.bad(
                        &format!("{path}.aliases[{i}]"),
                        format!("`{alias}` is not an alias"),
                        "a word without spaces, e.g. `py`",
                    );
                } else if let Some(owner) = names.get(&key) {
                    if owner != &here {
                        self.bad(
                            &format!("{path}.aliases"),
                            format!("alias `{alias}` of `{name}` is already {owner}"),
                            "language names and aliases share one namespace (case-insensitive); remove or rename one",
                        );
                    }
                } else {
                    names.insert(key, here);
                }
            }
            for (i, ext) in lang.extensions.iter().enumerate() {
                let key = ext.trim_start_matches('.').to_ascii_lowercase();
                if key.is_empty()
                    || key.contains(['/', '.'])
                    || key.chars().any(char::is_whitespace)
                {
                    self.bad(
                        &format!("{path}.extensions[{i}]"),
                        format!("`{ext}` is not a file extension"),
                        "an extension without the dot, e.g. `py`",
                    );
                } else if let Some(owner) = extensions.get(&key) {
                    if owner != name {
                        self.bad(
                            &format!("{path}.extensions"),
                            format!("extension `{ext}` of `{name}` is also claimed by `{owner}`"),
                            "each extension belongs to one language, so attachments are unambiguous",
                        );
                    }
                } else {
                    extensions.insert(key, name.clone());
                }
            }
            self.language(&path, lang, config);
        }
    }

    fn language(&mut self, path: &str, lang: &Language, config: &Config) {
        if lang.file.is_empty() || lang.file.contains('/') || lang.file == "." || lang.file == ".."
        {
            self.bad(
                &format!("{path}.file"),
                format!("`{}` is not a plain file name", lang.file),
                "a file name in the working directory, e.g. `main.py`",
            );
        }
        if lang.run.is_empty() {
            self.bad(
                &format!("{path}.run"),
                "the run command is empty",
                "a command, e.g. `[/usr/bin/python3, \"{file}\"]`",
            );
        }
        self.command(&format!("{path}.run"), &lang.run);
        if let Some(run) = &lang.privileged_run {
            if run.is_empty() {
                self.bad(
                    &format!("{path}.privileged_run"),
                    "the privileged run command is empty",
                    "a command such as `[/usr/bin/python3, -I, \"{file}\"]`, or null to use `run`",
                );
            }
            self.command(&format!("{path}.privileged_run"), run);
        }
        if let Some(compile) = &lang.compile {
            if compile.is_empty() {
                self.bad(&format!("{path}.compile"), "the compile command is empty", "a command such as `[gcc, -o, \"{exe}\", \"{file}\"]`, or no `compile` key for interpreted languages");
            }
            self.command(&format!("{path}.compile"), compile);
            let uses_exe = lang.run.iter().any(|a| a.contains("{exe}"));
            if uses_exe && !compile.iter().any(|a| a.contains("{exe}")) {
                self.bad(
                    &format!("{path}.compile"),
                    "the run command uses `{exe}` but the compile command never writes it",
                    "pass `{exe}` to the compiler as its output, e.g. `-o, \"{exe}\"`",
                );
            }
        } else if lang.run.iter().any(|a| a.contains("{exe}")) {
            self.bad(
                &format!("{path}.run"),
                "uses `{exe}` but the language has no compile command",
                "add `compile:` or run the source `{file}` directly",
            );
        }
        if !lang.version.is_empty() {
            self.command(&format!("{path}.version"), &lang.version);
        }
        for key in lang.env.keys() {
            if !is_env_name(key) {
                self.bad(
                    &format!("{path}.env.{key}"),
                    format!("`{key}` is not an environment variable name"),
                    "letters, digits and `_`, not starting with a digit",
                );
            }
        }
        for (i, m) in lang.mounts.iter().enumerate() {
            self.mount(&format!("{path}.mounts[{i}]"), m, config);
        }
    }

    /// A command's program is an absolute path, a bare name (looked up in /usr/local/bin, /usr/bin,
    /// /bin) or `{exe}`; its placeholders are known ones.
    fn command(&mut self, path: &str, cmd: &[String]) {
        if let Some(program) = cmd.first() {
            let ok = program.starts_with('/')
                || program == "{exe}"
                || (!program.is_empty()
                    && !program.contains('/')
                    && !program.contains('{')
                    && !program.chars().any(char::is_whitespace));
            if !ok {
                self.bad(
                    &format!("{path}[0]"),
                    format!("`{program}` is neither an absolute path nor a bare command name"),
                    "an absolute path like `/usr/bin/python3`, or a bare name like `python3` (looked up in /usr/local/bin, /usr/bin and /bin only)",
                );
            }
        }
        for (i, arg) in cmd.iter().enumerate() {
            let mut rest = arg.as_str();
            while let Some(open) = rest.find('{') {
                let after = &rest[open..];
                let Some(close) = after.find('}') else { break };
                let placeholder = &after[..=close];
                // Only `{word}` can be a placeholder: other braces are the language's own (an R
                // driver passed with `-e` is code with blocks).
                let word = &placeholder[1..placeholder.len() - 1];
                if word.is_empty() || !word.chars().all(|c| c.is_ascii_lowercase() || c == '_') {
                    rest = &after[1..];
                    continue;
                }
                if !PLACEHOLDERS.contains(&placeholder) {
                    self.bad(
                        &format!("{path}[{i}]"),
                        format!("unknown placeholder `{placeholder}`"),
                        format!(
                            "one of {}",
                            PLACEHOLDERS
                                .iter()
                                .map(|p| format!("`{p}`"))
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    );
                }
                rest = &after[close + 1..];
            }
        }
    }

    fn mount(&mut self, path: &str, m: &Path, config: &Config) {
        let s = m.to_string_lossy();
        let denied = [
            "/root",
            "/proc",
            "/sys",
            "/dev",
            "/home",
            "/etc/shadow",
            "/run",
            "/var/run",
        ];
        let forbidden = s == "/"
            || m.components().any(|c| c == std::path::Component::ParentDir)
            || denied.iter().any(|d| m.starts_with(d))
            || (config.data_dir.is_absolute() && m.starts_with(&config.data_dir));
        if !m.is_absolute() {
            self.bad(
                path,
                format!("`{s}` is not an absolute path"),
                "an absolute host path to bind read-only, e.g. `/usr/share/zoneinfo`",
            );
        } else if forbidden {
            self.bad(
                path,
                format!("`{s}` may not be bound into the sandbox"),
                "a directory of libraries or data; never `/`, `..`, /root, /home, /proc, /sys, /dev, /run or the data directory",
            );
        }
    }

    fn output(&mut self, config: &Config) {
        let o = &config.output;
        self.at_least("config.output.inline_lines", o.inline_lines, 1, "lines");
        if o.inline_chars == 0 || o.inline_chars > MAX_INLINE_CHARS {
            self.bad(
                "config.output.inline_chars",
                format!("{} characters cannot be shown inline", o.inline_chars),
                format!("1 to {MAX_INLINE_CHARS} (a Discord message holds 2000 characters)"),
            );
        }
        if o.max_files == 0 || o.max_files > MAX_ATTACHMENTS {
            self.bad(
                "config.output.max_files",
                format!("{} files per reply", o.max_files),
                format!("1 to {MAX_ATTACHMENTS} (Discord's limit per message, the log included)"),
            );
        }
        self.nonzero_size("config.output.max_file_bytes", o.max_file_bytes);
    }

    fn audit_http(&mut self, config: &Config) {
        if config.audit.path.as_os_str().is_empty() {
            self.bad(
                "config.audit.path",
                "is empty",
                "a file name such as `audit.sqlite` (relative to data_dir)",
            );
        }
        self.positive("config.audit.retention", config.audit.retention);
        self.positive("config.workspaces.ttl", config.workspaces.ttl);
        self.nonzero_size("config.workspaces.quota", config.workspaces.quota);
        self.at_least(
            "config.workspaces.max_files",
            config.workspaces.max_files,
            1,
            "files",
        );
        self.positive("config.sessions.idle", config.sessions.idle);
        self.at_least(
            "config.sessions.max_live",
            config.sessions.max_live,
            1,
            "sessions",
        );
        self.nonzero_size("config.http.max_body", config.http.max_body);
        let tiers = known(config.access.tiers.iter().map(|t| &t.name));
        let mut seen: HashMap<&str, usize> = HashMap::new();
        for (i, k) in config.http.api_keys.iter().enumerate() {
            let path = format!("config.http.api_keys[{i}]");
            if k.name.trim().is_empty() {
                self.bad(
                    &format!("{path}.name"),
                    "is empty",
                    "a name for the key's owner, e.g. `ci`",
                );
            } else if let Some(first) = seen.insert(&k.name, i) {
                self.bad(
                    &format!("{path}.name"),
                    format!(
                        "API key name `{}` is used twice (also api_keys[{first}])",
                        k.name
                    ),
                    "unique names, so audit rows say whose key ran",
                );
            }
            match (&k.key_env, &k.key_sha256) {
                (None, None) => self.bad(
                    &path,
                    format!("API key `{}` has neither key_env nor key_sha256", k.name),
                    "exactly one: `key_env: VARIABLE` or `key_sha256: <64 hex digits>`",
                ),
                (Some(_), Some(_)) => self.bad(
                    &path,
                    format!("API key `{}` has both key_env and key_sha256", k.name),
                    "exactly one of them",
                ),
                (Some(env), None) => {
                    self.env_name(&format!("{path}.key_env"), env, "CODERUNNER_CI_KEY")
                }
                (None, Some(hex)) => {
                    if hex.len() != 64 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
                        self.bad(
                            &format!("{path}.key_sha256"),
                            format!("`{}` is not a SHA-256 hex digest", redact(hex)),
                            "64 hex digits, e.g. the output of `printf %s \"$KEY\" | sha256sum`",
                        );
                    }
                }
            }
            if config.tier(&k.tier).is_none() {
                self.bad(
                    &format!("{path}.tier"),
                    format!("names unknown tier `{}`", k.tier),
                    format!("one of the tiers: {tiers}"),
                );
            }
        }
    }

    fn runner(&mut self, config: &Config) {
        let r = &config.runner;
        let [first, last] = r.uid_range;
        if first > last {
            self.bad(
                "config.runner.uid_range",
                format!("[{first}, {last}] is reversed"),
                format!("[first, last] with first <= last, e.g. [{last}, {first}]"),
            );
        }
        if first == 0 {
            self.bad(
                "config.runner.uid_range",
                "includes uid 0 (root)",
                "unprivileged uids nobody else uses, e.g. [200000, 200999]",
            );
        }
        let cg = &r.cgroup_parent;
        if cg.is_empty() || cg.contains('/') || cg == "." || cg == ".." {
            self.bad(
                "config.runner.cgroup_parent",
                format!("`{cg}` is not a cgroup name"),
                "one path component, e.g. `coderunner`",
            );
        }
        if !r.scratch_dir.is_absolute() || r.scratch_dir.starts_with("/root") {
            self.bad(
                "config.runner.scratch_dir",
                format!("`{}` cannot hold sandbox roots", r.scratch_dir.display()),
                "an absolute directory outside /root, e.g. `/run/coderunner`",
            );
        }
        if let Some(h) = &r.helper {
            if !h.is_absolute() {
                self.bad("config.runner.helper", format!("`{}` is not an absolute path", h.display()), "the absolute path of coderunner-sandbox, or null for the one next to coderunner");
            }
        }
        for (i, node) in r.remote.iter().enumerate() {
            let path = format!("config.runner.remote[{i}]");
            self.url(&format!("{path}.url"), &node.url);
            if !node.insecure && cleartext_off_host(&node.url) {
                self.bad(
                    &format!("{path}.url"),
                    format!("`{}` is plain http to another machine: the node's API key and every program would cross the network unencrypted", node.url),
                    "an https:// URL (or http:// to 127.0.0.1 / localhost); on a network you trust, set `insecure: true` on this node to allow it",
                );
            }
            self.env_name(&format!("{path}.key_env"), &node.key_env, "RUNNER_KEY");
            self.positive(&format!("{path}.timeout"), node.timeout);
        }
    }

    fn mcp(&mut self, config: &Config) {
        let m = &config.mcp;
        if config.tier(&m.tier).is_none() {
            let tiers = known(config.access.tiers.iter().map(|t| &t.name));
            self.bad(
                "config.mcp.tier",
                format!("names unknown tier `{}`", m.tier),
                format!("one of the tiers: {tiers}"),
            );
        }
        for (i, origin) in m.allowed_origins.iter().enumerate() {
            let rest = origin
                .strip_prefix("http://")
                .or_else(|| origin.strip_prefix("https://"));
            let host_only = rest.is_some_and(|r| !r.is_empty() && !r.contains('/'));
            if !(host_only || origin == "null") {
                self.bad(
                    &format!("config.mcp.allowed_origins[{i}]"),
                    format!("`{origin}` is not a browser origin"),
                    "scheme, host and port without a path, e.g. `https://app.example.com`, `http://localhost:3000` or `http://localhost:*`",
                );
            }
        }
        if m.allowed_hosts.is_empty() {
            self.bad(
                "config.mcp.allowed_hosts",
                "is empty",
                "the host names clients use to reach `coderunner serve`, e.g. `[localhost, 127.0.0.1, \"::1\", runner.example.com]`",
            );
        }
        for (i, host) in m.allowed_hosts.iter().enumerate() {
            if host.trim().is_empty() || host.contains('/') || host.contains(char::is_whitespace) {
                self.bad(
                    &format!("config.mcp.allowed_hosts[{i}]"),
                    format!("`{host}` is not a host name"),
                    "a name or `name:port` without a scheme, e.g. `localhost` or `runner.example.com:8080`",
                );
            }
        }
        self.at_least(
            "config.mcp.output_chars",
            m.output_chars,
            200,
            "characters (a traceback needs room)",
        );
    }

    // --- value checks shared by several keys ---

    fn positive(&mut self, path: &str, d: HumanDuration) {
        if d.is_zero() {
            self.bad(
                path,
                "a duration of 0",
                "a duration greater than zero, e.g. `10s`, `500ms` or `2m`",
            );
        }
    }

    fn memory(&mut self, path: &str, m: ByteSize) {
        if m < MIN_MEMORY {
            self.bad(
                path,
                format!("{m} of memory is too little to start a program"),
                format!("at least `{MIN_MEMORY}`, e.g. `256MiB`"),
            );
        }
    }

    fn nonzero_size(&mut self, path: &str, s: ByteSize) {
        if s.bytes() == 0 {
            self.bad(path, "a size of 0", "a size greater than zero, e.g. `1MiB`");
        }
    }

    fn at_least(&mut self, path: &str, value: u32, min: u32, unit: &str) {
        if value < min {
            self.bad(
                path,
                format!("{value} is too few {unit}"),
                format!("at least {min}"),
            );
        }
    }

    fn url(&mut self, path: &str, url: &str) {
        let rest = url
            .strip_prefix("http://")
            .or_else(|| url.strip_prefix("https://"));
        if rest.is_none_or(|r| r.is_empty() || r.starts_with('/')) {
            self.bad(
                path,
                format!("`{url}` is not an http(s) URL"),
                "e.g. `http://127.0.0.1:3000`",
            );
        }
    }

    /// `value` must name an environment variable; a secret written in its place is refused
    /// without echoing it.
    fn env_name(&mut self, path: &str, value: &str, example: &str) {
        if looks_like_secret(value) {
            self.bad(
                path,
                format!("`{}` looks like a secret written into the file", redact(value)),
                format!("write the NAME of an environment variable here (e.g. `{example}`) and put the secret in that variable; revoke the exposed one"),
            );
        } else if !is_env_name(value) {
            self.bad(
                path,
                format!("`{value}` is not an environment variable name"),
                format!("letters, digits and `_`, not starting with a digit, e.g. `{example}`"),
            );
        }
    }
}

/// Whether `url` is `http://` to a host that is not loopback.
pub fn cleartext_off_host(url: &str) -> bool {
    let Some(rest) = url.strip_prefix("http://") else {
        return false;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let authority = authority.rsplit('@').next().unwrap_or(authority);
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => authority.split(':').next().unwrap_or(""),
    };
    let loopback = host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    !loopback
}

/// `A-Z a-z 0-9 _`, not starting with a digit.
fn is_env_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A Discord bot token (three base64 parts joined by dots), or a long mixed-case-and-digits string
/// no one would name a variable.
fn looks_like_secret(s: &str) -> bool {
    let parts: Vec<&str> = s.split('.').collect();
    let discord = parts.len() == 3 && s.len() >= 50 && parts.iter().all(|p| !p.is_empty());
    let random = s.len() >= 24
        && s.chars().any(|c| c.is_ascii_lowercase())
        && s.chars().any(|c| c.is_ascii_uppercase())
        && s.chars().any(|c| c.is_ascii_digit());
    discord
        || random
        || (s.len() >= 32 && !s.contains('_') && s.chars().any(|c| c.is_ascii_digit()))
}

/// The first few characters of a possible secret, never all of it.
fn redact(s: &str) -> String {
    let shown: String = s.chars().take(4).collect();
    if s.chars().count() > 8 {
        format!("{shown}…")
    } else {
        s.to_string()
    }
}

/// "`a`, `b`, `c`" for messages.
fn known<'a>(names: impl Iterator<Item = &'a String>) -> String {
    let list: Vec<String> = names.map(|n| format!("`{n}`")).collect();
    if list.is_empty() {
        "(none defined)".into()
    } else {
        list.join(", ")
    }
}
