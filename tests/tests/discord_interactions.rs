//! End to end through a fake Discord: the `/run` slash command (options, file, modal) and the
//! "Run code" message context menu, against the real `coderunner discord` binary.

use coderunner_tests::fake_discord::{launch, Call, FakeDiscord, APP_ID, CHANNEL, WAIT};
use serde_json::json;

fn callback(call: &Call, id: u64) -> bool {
    call.method == "POST"
        && call
            .path
            .starts_with(&format!("/api/v10/interactions/{id}/"))
        && call.path.ends_with("/callback")
}

fn followup(call: &Call, token: &str) -> bool {
    call.method == "POST"
        && call.path == format!("/api/v10/webhooks/{APP_ID}/{token}")
        && call.status == 200
}

fn option(name: &str, value: &str) -> serde_json::Value {
    json!({"name": name, "type": 3, "value": value})
}

async fn callback_of(fake: &FakeDiscord, mark: usize, id: u64) -> Call {
    fake.wait_call(mark, WAIT, |c| callback(c, id))
        .await
        .expect("the interaction was answered")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slash_run_with_code_and_stdin() {
    let (fake, bot) = launch(|_| {}).await;
    let alice = fake.user("alice", &[]);
    let mark = fake.mark();
    let (id, token) = fake.slash(
        &alice,
        CHANNEL,
        "run",
        vec![
            option("language", "python"),
            option("code", "print('sum', sum(map(int, input().split())))"),
            option("stdin", "1 2 3"),
        ],
        json!({}),
    );
    let ack = callback_of(&fake, mark, id).await;
    assert_eq!(
        ack.body()["type"],
        5,
        "a run is deferred (Discord shows 'thinking…')"
    );
    let reply = fake
        .wait_call(mark, WAIT, |c| followup(c, &token))
        .await
        .unwrap_or_else(|| panic!("no result; log:\n{}", bot.log()));
    let content = reply.content().unwrap_or_default();
    assert!(
        content.contains("sum 6"),
        "stdin reached the program: {content}"
    );
    assert_eq!(reply.body()["allowed_mentions"]["parse"], json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slash_run_with_a_file_option() {
    let (fake, bot) = launch(|_| {}).await;
    let alice = fake.user("alice", &[]);
    let file = fake.host_file("hello.py", b"print('from the file')\n");
    let file_id = file["id"].as_str().expect("id").to_string();
    let mark = fake.mark();
    let (_, token) = fake.slash(
        &alice,
        CHANNEL,
        "run",
        vec![json!({"name": "file", "type": 11, "value": file_id})],
        json!({"attachments": {file_id.clone(): file}}),
    );
    let reply = fake
        .wait_call(mark, WAIT, |c| followup(c, &token))
        .await
        .unwrap_or_else(|| panic!("no result; log:\n{}", bot.log()));
    assert!(reply
        .content()
        .unwrap_or_default()
        .contains("from the file"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slash_run_without_code_opens_a_modal() {
    let (fake, bot) = launch(|_| {}).await;
    let alice = fake.user("alice", &[]);
    let mark = fake.mark();
    let (id, token) = fake.slash(
        &alice,
        CHANNEL,
        "run",
        vec![option("language", "py")],
        json!({}),
    );
    let modal = callback_of(&fake, mark, id).await;
    let body = modal.body();
    assert_eq!(body["type"], 9, "a modal is the answer: {body}");
    let custom_id = body["data"]["custom_id"]
        .as_str()
        .expect("modal custom_id")
        .to_string();
    let fields: Vec<String> = body["data"]["components"]
        .as_array()
        .expect("rows")
        .iter()
        .filter_map(|row| {
            row["components"][0]["custom_id"]
                .as_str()
                .map(str::to_string)
        })
        .collect();
    assert!(
        fields.contains(&"code".to_string()) && fields.contains(&"stdin".to_string()),
        "{fields:?}"
    );

    let submit_mark = fake.mark();
    let (submit_id, _) = fake.submit_modal(
        &alice,
        CHANNEL,
        &custom_id,
        &[
            ("language", "py"),
            ("code", "print(input()[::-1])"),
            ("stdin", "olleh"),
        ],
    );
    let ack = callback_of(&fake, submit_mark, submit_id).await;
    assert_eq!(ack.body()["type"], 6, "the modal submit is acknowledged");
    let reply = fake
        .wait_call(submit_mark, WAIT, |c| followup(c, &token))
        .await
        .unwrap_or_else(|| panic!("no result after the modal; log:\n{}", bot.log()));
    assert!(reply.content().unwrap_or_default().contains("hello"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn context_menu_runs_a_tagged_code_block() {
    let (fake, bot) = launch(|_| {}).await;
    let alice = fake.user("alice", &[]);
    let bob = fake.user("bob", &[]);
    let target = fake.post(
        &bob,
        CHANNEL,
        "try this:\n```js\nconsole.log([1,2,3].map(x => x * 2).join(','))\n```",
        vec![],
    );
    let mark = fake.mark();
    let (id, token) = fake.context_menu(&alice, CHANNEL, target);
    let ack = callback_of(&fake, mark, id).await;
    assert_eq!(ack.body()["type"], 5);
    let reply = fake
        .wait_call(mark, WAIT, |c| followup(c, &token))
        .await
        .unwrap_or_else(|| panic!("no result; log:\n{}", bot.log()));
    assert!(reply.content().unwrap_or_default().contains("2,4,6"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn context_menu_asks_for_the_language_when_unclear() {
    let (fake, bot) = launch(|_| {}).await;
    let alice = fake.user("alice", &[]);
    let target = fake.post(&alice, CHANNEL, "```\necho unclear-but-bash\n```", vec![]);
    let mark = fake.mark();
    let (id, token) = fake.context_menu(&alice, CHANNEL, target);
    let modal = callback_of(&fake, mark, id).await;
    let body = modal.body();
    assert_eq!(body["type"], 9, "the language is asked for: {body}");
    let custom_id = body["data"]["custom_id"]
        .as_str()
        .expect("custom_id")
        .to_string();
    let submit_mark = fake.mark();
    fake.submit_modal(
        &alice,
        CHANNEL,
        &custom_id,
        &[("language", "bash"), ("stdin", "")],
    );
    let reply = fake
        .wait_call(submit_mark, WAIT, |c| followup(c, &token))
        .await
        .unwrap_or_else(|| panic!("no result; log:\n{}", bot.log()));
    assert!(reply
        .content()
        .unwrap_or_default()
        .contains("unclear-but-bash"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slash_langs_lists_the_languages() {
    let (fake, bot) = launch(|_| {}).await;
    let alice = fake.user("alice", &[]);
    let mark = fake.mark();
    let (_, token) = fake.slash(&alice, CHANNEL, "langs", vec![], json!({}));
    let reply = fake
        .wait_call(mark, WAIT, |c| followup(c, &token))
        .await
        .unwrap_or_else(|| panic!("no answer; log:\n{}", bot.log()));
    let content = reply.content().unwrap_or_default();
    assert!(
        content.contains("python") && content.contains("javascript"),
        "{content}"
    );
}
