//! AI assist through the fake Discord and the real `coderunner discord`: `!explain` sent as a
//! Discord reply to a run's reply is about THAT run (not the asker's latest), a plain `!explain`
//! falls back to the asker's last run, and nobody reaches another member's run by replying to it.
//! The model is the fake OpenAI-compatible server on loopback.

mod discord_support;

use coderunner_tests::fake_ai::{FakeAi, Scripted};
use coderunner_tests::fake_discord::{FakeDiscord, User, CHANNEL, WAIT};
use discord_support::{start, Setup};

/// The id of the bot's reply to a run, read from the 🔁 reaction it puts under that reply. The
/// reaction comes after the bot has noted which run the reply answers, so waiting for it also
/// means a reply to that message can now find the run.
async fn reply_id_of(fake: &FakeDiscord, mark: usize) -> u64 {
    let react = fake
        .wait_call(mark, WAIT, |c| {
            c.method == "PUT" && c.path.contains("/reactions/")
        })
        .await
        .expect("the bot puts 🔁 under its reply");
    // /api/v10/channels/{c}/messages/{m}/reactions/{e}/@me
    react
        .path
        .split('/')
        .nth(6)
        .and_then(|m| m.parse().ok())
        .expect("message id in the path")
}

/// `who` runs `code` in `CHANNEL`; returns the reply's text and the reply's message id.
async fn run(setup: &Setup, who: &User, code: &str) -> (String, u64) {
    let mark = setup.fake.mark();
    let (text, _) = setup.run(who, CHANNEL, code).await;
    (text, reply_id_of(&setup.fake, mark).await)
}

/// `who` sends `text` as a Discord reply to message `to`; returns the text of the bot's answer.
async fn reply_with(setup: &Setup, who: &User, text: &str, to: u64) -> String {
    let mark = setup.fake.mark();
    let id = setup.fake.post_reply(who, CHANNEL, text, to);
    let reference = id.to_string();
    let path = format!("/api/v10/channels/{CHANNEL}/messages");
    setup
        .fake
        .wait_call(mark, WAIT, |c| {
            c.method == "POST"
                && c.path == path
                && c.status == 200
                && c.body()["message_reference"]["message_id"].as_str() == Some(reference.as_str())
        })
        .await
        .unwrap_or_else(|| panic!("no answer to {text:?}; log:\n{}", setup.bot.log()))
        .content()
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explain_as_a_reply_is_about_the_run_replied_to() {
    let fake_ai = FakeAi::start(vec![
        Scripted::Answer("About the first run: `first_typo` is not defined.".into()),
        Scripted::Answer("About the last run: `second_typo` is not defined.".into()),
    ]);
    let base_url = fake_ai.base_url();
    let setup = start(move |c| {
        c.ai.base_url = Some(base_url);
        c.ai.model = "fake-coder".into();
    })
    .await;
    let alice = setup.fake.user("alice", &[]);
    let bob = setup.fake.user("bob", &[]);

    let (first, first_reply) = run(&setup, &alice, "print('one', first_typo)").await;
    assert!(first.contains("NameError"), "{first}");
    let (second, _) = run(&setup, &alice, "print('two', second_typo)").await;
    assert!(second.contains("NameError"), "{second}");

    // A reply to the FIRST run's reply: the model is told about the first run, although the
    // second one is alice's latest.
    let answer = reply_with(&setup, &alice, "!explain", first_reply).await;
    assert!(answer.contains("About the first run"), "{answer}");
    let requests = fake_ai.requests();
    assert_eq!(requests.len(), 1, "one call to the model");
    let prompt = requests[0].prompt();
    assert!(prompt.contains("print('one', first_typo)"), "{prompt}");
    assert!(
        prompt.contains("name 'first_typo' is not defined"),
        "the first run's error: {prompt}"
    );
    assert!(!prompt.contains("second_typo"), "{prompt}");

    // Not a reply: the asker's last run in this channel.
    let answer = setup.say(&alice, CHANNEL, "!explain").await;
    assert!(answer.contains("About the last run"), "{answer}");
    let requests = fake_ai.requests();
    assert_eq!(requests.len(), 2);
    let prompt = requests[1].prompt();
    assert!(prompt.contains("print('two', second_typo)"), "{prompt}");
    assert!(!prompt.contains("first_typo"), "{prompt}");

    // Bob replying to alice's run does not reach her code: he has no run here.
    let answer = reply_with(&setup, &bob, "!explain", first_reply).await;
    assert!(answer.contains("there is no run of yours here"), "{answer}");
    assert_eq!(
        fake_ai.requests().len(),
        2,
        "bob's !explain never reached the model"
    );
}
