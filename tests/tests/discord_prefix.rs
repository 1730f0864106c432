//! End to end through a fake Discord: `!run` text commands, attachments, edits, deletes, 🔁,
//! mentions, truncation, progress and Discord failures, against the real `coderunner discord`.

use std::time::Duration;

use coderunner_tests::fake_discord::{launch, Call, FakeDiscord, CHANNEL, WAIT};

/// A successful message post in `channel` (a reply of the bot).
fn post_in(call: &Call, channel: u64) -> bool {
    call.method == "POST"
        && call.path == format!("/api/v10/channels/{channel}/messages")
        && call.status == 200
}

/// The id of the bot's reply to a run, read from the 🔁 reaction the bot puts under it.
async fn reply_id_of(fake: &FakeDiscord, mark: usize) -> u64 {
    let react = fake
        .wait_call(mark, WAIT, |c| {
            c.method == "PUT" && c.path.contains("/reactions/")
        })
        .await
        .expect("the bot puts 🔁 under its reply");
    let parts: Vec<&str> = react.path.split('/').collect();
    // /api/v10/channels/{c}/messages/{m}/reactions/{e}/@me
    parts[6].parse().expect("message id in the reaction path")
}

fn dump(fake: &FakeDiscord, mark: usize, title: &str) {
    eprintln!("{title}");
    for c in fake.calls_since(mark) {
        eprintln!("  {}", c.summary());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prefix_run_with_a_code_block_replies_with_the_output() {
    let (fake, bot) = launch(|_| {}).await;
    let alice = fake.user("alice", &[]);
    let mark = fake.mark();
    let msg = fake.post(
        &alice,
        CHANNEL,
        "!run python\n```py\nprint(6 * 7)\nopen('answer.txt', 'w').write('forty-two')\n```",
        vec![],
    );
    let post = fake
        .wait_call(mark, WAIT, |c| post_in(c, CHANNEL))
        .await
        .unwrap_or_else(|| panic!("no reply; log:\n{}", bot.log()));
    reply_id_of(&fake, mark).await;
    dump(&fake, mark, "REST calls for one `!run python`:");
    let body = post.body();
    let content = post.content().unwrap_or_default();
    assert!(
        content.contains("42"),
        "output missing from the reply: {content}"
    );
    let written = post.file("answer.txt").unwrap_or_else(|| {
        panic!(
            "the file the program wrote is attached: {:?}",
            post.file_names()
        )
    });
    assert_eq!(written.content, b"forty-two");
    assert_eq!(
        body["message_reference"]["message_id"],
        msg.to_string(),
        "the reply answers the command"
    );
    assert_eq!(
        body["allowed_mentions"],
        serde_json::json!({"parse": [], "users": [], "roles": [], "replied_user": false}),
        "replies must ping nobody"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_and_csv_attachments_run_together() {
    let (fake, bot) = launch(|_| {}).await;
    let alice = fake.user("alice", &[]);
    let script = b"import csv\nrows = list(csv.DictReader(open('sales.csv')))\nprint('total', sum(int(r['amount']) for r in rows))\n";
    let csv = b"region,amount\nnorth,100\nsouth,250\n";
    let files = vec![
        fake.host_file("analysis.py", script),
        fake.host_file("sales.csv", csv),
    ];
    let mark = fake.mark();
    fake.post(&alice, CHANNEL, "!run", files);
    let post = fake
        .wait_call(mark, WAIT, |c| post_in(c, CHANNEL))
        .await
        .unwrap_or_else(|| panic!("no reply; log:\n{}", bot.log()));
    let content = post.content().unwrap_or_default();
    assert!(
        content.contains("total 350"),
        "the script did not read the csv: {content}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_attachment_is_refused_before_download() {
    let (fake, bot) = launch(|_| {}).await;
    let alice = fake.user("alice", &[]);
    // Declares 1 GiB: the bot must refuse it from the declared size alone.
    let big = fake.host_file_declaring("big.csv", b"a\n1\n", 1 << 30);
    let mark = fake.mark();
    fake.post(
        &alice,
        CHANNEL,
        "!run py\n```py\nprint(open('big.csv').read())\n```",
        vec![big],
    );
    let post = fake
        .wait_call(mark, WAIT, |c| post_in(c, CHANNEL))
        .await
        .unwrap_or_else(|| panic!("no reply; log:\n{}", bot.log()));
    let content = post.content().unwrap_or_default();
    assert!(
        content.contains("big.csv"),
        "the refusal names the file: {content}"
    );
    let downloaded = fake
        .calls()
        .iter()
        .any(|c| c.path.contains("/attachments/"));
    assert!(!downloaded, "the oversized file must not be downloaded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn editing_the_command_reruns_it_and_edits_the_reply() {
    let (fake, bot) = launch(|_| {}).await;
    let alice = fake.user("alice", &[]);
    let mark = fake.mark();
    let msg = fake.post(
        &alice,
        CHANNEL,
        "!run py\n```py\nprint('first')\n```",
        vec![],
    );
    fake.wait_call(mark, WAIT, |c| post_in(c, CHANNEL))
        .await
        .unwrap_or_else(|| panic!("no reply; log:\n{}", bot.log()));
    let reply = reply_id_of(&fake, mark).await;

    let edit_mark = fake.mark();
    fake.edit(msg, "!run py\n```py\nprint('second')\n```");
    let patch = fake
        .wait_call(edit_mark, WAIT, |c| {
            c.method == "PATCH" && c.path == format!("/api/v10/channels/{CHANNEL}/messages/{reply}")
        })
        .await
        .unwrap_or_else(|| panic!("the reply was not edited; log:\n{}", bot.log()));
    tokio::time::sleep(Duration::from_millis(500)).await;
    dump(&fake, edit_mark, "REST calls for one edit re-run:");
    let content = patch.content().unwrap_or_default();
    assert!(
        content.contains("second"),
        "the edited reply shows the new output: {content}"
    );
    assert!(!content.contains("first"));
    let new_posts = fake
        .calls_since(edit_mark)
        .iter()
        .filter(|c| post_in(c, CHANNEL))
        .count();
    assert_eq!(
        new_posts, 0,
        "an edit re-run edits in place, it does not post again"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_the_command_deletes_the_reply() {
    let (fake, bot) = launch(|_| {}).await;
    let alice = fake.user("alice", &[]);
    let mark = fake.mark();
    let msg = fake.post(&alice, CHANNEL, "!run py\n```py\nprint(1)\n```", vec![]);
    let reply = reply_id_of(&fake, mark).await;
    fake.delete(msg);
    let deleted = fake
        .wait_call(mark, WAIT, |c| {
            c.method == "DELETE"
                && c.path == format!("/api/v10/channels/{CHANNEL}/messages/{reply}")
        })
        .await;
    assert!(
        deleted.is_some(),
        "the reply was not deleted; log:\n{}",
        bot.log()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_author_reruns_with_the_repeat_reaction_and_others_cannot() {
    let (fake, bot) = launch(|_| {}).await;
    let alice = fake.user("alice", &[]);
    let mallory = fake.user("mallory", &[]);
    let mark = fake.mark();
    fake.post(
        &alice,
        CHANNEL,
        "!run py\n```py\nprint('again')\n```",
        vec![],
    );
    let reply = reply_id_of(&fake, mark).await;

    let react_mark = fake.mark();
    fake.react(&mallory, CHANNEL, reply, "🔁");
    fake.react(&alice, CHANNEL, reply, "🔁");
    let rerun = fake
        .wait_call(react_mark, WAIT, |c| post_in(c, CHANNEL))
        .await
        .unwrap_or_else(|| panic!("🔁 did not re-run; log:\n{}", bot.log()));
    assert!(rerun.content().unwrap_or_default().contains("again"));
    tokio::time::sleep(Duration::from_secs(2)).await;
    let posts = fake
        .calls_since(react_mark)
        .iter()
        .filter(|c| post_in(c, CHANNEL))
        .count();
    assert_eq!(posts, 1, "only the author's 🔁 re-runs");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn everyone_in_the_output_pings_no_one() {
    let (fake, bot) = launch(|_| {}).await;
    let alice = fake.user("alice", &[]);
    let mark = fake.mark();
    fake.post(
        &alice,
        CHANNEL,
        "!run py\n```py\nprint('@everyone @here <@123456789012345678> look')\n```",
        vec![],
    );
    let post = fake
        .wait_call(mark, WAIT, |c| post_in(c, CHANNEL))
        .await
        .unwrap_or_else(|| panic!("no reply; log:\n{}", bot.log()));
    let body = post.body();
    assert_eq!(body["allowed_mentions"]["parse"], serde_json::json!([]));
    assert_eq!(body["allowed_mentions"]["users"], serde_json::json!([]));
    assert_eq!(body["allowed_mentions"]["roles"], serde_json::json!([]));
    let content = post.content().unwrap_or_default();
    assert!(content.contains("look"), "the output is shown: {content}");
    assert!(
        !content.contains("@everyone"),
        "raw @everyone left in: {content}"
    );
    assert!(!content.contains("@here"), "raw @here left in: {content}");
    assert!(
        !content.contains("<@123456789012345678>"),
        "raw user mention left in: {content}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_output_is_truncated_with_the_full_log_attached() {
    let (fake, bot) = launch(|_| {}).await;
    let alice = fake.user("alice", &[]);
    let mark = fake.mark();
    fake.post(
        &alice,
        CHANNEL,
        "!run py\n```py\nfor i in range(5000):\n    print('line', i)\n```",
        vec![],
    );
    let post = fake
        .wait_call(mark, WAIT, |c| post_in(c, CHANNEL))
        .await
        .unwrap_or_else(|| panic!("no reply; log:\n{}", bot.log()));
    let content = post.content().unwrap_or_default();
    assert!(
        content.chars().count() <= 2000,
        "{} chars",
        content.chars().count()
    );
    assert!(
        content.contains("line 0"),
        "the start of the output is shown"
    );
    assert!(!content.contains("line 4999"), "not everything fits inline");
    let log = post
        .files
        .iter()
        .find(|f| f.filename.ends_with(".txt"))
        .unwrap_or_else(|| panic!("no log attached: {:?}", post.file_names()));
    let log = String::from_utf8_lossy(&log.content);
    assert!(log.contains("line 4999"), "the attached log is complete");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_discord_500_on_the_reply_is_retried_and_the_bot_stays_up() {
    let (fake, mut bot) = launch(|_| {}).await;
    let alice = fake.user("alice", &[]);
    fake.fail_next_replies(1);
    let mark = fake.mark();
    fake.post(
        &alice,
        CHANNEL,
        "!run py\n```py\nprint('made it')\n```",
        vec![],
    );
    let ok = fake
        .wait_call(mark, WAIT, |c| post_in(c, CHANNEL))
        .await
        .unwrap_or_else(|| panic!("the reply was not retried; log:\n{}", bot.log()));
    assert!(ok.content().unwrap_or_default().contains("made it"));
    let failed = fake
        .calls_since(mark)
        .iter()
        .filter(|c| c.is_message_post() && c.status == 500)
        .count();
    assert_eq!(failed, 1, "the first attempt hit the 500");
    assert!(bot.log().contains("retrying"), "the failure is logged");

    // A malformed event and another command: the bot is still up and answering.
    fake.inject_raw(r#"{"op":0,"s":9999,"t":"MESSAGE_CREATE","d":{"id":"not-a-snowflake"}}"#);
    let mark = fake.mark();
    fake.post(
        &alice,
        CHANNEL,
        "!run py\n```py\nprint('still here')\n```",
        vec![],
    );
    let post = fake
        .wait_call(mark, WAIT, |c| post_in(c, CHANNEL))
        .await
        .unwrap_or_else(|| panic!("the bot stopped answering; log:\n{}", bot.log()));
    assert!(post.content().unwrap_or_default().contains("still here"));
    assert!(bot.is_running());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_run_shows_typing_and_a_running_message_then_the_result() {
    let (fake, bot) = launch(|c| {
        c.discord.progress_after = Duration::from_millis(300).into();
    })
    .await;
    let alice = fake.user("alice", &[]);
    let mark = fake.mark();
    fake.post(
        &alice,
        CHANNEL,
        "!run py\n```py\nimport time\ntime.sleep(2)\nprint('slow done')\n```",
        vec![],
    );
    let status = fake
        .wait_call(mark, WAIT, |c| post_in(c, CHANNEL))
        .await
        .unwrap_or_else(|| panic!("no status message; log:\n{}", bot.log()));
    let status_text = status.content().unwrap_or_default();
    assert!(
        status_text.contains("Running") || status_text.contains("Queued"),
        "a short status comes first: {status_text}"
    );
    let result = fake
        .wait_call(mark, WAIT, |c| {
            c.is_message_edit() && c.content().is_some_and(|t| t.contains("slow done"))
        })
        .await
        .unwrap_or_else(|| {
            panic!(
                "the status was not replaced by the result; log:\n{}",
                bot.log()
            )
        });
    assert!(result
        .path
        .starts_with(&format!("/api/v10/channels/{CHANNEL}/messages/")));
    let typing = fake
        .calls_since(mark)
        .iter()
        .any(|c| c.method == "POST" && c.path == format!("/api/v10/channels/{CHANNEL}/typing"));
    assert!(typing, "a typing indicator was shown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_text_commands_go_through_the_pipeline() {
    let (fake, bot) = launch(|_| {}).await;
    let alice = fake.user("alice", &[]);
    let mark = fake.mark();
    fake.post(&alice, CHANNEL, "!langs", vec![]);
    let langs = fake
        .wait_call(mark, WAIT, |c| post_in(c, CHANNEL))
        .await
        .unwrap_or_else(|| panic!("no answer to !langs; log:\n{}", bot.log()));
    let text = langs.content().unwrap_or_default();
    assert!(
        text.contains("python") && text.contains("javascript"),
        "{text}"
    );

    let mark = fake.mark();
    fake.post(&alice, CHANNEL, "!help", vec![]);
    let help = fake
        .wait_call(mark, WAIT, |c| post_in(c, CHANNEL))
        .await
        .unwrap_or_else(|| panic!("no answer to !help; log:\n{}", bot.log()));
    let text = help.content().unwrap_or_default();
    assert!(text.contains("!run"), "help explains !run: {text}");

    // Plain chat and other bots' commands are not addressed to this bot (the pipeline decides).
    let mark = fake.mark();
    fake.post(&alice, CHANNEL, "lunch anyone?", vec![]);
    fake.post(&alice, CHANNEL, "!play some music", vec![]);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        fake.calls_since(mark).iter().all(|c| !c.is_message_post()),
        "the bot must stay quiet on ordinary messages"
    );
}
