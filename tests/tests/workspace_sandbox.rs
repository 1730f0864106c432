//! Thread workspaces through the pipeline and the REAL sandbox: isolation between threads,
//! serialised runs in one thread, the quota (all or nothing), the idle TTL, and symlinks written
//! by a run never coming back.

use std::sync::Arc;
use std::time::Duration;

use coderunner_commands::{Identity, Incoming, NoProgress, Pipeline, Place, Platform, Reply, Role};
use coderunner_config::{ByteSize, Config, HumanDuration, RoleRef};
use coderunner_runner::{LocalRunner, Runner};

/// The admin role's id (tiers are matched by role id).
const ADMIN_ROLE: u64 = 1_180_000_000_000_000_102;

struct Rig {
    pipeline: Pipeline,
    dir: tempfile::TempDir,
}

fn rig_with(edit: impl FnOnce(&mut Config)) -> Rig {
    let dir = tempfile::tempdir().expect("temp dir");
    // The security suites' configuration: the outer safety net, the helper binary, short limits.
    let mut config: Config = coderunner_tests::safety_net::config().clone();
    config.data_dir = dir.path().to_path_buf();
    config.rate_limits.user.clear();
    config.rate_limits.guild.clear();
    for tier in &mut config.access.tiers {
        if tier.admin {
            tier.roles = vec![RoleRef::Id(ADMIN_ROLE)];
        }
    }
    edit(&mut config);
    let runner: Arc<dyn Runner> = Arc::new(LocalRunner::new(&config).expect("sandbox"));
    let pipeline = Pipeline::new(Arc::new(config), runner).expect("pipeline");
    Rig { pipeline, dir }
}

fn member(id: &str) -> Identity {
    Identity {
        platform: Platform::Discord,
        user_id: id.into(),
        display: format!("user-{id}"),
        roles: Vec::new(),
    }
}

fn admin(id: &str) -> Identity {
    let mut who = member(id);
    who.roles.push(Role {
        id: Some(ADMIN_ROLE),
        name: "admin".into(),
    });
    who
}

fn thread(id: u64) -> Place {
    Place {
        guild: Some(1),
        channel: Some(10),
        thread: Some(id),
        ..Place::default()
    }
}

impl Rig {
    async fn send(&self, who: Identity, place: Place, text: &str) -> Reply {
        let msg = Incoming {
            who,
            place,
            text: text.into(),
            attachments: Vec::new(),
            message: None,
            reply_to: None,
        };
        self.pipeline
            .handle(msg, &NoProgress)
            .await
            .expect("a reply")
    }

    async fn py(&self, place: Place, code: &str) -> Reply {
        self.send(
            member("1"),
            place,
            &format!("!run python\n```py\n{code}\n```"),
        )
        .await
    }
}

