//! The chat pipeline end to end with a fake runner: what reaches the runner, refusals with their
//! reasons, attachments, and the audit rows written for runs and refusals.

mod pipeline_support;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use coderunner_commands::{DirectRun, Place, Platform, RefusalKind, RequestedLimits};
use coderunner_runner::InputFile;
use pipeline_support::*;

#[tokio::test]
async fn a_run_reaches_the_runner_and_replies() {
    let rig = rig();
    let reply = rig
        .send(msg(
            member("1"),
            "!run --timeout=5 py one 'two words'\n```py\nprint(input())\n```\n```stdin\nhello\n```",
        ))
        .await;
    assert!(
        reply.content.starts_with("✅ **python"),
        "{}",
        reply.content
    );
    assert!(
        reply.content.contains("```py\nran with stdin: hello\n```"),
        "{}",
        reply.content
    );
    let reqs = rig.runner.requests.lock().expect("requests");
    let req = &reqs[0];
    assert_eq!(req.language, "python");
    assert_eq!(req.files.len(), 1);
    assert_eq!(req.files[0].path, "main.py");
    assert_eq!(req.files[0].content, b"print(input())\n");
    assert_eq!(req.stdin, b"hello\n");
    assert_eq!(req.args, vec!["one", "two words"]);
    assert_eq!(req.limits.wall_time.as_duration(), Duration::from_secs(5));
    assert!(!req.limits.network);
}

#[tokio::test]
async fn not_addressed_messages_get_no_reply() {
    let rig = rig();
    let none = rig
        .pipeline
        .handle(
            msg(member("1"), "just chatting"),
            &coderunner_commands::NoProgress,
        )
        .await;
    assert!(none.is_none());
}

#[tokio::test]
async fn unknown_language_suggests_and_points_to_langs() {
    let rig = rig();
    let reply = rig
        .send(msg(member("1"), "!run pyhton\n```\nprint(1)\n```"))
        .await;
    assert_eq!(
        reply.content,
        "❓ unknown language `pyhton`; did you mean **python**? `!langs` lists them all"
    );
    assert!(rig.runner.requests.lock().expect("r").is_empty());
}

#[tokio::test]
async fn no_code_gets_usage() {
    let rig = rig();
    let reply = rig.send(msg(member("1"), "!run python")).await;
    assert!(
        reply.content.starts_with("❓ nothing to run"),
        "{}",
        reply.content
    );
    assert!(reply.content.contains("!help run"));
}

#[tokio::test]
async fn privileged_is_for_admins_only() {
    let rig = rig();
    let reply = rig
        .send(msg(
            member("1"),
            "!run --privileged python\n```py\nprint(1)\n```",
        ))
        .await;
    assert_eq!(
        reply.content,
        "🚫 `--privileged` is for admins only, and your tier is `member`; without it you get 10 s, 256 MiB, no network"
    );
    let reply = rig
        .send(msg(
            with_role("2", "admin"),
            "!run --privileged python\n```py\nprint(1)\n```",
        ))
        .await;
    assert!(reply.content.starts_with("✅"), "{}", reply.content);
    let reqs = rig.runner.requests.lock().expect("r");
    assert_eq!(reqs.len(), 1);
    assert!(reqs[0].limits.network, "the privileged profile has network");
}

#[tokio::test]
async fn limits_only_lower_or_raise_to_the_tier_max() {
    let rig = rig();
    let reply = rig
        .send(msg(member("1"), "!run --timeout=30 py `print(1)`"))
        .await;
    assert_eq!(
        reply.content,
        "🚫 `--timeout=30` is more than the `member` tier allows (at most 10 s); use `--timeout=10` or less"
    );
    let reply = rig
        .send(msg(member("1"), "!run --memory=2GiB py `print(1)`"))
        .await;
    assert!(
        reply.content.contains("at most 256 MiB"),
        "{}",
        reply.content
    );
    // The data tier may raise up to its own max profile (60 s, 1 GiB).
    let reply = rig
        .send(msg(
            with_role("3", "data"),
            "!run --timeout=45 --memory=512MiB py `print(1)`",
        ))
        .await;
    assert!(reply.content.starts_with("✅"), "{}", reply.content);
    // Lowering always works.
    let reply = rig
        .send(msg(
            member("1"),
            "!run --timeout=2 --memory=64MiB py `print(1)`",
        ))
        .await;
    assert!(reply.content.starts_with("✅"), "{}", reply.content);
    let reqs = rig.runner.requests.lock().expect("r");
    assert_eq!(
        reqs[0].limits.wall_time.as_duration(),
        Duration::from_secs(45)
    );
    assert_eq!(reqs[0].limits.memory.bytes(), 512 << 20);
    assert_eq!(
        reqs[1].limits.wall_time.as_duration(),
        Duration::from_secs(2)
    );
    assert!(reqs[1].limits.cpu_time.as_duration() <= Duration::from_secs(2));
    assert_eq!(reqs[1].limits.memory.bytes(), 64 << 20);
}

