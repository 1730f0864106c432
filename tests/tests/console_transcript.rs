//! End-to-end console transcripts: the real `coderunner console` binary, the real sandbox, input
//! piped in, replies read back exactly as they would be posted.

use coderunner_tests::console::{run_fresh, Transcript};

fn console(input: &str) -> Transcript {
    run_fresh(&["console"], input, |_| {})
}

#[test]
fn run_python_with_a_code_block() {
    let t = console("!run python\n```py\nprint('hello from the sandbox')\n```\n");
    assert!(t.success, "stderr: {}", t.stderr);
    let first = t.stdout.lines().next().unwrap_or("");
    assert!(first.starts_with("✅ **python 3."), "{}", t.stdout);
    assert!(first.contains("· exit code 0 ·"), "{first}");
    assert!(
        t.stdout.contains("```py\nhello from the sandbox\n```"),
        "{}",
        t.stdout
    );
}

#[test]
fn stdin_block_crlf_and_no_space_after_run() {
    let t = console("!run```py\r\nprint(input()[::-1])\r\n```\r\n```stdin\r\nstressed\r\n```\r\n");
    assert!(t.success, "stderr: {}", t.stderr);
    assert!(t.stdout.contains("```py\ndesserts\n```"), "{}", t.stdout);
}

#[test]
fn ten_thousand_lines_are_trimmed_and_the_full_log_saved() {
    let t = console("!run python\n```py\nfor i in range(1, 10001):\n    print(f'line {i}')\n```\n");
    assert!(t.success, "stderr: {}", t.stderr);
    assert!(t.stdout.contains("line 25\n```"), "{}", t.stdout);
    assert!(!t.stdout.contains("line 26\n"), "{}", t.stdout);
    assert!(
        t.stdout.contains("showing 25 of 10,000 lines"),
        "{}",
        t.stdout
    );
    let saved = t.out_dir().join("1-output.txt");
    assert!(
        t.stdout
            .contains("📎 output.txt saved to coderunner-out/1-output.txt"),
        "{}",
        t.stdout
    );
    let log = std::fs::read_to_string(&saved).expect("saved log");
    assert_eq!(log.lines().count(), 10_000);
    assert_eq!(log.lines().last(), Some("line 10000"));
    let reply: String = t.stdout.split("\n📎").next().unwrap_or("").to_string();
    assert!(reply.encode_utf16().count() <= 2000);
}

#[test]
fn sixth_run_within_a_minute_is_told_when_to_retry() {
    let one = "!run py `print(1)`\n";
    let t = console(&format!(":as alice\n{}", one.repeat(6)));
    assert!(t.success, "stderr: {}", t.stderr);
    assert!(t
        .stdout
        .contains("(console) you are now alice, roles: none"));
    assert_eq!(t.stdout.matches("✅ **python").count(), 5, "{}", t.stdout);
    assert!(
        t.stdout
            .contains("⏳ slow down: the `member` tier may run 5 times per 60 s; retry in "),
        "{}",
        t.stdout
    );
}

#[test]
fn privileged_refused_for_members_with_the_reason() {
    let t = console(":as bob member\n!run --privileged python\n```py\nprint(1)\n```\n");
    assert!(t.success, "stderr: {}", t.stderr);
    assert!(
        t.stdout.contains("🚫 `--privileged` is for admins only, and your tier is `member`; without it you get 10 s, 256 MiB, no network"),
        "{}",
        t.stdout
    );
}

#[test]
fn misspelt_language_gets_a_suggestion() {
    let t = console("!run pyhton\n```\nprint(1)\n```\n");
    assert!(
        t.stdout.contains(
            "❓ unknown language `pyhton`; did you mean **python**? `!langs` lists them all"
        ),
        "{}",
        t.stdout
    );
}

#[test]
fn attach_a_program_and_a_data_file() {
    let t = run_fresh(
        &["console"],
        ":attach sales.csv\n:attach analysis.py\n!run\n",
        |dir| {
            std::fs::write(dir.join("sales.csv"), "region,amount\nnorth,3\nsouth,4\n")
                .expect("csv");
            std::fs::write(
                dir.join("analysis.py"),
                "import csv\nrows = list(csv.DictReader(open('sales.csv')))\nprint('total', sum(int(r['amount']) for r in rows))\nopen('report.txt', 'w').write('ok\\n')\n",
            )
            .expect("py");
        },
    );
    assert!(t.success, "stderr: {}", t.stderr);
    assert!(t.stdout.contains("(console) sales.csv ("), "{}", t.stdout);
    assert!(t.stdout.contains("```py\ntotal 7\n```"), "{}", t.stdout);
    assert!(
        t.stdout
            .contains("📎 report.txt saved to coderunner-out/1-report.txt"),
        "{}",
        t.stdout
    );
    assert_eq!(
        std::fs::read_to_string(t.out_dir().join("1-report.txt")).expect("report"),
        "ok\n"
    );
}

