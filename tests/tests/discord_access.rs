//! End to end through a fake Discord: who may run where (roles, rate limits, threads, DMs),
//! start-up (token, intents) and graceful shutdown, against the real `coderunner discord`.

use std::time::Duration;

use coderunner_config::{Quota, RoleRef};
use coderunner_tests::fake_discord::{
    launch, test_config, BotProcess, Call, FakeDiscord, CHANNEL, GUILD, OTHER_CHANNEL, ROLE_DATA,
    TEST_TOKEN, THREAD, WAIT,
};

fn post_in(call: &Call, channel: u64) -> bool {
    call.method == "POST"
        && call.path == format!("/api/v10/channels/{channel}/messages")
        && call.status == 200
}

async fn reply(fake: &FakeDiscord, bot: &BotProcess, mark: usize, channel: u64) -> String {
    fake.wait_call(mark, WAIT, |c| post_in(c, channel))
        .await
        .unwrap_or_else(|| panic!("no reply; log:\n{}", bot.log()))
        .content()
        .unwrap_or_default()
}

const PRINT_RAN: &str = "!run py\n```py\nprint('ran' + 'ok')\n```";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_without_the_role_is_refused_and_one_with_it_runs() {
    let (fake, bot) = launch(|c| {
        c.access.default_tier = None;
        // A role name counts only in the servers listed here.
        c.access.guilds = vec![GUILD];
        for tier in &mut c.access.tiers {
            if tier.name == "member" {
                tier.roles = vec![RoleRef::Name("data".into())];
            }
        }
    })
    .await;
    let nobody = fake.user("nobody", &[]);
    let mark = fake.mark();
    fake.post(&nobody, CHANNEL, PRINT_RAN, vec![]);
    let refused = reply(&fake, &bot, mark, CHANNEL).await;
    assert!(
        !refused.contains("ranok"),
        "a user without a role must not run: {refused}"
    );
    assert!(refused.contains('🚫'), "the refusal says so: {refused}");

    // The role is configured by name; the bot learns names from the guild's roles.
    let analyst = fake.user("analyst", &[ROLE_DATA]);
    let mark = fake.mark();
    fake.post(&analyst, CHANNEL, PRINT_RAN, vec![]);
    let ran = reply(&fake, &bot, mark, CHANNEL).await;
    assert!(ran.contains("ranok"), "the role holder runs: {ran}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_second_run_past_the_quota_gets_a_rate_limit_reply() {
    let (fake, bot) = launch(|c| {
        c.rate_limits.user.insert(
            "member".into(),
            Quota {
                count: 1,
                per: Duration::from_secs(3600).into(),
            },
        );
    })
    .await;
    let alice = fake.user("alice", &[]);
    let mark = fake.mark();
    fake.post(&alice, CHANNEL, PRINT_RAN, vec![]);
    assert!(reply(&fake, &bot, mark, CHANNEL).await.contains("ranok"));
    let mark = fake.mark();
    fake.post(
        &alice,
        CHANNEL,
        "!run py\n```py\nprint('second' + 'time')\n```",
        vec![],
    );
    let limited = reply(&fake, &bot, mark, CHANNEL).await;
    assert!(
        !limited.contains("secondtime"),
        "over the quota must not run: {limited}"
    );
    assert!(
        limited.contains("retry in"),
        "the reply says when to retry: {limited}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thread_inherits_its_parent_channel_allowlist() {
    let (fake, bot) = launch(|c| c.access.channels = vec![CHANNEL]).await;
    let alice = fake.user("alice", &[]);
    let mark = fake.mark();
    fake.post(&alice, THREAD, PRINT_RAN, vec![]);
    let in_thread = reply(&fake, &bot, mark, THREAD).await;
    assert!(
        in_thread.contains("ranok"),
        "a thread of an allowed channel runs: {in_thread}"
    );

    let mark = fake.mark();
    fake.post(&alice, OTHER_CHANNEL, PRINT_RAN, vec![]);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let elsewhere: Vec<String> = fake
        .calls_since(mark)
        .iter()
        .filter(|c| post_in(c, OTHER_CHANNEL))
        .filter_map(Call::content)
        .collect();
    assert!(
        elsewhere.iter().all(|t| !t.contains("ranok")),
        "another channel must not run: {elsewhere:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn direct_messages_follow_the_config() {
    let (fake, bot) = launch(|c| c.access.dms = false).await;
    let intents = fake.identify().expect("identified")["intents"]
        .as_u64()
        .expect("intents");
    assert_ne!(intents & (1 << 15), 0, "MESSAGE_CONTENT requested");
    assert_ne!(intents & (1 << 9), 0, "GUILD_MESSAGES requested");
    assert_eq!(
        intents & (1 << 12),
        0,
        "no DIRECT_MESSAGES when DMs are off"
    );
    assert!(
        bot.log().contains("Message Content Intent"),
        "the log names the portal switch"
    );

    let alice = fake.user("alice", &[]);
    let mark = fake.mark();
    fake.post_dm(&alice, PRINT_RAN);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let ran = fake
        .calls_since(mark)
        .iter()
        .filter_map(Call::content)
        .any(|t| t.contains("ranok"));
    assert!(!ran, "a DM must not run when access.dms is false");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn direct_messages_run_when_allowed() {
    let (fake, bot) = launch(|c| c.access.dms = true).await;
    let intents = fake.identify().expect("identified")["intents"]
        .as_u64()
        .expect("intents");
    assert_ne!(
        intents & (1 << 12),
        0,
        "DIRECT_MESSAGES requested when DMs are on"
    );
    let alice = fake.user("alice", &[]);
    let mark = fake.mark();
    fake.post_dm(&alice, PRINT_RAN);
    let post = fake
        .wait_call(mark, WAIT, |c| c.is_message_post() && c.status == 200)
        .await
        .unwrap_or_else(|| panic!("no DM reply; log:\n{}", bot.log()));
    assert!(post.content().unwrap_or_default().contains("ranok"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_token_is_a_clear_error_not_a_panic() {
    let fake = FakeDiscord::start().await.expect("fake");
    let dir = tempfile::tempdir().expect("dir");
    let config = test_config(&fake, dir.path(), |_| {});
    let mut bot = BotProcess::start(&config, None);
    let status = bot.wait_exit(WAIT).expect("the bot exits");
    assert!(!status.success());
    let log = bot.log();
    assert!(log.contains("DISCORD_TOKEN is not set"), "{log}");
    assert!(!log.contains("panicked"), "{log}");
    assert!(fake.calls().is_empty(), "nothing is sent without a token");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_token_is_a_clear_error_not_a_panic() {
    let fake = FakeDiscord::start().await.expect("fake");
    fake.reject_token(true);
    let dir = tempfile::tempdir().expect("dir");
    let config = test_config(&fake, dir.path(), |_| {});
    let mut bot = BotProcess::start(&config, Some(TEST_TOKEN));
    let status = bot.wait_exit(WAIT).expect("the bot exits");
    assert!(!status.success());
    let log = bot.log();
    assert!(
        log.contains("Discord rejected the token in DISCORD_TOKEN"),
        "{log}"
    );
    assert!(!log.contains("panicked"), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_finishes_the_running_job_refuses_new_ones_and_exits_cleanly() {
    let (fake, mut bot) = launch(|_| {}).await;
    let alice = fake.user("alice", &[]);
    let mark = fake.mark();
    fake.post(
        &alice,
        CHANNEL,
        "!run py\n```py\nimport time\ntime.sleep(3)\nprint('finished' + 'anyway')\n```",
        vec![],
    );
    // Let the run start, then ask the bot to stop.
    fake.wait_call(mark, WAIT, |c| c.path.ends_with("/typing"))
        .await
        .unwrap_or_else(|| panic!("the run never started; log:\n{}", bot.log()));
    bot.terminate();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let late = fake.mark();
    fake.post(&alice, CHANNEL, PRINT_RAN, vec![]);

    let status = bot.wait_exit(WAIT).expect("the bot exits after SIGTERM");
    assert!(
        status.success(),
        "graceful exit: {status:?}; log:\n{}",
        bot.log()
    );
    let contents: Vec<String> = fake
        .calls_since(mark)
        .iter()
        .filter_map(Call::content)
        .collect();
    assert!(
        contents.iter().any(|t| t.contains("finishedanyway")),
        "the running job finished and was posted: {contents:?}"
    );
    let after: Vec<String> = fake
        .calls_since(late)
        .iter()
        .filter_map(Call::content)
        .collect();
    assert!(
        after.iter().all(|t| !t.contains("ranok")),
        "no new run after SIGTERM: {after:?}"
    );
    assert!(bot.log().contains("shutting down"));
}

fn registered_names(call: &Call) -> Vec<String> {
    call.json
        .as_ref()
        .and_then(|v| v.as_array().cloned())
        .unwrap_or_default()
        .iter()
        .filter_map(|c| c["name"].as_str().map(str::to_string))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_are_registered_per_guild_or_globally() {
    let (fake, _bot) = launch(|_| {}).await;
    let put = fake
        .calls()
        .into_iter()
        .find(|c| c.method == "PUT" && c.path.ends_with("/commands"))
        .expect("registered");
    assert!(
        put.path.contains(&format!(
            "/guilds/{}/commands",
            coderunner_tests::fake_discord::GUILD
        )),
        "guild registration with discord.guilds set: {}",
        put.path
    );
    let names = registered_names(&put);
    for want in ["run", "langs", "help", "runs", "files", "reset", "Run code"] {
        assert!(
            names.contains(&want.to_string()),
            "{want} missing from {names:?}"
        );
    }

    let (fake, _bot) = launch(|c| c.discord.guilds.clear()).await;
    let put = fake
        .calls()
        .into_iter()
        .find(|c| c.method == "PUT" && c.path.ends_with("/commands"))
        .expect("registered");
    assert!(
        !put.path.contains("/guilds/"),
        "global registration: {}",
        put.path
    );
}
