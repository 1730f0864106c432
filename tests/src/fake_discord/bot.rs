//! Starts the real `coderunner discord` binary against a `FakeDiscord`, with a temporary config,
//! its log captured to a file, and killed when dropped.

use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use coderunner_config::{Config, ConfigFile};

use super::{FakeDiscord, GUILD};
use crate::harness::coderunner_bin;

/// The token the tests hand the bot.
pub const TEST_TOKEN: &str = "fake-test-token";

/// The default config pointed at `fake`, with a private data directory. `tweak` adjusts it.
pub fn test_config(
    fake: &FakeDiscord,
    dir: &std::path::Path,
    tweak: impl FnOnce(&mut Config),
) -> Config {
    let mut config = Config::embedded_default().expect("the embedded default config loads");
    config.data_dir = dir.join("data");
    config.runner.warm_pool = coderunner_config::WarmPool::Slots(0);
    config.discord.api_base = Some(fake.api_base());
    config.discord.guilds = vec![GUILD];
    tweak(&mut config);
    config
}

/// A running `coderunner discord` process.
pub struct BotProcess {
    child: Child,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

/// How long the tests wait for anything the bot does (generous: CI machines are slow).
pub const WAIT: Duration = Duration::from_secs(60);

/// Start a fake Discord and the bot (default config with `tweak` applied) and wait until the bot
/// is connected and has registered its commands.
pub async fn launch(tweak: impl FnOnce(&mut Config)) -> (FakeDiscord, BotProcess) {
    let fake = FakeDiscord::start().await.expect("the fake Discord starts");
    let dir = tempfile::tempdir().expect("temp dir");
    let config = test_config(&fake, dir.path(), tweak);
    let bot = BotProcess::start_in(dir, &config, Some(TEST_TOKEN));
    assert!(
        fake.wait_ready(WAIT).await,
        "the bot never became ready; log:\n{}",
        bot.log()
    );
    (fake, bot)
}

impl BotProcess {
    /// Write `config` and start the bot with `token` (None: the variable is unset).
    pub fn start(config: &Config, token: Option<&str>) -> BotProcess {
        Self::start_in(tempfile::tempdir().expect("temp dir"), config, token)
    }

    /// Like `start`, keeping `dir` (which may hold the config's data_dir) alive with the process.
    pub fn start_in(dir: tempfile::TempDir, config: &Config, token: Option<&str>) -> BotProcess {
        let (child, log) = spawn(dir.path(), "bot.log", config, token);
        BotProcess {
            child,
            log,
            _dir: dir,
        }
    }

    /// Stop the bot gracefully (SIGTERM, as a deployment would) and start it again on the same
    /// directory, so its data (workspaces, parked sessions) carries over. The log of the new
    /// process goes to a new file; `log()` shows both.
    pub fn restart(&mut self, config: &Config, token: Option<&str>) -> Option<ExitStatus> {
        self.terminate();
        let status = self.wait_exit(WAIT);
        let before = self.log();
        let (child, log) = spawn(self._dir.path(), "bot-restarted.log", config, token);
        let _ = std::fs::write(self._dir.path().join("bot-before-restart.log"), before);
        self.child = child;
        self.log = log;
        status
    }

    /// Everything the bot logged so far.
    pub fn log(&self) -> String {
        let before = std::fs::read_to_string(self._dir.path().join("bot-before-restart.log"))
            .unwrap_or_default();
        before + &std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Wait for the process to exit on its own, up to `timeout`.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let end = Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            if Instant::now() >= end {
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Send SIGTERM (a graceful stop).
    pub fn terminate(&self) {
        if let Ok(pid) = i32::try_from(self.child.id()) {
            // SAFETY: kill(2) on our own child's pid has no memory-safety preconditions.
            unsafe {
                libc::kill(pid, libc::SIGTERM);
            }
        }
    }
}

/// Write `config` into `dir` and start `coderunner discord` with it, logging to `log_name`.
fn spawn(
    dir: &std::path::Path,
    log_name: &str,
    config: &Config,
    token: Option<&str>,
) -> (Child, PathBuf) {
    let path = dir.join("coderunner.yaml");
    // JSON is YAML: serialise the typed config rather than editing YAML text.
    let file = ConfigFile {
        config: config.clone(),
    };
    let text = serde_json::to_string_pretty(&file).expect("config serialises");
    std::fs::write(&path, text).expect("write config");
    let log = dir.join(log_name);
    let log_file = std::fs::File::create(&log).expect("log file");
    let mut cmd = Command::new(coderunner_bin());
    cmd.arg("--config")
        .arg(&path)
        .arg("discord")
        .env("RUST_LOG", "info,coderunner=debug,serenity=warn,poise=warn")
        .env_remove("DISCORD_TOKEN")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::from(log_file));
    if let Some(token) = token {
        cmd.env(&config.discord.token_env, token);
    }
    // The usual umask, whatever the test runner's: files the bot means to keep private must
    // be private by their own modes, not because the umask happened to be 077.
    // SAFETY: umask(2) is async-signal-safe and touches nothing of the parent's memory.
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(&mut cmd, || {
            libc::umask(0o022);
            Ok(())
        });
    }
    let child = cmd.spawn().expect("start coderunner discord");
    (child, log)
}

impl Drop for BotProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("---- coderunner discord log ----\n{}", self.log());
        }
    }
}