#[tokio::test]
async fn places_dms_allowlists_and_threads() {
    let mut c = config();
    c.access.channels = vec![10];
    c.access.dms = false;
    let rig = rig_with(c, FakeRunner::default());
    // DMs are off.
    let mut m = msg(member("1"), "!run py `print(1)`");
    m.place = Place {
        is_dm: true,
        ..Place::default()
    };
    let reply = rig.send(m).await;
    assert!(
        reply.content.contains("direct messages"),
        "{}",
        reply.content
    );
    // Another channel: told where runs are allowed.
    let mut m = msg(member("1"), "!run py `print(1)`");
    m.place.channel = Some(11);
    let reply = rig.send(m).await;
    assert_eq!(
        reply.content,
        "🚫 I don't run code in this channel; try <#10> (threads under those channels work too)"
    );
    // A thread under the allowed channel inherits it.
    let mut m = msg(member("1"), "!run py `print(1)`");
    m.place.thread = Some(99);
    let reply = rig.send(m).await;
    assert!(reply.content.starts_with("✅"), "{}", reply.content);
}

#[tokio::test]
async fn guild_allowlist_and_no_default_tier() {
    let mut c = config();
    c.access.guilds = vec![7];
    c.access.default_tier = None;
    let rig = rig_with(c, FakeRunner::default());
    let reply = rig.send(msg(member("1"), "!run py `print(1)`")).await;
    assert!(reply.content.contains("this server"), "{}", reply.content);
    let mut m = msg(member("1"), "!run py `print(1)`");
    m.place.guild = Some(7);
    let reply = rig.send(m).await;
    assert_eq!(
        reply.content,
        "🚫 you need one of these roles to run code: role id 1180000000000000101, role id 1180000000000000102"
    );
}

#[tokio::test]
async fn attachment_program_and_data_files() {
    let rig = rig();
    let files = Arc::new(MemFiles::default());
    let mut m = msg(member("1"), "!run");
    m.attachments = vec![
        files.add("../sales data.csv", b"a,b\n1,2\n"),
        files.add("analysis.py", b"print(open('sales_data.csv').read())\n"),
    ];
    let reply = rig.send(m).await;
    assert!(
        reply.content.starts_with("✅ **python"),
        "{}",
        reply.content
    );
    let reqs = rig.runner.requests.lock().expect("r");
    let paths: Vec<&str> = reqs[0].files.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(paths, vec!["analysis.py", "sales_data.csv"]);
    assert_eq!(reqs[0].main.as_deref(), Some("analysis.py"));
}

#[tokio::test]
async fn attachment_next_to_a_code_block_cannot_replace_the_program() {
    let rig = rig();
    let files = Arc::new(MemFiles::default());
    let mut m = msg(member("1"), "!run py `print(1)`");
    m.attachments = vec![files.add("main.py", b"import os\n")];
    rig.send(m).await;
    let reqs = rig.runner.requests.lock().expect("r");
    let main = reqs[0]
        .files
        .iter()
        .find(|f| f.path == "main.py")
        .expect("main.py");
    assert_eq!(main.content, b"print(1)\n");
    assert!(reqs[0].files.iter().any(|f| f.path == "main-2.py"));
}

