//! The configuration schema: every key of the YAML file as a typed struct (see `default.yaml`).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::units::{ByteSize, HumanDuration};

/// The file's top level: the seed's agent config lives under `config:`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    pub config: Config,
}

/// The whole configuration of one coderunner agent.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// A unique identifier for this agent instance (from the Code Runner Agent seed).
    pub agent_id: String,
    /// Must be `CodeRunnerAgent`; checked in validation so the message can name the field.
    pub agent_type: String,
    /// Where the audit database and thread workspaces live.
    #[serde(default = "defaults::data_dir")]
    pub data_dir: PathBuf,
    #[serde(default)]
    pub discord: DiscordConfig,
    pub access: AccessConfig,
    pub profiles: BTreeMap<String, Profile>,
    #[serde(default)]
    pub rate_limits: RateLimits,
    pub languages: BTreeMap<String, Language>,
    #[serde(default)]
    pub output: OutputConfig,
    #[serde(default)]
    pub audit: AuditConfig,
    #[serde(default)]
    pub http: HttpConfig,
    #[serde(default)]
    pub runner: RunnerConfig,
    #[serde(default)]
    pub workspaces: WorkspaceConfig,
    /// AI assist (off unless `ai.base_url` is set).
    #[serde(default)]
    pub ai: crate::ai::AiConfig,
    #[serde(default)]
    pub mcp: McpConfig,
    #[serde(default)]
    pub sessions: SessionsConfig,
    /// Package sets (`coderunner env build`) and which one a run gets by default.
    #[serde(default)]
    pub environments: crate::environments::Environments,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiscordConfig {
    /// Name of the environment variable that holds the bot token (never the token itself).
    #[serde(default = "defaults::token_env")]
    pub token_env: String,
    /// Prefix for text commands, e.g. `!` for `!run`.
    #[serde(default = "defaults::prefix")]
    pub prefix: String,
    /// Guild ids to register slash commands in (instant); empty registers them globally.
    #[serde(default)]
    pub guilds: Vec<u64>,
    /// FOR TESTS ONLY: send REST and gateway traffic to this base URL (a fake Discord).
    #[serde(default)]
    pub api_base: Option<String>,
    /// Whether to ask for the privileged MESSAGE_CONTENT intent (needed for `!run`).
    #[serde(default = "defaults::yes")]
    pub message_content: bool,
    /// How long after posting an edit to a `!run` message re-runs it.
    #[serde(default = "defaults::edit_window")]
    pub edit_window: HumanDuration,
    /// Largest total upload per message the bot may post.
    #[serde(default = "defaults::upload_limit")]
    pub upload_limit: ByteSize,
    /// After this long, a run shows a "running…" message that is edited with the result.
    #[serde(default = "defaults::progress_after")]
    pub progress_after: HumanDuration,
}

