//! Golden replies for each status, escape attempts and the 2,000-character limit.

use coderunner_config::{Config, OutputConfig, Profile};
use coderunner_runner::{CompileOutcome, OutputFile, RunOutcome, RunStatus};

use super::*;

fn config() -> Config {
    Config::embedded_default().expect("default config")
}

fn limits() -> Profile {
    config()
        .profile("default")
        .expect("default profile")
        .clone()
}

fn outcome(status: RunStatus, exit: Option<i32>, output: &str) -> RunOutcome {
    RunOutcome {
        status,
        exit_code: exit,
        signal: None,
        stdout: output.to_string(),
        stderr: String::new(),
        output: output.to_string(),
        truncated: false,
        wall_ms: 41,
        cpu_ms: 30,
        peak_memory_bytes: Some(9_961_472),
        files: Vec::new(),
        compile: None,
        error: None,
    }
}

fn render_with(o: &RunOutcome, expected: Option<&str>, out: &OutputConfig) -> Rendered {
    let limits = limits();
    render_run(
        &RunView {
            language: "python",
            version: Some("3.11.2"),
            highlight: "py",
            limits: &limits,
            outcome: o,
            expected,
        },
        out,
        10 << 20,
    )
}

fn render(o: &RunOutcome) -> Rendered {
    render_with(o, None, &config().output)
}

#[test]
fn golden_success() {
    let r = render(&outcome(RunStatus::Exited, Some(0), "hello\n"));
    assert_eq!(
        r.reply.content,
        "✅ **python 3.11.2** · exit code 0 · 41 ms · 9.5 MiB peak\n```py\nhello\n```"
    );
    assert!(r.reply.files.is_empty());
}

#[test]
fn golden_exit_code() {
    let r = render(&outcome(
        RunStatus::Exited,
        Some(3),
        "Traceback...\nValueError: x\n",
    ));
    assert_eq!(
        r.reply.content,
        "❌ **python 3.11.2** · exit code 3 · 41 ms · 9.5 MiB peak\n```py\nTraceback...\nValueError: x\n```"
    );
}

#[test]
fn golden_signal() {
    let mut o = outcome(RunStatus::Signaled, None, "");
    o.signal = Some("SIGSEGV".into());
    let r = render(&o);
    assert_eq!(
        r.reply.content,
        "💥 **python 3.11.2** · killed by SIGSEGV, segmentation fault · 41 ms · 9.5 MiB peak\n*(no output)*"
    );
}

#[test]
fn golden_timeout() {
    let mut o = outcome(RunStatus::Timeout, None, "tick\n");
    o.wall_ms = 10_003;
    let r = render(&o);
    assert_eq!(
        r.reply.content,
        "⏱️ **python 3.11.2** · timed out after 10 s · 10.00 s · 9.5 MiB peak\n```py\ntick\n```"
    );
}

#[test]
fn golden_memory() {
    let mut o = outcome(RunStatus::MemoryLimit, None, "MemoryError\n");
    o.peak_memory_bytes = Some(256 << 20);
    let r = render(&o);
    assert_eq!(
        r.reply.content,
        "🧠 **python 3.11.2** · memory limit 256 MiB exceeded · 41 ms · 256 MiB peak\n```py\nMemoryError\n```"
    );
}

#[test]
fn golden_output_limit() {
    let mut o = outcome(RunStatus::OutputLimit, None, "y\n");
    o.truncated = true;
    let r = render(&o);
    assert_eq!(
        r.reply.content,
        "✂️ **python 3.11.2** · output cut at 1 MiB, program stopped · 41 ms · 9.5 MiB peak\n```py\ny\n```\n✂️ the full log (`output.txt`) ends where the output was cut"
    );
    assert_eq!(r.reply.files.len(), 1);
    assert_eq!(r.reply.files[0].name, "output.txt");
}

#[test]
fn golden_compile_error() {
    let mut o = outcome(RunStatus::CompileError, None, "");
    o.compile = Some(CompileOutcome {
        status: RunStatus::Exited,
        exit_code: Some(1),
        stdout: String::new(),
        stderr: "main.c:1:1: error: expected ';'\n".into(),
        wall_ms: 120,
    });
    o.peak_memory_bytes = None;
    let r = render(&o);
    assert_eq!(
        r.reply.content,
        "🛠️ **python 3.11.2** · compile error (exit code 1) · 120 ms\n```py\nmain.c:1:1: error: expected ';'\n```"
    );
}

#[test]
fn golden_sandbox_error() {
    let mut o = RunOutcome::sandbox_error("cannot create cgroup");
    o.output = String::new();
    let r = render(&o);
    assert_eq!(
        r.reply.content,
        "⚠️ **python** · the sandbox could not run this: cannot create cgroup. That is a problem on the bot's side, not in your code; tell the bot's operator if it persists.\n*(no output)*"
    );
}

