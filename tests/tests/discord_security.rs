//! Attacks on the access policy through the fake Discord and the real `coderunner discord` with
//! the real sandbox: a role named `admin` in someone else's server, code planted in a thread
//! workspace for an admin's privileged run, a workspace stuffed with files, attachments fetched
//! before a run may go ahead, and private files left readable by the umask.

mod discord_support;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use coderunner_config::{Quota, RoleRef};
use coderunner_tests::fake_discord::{
    Call, CHANNEL, OTHER_CHANNEL, OTHER_GUILD, OTHER_GUILD_ADMIN_NAMED, OTHER_GUILD_CHANNEL,
    ROLE_ADMIN, THREAD, WAIT,
};
use discord_support::*;

/// Give the admin tier to the admin role's id, as the README tells operators to.
fn admin_by_id(c: &mut coderunner_config::Config) {
    for tier in &mut c.access.tiers {
        if tier.admin {
            tier.roles = vec![RoleRef::Id(ROLE_ADMIN)];
        }
    }
}

/// The first message the bot posts or edits in `channel` after `mark` whose text has `needle`.
async fn said_in(s: &Setup, mark: usize, channel: u64, needle: &str) -> String {
    let path = format!("/api/v10/channels/{channel}/messages");
    s.fake
        .wait_call(mark, WAIT, |c| {
            c.path.starts_with(&path)
                && c.status == 200
                && c.content().is_some_and(|t| t.contains(needle))
        })
        .await
        .and_then(|c| c.content())
        .unwrap_or_else(|| {
            panic!(
                "nothing with {needle:?} in {channel}; log:\n{}",
                s.bot.log()
            )
        })
}