impl Default for DiscordConfig {
    fn default() -> Self {
        Self {
            token_env: defaults::token_env(),
            prefix: defaults::prefix(),
            guilds: Vec::new(),
            api_base: None,
            message_content: true,
            edit_window: defaults::edit_window(),
            upload_limit: defaults::upload_limit(),
            progress_after: defaults::progress_after(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessConfig {
    /// Tiers from lowest to highest; a user gets the highest tier whose roles they hold.
    pub tiers: Vec<Tier>,
    /// The tier of a user who holds none of the listed roles; `null` refuses them.
    #[serde(default)]
    pub default_tier: Option<String>,
    /// Guild ids where the bot answers; empty means every guild it is in. Role names in tiers
    /// count only in these guilds.
    #[serde(default)]
    pub guilds: Vec<u64>,
    /// Channel ids where the bot answers; empty means every channel. A thread counts as its parent.
    #[serde(default)]
    pub channels: Vec<u64>,
    /// Whether runs are allowed in direct messages (they use `default_tier`).
    #[serde(default)]
    pub dms: bool,
    /// Identity used by the local console.
    #[serde(default)]
    pub console: ConsoleIdentity,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tier {
    pub name: String,
    /// Role ids (numbers, or digits in quotes) that grant this tier; role names only count in
    /// the servers of `access.guilds`, and never for an admin tier.
    #[serde(default)]
    pub roles: Vec<RoleRef>,
    /// The profile a run gets by default.
    pub profile: String,
    /// The profile whose limits cap `--timeout=`/`--memory=` requests; defaults to `profile`.
    #[serde(default)]
    pub max_profile: Option<String>,
    /// Admins may use `--privileged`, see `!runs` and reset any workspace.
    #[serde(default)]
    pub admin: bool,
    /// The profile used for `--privileged` runs (admins only).
    #[serde(default)]
    pub privileged_profile: Option<String>,
}

/// A role given by id (a Discord snowflake, unique across all servers) or by name.
///
/// A number, or a string of digits (`"123..."`), is always an id, never a name. A name only
/// counts in the servers listed in `access.guilds` (anyone can create a role called `admin` in a
/// server of their own), and never in an admin tier: `check-config` refuses that.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoleRef {
    Id(u64),
    Name(String),
}

impl RoleRef {
    /// Whether a member's role matches this reference. Ids compare exactly; a name compares
    /// case-insensitively, and only when `names_apply` (the message comes from a listed server).
    pub fn matches(&self, id: Option<u64>, name: &str, names_apply: bool) -> bool {
        match self {
            RoleRef::Id(want) => id == Some(*want),
            RoleRef::Name(want) => names_apply && want.eq_ignore_ascii_case(name),
        }
    }

    /// `Name` for anything but digits: `"123"` is the id 123.
    pub fn parse(text: &str) -> RoleRef {
        let t = text.trim();
        match t.parse::<u64>() {
            Ok(id) if t.bytes().all(|b| b.is_ascii_digit()) => RoleRef::Id(id),
            _ => RoleRef::Name(text.to_string()),
        }
    }

    pub fn is_name(&self) -> bool {
        matches!(self, RoleRef::Name(_))
    }
}

impl Serialize for RoleRef {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            RoleRef::Id(id) => s.serialize_u64(*id),
            RoleRef::Name(n) => s.serialize_str(n),
        }
    }
}

impl<'de> Deserialize<'de> for RoleRef {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl serde::de::Visitor<'_> for Visit {
            type Value = RoleRef;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(
                    "a role id (e.g. 123456789012345678) or, in listed servers only, a role name",
                )
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<RoleRef, E> {
                Ok(RoleRef::Id(v))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<RoleRef, E> {
                u64::try_from(v)
                    .map(RoleRef::Id)
                    .map_err(|_| E::custom(format!("{v} is not a role id (ids are positive)")))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<RoleRef, E> {
                Ok(RoleRef::parse(v))
            }
        }
        d.deserialize_any(Visit)
    }
}

impl std::fmt::Display for RoleRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RoleRef::Id(id) => write!(f, "{id}"),
            RoleRef::Name(n) => f.write_str(n),
        }
    }
}

/// Who you are in `coderunner console`: whoever runs it is on the host, so a role named like a
/// tier (e.g. `admin`) gives that tier there, besides the tiers' own role ids and names.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsoleIdentity {
    #[serde(default = "defaults::console_user")]
    pub user: String,
    #[serde(default)]
    pub roles: Vec<String>,
}

impl Default for ConsoleIdentity {
    fn default() -> Self {
        Self {
            user: defaults::console_user(),
            roles: Vec::new(),
        }
    }
}

/// Resource limits for one run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// Wall-clock deadline; the whole process tree is killed when it passes.
    pub wall_time: HumanDuration,
    /// CPU time (RLIMIT_CPU, whole seconds, rounded up).
    pub cpu_time: HumanDuration,
    /// Memory (cgroup, no swap; RLIMIT_AS for languages with `memory: rlimit_as`).
    pub memory: ByteSize,
    /// Processes and threads (cgroup pids, and RLIMIT_NPROC under a per-run uid).
    pub pids: u32,
    /// stdout + stderr bytes kept; past this the run is killed with `output_limit`.
    pub output: ByteSize,
    /// Largest file the program may write (RLIMIT_FSIZE).
    pub file_size: ByteSize,
    /// Size of the working-directory tmpfs.
    pub workdir_size: ByteSize,
    /// Size of the `/tmp` tmpfs.
    pub tmp_size: ByteSize,
    /// Size of the `/dev/shm` tmpfs.
    pub shm_size: ByteSize,
    /// RLIMIT_NOFILE.
    pub open_files: u32,
    /// CPU share in cores (cgroup cpu quota); also sets OMP_NUM_THREADS and kin.
    #[serde(default = "defaults::cpus")]
    pub cpus: f64,
    /// Network access. Only for privileged profiles; off means an empty network namespace.
    #[serde(default)]
    pub network: bool,
    /// How many output files are returned at most.
    pub output_files: u32,
    /// Total bytes of returned output files.
    pub output_files_bytes: ByteSize,
    /// Limits of the compile stage of compiled languages.
    #[serde(default)]
    pub compile: CompileLimits,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompileLimits {
    pub wall_time: HumanDuration,
    pub cpu_time: HumanDuration,
    pub memory: ByteSize,
    pub pids: u32,
    pub output: ByteSize,
}