#[test]
fn output_cannot_escape_its_block_or_ping() {
    let t = console(
        "!run py\n```py\nprint('```\\n@everyone <@123> <@&9> @here \\u202egnp.exe\\n```')\n```\n",
    );
    assert!(t.success, "stderr: {}", t.stderr);
    let reply = t.stdout.split("\n\n").next().unwrap_or("");
    assert_eq!(reply.matches("```").count(), 2, "{reply}");
    for ping in ["@everyone", "@here", "<@1", "<@&"] {
        assert!(!reply.contains(ping), "{ping} in {reply}");
    }
    assert!(
        !reply.contains('\u{202E}') && reply.contains("[U+202E]"),
        "{reply}"
    );
}

#[test]
fn crash_and_timeout_are_said_in_words() {
    let t = console(concat!(
        "!run py\n```py\nimport os, signal\nos.kill(os.getpid(), signal.SIGSEGV)\n```\n",
        "!run --timeout=1 py\n```py\nwhile True: pass\n```\n",
        "!run py\n```py\nraise SystemExit(3)\n```\n",
    ));
    assert!(t.success, "stderr: {}", t.stderr);
    assert!(t.stdout.contains("💥 **python"), "{}", t.stdout);
    assert!(
        t.stdout.contains("killed by SIGSEGV, segmentation fault"),
        "{}",
        t.stdout
    );
    assert!(t.stdout.contains("⏱️ **python"), "{}", t.stdout);
    assert!(t.stdout.contains("timed out after 1 s"), "{}", t.stdout);
    assert!(t.stdout.contains("❌ **python"), "{}", t.stdout);
    assert!(t.stdout.contains("· exit code 3 ·"), "{}", t.stdout);
}

#[test]
fn expected_block_verdict() {
    let t = console(concat!(
        "!run py\n```py\nprint(6 * 7)\n```\n```expected\n42\n```\n",
        "!run py\n```py\nprint(6 * 9)\n```\n```expected\n42\n```\n",
    ));
    assert!(
        t.stdout.contains("✅ output matches `expected`"),
        "{}",
        t.stdout
    );
    assert!(
        t.stdout
            .contains("❌ output differs from `expected` at line 1"),
        "{}",
        t.stdout
    );
    assert!(t.stdout.contains("- 42\n+ 54\n"), "{}", t.stdout);
}

#[test]
fn open_fence_at_eof_is_still_answered_and_the_console_exits() {
    let t = console("!run py\n```py\nprint('no closing fence')");
    assert!(t.success, "stderr: {}", t.stderr);
    assert!(t.stdout.contains("no closing fence\n```"), "{}", t.stdout);
}

#[test]
fn runs_help_and_audit_database() {
    let t = console("!run py `print(1)`\n!runs\n!help\n");
    assert!(t.success, "stderr: {}", t.stderr);
    assert!(t.stdout.contains("📋 last 1 entry"), "{}", t.stdout);
    assert!(
        t.stdout.contains("console (admin) · python · exited 0"),
        "{}",
        t.stdout
    );
    assert!(t.stdout.contains("`!help COMMAND`"), "{}", t.stdout);
    assert!(t.dir.join("coderunner-data/audit.sqlite").is_file());
}

#[test]
fn no_subcommand_without_a_token_opens_the_console_with_a_banner() {
    let t = run_fresh(&[], "!run py `print(2**10)`\n", |_| {});
    assert!(t.success, "stderr: {}", t.stderr);
    assert!(
        t.stderr
            .contains("DISCORD_TOKEN is not set, opening the local console"),
        "{}",
        t.stderr
    );
    let banner = t.stdout.lines().next().unwrap_or("");
    assert!(
        banner.starts_with("coderunner console — type !run py"),
        "{banner}"
    );
    assert!(
        banner.contains(":as USER ROLE,ROLE") && banner.contains(":attach FILE"),
        "{banner}"
    );
    assert!(t.stdout.contains("```py\n1024\n```"), "{}", t.stdout);
}