const PRIVILEGED: &str = "!run --privileged py\n```py\nprint('priv' + 'ran')\n```";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_role_named_admin_in_another_server_is_not_admin_and_the_role_id_is() {
    // The operator gave the admin tier its role id; the bot answers in every server it is in.
    let s = start(admin_by_id).await;

    // Mallory invited the bot to her own server and made a role called `admin`.
    let mallory = s.fake.user("mallory", &[OTHER_GUILD_ADMIN_NAMED]);
    let mark = s.fake.mark();
    s.fake
        .post_in_guild(OTHER_GUILD, &mallory, OTHER_GUILD_CHANNEL, PRIVILEGED);
    let refused = said_in(&s, mark, OTHER_GUILD_CHANNEL, "🚫").await;
    assert!(
        refused.contains("`--privileged` is for admins only, and your tier is `member`"),
        "{refused}"
    );
    let mark = s.fake.mark();
    s.fake
        .post_in_guild(OTHER_GUILD, &mallory, OTHER_GUILD_CHANNEL, "!runs");
    let runs = said_in(&s, mark, OTHER_GUILD_CHANNEL, "🚫").await;
    assert!(runs.contains("is for admins"), "{runs}");
    // Nothing of hers ran privileged: the audit log holds only refusals so far.
    let calls: Vec<String> = s.fake.calls().iter().filter_map(Call::content).collect();
    assert!(
        calls.iter().all(|t| !t.contains("privran")),
        "a privileged run happened: {calls:?}"
    );

    // The holder of the configured role id is admin.
    let root = s.fake.user("root", &[ROLE_ADMIN]);
    let ran = s.ask(&root, CHANNEL, PRIVILEGED, Vec::new()).await;
    let ran = ran.content().unwrap_or_default();
    assert!(ran.contains("privran"), "{ran}");
    let runs = s.say(&root, CHANNEL, "!runs").await;
    assert!(!runs.contains("🚫"), "{runs}");
    assert!(
        runs.contains("mallory") && runs.contains("refused"),
        "the admin sees the refused attempts: {runs}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_default_config_has_no_discord_admin() {
    let s = start(|_| {}).await;
    // Even in the configured server, a role NAMED admin gives nothing: the default lists no roles.
    let named_admin = s.fake.user("named", &[ROLE_ADMIN]);
    let reply = s.ask(&named_admin, CHANNEL, PRIVILEGED, Vec::new()).await;
    let reply = reply.content().unwrap_or_default();
    assert!(
        reply.contains("`--privileged` is for admins only, and your tier is `member`"),
        "{reply}"
    );
    assert!(!reply.contains("privran"), "{reply}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_privileged_run_never_sees_nor_feeds_the_thread_workspace() {
    let s = start(admin_by_id).await;
    let member = s.fake.user("member", &[]);
    let admin = s.fake.user("root", &[ROLE_ADMIN]);
    let plant = "open('json.py', 'w').write('print(\"PLANTED\")\\ndumps = lambda o: \"owned\"\\n')\nprint('planted')";
    let (reply, _) = s.run(&member, THREAD, plant).await;
    assert!(reply.contains("planted"), "{reply}");
    // The plant works on an ordinary run: this is what a privileged run must not import.
    let probe = "import json, os\nprint('from', json.__file__)\nprint(json.dumps([1]))\nprint('files:', sorted(os.listdir('.')))";
    // One-shot (`--fresh`): a live session imported the real `json` before the plant existed.
    let normal = s
        .say(
            &member,
            THREAD,
            &format!("!run --fresh py\n```py\n{probe}\n```"),
        )
        .await;
    assert!(
        normal.contains("PLANTED") && normal.contains("owned"),
        "{normal}"
    );

    let call = s
        .ask(
            &admin,
            THREAD,
            &format!("!run --privileged py\n```py\n{probe}\nopen('priv_out.txt', 'w').write('secret result')\n```"),
            Vec::new(),
        )
        .await;
    let privileged = call.content().unwrap_or_default();
    println!(
        "privileged run:\n{privileged}\nfiles: {:?}",
        call.file_names()
    );
    assert!(!privileged.contains("PLANTED"), "{privileged}");
    assert!(
        privileged.contains("from /usr/lib/python3") && privileged.contains("[1]"),
        "the real json: {privileged}"
    );
    assert!(
        privileged.contains("files: ['main.py']"),
        "only its own files: {privileged}"
    );
    assert!(
        call.file_names().iter().any(|f| f == "priv_out.txt"),
        "the output comes back in the reply: {:?}",
        call.file_names()
    );
    assert!(privileged.contains("🔒 privileged run"), "{privileged}");

    // ...and does not land in the workspace for the members to read.
    let files = s.say(&member, THREAD, "!files").await;
    assert!(
        files.contains("json.py") && !files.contains("priv_out.txt"),
        "{files}"
    );
    let on_disk = tree(&s.thread_dir(THREAD));
    assert!(
        on_disk.iter().all(|(p, _)| !p.ends_with("priv_out.txt")),
        "{on_disk:?}"
    );
    let (after, _) = s.run(&member, THREAD, LIST).await;
    // A cell of the thread's session runs in the workspace itself: the plant is there, the
    // privileged run's output is not.
    assert!(
        after.contains("'json.py'") && !after.contains("priv_out.txt"),
        "{after}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_privileged_runs_files_are_not_stored_in_a_fresh_workspace() {
    let s = start(admin_by_id).await;
    let admin = s.fake.user("root", &[ROLE_ADMIN]);
    let call = s
        .ask(
            &admin,
            THREAD,
            "!run --privileged py\n```py\nopen('only_mine.txt', 'w').write('x')\nprint('wrote')\n```",
            Vec::new(),
        )
        .await;
    assert!(
        call.file_names().iter().any(|f| f == "only_mine.txt"),
        "{:?}",
        call.file_names()
    );
    let on_disk = tree(&s.thread_dir(THREAD));
    assert!(
        on_disk.iter().all(|(p, _)| !p.ends_with("only_mine.txt")),
        "{on_disk:?}"
    );
    let member = s.fake.user("member", &[]);
    let files = s.say(&member, THREAD, "!files").await;
    assert!(files.starts_with("📁 this workspace is empty"), "{files}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_creating_1001_files_saves_nothing_and_says_so() {
    let s = start(|c| {
        let p = c.profiles.get_mut("default").expect("default");
        // The run may return them all, so only the workspace's own cap can stop them.
        p.output_files = 5000;
    })
    .await;
    let alice = s.fake.user("alice", &[]);
    let (reply, _) = s
        .run(&alice, THREAD, "open('keep.txt', 'w').write('k')")
        .await;
    assert!(
        status_line(&reply).ends_with("📁 1 file in workspace"),
        "{reply}"
    );
    let (reply, _) = s
        .run(
            &alice,
            THREAD,
            "import os\nos.mkdir('many')\nfor i in range(1001):\n    open(f'many/f{i}', 'w').close()\nprint('made', len(os.listdir('many')))",
        )
        .await;
    println!("1001 files:\n{reply}");
    assert!(reply.contains("made 1001"), "the run ran: {reply}");
    assert!(
        reply.contains("⚠️ workspace not updated")
            && reply.contains("over its limit of 1000")
            && reply.contains("nothing from this run was saved (it still holds 1 file)"),
        "{reply}"
    );
    assert!(
        status_line(&reply).ends_with("📁 1 file in workspace"),
        "{reply}"
    );
    let on_disk = tree(&s.thread_dir(THREAD));
    assert!(
        on_disk.iter().all(|(p, _)| !p.contains("many")),
        "nothing partial on disk: {on_disk:?}"
    );
}

/// Every directory under `root` is 0700 and every file 0600.
fn assert_private(root: &Path) {
    let mode = |p: &Path| {
        std::fs::symlink_metadata(p)
            .map(|m| m.permissions().mode() & 0o777)
            .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
    };
    assert_eq!(mode(root), 0o700, "{}", root.display());
    for (rel, _) in tree(root) {
        let path = root.join(&rel);
        let want = if path.is_dir() { 0o700 } else { 0o600 };
        assert_eq!(mode(&path), want, "{rel} is {:o}", mode(&path));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_log_and_workspaces_are_private_under_umask_022() {
    // BotProcess starts the bot with umask 022.
    let s = start(|_| {}).await;
    let alice = s.fake.user("alice", &[]);
    let (reply, _) = s
        .run(
            &alice,
            THREAD,
            "import os\nos.makedirs('sub/dir')\nopen('sub/dir/x.txt', 'w').write('x')\nopen('top.txt', 'w').write('t')",
        )
        .await;
    assert!(
        status_line(&reply).ends_with("📁 2 files in workspace"),
        "{reply}"
    );
    assert!(s.workspaces.exists());
    assert_private(&s.workspaces);
    let audit = s.data_dir.join("audit.sqlite");
    for (path, want) in [(s.data_dir.clone(), 0o700), (audit.clone(), 0o600)] {
        let mode = std::fs::metadata(&path)
            .expect("exists")
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, want, "{} is {mode:o}", path.display());
    }
    for extra in ["audit.sqlite-wal", "audit.sqlite-shm"] {
        if let Ok(m) = std::fs::metadata(s.data_dir.join(extra)) {
            assert_eq!(
                m.permissions().mode() & 0o077,
                0,
                "{extra} is readable by others"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attachments_are_fetched_only_once_a_run_may_go_ahead() {
    let s = start(|c| {
        c.rate_limits.global_concurrency = 1;
        c.discord.progress_after = Duration::from_millis(200).into();
        c.rate_limits.user.insert(
            "member".into(),
            Quota {
                count: 1,
                per: Duration::from_secs(3600).into(),
            },
        );
        // The admin tier is not rate limited: the queue test uses it.
        admin_by_id(c);
    })
    .await;

    // A rate-limited user's attachment is never downloaded. (With progress messages on, a
    // reply may be a "running" post edited with the result: wait for the text itself.)
    let carol = s.fake.user("carol", &[]);
    let mark = s.fake.mark();
    s.fake.post(
        &carol,
        CHANNEL,
        "!run py\n```py\nprint('first' + 'run')\n```",
        vec![],
    );
    said_in(&s, mark, CHANNEL, "firstrun").await;
    let file = s.fake.host_file("data.txt", b"attached-bytes-42");
    let before = s.fake.attachment_fetches();
    let mark = s.fake.mark();
    s.fake.post(
        &carol,
        CHANNEL,
        "!run py\n```py\nprint(open('data.txt').read())\n```",
        vec![file],
    );
    let limited = said_in(&s, mark, CHANNEL, "retry in").await;
    assert!(!limited.contains("attached-bytes"), "{limited}");
    assert_eq!(
        s.fake.attachment_fetches(),
        before,
        "fetched for a refused run"
    );

    // A queued run holds no files: its attachment is fetched only when it gets the slot.
    let root = s.fake.user("root", &[ROLE_ADMIN]);
    let other = s.fake.user("root2", &[ROLE_ADMIN]);
    let mark = s.fake.mark();
    s.fake.post(
        &root,
        CHANNEL,
        "!run py\n```py\nimport time\ntime.sleep(5)\nprint('slow' + 'done')\n```",
        vec![],
    );
    said_in(&s, mark, CHANNEL, "Running").await;
    let file = s.fake.host_file("data.txt", b"attached-bytes-42");
    let mark = s.fake.mark();
    s.fake.post(
        &other,
        OTHER_CHANNEL,
        "!run py\n```py\nprint(open('data.txt').read())\n```",
        vec![file],
    );
    let queued = said_in(&s, mark, OTHER_CHANNEL, "Queued").await;
    println!("{queued}");
    assert_eq!(
        s.fake.attachment_fetches(),
        before,
        "a queued run downloaded its attachment"
    );
    let done = said_in(&s, mark, OTHER_CHANNEL, "attached-bytes-42").await;
    assert!(done.contains("✅"), "{done}");
    assert_eq!(s.fake.attachment_fetches(), before + 1);
    said_in(&s, 0, CHANNEL, "slowdone").await;
}