impl Default for CompileLimits {
    fn default() -> Self {
        Self {
            wall_time: HumanDuration::from_secs(20),
            cpu_time: HumanDuration::from_secs(15),
            memory: ByteSize::mib(512),
            pids: 32,
            output: ByteSize::kib(256),
        }
    }
}

/// A quota: `count` runs per `per`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Quota {
    pub count: u32,
    pub per: HumanDuration,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimits {
    /// Runs per user, by tier name. A tier not listed is not limited.
    #[serde(default)]
    pub user: BTreeMap<String, Quota>,
    /// Runs per guild, by the tier of the user who runs. A tier not listed is not limited.
    #[serde(default)]
    pub guild: BTreeMap<String, Quota>,
    /// AI assist calls (`!explain`, `!fix`, `!ask`, `!tests`) per user, by tier. A tier not
    /// listed is not limited.
    #[serde(default)]
    pub ai: BTreeMap<String, Quota>,
    /// How many runs one user may have queued or running at once.
    #[serde(default = "defaults::concurrent_per_user")]
    pub concurrent_per_user: u32,
    /// Runs executing at once on this host.
    #[serde(default = "defaults::global_concurrency")]
    pub global_concurrency: u32,
    /// Runs that may wait for a slot; past this, "busy, try again in a moment".
    #[serde(default = "defaults::queue_length")]
    pub queue_length: u32,
}

impl Default for RateLimits {
    fn default() -> Self {
        Self {
            user: BTreeMap::new(),
            guild: BTreeMap::new(),
            ai: BTreeMap::new(),
            concurrent_per_user: defaults::concurrent_per_user(),
            global_concurrency: defaults::global_concurrency(),
            queue_length: defaults::queue_length(),
        }
    }
}

/// How a language's memory is bounded besides the cgroup.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum MemoryStrategy {
    /// RLIMIT_AS = the profile's memory (CPython, C): a clean MemoryError without a cgroup.
    #[default]
    RlimitAs,
    /// No RLIMIT_AS (V8 reserves huge virtual ranges); the cgroup and the language's own flag
    /// (e.g. node `--max-old-space-size={heap_mib}`) bound it.
    CgroupOnly,
}

/// One language: entirely configuration, no per-language code.
///
/// Commands may use placeholders: `{file}` (main source file), `{exe}` (compiled binary),
/// `{heap_mib}` (3/4 of the profile's memory in MiB), `{memory_mib}` (all of it), `{workdir}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Language {
    #[serde(default)]
    pub aliases: Vec<String>,
    /// File extensions without the dot, e.g. `py`.
    #[serde(default)]
    pub extensions: Vec<String>,
    /// Command that prints the version, e.g. `[/usr/bin/python3, --version]`.
    #[serde(default)]
    pub version: Vec<String>,
    /// Name of the main source file in the working directory, e.g. `main.py`.
    pub file: String,
    /// Optional compile stage.
    #[serde(default)]
    pub compile: Option<Vec<String>>,
    /// The run command; program args are appended.
    pub run: Vec<String>,
    /// The run command of `--privileged` runs (network on), e.g. Python with `-I`; `run` when unset.
    #[serde(default)]
    pub privileged_run: Option<Vec<String>>,
    /// Extra environment for the program (the environment is otherwise empty).
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Extra host paths bound read-only (besides `/usr`, `/lib*`, `/etc/ld.so.cache`...).
    #[serde(default)]
    pub mounts: Vec<PathBuf>,
    #[serde(default)]
    pub memory: MemoryStrategy,
    /// Which packages of a package set (`config.environments`) this language takes, if any.
    #[serde(default)]
    pub packages: Option<crate::environments::PackageKind>,
    /// Syntax-highlighting tag for replies (defaults to the language name).
    #[serde(default)]
    pub highlight: Option<String>,
    /// Python only (the language named `python`): modules the warm pool's zygote imports once,
    /// so that runs, which are forks of it, start with them loaded. Empty: no import.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub preload: Vec<String>,
}

