//! Unit tests of the on-disk store with a fake clock (the sandbox-level tests are in tests/).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use coderunner_config::{ByteSize, HumanDuration, WorkspaceConfig};
use coderunner_runner::{InputFile, OutputFile, RunOutcome};

use super::*;
use crate::Platform;

struct Rig {
    _dir: tempfile::TempDir,
    root: std::path::PathBuf,
    now: Arc<AtomicU64>,
    store: DiskWorkspaces,
}

fn config(quota: u64, ttl_secs: u64) -> WorkspaceConfig {
    WorkspaceConfig {
        quota: ByteSize(quota),
        ttl: HumanDuration::from_secs(ttl_secs),
        ..WorkspaceConfig::default()
    }
}

fn rig_with(quota: u64, ttl_secs: u64) -> Rig {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("workspaces");
    let now = Arc::new(AtomicU64::new(1_700_000_000));
    let clock_now = Arc::clone(&now);
    let clock: Clock = Arc::new(move || {
        SystemTime::UNIX_EPOCH + Duration::from_secs(clock_now.load(Ordering::SeqCst))
    });
    let store =
        DiskWorkspaces::with_clock(root.clone(), config(quota, ttl_secs), "!".into(), clock)
            .expect("store");
    Rig {
        _dir: dir,
        root,
        now,
        store,
    }
}

fn rig() -> Rig {
    rig_with(1 << 20, 3_600)
}

fn user(id: &str) -> Identity {
    Identity {
        platform: Platform::Discord,
        user_id: id.into(),
        display: format!("user-{id}"),
        roles: Vec::new(),
    }
}

fn out(files: &[(&str, &[u8])]) -> RunOutcome {
    let mut o = RunOutcome::sandbox_error("x");
    o.error = None;
    o.files = files
        .iter()
        .map(|(p, c)| OutputFile {
            path: (*p).into(),
            size: c.len() as u64,
            mime: "application/octet-stream".into(),
            content: c.to_vec(),
        })
        .collect();
    o
}

fn input(path: &str, content: &[u8]) -> InputFile {
    InputFile {
        path: path.into(),
        content: content.to_vec(),
    }
}

fn seen(store: &DiskWorkspaces, key: &str, own: Vec<InputFile>) -> Vec<(String, Vec<u8>)> {
    let mut files = own;
    store
        .before_run(key, &mut files, u64::MAX)
        .expect("before_run");
    let mut v: Vec<_> = files.into_iter().map(|f| (f.path, f.content)).collect();
    v.sort();
    v
}

#[test]
fn files_carry_over_and_the_message_wins_a_clash() {
    let r = rig();
    let note = r.store.after_run(
        "thread-1",
        &user("1"),
        &[input("sales.csv", b"a,b\n1,2\n")],
        &out(&[("plot.png", b"png"), ("sub/x.txt", b"x")]),
    );
    assert_eq!(note, None);
    assert_eq!(r.store.file_count("thread-1"), Some(3));
    let got = seen(
        &r.store,
        "thread-1",
        vec![input("main.py", b"code"), input("sales.csv", b"new")],
    );
    assert_eq!(
        got,
        vec![
            ("main.py".into(), b"code".to_vec()),
            ("plot.png".into(), b"png".to_vec()),
            ("sales.csv".into(), b"new".to_vec()),
            ("sub/x.txt".into(), b"x".to_vec()),
        ]
    );
    // Another thread sees nothing.
    assert_eq!(seen(&r.store, "thread-2", vec![]), vec![]);
    // A second run that changes one file keeps the others.
    r.store
        .after_run("thread-1", &user("2"), &[], &out(&[("plot.png", b"png2")]));
    let got = seen(&r.store, "thread-1", vec![]);
    assert_eq!(got.len(), 3);
    assert!(got.contains(&("plot.png".into(), b"png2".to_vec())));
    // Exactly one generation directory remains.
    let dir = r.root.join("thread-1");
    let gens: Vec<_> = std::fs::read_dir(&dir)
        .expect("dir")
        .flatten()
        .filter(|e| e.path().is_dir())
        .collect();
    assert_eq!(gens.len(), 1, "{gens:?}");
}

#[test]
fn a_new_store_on_the_same_root_sees_the_files() {
    let r = rig();
    r.store
        .after_run("thread-7", &user("1"), &[], &out(&[("keep.txt", b"kept")]));
    let again = DiskWorkspaces::with_clock(
        r.root.clone(),
        config(1 << 20, 3_600),
        "!".into(),
        Arc::clone(&r.store.clock),
    )
    .expect("reopen");
    assert_eq!(
        seen(&again, "thread-7", vec![]),
        vec![("keep.txt".into(), b"kept".to_vec())]
    );
}

#[test]
fn over_quota_saves_nothing_and_says_so() {
    let r = rig_with(100, 3_600);
    r.store
        .after_run("thread-1", &user("1"), &[], &out(&[("a.txt", &[b'a'; 60])]));
    let note = r
        .store
        .after_run(
            "thread-1",
            &user("1"),
            &[input("b.csv", &[b'b'; 10])],
            &out(&[("c.bin", &[b'c'; 50]), ("d.txt", b"d")]),
        )
        .expect("a note");
    assert!(note.contains("workspace not updated"), "{note}");
    assert!(note.contains("over its 100 B quota"), "{note}");
    assert!(note.contains("nothing from this run was saved"), "{note}");
    assert_eq!(
        seen(&r.store, "thread-1", vec![]),
        vec![("a.txt".into(), vec![b'a'; 60])]
    );
    // Replacing the big file with a smaller one fits.
    assert_eq!(
        r.store.after_run(
            "thread-1",
            &user("1"),
            &[],
            &out(&[("a.txt", b"small"), ("c.bin", &[b'c'; 50])])
        ),
        None
    );
    assert_eq!(r.store.file_count("thread-1"), Some(2));
}