#[tokio::test]
async fn attachment_limits() {
    let rig = rig();
    let files = Arc::new(MemFiles::default());
    // Declared too large: refused before any download.
    let mut m = msg(member("1"), "!run");
    m.attachments = vec![files.add_declared("big.py", b"x", 100 << 20)];
    let reply = rig.send(m).await;
    assert_eq!(
        reply.content,
        "❓ `big.py` is 100 MiB, over the 16 MiB limit per file; attach a smaller file"
    );
    assert_eq!(files.fetches.load(Ordering::SeqCst), 0);
    // Declared small but actually large: caught while streaming.
    let mut m = msg(member("1"), "!run");
    m.attachments = vec![files.add_declared("liar.py", &vec![b'#'; 17 << 20], 10)];
    let reply = rig.send(m).await;
    assert!(
        reply.content.contains("over the 16 MiB limit"),
        "{}",
        reply.content
    );
    // Too many.
    let mut m = msg(member("1"), "!run");
    m.attachments = (0..11)
        .map(|i| files.add(&format!("f{i}.txt"), b"x"))
        .collect();
    let reply = rig.send(m).await;
    assert!(
        reply.content.contains("11 attachments is too many"),
        "{}",
        reply.content
    );
    // Binary posing as source.
    let mut m = msg(member("1"), "!run");
    m.attachments = vec![files.add("tool.py", b"\x7fELF\x02\x01\x01\x00\x00\x00")];
    let reply = rig.send(m).await;
    assert!(
        reply.content.contains("looks like a binary file"),
        "{}",
        reply.content
    );
    // Not UTF-8.
    let mut m = msg(member("1"), "!run");
    m.attachments = vec![files.add("latin1.py", b"print('caf\xe9')\n")];
    let reply = rig.send(m).await;
    assert!(
        reply.content.contains("is not UTF-8 text"),
        "{}",
        reply.content
    );
    // No program among the attachments.
    let mut m = msg(member("1"), "!run");
    m.attachments = vec![files.add("data.csv", b"1")];
    let reply = rig.send(m).await;
    assert!(
        reply
            .content
            .contains("none of the attachments (`data.csv`)"),
        "{}",
        reply.content
    );
    assert!(rig.runner.requests.lock().expect("r").is_empty());
}

#[tokio::test]
async fn audit_rows_for_runs_and_refusals() {
    let rig = rig();
    rig.send(msg(member("1"), "!run py\n```py\nprint('audited')\n```"))
        .await;
    rig.send(msg(member("1"), "!run --privileged py `print(1)`"))
        .await;
    rig.send(msg(member("1"), "!run cobol `x`")).await;
    let rows = rig.pipeline.audit().recent(10).expect("rows");
    assert_eq!(rows.len(), 3);
    let (unknown, privileged, run) = (&rows[0].record, &rows[1].record, &rows[2].record);
    assert_eq!(run.status, "exited");
    assert_eq!(run.exit_code, Some(0));
    assert_eq!(run.platform, "discord");
    assert_eq!(run.user_id, "1");
    assert_eq!((run.guild, run.channel), (Some(1), Some(10)));
    assert_eq!(run.tier.as_deref(), Some("member"));
    assert_eq!(run.language.as_deref(), Some("python"));
    assert_eq!(run.code.as_deref(), Some("print('audited')\n"));
    assert_eq!(rows[2].code_bytes, Some(17));
    assert_eq!(
        rows[2].code_sha256.as_deref(),
        Some("ed23cbc5bf6cecb09c0ec948584c32d4fe24b542ae33e6444159577be91b0949")
    );
    assert_eq!(run.wall_ms, Some(12));
    assert_eq!(run.output_bytes, Some("ran with stdin: ".len() as u64));
    assert!(!run.truncated);
    assert_eq!(privileged.status, "refused");
    assert!(privileged.privileged);
    assert_eq!(privileged.refusal_kind.as_deref(), Some("not_allowed"));
    assert!(privileged
        .refusal_reason
        .as_deref()
        .is_some_and(|r| r.contains("admins only")));
    assert_eq!(unknown.refusal_kind.as_deref(), Some("unknown_language"));
}