impl Language {
    /// The language as a `--privileged` run uses it: `privileged_run` in place of `run`.
    pub fn for_privileged(&self) -> Language {
        let mut lang = self.clone();
        if let Some(run) = &self.privileged_run {
            lang.run = run.clone();
        }
        lang
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputConfig {
    /// Lines of output shown inline in a reply.
    #[serde(default = "defaults::inline_lines")]
    pub inline_lines: u32,
    /// Characters of output shown inline in a reply (the reply itself is at most 2000).
    #[serde(default = "defaults::inline_chars")]
    pub inline_chars: u32,
    /// Attach the full log even when nothing was cut.
    #[serde(default)]
    pub attach_full_log: bool,
    /// Files attached to one reply (the log included).
    #[serde(default = "defaults::max_files")]
    pub max_files: u32,
    /// Largest single attached file.
    #[serde(default = "defaults::max_file_bytes")]
    pub max_file_bytes: ByteSize,
    /// Text output files up to this size are also shown inline.
    #[serde(default = "defaults::inline_file_bytes")]
    pub inline_file_bytes: ByteSize,
}

impl Default for OutputConfig {
    fn default() -> Self {
        Self {
            inline_lines: defaults::inline_lines(),
            inline_chars: defaults::inline_chars(),
            attach_full_log: false,
            max_files: defaults::max_files(),
            max_file_bytes: defaults::max_file_bytes(),
            inline_file_bytes: defaults::inline_file_bytes(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditConfig {
    /// SQLite file; relative paths are under `data_dir`.
    #[serde(default = "defaults::audit_path")]
    pub path: PathBuf,
    /// Rows older than this are deleted.
    #[serde(default = "defaults::retention")]
    pub retention: HumanDuration,
    /// Source code stored per row at most.
    #[serde(default = "defaults::code_cap")]
    pub code_cap: ByteSize,
}

impl Default for AuditConfig {
    fn default() -> Self {
        Self {
            path: defaults::audit_path(),
            retention: defaults::retention(),
            code_cap: defaults::code_cap(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    #[serde(default = "defaults::listen")]
    pub listen: SocketAddr,
    #[serde(default)]
    pub api_keys: Vec<ApiKey>,
    /// Largest request body.
    #[serde(default = "defaults::max_body")]
    pub max_body: ByteSize,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            listen: defaults::listen(),
            api_keys: Vec::new(),
            max_body: defaults::max_body(),
        }
    }
}

/// An API key: its SHA-256 (hex) or the name of an environment variable holding it, and its tier.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiKey {
    pub name: String,
    #[serde(default)]
    pub key_env: Option<String>,
    #[serde(default)]
    pub key_sha256: Option<String>,
    pub tier: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunnerConfig {
    /// Host uids handed out one per concurrent run when coderunner is root: `[first, last]`.
    #[serde(default = "defaults::uid_range")]
    pub uid_range: [u32; 2],
    /// Name of the parent cgroup created under each controller.
    #[serde(default = "defaults::cgroup_parent")]
    pub cgroup_parent: String,
    /// Scratch directory for per-run roots (never under /root or the data dir).
    #[serde(default = "defaults::scratch_dir")]
    pub scratch_dir: PathBuf,
    /// Path of the sandbox helper binary; by default the one next to the coderunner binary.
    #[serde(default)]
    pub helper: Option<PathBuf>,
    /// Send runs to these `coderunner serve` nodes instead of this host.
    #[serde(default)]
    pub remote: Vec<RemoteNode>,
    /// What to do on a host that lacks a protection (cgroups, Landlock, seccomp, ...).
    #[serde(default)]
    pub isolation: IsolationPolicy,
    /// `false` makes the runner (and `doctor`) treat this host as having no cgroups: for trying
    /// the degraded path on a full host. Only the operator's config can set it.
    #[serde(default = "defaults::yes")]
    pub cgroups: bool,
    /// Sandboxes kept ready per kind of run in long-running processes (bot, `serve`, console,
    /// `mcp`): `auto` (2 per core) or a number; 0 turns the warm pool and the zygote off.
    #[serde(default)]
    pub warm_pool: WarmPool,
}

/// `runner.warm_pool`: how many ready sandboxes to keep per kind of run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WarmPool {
    /// Two per core of this host.
    #[default]
    Auto,
    /// This many; 0 is off.
    Slots(u32),
}

impl WarmPool {
    /// The number of slots this setting means on this host.
    pub fn slots(self) -> u32 {
        match self {
            WarmPool::Auto => std::thread::available_parallelism()
                .map_or(1, |n| n.get() as u32)
                .saturating_mul(2),
            WarmPool::Slots(n) => n,
        }
    }
}

impl Serialize for WarmPool {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            WarmPool::Auto => s.serialize_str("auto"),
            WarmPool::Slots(n) => s.serialize_u32(*n),
        }
    }
}

impl<'de> Deserialize<'de> for WarmPool {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Slots(u32),
            Word(String),
        }
        match Raw::deserialize(d).map_err(|_| {
            serde::de::Error::custom("expected `auto` or a number of slots (0 turns the pool off)")
        })? {
            Raw::Slots(n) => Ok(WarmPool::Slots(n)),
            Raw::Word(w) if w == "auto" => Ok(WarmPool::Auto),
            Raw::Word(w) => Err(serde::de::Error::custom(format!(
                "`{w}` is not `auto` or a number of slots (0 turns the pool off)"
            ))),
        }
    }
}

impl Default for RunnerConfig {
    fn default() -> Self {
        Self {
            uid_range: defaults::uid_range(),
            cgroup_parent: defaults::cgroup_parent(),
            scratch_dir: defaults::scratch_dir(),
            helper: None,
            remote: Vec::new(),
            isolation: IsolationPolicy::default(),
            cgroups: true,
            warm_pool: WarmPool::default(),
        }
    }
}

/// `runner.isolation`: whether runs may go ahead on a host that lacks a protection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum IsolationPolicy {
    /// Refuse every run (saying what is missing and how to get it) unless the host gives every
    /// protection of the security model.
    #[default]
    Full,
    /// Run with what the host gives, with a warning at start-up and in `doctor`. Languages whose
    /// memory only a cgroup bounds (`memory: cgroup_only`) are still refused without cgroups.
    DegradedOk,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemoteNode {
    pub url: String,
    /// Environment variable holding the node's API key.
    pub key_env: String,
    #[serde(default = "defaults::remote_timeout")]
    pub timeout: HumanDuration,
    /// Allow plain `http://` to a node that is not on loopback (the key and code cross the
    /// network in clear text). Use https instead where you can.
    #[serde(default)]
    pub insecure: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkspaceConfig {
    /// Files persist per Discord thread.
    #[serde(default = "defaults::yes")]
    pub threads: bool,
    /// Channel ids whose runs share a workspace too.
    #[serde(default)]
    pub channels: Vec<u64>,
    /// Console sessions keep a workspace.
    #[serde(default = "defaults::yes")]
    pub console: bool,
    #[serde(default = "defaults::workspace_quota")]
    pub quota: ByteSize,
    /// Files one workspace may hold; a run that would pass it saves nothing.
    #[serde(default = "defaults::workspace_max_files")]
    pub max_files: u32,
    #[serde(default = "defaults::workspace_ttl")]
    pub ttl: HumanDuration,
}

impl Default for WorkspaceConfig {
    fn default() -> Self {
        Self {
            threads: true,
            channels: Vec::new(),
            console: true,
            quota: defaults::workspace_quota(),
            max_files: defaults::workspace_max_files(),
            ttl: defaults::workspace_ttl(),
        }
    }
}

/// Where `!run py` is a cell of a live Python session (see `sessions:` in the README).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionPlaces {
    /// Every thread where the bot answers.
    Threads,
    /// Threads and channels.
    Channels,
    /// Nowhere in chat (`!run` is always one-shot).
    None,
}

/// Notebook sessions.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionsConfig {
    #[serde(rename = "where", default = "defaults::session_places")]
    pub places: SessionPlaces,
    /// The console is one session.
    #[serde(default = "defaults::yes")]
    pub console: bool,
    /// A session without a cell for this long is parked (its variables pickled into the
    /// workspace, the interpreter ended).
    #[serde(default = "defaults::session_idle")]
    pub idle: HumanDuration,
    /// More live sessions than this park the least recently used.
    #[serde(default = "defaults::session_max_live")]
    pub max_live: u32,
}

impl Default for SessionsConfig {
    fn default() -> Self {
        Self {
            places: defaults::session_places(),
            console: true,
            idle: defaults::session_idle(),
            max_live: defaults::session_max_live(),
        }
    }
}

/// The MCP server: `coderunner mcp` (stdio) and `/mcp` on `coderunner serve` (streamable HTTP).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct McpConfig {
    /// Tier of `coderunner mcp` (stdio); over HTTP a caller runs as its API key's tier.
    #[serde(default = "defaults::mcp_tier")]
    pub tier: String,
    /// Browser origins allowed to call `/mcp` (`https://app.example.com`, `http://localhost:*`).
    /// A request with any other `Origin` header is refused; requests without one pass.
    #[serde(default)]
    pub allowed_origins: Vec<String>,
    /// `Host` values `/mcp` answers to (`name` or `name:port`), against DNS rebinding.
    #[serde(default = "defaults::mcp_hosts")]
    pub allowed_hosts: Vec<String>,
    /// Most characters of program output in a tool result's text (the rest is cut, and said so).
    #[serde(default = "defaults::mcp_output_chars")]
    pub output_chars: u32,
}

