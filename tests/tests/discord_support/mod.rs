//! Shared by the fake-Discord suites that run real code: start the real `coderunner discord`
//! with the safety net's runner settings, ask it things, and look at its data directory.

#![allow(dead_code)] // each suite uses its own subset

use std::path::{Path, PathBuf};
use std::time::Duration;

use coderunner_config::Config;
use coderunner_tests::fake_discord::{
    test_config, BotProcess, Call, FakeDiscord, User, TEST_TOKEN, WAIT,
};
use coderunner_tests::safety_net;
use serde_json::Value;

/// A Python program that prints the sorted names in its working directory.
pub const LIST: &str = "import os\nprint('files:', sorted(os.listdir('.')))";

/// The fake Discord, the bot and where the bot keeps its workspaces.
pub struct Setup {
    pub fake: FakeDiscord,
    pub bot: BotProcess,
    pub workspaces: PathBuf,
    pub data_dir: PathBuf,
    pub config: Config,
}

/// Start the bot with workspaces on (the defaults: per thread), the safety net's runner settings,
/// no per-user rate limits (the tests run more than five times a minute), room for `import
/// pandas` on a loaded machine, and no "running…" message (each run is answered by one post).
pub async fn start(tweak: impl FnOnce(&mut Config)) -> Setup {
    let fake = FakeDiscord::start().await.expect("the fake Discord starts");
    let dir = tempfile::tempdir().expect("temp dir");
    let config = test_config(&fake, dir.path(), |c| {
        c.runner = safety_net::config().runner.clone();
        c.rate_limits.user.clear();
        c.rate_limits.guild.clear();
        c.discord.progress_after = Duration::from_secs(600).into();
        let p = c.profiles.get_mut("default").expect("default profile");
        p.wall_time = Duration::from_secs(60).into();
        p.cpu_time = Duration::from_secs(60).into();
        tweak(c);
    });
    let data_dir = config.data_dir.clone();
    let workspaces = data_dir.join("workspaces");
    let bot = BotProcess::start_in(dir, &config, Some(TEST_TOKEN));
    assert!(
        fake.wait_ready(WAIT).await,
        "the bot never became ready; log:\n{}",
        bot.log()
    );
    Setup {
        fake,
        bot,
        workspaces,
        data_dir,
        config,
    }
}

impl Setup {
    /// Stop the bot gracefully and start it again on the same data; returns once it is
    /// connected again and whether the first process exited cleanly.
    pub async fn restart(&mut self) -> bool {
        let count = self.fake.ready_count();
        let mark = self.fake.mark();
        let status = self.bot.restart(&self.config, Some(TEST_TOKEN));
        assert!(
            self.fake.wait_ready_after(count, mark, WAIT).await,
            "the restarted bot never became ready; log:\n{}",
            self.bot.log()
        );
        status.is_some_and(|s| s.success())
    }

    /// `who` posts `content` (with `attachments`) in `channel`; returns the bot's reply to it.
    pub async fn ask(
        &self,
        who: &User,
        channel: u64,
        content: &str,
        attachments: Vec<Value>,
    ) -> Call {
        let mark = self.fake.mark();
        let id = self.fake.post(who, channel, content, attachments);
        let path = format!("/api/v10/channels/{channel}/messages");
        // Discord sends snowflakes as strings.
        let reference = id.to_string();
        self.fake
            .wait_call(mark, WAIT, |c| {
                c.method == "POST"
                    && c.path == path
                    && c.status == 200
                    && c.body()["message_reference"]["message_id"].as_str()
                        == Some(reference.as_str())
            })
            .await
            .unwrap_or_else(|| {
                panic!(
                    "no reply to {content:?} in {channel}; log:\n{}",
                    self.bot.log()
                )
            })
    }

    /// `!run python` with `code` in a block; returns the reply's text and the call.
    pub async fn run(&self, who: &User, channel: u64, code: &str) -> (String, Call) {
        self.run_with(who, channel, code, Vec::new()).await
    }

    pub async fn run_with(
        &self,
        who: &User,
        channel: u64,
        code: &str,
        attachments: Vec<Value>,
    ) -> (String, Call) {
        let call = self
            .ask(
                who,
                channel,
                &format!("!run python\n```py\n{code}\n```"),
                attachments,
            )
            .await;
        (call.content().unwrap_or_default(), call)
    }

    /// The text of the bot's answer to a text command such as `!files`.
    pub async fn say(&self, who: &User, channel: u64, text: &str) -> String {
        self.ask(who, channel, text, Vec::new())
            .await
            .content()
            .unwrap_or_default()
    }

    /// The on-disk directory of a thread's workspace.
    pub fn thread_dir(&self, thread: u64) -> PathBuf {
        self.workspaces.join(format!("thread-{thread}"))
    }
}

/// The reply's first line: the status line.
pub fn status_line(reply: &str) -> &str {
    reply.lines().next().unwrap_or("")
}

/// The whitespace-separated cells of the output line starting with `label`.
pub fn row<'a>(reply: &'a str, label: &'a str) -> Vec<&'a str> {
    reply
        .lines()
        .map(str::split_whitespace)
        .find_map(|mut cells| {
            (cells.next() == Some(label)).then(|| {
                let mut row = vec![label];
                row.extend(cells);
                row
            })
        })
        .unwrap_or_default()
}

/// Every path under `dir` (relative), with whether it is a symlink; nothing is followed.
pub fn tree(dir: &Path) -> Vec<(String, bool)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let Ok(meta) = std::fs::symlink_metadata(e.path()) else {
                continue;
            };
            let rel = e
                .path()
                .strip_prefix(dir)
                .map(|p| p.display().to_string())
                .unwrap_or_default();
            if meta.is_dir() {
                stack.push(e.path());
            }
            out.push((rel, meta.file_type().is_symlink()));
        }
    }
    out.sort();
    out
}
