//! Thread workspaces end to end through the fake Discord: the real `coderunner discord` binary
//! and the real sandbox (under the safety net's outer cgroup) run pandas on an attached CSV, send
//! a plot back as a PNG, keep files for the next run in the same thread and not in another one,
//! and enforce `!reset`, the quota, the idle TTL and "never sync a symlink back".

mod discord_support;

use std::time::{Duration, Instant};

use coderunner_config::{ByteSize, Config, HumanDuration, SessionPlaces};
use coderunner_tests::fake_discord::{CHANNEL, OTHER_THREAD, THREAD};
use coderunner_tests::png;
use discord_support::*;

const SALES: &str = "month,revenue,units\n1,1200.5,10\n2,1350.0,12\n3,990.25,8\n4,1810.75,15\n5,1600.0,13\n6,2100.5,18\n";

/// These suites are about the files a thread keeps between one-shot runs, so threads here are not
/// notebook sessions (tests/tests/discord_session.rs covers cells in a thread).
fn one_shot(c: &mut Config) {
    c.sessions.places = SessionPlaces::None;
}

/// A size as the bot writes it, for sizes below 1 MiB.
fn size_text(n: usize) -> String {
    match n {
        0..=1023 => format!("{n} B"),
        _ if n.is_multiple_of(1024) => format!("{} KiB", n / 1024),
        _ => format!("{:.1} KiB", n as f64 / 1024.0),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thread_explores_a_csv_together_and_another_thread_sees_none_of_it() {
    let s = start(one_shot).await;
    let alice = s.fake.user("alice", &[]);
    let bob = s.fake.user("bob", &[]);
    let carol = s.fake.user("carol", &[]);

    // 1. pandas reads the attached CSV; the run also writes a file of its own.
    let csv = s.fake.host_file("sales.csv", SALES.as_bytes());
    let (reply, _) = s
        .run_with(
            &alice,
            THREAD,
            "import pandas as pd\ndf = pd.read_csv('sales.csv')\nprint(df.describe())\nopen('notes.txt', 'w').write('best month: 6\\n')",
            vec![csv],
        )
        .await;
    println!("pandas reply:\n{reply}");
    assert_eq!(
        row(&reply, "count"),
        ["count", "6.000000", "6.000000", "6.000000"],
        "{reply}"
    );
    assert_eq!(
        row(&reply, "mean"),
        ["mean", "3.500000", "1508.666667", "12.666667"],
        "{reply}"
    );
    assert_eq!(
        row(&reply, "min"),
        ["min", "1.000000", "990.250000", "8.000000"],
        "{reply}"
    );
    assert_eq!(
        row(&reply, "max"),
        ["max", "6.000000", "2100.500000", "18.000000"],
        "{reply}"
    );
    // The attachment and the run's file are both kept now.
    assert!(status_line(&reply).starts_with("✅ **python"), "{reply}");
    assert!(
        status_line(&reply).ends_with(" · 📁 2 files in workspace"),
        "{reply}"
    );

    // 2. Another member plots from the workspace's CSV; the PNG comes back attached.
    let (reply, call) = s
        .run(
            &bob,
            THREAD,
            "import pandas as pd\nimport matplotlib.pyplot as plt\ndf = pd.read_csv('sales.csv')\nplt.plot(df['month'], df['revenue'])\nplt.savefig('plot.png')\nprint('plotted', len(df), 'months')",
        )
        .await;
    println!("plot reply:\n{reply}\nfiles: {:?}", call.file_names());
    assert!(reply.contains("plotted 6 months"), "{reply}");
    let plot = call
        .file("plot.png")
        .unwrap_or_else(|| panic!("plot.png is attached: {:?}", call.file_names()));
    assert_eq!(
        png::dimensions(&plot.content),
        (640, 480),
        "matplotlib's default 6.4x4.8 in figure at 100 dpi"
    );
    let png_len = plot.content.len();
    println!("plot.png: {png_len} bytes, 640x480");
    assert!(
        status_line(&reply).ends_with(" · 📁 3 files in workspace"),
        "{reply}"
    );
    // Unchanged workspace files are not sent back again.
    assert!(call.file("sales.csv").is_none(), "{:?}", call.file_names());

    // 3. A third run in the thread sees the first run's output file and the plot.
    let (reply, _) = s
        .run(
            &carol,
            THREAD,
            &format!("{LIST}\nprint('notes:', open('notes.txt').read().strip())\nimport os\nprint('plot bytes:', os.path.getsize('plot.png'))"),
        )
        .await;
    println!("third run:\n{reply}");
    assert!(
        reply.contains("files: ['main.py', 'notes.txt', 'plot.png', 'sales.csv']"),
        "{reply}"
    );
    assert!(reply.contains("notes: best month: 6"), "{reply}");
    assert!(
        reply.contains(&format!("plot bytes: {png_len}")),
        "the stored plot is the one that was sent: {reply}"
    );

    // !files lists the three with their sizes.
    let files = s.say(&alice, THREAD, "!files").await;
    println!("!files:\n{files}");
    assert!(
        files.starts_with("📁 **workspace** · 3 files · "),
        "{files}"
    );
    assert!(
        files.contains(&format!(
            "• `sales.csv` · {} · just now",
            size_text(SALES.len())
        )),
        "{files}"
    );
    assert!(files.contains("• `notes.txt` · 14 B · just now"), "{files}");
    assert!(
        files.contains(&format!("• `plot.png` · {} · just now", size_text(png_len))),
        "{files}"
    );

    // 4. Another thread of the same channel has its own (empty) workspace.
    let (reply, _) = s
        .run(
            &alice,
            OTHER_THREAD,
            &format!("{LIST}\ntry:\n    open('notes.txt')\n    print('LEAK')\nexcept FileNotFoundError:\n    print('no notes here')"),
        )
        .await;
    println!("other thread:\n{reply}");
    assert!(reply.contains("files: ['main.py']"), "{reply}");
    assert!(reply.contains("no notes here"), "{reply}");
    assert!(!reply.contains("LEAK"), "{reply}");
    let files = s.say(&alice, OTHER_THREAD, "!files").await;
    assert!(files.starts_with("📁 this workspace is empty"), "{files}");
    // The parent channel is not a workspace at all (only threads are, by default).
    let files = s.say(&alice, CHANNEL, "!files").await;
    assert!(files.starts_with("📁 no workspace here"), "{files}");
    // And the first thread still has everything.
    let files = s.say(&alice, THREAD, "!files").await;
    assert!(
        files.starts_with("📁 **workspace** · 3 files · "),
        "{files}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_empties_the_workspace_and_only_its_starter_may_do_it() {
    let s = start(one_shot).await;
    let alice = s.fake.user("alice", &[]);
    let bob = s.fake.user("bob", &[]);
    let (reply, _) = s
        .run(
            &alice,
            THREAD,
            "open('a.txt', 'w').write('aaaa')\nopen('b.txt', 'w').write('bb')\nprint('wrote two')",
        )
        .await;
    assert!(reply.contains("wrote two"), "{reply}");
    assert!(
        status_line(&reply).ends_with(" · 📁 2 files in workspace"),
        "{reply}"
    );

    let refused = s.say(&bob, THREAD, "!reset").await;
    assert!(
        refused.starts_with("🚫 only alice, who started this workspace, or an admin can reset it"),
        "{refused}"
    );
    let files = s.say(&bob, THREAD, "!files").await;
    assert!(
        files.starts_with("📁 **workspace** · 2 files · "),
        "{files}"
    );

    let cleared = s.say(&alice, THREAD, "!reset").await;
    println!("!reset: {cleared}");
    assert!(
        cleared.starts_with("🗑️ workspace cleared: removed 2 files (6 B)."),
        "{cleared}"
    );
    assert!(
        !s.thread_dir(THREAD).exists(),
        "the workspace directory is removed: {:?}",
        tree(&s.thread_dir(THREAD))
    );
    let files = s.say(&alice, THREAD, "!files").await;
    assert!(files.starts_with("📁 this workspace is empty"), "{files}");
    let (reply, _) = s.run(&alice, THREAD, LIST).await;
    assert!(reply.contains("files: ['main.py']"), "{reply}");
    let again = s.say(&alice, THREAD, "!reset").await;
    assert!(
        again.starts_with("📁 nothing to reset: this workspace is already empty"),
        "{again}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_over_the_quota_saves_nothing_and_says_so() {
    let s = start(|c| {
        one_shot(c);
        c.workspaces.quota = ByteSize(1 << 20);
    })
    .await;
    let alice = s.fake.user("alice", &[]);
    let (reply, _) = s
        .run(&alice, THREAD, "open('keep.txt', 'w').write('original')")
        .await;
    assert!(
        status_line(&reply).ends_with(" · 📁 1 file in workspace"),
        "{reply}"
    );

    // 1.5 MiB + a small file + a change to the kept file: all of it must be dropped together.
    let (reply, call) = s
        .run(
            &alice,
            THREAD,
            "open('big.bin', 'wb').write(b'x' * (3 << 19))\nopen('small.txt', 'w').write('small')\nopen('keep.txt', 'w').write('changed')\nprint('wrote three')",
        )
        .await;
    println!("over quota:\n{reply}\nfiles: {:?}", call.file_names());
    assert!(reply.contains("wrote three"), "the run itself ran: {reply}");
    assert!(
        reply.contains("⚠️ workspace not updated: keeping this run's files would make it 1.5 MiB, over its 1 MiB quota, so nothing from this run was saved (it still holds 1 file, 8 B)."),
        "{reply}"
    );
    assert!(
        status_line(&reply).ends_with(" · 📁 1 file in workspace"),
        "{reply}"
    );

    let (reply, _) = s
        .run(
            &alice,
            THREAD,
            &format!("{LIST}\nprint('keep:', open('keep.txt').read())"),
        )
        .await;
    assert!(reply.contains("files: ['keep.txt', 'main.py']"), "{reply}");
    assert!(reply.contains("keep: original"), "{reply}");
    let files = s.say(&alice, THREAD, "!files").await;
    assert!(
        files.starts_with("📁 **workspace** · 1 file · 8 B of 1 MiB · "),
        "{files}"
    );
    assert!(files.contains("• `keep.txt` · 8 B"), "{files}");
    let on_disk = tree(&s.thread_dir(THREAD));
    assert!(
        on_disk
            .iter()
            .all(|(p, _)| !p.ends_with("big.bin") && !p.ends_with("small.txt")),
        "nothing partial on disk: {on_disk:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_workspace_expires_after_its_ttl() {
    const TTL: Duration = Duration::from_secs(2);
    let s = start(|c| {
        one_shot(c);
        c.workspaces.ttl = HumanDuration::from(TTL);
    })
    .await;
    let alice = s.fake.user("alice", &[]);
    for (thread, name) in [(THREAD, "notes.txt"), (OTHER_THREAD, "other.txt")] {
        let (reply, _) = s
            .run(&alice, thread, &format!("open('{name}', 'w').write('x')"))
            .await;
        assert!(
            status_line(&reply).ends_with(" · 📁 1 file in workspace"),
            "{reply}"
        );
        let stored = tree(&s.thread_dir(thread));
        assert!(
            stored.iter().any(|(p, _)| p.ends_with(name)),
            "{name} is stored before the TTL passes: {stored:?}"
        );
    }
    // The TTL counts whole seconds since the last use: wait it out with a margin.
    tokio::time::sleep(TTL + Duration::from_millis(2500)).await;

    // Used again after the TTL: the run starts empty and the old files are gone from disk.
    let (reply, _) = s
        .run(
            &alice,
            THREAD,
            &format!("{LIST}\nimport os\nprint('notes there:', os.path.exists('notes.txt'))"),
        )
        .await;
    println!("after the TTL:\n{reply}");
    assert!(reply.contains("files: ['main.py']"), "{reply}");
    assert!(reply.contains("notes there: False"), "{reply}");
    assert!(
        !s.thread_dir(THREAD).exists(),
        "{:?}",
        tree(&s.thread_dir(THREAD))
    );
    let files = s.say(&alice, THREAD, "!files").await;
    assert!(
        files.starts_with("📁 this workspace is empty") && files.contains("cleared after 2 s idle"),
        "{files}"
    );

    // Never used again: the pipeline's housekeeping sweep (every minute) removes it.
    let other = s.thread_dir(OTHER_THREAD);
    let deadline = Instant::now() + Duration::from_secs(150);
    while other.exists() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(
        !other.exists(),
        "the sweep did not remove the idle workspace: {:?}; log:\n{}",
        tree(&other),
        s.bot.log()
    );
    assert!(
        s.bot.log().contains("sweeping an expired workspace"),
        "{}",
        s.bot.log()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn symlinks_written_by_a_run_are_not_synced_back() {
    let s = start(one_shot).await;
    let alice = s.fake.user("alice", &[]);
    let (reply, call) = s
        .run(
            &alice,
            THREAD,
            "import os\nopen('real.txt', 'w').write('data')\nos.symlink('/etc/passwd', 'passwd_link')\nos.symlink('real.txt', 'alias.txt')\nos.mkdir('sub')\nos.symlink('..', 'sub/up')\nprint('links made')",
        )
        .await;
    println!("symlinks:\n{reply}\nfiles: {:?}", call.file_names());
    assert!(reply.contains("links made"), "{reply}");
    assert!(
        status_line(&reply).ends_with(" · 📁 1 file in workspace"),
        "only real.txt is kept: {reply}"
    );
    for f in &call.files {
        assert!(
            !String::from_utf8_lossy(&f.content).contains("root:x:0:0"),
            "{} carries the host's /etc/passwd",
            f.filename
        );
    }

    let (reply, _) = s
        .run(
            &alice,
            THREAD,
            "import os\nfor root, dirs, files in os.walk('.'):\n    for n in dirs + files:\n        p = os.path.join(root, n)\n        print('entry', p, 'link' if os.path.islink(p) else 'plain')",
        )
        .await;
    println!("next run:\n{reply}");
    assert!(reply.contains("entry ./real.txt plain"), "{reply}");
    assert!(reply.contains("entry ./main.py plain"), "{reply}");
    for gone in ["passwd_link", "alias.txt", "sub/up"] {
        assert!(!reply.contains(gone), "{gone} came back: {reply}");
    }
    let on_disk = tree(&s.thread_dir(THREAD));
    assert!(
        on_disk.iter().any(|(p, _)| p.ends_with("real.txt")),
        "{on_disk:?}"
    );
    assert!(
        on_disk.iter().all(|(_, link)| !link),
        "a symlink is stored: {on_disk:?}"
    );
    let files = s.say(&alice, THREAD, "!files").await;
    assert!(files.starts_with("📁 **workspace** · 1 file · "), "{files}");
    assert!(files.contains("• `real.txt` · 4 B"), "{files}");
}
