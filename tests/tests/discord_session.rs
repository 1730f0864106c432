//! Notebook sessions in Discord threads, end to end: the real `coderunner discord` binary against
//! the fake Discord, with the real sandbox. A thread's `!run py` is a cell of one live Python
//! (state, last expression, DataFrame tables, figures without `savefig`), threads are isolated,
//! `--fresh` and other languages stay one-shot, `!restart`/`!reset` work, cells sent at once keep
//! their order, timeouts keep the variables, runaway cells and memory bombs end only their own
//! session, and sessions are parked (idle, `max_live`, a restart) and restored.

mod discord_support;

use std::time::Duration;

use coderunner_config::HumanDuration;
use coderunner_tests::fake_discord::{Call, User, OTHER_THREAD, THREAD, WAIT};
use coderunner_tests::png;
use discord_support::*;

/// `who` sends `!run {head}` with `code` in a block; the reply's text.
async fn send(s: &Setup, who: &User, channel: u64, head: &str, code: &str) -> String {
    s.say(who, channel, &format!("!run {head}\n```py\n{code}\n```"))
        .await
}

/// The output lines of a reply (between its first code fence and the next).
fn output(reply: &str) -> Vec<&str> {
    reply
        .lines()
        .skip_while(|l| !l.starts_with("```"))
        .skip(1)
        .take_while(|l| !l.starts_with("```"))
        .collect()
}

/// Post `content` and return the message id, without waiting for the reply.
fn post(s: &Setup, who: &User, channel: u64, content: &str) -> u64 {
    s.fake.post(who, channel, content, Vec::new())
}