#[test]
fn escape_attempts_stay_inside_the_block() {
    let evil = "```\n@everyone <@123> <@&456> @here\n\u{202E}txt.exe\n``````\n`\u{200B}``";
    let r = render(&outcome(RunStatus::Exited, Some(0), evil));
    let c = &r.reply.content;
    // Exactly our two fences.
    assert_eq!(c.matches("```").count(), 2, "{c}");
    assert!(!c.contains("``\n") && !c.contains("`\u{200B}``"), "{c}");
    for ping in ["@everyone", "@here", "<@1", "<@&"] {
        assert!(!c.contains(ping), "{ping} in {c}");
    }
    assert!(!c.contains('\u{202E}'), "{c}");
    assert!(c.contains("[U+202E]"));
    assert!(c.ends_with("\n```"));
}

#[test]
fn long_output_is_trimmed_with_log() {
    let text: String = (1..=10_000).map(|i| format!("line {i}\n")).collect();
    let r = render(&outcome(RunStatus::Exited, Some(0), &text));
    let c = &r.reply.content;
    assert!(chat_len(c) <= MAX_REPLY_CHARS);
    assert!(c.contains("line 25\n```"), "{c}");
    assert!(!c.contains("line 26"));
    assert!(c.contains("showing 25 of 10,000 lines"), "{c}");
    assert!(r.cut);
    let log = &r.reply.files[0];
    assert_eq!(log.name, "output.txt");
    assert_eq!(
        String::from_utf8_lossy(&log.content).lines().count(),
        10_000
    );
}

#[test]
fn wide_output_is_cut_by_chars() {
    let text = "é".repeat(5000);
    let r = render(&outcome(RunStatus::Exited, Some(0), &text));
    assert!(chat_len(&r.reply.content) <= MAX_REPLY_CHARS);
    assert!(
        r.reply
            .content
            .contains("long output cut to 1,500 characters"),
        "{}",
        r.reply.content
    );
}

#[test]
fn everything_at_once_still_fits() {
    let mut o = outcome(
        RunStatus::Exited,
        Some(1),
        &"`@everyone\u{202E}".repeat(3000),
    );
    o.stdout = "x".repeat(300) + "\n" + &"y".repeat(300);
    o.files = (0..30)
        .map(|i| OutputFile {
            path: format!("{}{i}.bin", "n".repeat(90)),
            size: 20 << 20,
            mime: "application/octet-stream".into(),
            content: vec![0; 20 << 20],
        })
        .take(3)
        .collect();
    let r = render_with(
        &o,
        Some(&("z".repeat(300) + "\n" + &"w".repeat(300))),
        &config().output,
    );
    assert!(
        chat_len(&r.reply.content) <= MAX_REPLY_CHARS,
        "{}",
        chat_len(&r.reply.content)
    );
    assert_eq!(r.reply.content.matches("```").count() % 2, 0);
}

#[test]
fn files_attached_and_skipped_with_reasons() {
    let mut o = outcome(RunStatus::Exited, Some(0), "saved\n");
    o.files = vec![
        OutputFile {
            path: "plot.png".into(),
            size: 4,
            mime: "image/png".into(),
            content: b"\x89PNG".to_vec(),
        },
        OutputFile {
            path: "big.bin".into(),
            size: 9 << 20,
            mime: "application/octet-stream".into(),
            content: vec![1; 9 << 20],
        },
        OutputFile {
            path: "out/data.csv".into(),
            size: 4,
            mime: "text/csv".into(),
            content: b"a,b\n".to_vec(),
        },
    ];
    let r = render(&o);
    let names: Vec<&str> = r.reply.files.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, vec!["plot.png", "out_data.csv"]);
    assert!(
        r.reply
            .content
            .contains("⚠️ not attached: `big.bin` (9 MiB, over the 8 MiB per-file limit)"),
        "{}",
        r.reply.content
    );
}

#[test]
fn always_attach_log_when_configured() {
    let mut out = config().output;
    out.attach_full_log = true;
    let r = render_with(&outcome(RunStatus::Exited, Some(0), "hi\n"), None, &out);
    assert_eq!(r.reply.files.len(), 1);
    assert_eq!(r.reply.files[0].content, b"hi\n");
}

#[test]
fn expected_verdicts() {
    let ok = render_with(
        &outcome(RunStatus::Exited, Some(0), "42\n"),
        Some("42"),
        &config().output,
    );
    assert!(
        ok.reply.content.ends_with("\n✅ output matches `expected`"),
        "{}",
        ok.reply.content
    );
    let bad = render_with(
        &outcome(RunStatus::Exited, Some(0), "41\n"),
        Some("42"),
        &config().output,
    );
    assert!(
        bad.reply
            .content
            .contains("❌ output differs from `expected` at line 1"),
        "{}",
        bad.reply.content
    );
    assert!(bad.reply.content.contains("- 42\n+ 41\n"));
}