#[tokio::test]
async fn audit_code_is_capped_and_retention_applies() {
    let mut c = config();
    c.audit.code_cap = coderunner_config::ByteSize(10);
    let rig = rig_with(c, FakeRunner::default());
    rig.send(msg(member("1"), "!run py `print('a long line of code')`"))
        .await;
    let rows = rig.pipeline.audit().recent(1).expect("rows");
    assert_eq!(rows[0].record.code.as_deref(), Some("print('a l"));
    assert_eq!(rows[0].code_bytes, Some(29));
    // Rows past the retention period go at the next housekeeping.
    rig.pipeline
        .audit()
        .age_all_rows(Duration::from_secs(31 * 86_400))
        .expect("age");
    rig.send(msg(member("1"), "!run py `print(2)`")).await;
    rig.pipeline.housekeeping();
    assert_eq!(rig.pipeline.audit().count().expect("count"), 1);
}

#[tokio::test]
async fn runs_is_for_admins() {
    let rig = rig();
    rig.send(msg(member("1"), "!run py `print(1)`")).await;
    let reply = rig.send(msg(member("1"), "!runs")).await;
    assert_eq!(
        reply.content,
        "🚫 `!runs` is for admins, and your tier is `member`"
    );
    let reply = rig.send(msg(with_role("9", "Admin"), "!runs 5")).await;
    assert!(
        reply.content.starts_with("📋 last 1 entry"),
        "{}",
        reply.content
    );
    assert!(
        reply
            .content
            .contains("user-1 (member) · python · exited 0"),
        "{}",
        reply.content
    );
}

#[tokio::test]
async fn help_langs_and_workspace_commands() {
    let rig = rig();
    let help = rig.send(msg(member("1"), "!help")).await;
    assert!(help.content.contains("!run [LANG]"), "{}", help.content);
    let run_help = rig.send(msg(member("1"), "!help run")).await;
    assert!(
        run_help.content.contains("--timeout=SECS"),
        "{}",
        run_help.content
    );
    assert!(run_help.content.contains("Examples"));
    let langs = rig.send(msg(member("1"), "!langs")).await;
    assert!(langs.content.contains("**python**"), "{}", langs.content);
    assert!(
        langs.content.contains("aliases: py, python3, py3"),
        "{}",
        langs.content
    );
    let files = rig.send(msg(member("1"), "!files")).await;
    assert!(
        files.content.contains("not enabled yet"),
        "{}",
        files.content
    );
    let reset = rig.send(msg(member("1"), "!reset")).await;
    assert!(
        reset.content.contains("not enabled yet"),
        "{}",
        reset.content
    );
    for r in [&help, &run_help, &langs, &files, &reset] {
        assert!(r.content.encode_utf16().count() <= 2000);
    }
}

#[tokio::test]
async fn direct_runs_share_access_and_audit() {
    let rig = rig();
    let who = coderunner_commands::Identity {
        platform: Platform::Http,
        user_id: "key:ci".into(),
        display: "ci".into(),
        roles: Vec::new(),
    };
    let req = |privileged: bool, language: &str| DirectRun {
        who: who.clone(),
        tier: "member".into(),
        language: language.into(),
        files: vec![InputFile {
            path: "main.py".into(),
            content: b"print(1)\n".to_vec(),
        }],
        main: None,
        stdin: b"in".to_vec(),
        args: vec![],
        env: vec![],
        environment: None,
        limits: RequestedLimits::default(),
        privileged,
        profile: None,
    };
    let outcome = rig
        .pipeline
        .run_direct(req(false, "py"), &coderunner_commands::NoProgress)
        .await
        .expect("runs");
    assert_eq!(outcome.stdout, "ran with stdin: in");
    let refused = rig
        .pipeline
        .run_direct(req(true, "py"), &coderunner_commands::NoProgress)
        .await
        .expect_err("member may not be privileged");
    assert_eq!(refused.kind, RefusalKind::NotAllowed);
    let unknown = rig
        .pipeline
        .run_direct(req(false, "pyhton"), &coderunner_commands::NoProgress)
        .await
        .expect_err("unknown language");
    assert_eq!(unknown.kind, RefusalKind::UnknownLanguage);
    assert!(unknown.message.contains("did you mean **python**"));
    let rows = rig.pipeline.audit().recent(10).expect("rows");
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[2].record.platform, "http");
    assert_eq!(rows[2].record.status, "exited");
}