/// The bot's reply to message `id` in `channel`, once it comes.
async fn reply_to(s: &Setup, channel: u64, id: u64) -> Call {
    let path = format!("/api/v10/channels/{channel}/messages");
    let reference = id.to_string();
    s.fake
        .wait_call(0, WAIT, |c| {
            c.method == "POST"
                && c.path == path
                && c.status == 200
                && c.body()["message_reference"]["message_id"].as_str() == Some(reference.as_str())
        })
        .await
        .unwrap_or_else(|| panic!("no reply to message {id}; log:\n{}", s.bot.log()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thread_is_a_notebook_and_other_threads_and_languages_are_not_in_it() {
    let s = start(|_| {}).await;
    let alice = s.fake.user("alice", &[]);
    let bob = s.fake.user("bob", &[]);

    let first = send(
        &s,
        &alice,
        THREAD,
        "py",
        "import pandas as pd\ndf = pd.DataFrame({'month': [1, 2, 3], 'revenue': [10.5, 20.0, 30.25]})\nx = 41\nopen('t1.txt', 'w').write('kept')",
    )
    .await;
    println!("first cell:\n{first}");
    assert!(status_line(&first).starts_with("✅ **python"), "{first}");
    // The write's return value is the last expression: a notebook shows it.
    assert_eq!(output(&first), ["4"], "{first}");

    // Another member's cell in the same thread reads the variables: the last expression shows.
    let next = send(&s, &bob, THREAD, "py", "x + 1").await;
    assert_eq!(output(&next), ["42"], "{next}");
    let none = send(&s, &bob, THREAD, "py", "y = x\nNone").await;
    assert!(output(&none).is_empty(), "None shows nothing: {none}");

    // A DataFrame comes back as an aligned table.
    let table = send(&s, &alice, THREAD, "py", "df").await;
    println!("table:\n{table}");
    assert_eq!(row(&table, "0"), ["0", "1", "10.50"], "{table}");
    assert_eq!(row(&table, "2"), ["2", "3", "30.25"], "{table}");
    assert!(
        output(&table)
            .first()
            .is_some_and(|h| h.split_whitespace().eq(["month", "revenue"])),
        "{table}"
    );

    // A figure comes back as a PNG without savefig.
    let call = s
        .ask(
            &alice,
            THREAD,
            "!run py\n```py\nimport matplotlib.pyplot as plt\nplt.plot(df.month, df.revenue)\nprint('drawn')\n```",
            Vec::new(),
        )
        .await;
    let plot = call
        .file("figure-1.png")
        .unwrap_or_else(|| panic!("a figure is attached: {:?}", call.file_names()));
    let (w, h) = png::dimensions(&plot.content);
    assert!(w > 300 && h > 200, "a real plot, {w}x{h}");
    assert!(call.content().unwrap_or_default().contains("drawn"));

    // Another thread has its own Python and its own files.
    let other = send(
        &s,
        &bob,
        OTHER_THREAD,
        "py",
        "import os\nprint('x' in globals(), 'df' in globals(), sorted(os.listdir('.')))",
    )
    .await;
    assert_eq!(output(&other), ["False False []"], "{other}");

    // `--fresh` is one-shot, and so is another language.
    let fresh = send(&s, &alice, THREAD, "--fresh py", "print('x' in globals())").await;
    assert_eq!(output(&fresh), ["False"], "{fresh}");
    let js = s
        .say(
            &alice,
            THREAD,
            "!run js\n```js\nconsole.log(typeof x, typeof df)\n```",
        )
        .await;
    assert!(js.contains("undefined undefined"), "{js}");
    // ...and neither touched the session.
    let still = send(&s, &alice, THREAD, "py", "x").await;
    assert_eq!(output(&still), ["41"], "{still}");

    // !session lists the variables.
    let info = s.say(&alice, THREAD, "!session").await;
    println!("!session:\n{info}");
    assert!(info.contains("`x`: int"), "{info}");
    assert!(info.contains("`df`: pandas.core.frame.DataFrame"), "{info}");

    // !restart: a new Python, the files kept.
    let restarted = s.say(&bob, THREAD, "!restart").await;
    assert!(restarted.contains("restarted"), "{restarted}");
    let after = send(
        &s,
        &bob,
        THREAD,
        "py",
        "print('x' in globals(), open('t1.txt').read())",
    )
    .await;
    assert_eq!(output(&after), ["False kept"], "{after}");

    // !reset (by the thread's starter): the variables and the files go.
    let set = send(&s, &alice, THREAD, "py", "z = 1").await;
    assert!(status_line(&set).starts_with("✅"), "{set}");
    let reset = s.say(&alice, THREAD, "!reset").await;
    assert!(reset.contains("workspace cleared"), "{reset}");
    assert!(reset.contains("variables are cleared"), "{reset}");
    let empty = send(
        &s,
        &alice,
        THREAD,
        "py",
        "import os\nprint('z' in globals(), sorted(os.listdir('.')))",
    )
    .await;
    assert_eq!(output(&empty), ["False []"], "{empty}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cells_keep_their_order_and_timeouts_runaways_and_memory_bombs_stay_in_their_session() {
    let s = start(|c| {
        let p = c.profiles.get_mut("default").expect("default profile");
        p.memory = coderunner_config::ByteSize(256 << 20);
    })
    .await;
    let alice = s.fake.user("alice", &[]);
    let bob = s.fake.user("bob", &[]);

    // Two cells sent at once run in the order sent; the second says it waited.
    let slow = post(
        &s,
        &alice,
        THREAD,
        "!run py\n```py\nimport time\ntime.sleep(2)\nlog = ['first']\n```",
    );
    let fast = post(
        &s,
        &bob,
        THREAD,
        "!run py\n```py\nlog.append('second')\nlog\n```",
    );
    let slow = reply_to(&s, THREAD, slow)
        .await
        .content()
        .unwrap_or_default();
    let fast = reply_to(&s, THREAD, fast)
        .await
        .content()
        .unwrap_or_default();
    println!("slow:\n{slow}\nfast:\n{fast}");
    assert!(status_line(&slow).starts_with("✅"), "{slow}");
    assert_eq!(output(&fast), ["['first', 'second']"], "{fast}");
    assert!(fast.contains("waited for 1 cell"), "{fast}");

    // A cell past its wall time is interrupted; the variables live on.
    let set = send(&s, &alice, THREAD, "py", "kept = 5").await;
    assert!(status_line(&set).starts_with("✅"), "{set}");
    let spin = send(
        &s,
        &alice,
        THREAD,
        "--timeout=2 py",
        "while True:\n    pass",
    )
    .await;
    println!("timeout:\n{spin}");
    assert!(spin.contains("KeyboardInterrupt"), "{spin}");
    let back = send(&s, &alice, THREAD, "py", "kept").await;
    assert_eq!(output(&back), ["5"], "{back}");

    // A cell that ignores the interrupt ends its session, and the reply says what is lost.
    let runaway = send(
        &s,
        &alice,
        THREAD,
        "--timeout=2 py",
        "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    pass",
    )
    .await;
    println!("runaway:\n{runaway}");
    assert!(
        runaway.contains("its variables are gone; its files are kept"),
        "{runaway}"
    );
    let gone = send(&s, &alice, THREAD, "py", "'kept' in globals()").await;
    assert_eq!(output(&gone), ["False"], "{gone}");

    // A memory bomb ends only its own session: the other thread's session keeps its variable.
    let other = send(&s, &bob, OTHER_THREAD, "py", "mine = 'safe'").await;
    assert!(status_line(&other).starts_with("✅"), "{other}");
    let bomb = send(
        &s,
        &alice,
        THREAD,
        "py",
        "xs = []\nwhile True:\n    xs.append(bytearray(16 << 20))",
    )
    .await;
    println!("bomb:\n{bomb}");
    assert!(!status_line(&bomb).starts_with("✅"), "{bomb}");
    assert!(
        bomb.contains("memory") || bomb.contains("MemoryError"),
        "{bomb}"
    );
    let safe = send(&s, &bob, OTHER_THREAD, "py", "mine").await;
    assert_eq!(output(&safe), ["'safe'"], "{safe}");
    let alive = send(&s, &alice, THREAD, "py", "1 + 1").await;
    assert_eq!(
        output(&alive),
        ["2"],
        "the thread gets a working session: {alive}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_park_when_idle_or_over_max_live_and_come_back_after_a_restart() {
    let mut s = start(|c| {
        c.sessions.idle = HumanDuration::from(Duration::from_secs(2));
        c.sessions.max_live = 1;
    })
    .await;
    let alice = s.fake.user("alice", &[]);
    let bob = s.fake.user("bob", &[]);

    let set = send(
        &s,
        &alice,
        THREAD,
        "py",
        "xs = [1, 2, 3]\ngen = (i for i in xs)",
    )
    .await;
    assert!(status_line(&set).starts_with("✅"), "{set}");
    // A second live session is one too many: the first is parked...
    let other = send(&s, &bob, OTHER_THREAD, "py", "y = 'b'").await;
    assert!(status_line(&other).starts_with("✅"), "{other}");
    // ...and its next cell restores it first and says so.
    let restored = send(&s, &alice, THREAD, "py", "sum(xs)").await;
    println!("after max_live:\n{restored}");
    assert_eq!(output(&restored), ["6"], "{restored}");
    assert!(
        restored.contains("restored 1 variable (xs); not saved: gen (generator)"),
        "{restored}"
    );

    // Idle for longer than sessions.idle: parked again, restored again.
    let parked = tokio::time::timeout(WAIT, async {
        loop {
            tokio::time::sleep(Duration::from_millis(500)).await;
            let log = s.bot.log();
            let ours = log
                .lines()
                .filter(|l| l.contains("session parked") && l.contains(&format!("thread-{THREAD}")))
                .count();
            if ours >= 2 {
                break;
            }
        }
    })
    .await;
    assert!(parked.is_ok(), "no idle parking; log:\n{}", s.bot.log());
    let idle_back = send(&s, &alice, THREAD, "py", "xs").await;
    assert_eq!(output(&idle_back), ["[1, 2, 3]"], "{idle_back}");
    assert!(
        idle_back.contains("restored 1 variable (xs)"),
        "{idle_back}"
    );

    // A restart parks every session; the next bot restores them.
    let more = send(&s, &alice, THREAD, "py", "xs.append(4)").await;
    assert!(status_line(&more).starts_with("✅"), "{more}");
    assert!(s.restart().await, "the bot stops cleanly on SIGTERM");
    let after = send(&s, &alice, THREAD, "py", "xs").await;
    println!("after restart:\n{after}");
    assert_eq!(output(&after), ["[1, 2, 3, 4]"], "{after}");
    assert!(after.contains("restored 1 variable (xs)"), "{after}");
    let theirs = send(&s, &bob, OTHER_THREAD, "py", "y").await;
    assert_eq!(output(&theirs), ["'b'"], "{theirs}");
}