const LIST: &str = "import os; print(sorted(os.listdir('.')))";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thread_sees_its_own_files_and_no_other_threads() {
    let rig = rig_with(|_| {});
    let wrote = rig
        .py(thread(100), "open('result.json', 'w').write('{\"n\": 42}')")
        .await;
    assert!(
        wrote.content.contains("📁 1 file in workspace"),
        "{}",
        wrote.content
    );
    assert!(
        wrote
            .files
            .iter()
            .any(|f| f.name == "result.json" && f.content == b"{\"n\": 42}"),
        "{wrote:?}"
    );
    let same = rig
        .py(
            thread(100),
            "import json; print(json.load(open('result.json'))['n'] + 1)",
        )
        .await;
    assert!(same.content.contains("```py\n43\n```"), "{}", same.content);
    let other = rig.py(thread(200), LIST).await;
    assert!(other.content.contains("['main.py']"), "{}", other.content);
    assert!(
        other.content.contains("📁 0 files in workspace"),
        "{}",
        other.content
    );
    // A plain channel has no workspace: no count on the status line.
    let channel = Place {
        thread: None,
        ..thread(0)
    };
    let plain = rig
        .py(channel.clone(), "open('x.txt', 'w').write('x')")
        .await;
    assert!(!plain.content.contains("📁"), "{}", plain.content);
    let files = rig.send(member("1"), channel, "!files").await;
    assert!(
        files.content.starts_with("📁 no workspace here"),
        "{}",
        files.content
    );
    // Stored on disk under the data dir.
    assert!(rig
        .dir
        .path()
        .join("workspaces/thread-100/meta.json")
        .exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_is_for_the_starter_or_an_admin_and_empties_it() {
    let rig = rig_with(|_| {});
    rig.py(thread(1), "open('a.txt', 'w').write('a')").await;
    let refused = rig.send(member("2"), thread(1), "!reset").await;
    assert!(
        refused.content.starts_with("🚫 only user-1"),
        "{}",
        refused.content
    );
    let cleared = rig.send(admin("3"), thread(1), "!reset").await;
    assert!(
        cleared.content.contains("removed 1 file"),
        "{}",
        cleared.content
    );
    let after = rig.py(thread(1), LIST).await;
    assert!(after.content.contains("['main.py']"), "{}", after.content);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_quota_saves_nothing_and_says_so() {
    let rig = rig_with(|c| c.workspaces.quota = ByteSize(300 * 1024));
    rig.py(thread(1), "open('small.txt', 'w').write('s' * 1000)")
        .await;
    let big = rig
        .py(
            thread(1),
            "open('small.txt', 'w').write('changed')\nopen('a.bin', 'wb').write(b'a' * 200_000)\nopen('b.bin', 'wb').write(b'b' * 200_000)",
        )
        .await;
    assert!(
        big.content.contains("⚠️ workspace not updated"),
        "{}",
        big.content
    );
    assert!(
        big.content.contains("over its 300 KiB quota"),
        "{}",
        big.content
    );
    assert!(
        big.content.contains("nothing from this run was saved"),
        "{}",
        big.content
    );
    assert!(big.content.chars().count() <= 2000);
    let after = rig
        .py(
            thread(1),
            &format!("{LIST}\nprint(len(open('small.txt').read()))"),
        )
        .await;
    assert!(
        after.content.contains("['main.py', 'small.txt']\n1000"),
        "{}",
        after.content
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_workspaces_expire() {
    let rig = rig_with(|c| c.workspaces.ttl = HumanDuration::from_secs(1));
    rig.py(thread(1), "open('a.txt', 'w').write('a')").await;
    tokio::time::sleep(Duration::from_millis(2_100)).await;
    let after = rig.py(thread(1), LIST).await;
    assert!(after.content.contains("['main.py']"), "{}", after.content);
    // Expired by the sweep too, without anyone touching it.
    rig.py(thread(2), "open('b.txt', 'w').write('b')").await;
    assert!(rig.dir.path().join("workspaces/thread-2").exists());
    tokio::time::sleep(Duration::from_millis(2_100)).await;
    rig.pipeline.housekeeping();
    assert!(!rig.dir.path().join("workspaces/thread-2").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_symlink_written_by_a_run_is_not_synced_back() {
    let rig = rig_with(|_| {});
    let wrote = rig
        .py(
            thread(1),
            "import os\nopen('real.txt', 'w').write('r')\nos.symlink('/etc/passwd', 'passwd')\nos.symlink('real.txt', 'alias.txt')\nprint(sorted(os.listdir('.')))",
        )
        .await;
    assert!(
        wrote.content.contains("'alias.txt'"),
        "the run made its links: {}",
        wrote.content
    );
    let after = rig
        .py(
            thread(1),
            &format!("import os\n{LIST}\nprint([os.path.islink(n) for n in os.listdir('.')])"),
        )
        .await;
    assert!(
        after.content.contains("['main.py', 'real.txt']"),
        "{}",
        after.content
    );
    let stored = rig.dir.path().join("workspaces/thread-1");
    let mut links = 0;
    for e in walk(&stored) {
        if std::fs::symlink_metadata(&e)
            .expect("meta")
            .file_type()
            .is_symlink()
        {
            links += 1;
        }
    }
    assert_eq!(links, 0, "no symlink in the store");
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).expect("read").flatten() {
        let p = e.path();
        if std::fs::symlink_metadata(&p).expect("meta").is_dir() {
            out.extend(walk(&p));
        }
        out.push(p);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_in_one_thread_take_turns() {
    let rig = rig_with(|c| c.rate_limits.concurrent_per_user = 4);
    // Each run appends to a shared log and would lose the other's line if they overlapped.
    let code = "import time, os\nold = open('log.txt').read() if os.path.exists('log.txt') else ''\ntime.sleep(0.5)\nopen('log.txt', 'w').write(old + 'x')";
    let (a, b) = tokio::join!(rig.py(thread(1), code), rig.py(thread(1), code));
    assert!(a.content.starts_with("✅"), "{}", a.content);
    assert!(b.content.starts_with("✅"), "{}", b.content);
    let after = rig.py(thread(1), "print(open('log.txt').read())").await;
    assert!(
        after.content.contains("```py\nxx\n```"),
        "{}",
        after.content
    );
}