impl Default for McpConfig {
    fn default() -> Self {
        Self {
            tier: defaults::mcp_tier(),
            allowed_origins: Vec::new(),
            allowed_hosts: defaults::mcp_hosts(),
            output_chars: defaults::mcp_output_chars(),
        }
    }
}

mod defaults {
    use super::*;

    pub fn yes() -> bool {
        true
    }
    pub fn data_dir() -> PathBuf {
        PathBuf::from("coderunner-data")
    }
    pub fn token_env() -> String {
        "DISCORD_TOKEN".into()
    }
    pub fn prefix() -> String {
        "!".into()
    }
    pub fn edit_window() -> HumanDuration {
        HumanDuration::from_secs(600)
    }
    pub fn upload_limit() -> ByteSize {
        ByteSize::mib(10)
    }
    pub fn progress_after() -> HumanDuration {
        HumanDuration::from_secs(2)
    }
    pub fn console_user() -> String {
        "console".into()
    }
    pub fn cpus() -> f64 {
        1.0
    }
    pub fn concurrent_per_user() -> u32 {
        2
    }
    pub fn global_concurrency() -> u32 {
        2
    }
    pub fn queue_length() -> u32 {
        16
    }
    pub fn inline_lines() -> u32 {
        25
    }
    pub fn inline_chars() -> u32 {
        1500
    }
    pub fn max_files() -> u32 {
        10
    }
    pub fn max_file_bytes() -> ByteSize {
        ByteSize::mib(8)
    }
    pub fn inline_file_bytes() -> ByteSize {
        ByteSize(400)
    }
    pub fn audit_path() -> PathBuf {
        PathBuf::from("audit.sqlite")
    }
    pub fn retention() -> HumanDuration {
        HumanDuration::from_secs(30 * 86_400)
    }
    pub fn code_cap() -> ByteSize {
        ByteSize::kib(64)
    }
    pub fn listen() -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], 8080))
    }
    pub fn max_body() -> ByteSize {
        ByteSize::mib(10)
    }
    pub fn uid_range() -> [u32; 2] {
        [200_000, 200_999]
    }
    pub fn cgroup_parent() -> String {
        "coderunner".into()
    }
    pub fn scratch_dir() -> PathBuf {
        PathBuf::from("/run/coderunner")
    }
    pub fn remote_timeout() -> HumanDuration {
        HumanDuration::from_secs(60)
    }
    pub fn session_places() -> super::SessionPlaces {
        super::SessionPlaces::Threads
    }
    pub fn session_idle() -> HumanDuration {
        HumanDuration::from_secs(30 * 60)
    }
    pub fn session_max_live() -> u32 {
        8
    }
    pub fn workspace_quota() -> ByteSize {
        ByteSize::mib(64)
    }
    pub fn workspace_max_files() -> u32 {
        1000
    }
    pub fn mcp_tier() -> String {
        "member".into()
    }
    pub fn mcp_hosts() -> Vec<String> {
        vec!["localhost".into(), "127.0.0.1".into(), "::1".into()]
    }
    pub fn mcp_output_chars() -> u32 {
        20_000
    }
    pub fn workspace_ttl() -> HumanDuration {
        HumanDuration::from_secs(86_400)
    }
}