#[test]
fn idle_workspaces_expire_on_access_and_by_sweep() {
    let r = rig_with(1 << 20, 60);
    r.store
        .after_run("thread-1", &user("1"), &[], &out(&[("a.txt", b"a")]));
    r.store
        .after_run("thread-2", &user("1"), &[], &out(&[("b.txt", b"b")]));
    r.now.fetch_add(59, Ordering::SeqCst);
    // Use keeps thread-1 alive.
    assert_eq!(seen(&r.store, "thread-1", vec![]).len(), 1);
    r.now.fetch_add(30, Ordering::SeqCst);
    assert_eq!(seen(&r.store, "thread-1", vec![]).len(), 1);
    // thread-2 has been idle 89 s: gone on access.
    assert_eq!(seen(&r.store, "thread-2", vec![]), vec![]);
    assert!(!r.root.join("thread-2").exists());
    // The sweep removes thread-1 once it is idle for the TTL, without anyone touching it.
    r.now.fetch_add(61, Ordering::SeqCst);
    assert!(r.root.join("thread-1").exists());
    r.store.sweep();
    assert!(!r.root.join("thread-1").exists());
    assert!(r.store.list(Some("thread-1")).contains("empty"));
}

#[test]
fn symlinks_and_contentless_outputs_are_not_kept() {
    let r = rig();
    let mut o = out(&[("real.txt", b"r")]);
    o.files.push(OutputFile {
        path: "remote.bin".into(),
        size: 99,
        mime: "application/octet-stream".into(),
        content: Vec::new(),
    });
    o.files.push(OutputFile {
        path: "../escape.txt".into(),
        size: 1,
        mime: "text/plain".into(),
        content: b"e".to_vec(),
    });
    r.store.after_run("thread-1", &user("1"), &[], &o);
    // Plant a symlink in the stored generation, as if the disk were tampered with.
    let generation = r.root.join("thread-1").join("g1");
    std::os::unix::fs::symlink("/etc/passwd", generation.join("passwd")).expect("symlink");
    assert_eq!(
        seen(&r.store, "thread-1", vec![]),
        vec![("real.txt".into(), b"r".to_vec())]
    );
    assert!(!r.root.join("escape.txt").exists());
}

#[test]
fn reset_is_for_the_starter_or_an_admin() {
    let r = rig();
    r.store
        .after_run("thread-1", &user("1"), &[], &out(&[("a.txt", b"a")]));
    let refused = r.store.reset(Some("thread-1"), &user("2"), false);
    assert!(refused.starts_with("🚫 only user-1"), "{refused}");
    assert_eq!(r.store.file_count("thread-1"), Some(1));
    let done = r.store.reset(Some("thread-1"), &user("2"), true);
    assert!(done.contains("removed 1 file"), "{done}");
    assert_eq!(r.store.file_count("thread-1"), Some(0));
    r.store
        .after_run("thread-1", &user("3"), &[], &out(&[("a.txt", b"a")]));
    let own = r.store.reset(Some("thread-1"), &user("3"), false);
    assert!(own.starts_with("🗑️ workspace cleared"), "{own}");
    assert!(r
        .store
        .reset(None, &user("3"), true)
        .contains("nothing to reset"));
}

#[test]
fn keys_follow_the_config() {
    let who = user("1");
    let thread = Place {
        channel: Some(5),
        thread: Some(9),
        ..Place::default()
    };
    let channel = Place {
        channel: Some(5),
        ..Place::default()
    };
    let console = Place {
        session: Some("local".into()),
        ..Place::default()
    };
    let mut c = WorkspaceConfig::default();
    assert_eq!(key_for(&c, &who, &thread).as_deref(), Some("thread-9"));
    assert_eq!(key_for(&c, &who, &channel), None);
    assert_eq!(
        key_for(&c, &who, &console).as_deref(),
        Some("discord-local")
    );
    c.channels = vec![5];
    assert_eq!(key_for(&c, &who, &channel).as_deref(), Some("channel-5"));
    c.threads = false;
    c.console = false;
    assert_eq!(key_for(&c, &who, &thread).as_deref(), Some("channel-5"));
    assert_eq!(key_for(&c, &who, &console), None);
    assert_eq!(sanitise_key("thread-9"), "thread-9");
    let odd = sanitise_key("console-../x");
    assert!(odd.starts_with("console-___x-"), "{odd}");
    assert_ne!(sanitise_key("console-a/b"), sanitise_key("console-a_b"));
}

#[tokio::test]
async fn one_key_is_serialised_and_others_are_not() {
    let r = rig();
    let a = r.store.lock("thread-1");
    let held = a.lock().await;
    assert!(r.store.lock("thread-1").try_lock().is_err());
    assert!(r.store.lock("thread-2").try_lock().is_ok());
    drop(held);
    assert!(r.store.lock("thread-1").try_lock().is_ok());
}
