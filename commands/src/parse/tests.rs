//! Tests of the chat grammar, including a property test that parsing never panics.

use std::time::Duration;

use proptest::prelude::*;

use super::*;

fn run(text: &str) -> RunCommand {
    match parse("!", text) {
        Some(Command::Run(r)) => r,
        other => panic!("expected a run for {text:?}, got {other:?}"),
    }
}

#[test]
fn not_addressed() {
    assert_eq!(parse("!", "hello"), None);
    assert_eq!(parse("!", "!ban someone"), None);
    assert_eq!(parse("", "!run py"), None);
}

#[test]
fn fenced_with_tag() {
    let r = run("!run\n```py\nprint('hi')\n```");
    assert_eq!(r.language, None);
    assert_eq!(r.code_tag.as_deref(), Some("py"));
    assert_eq!(r.code.as_deref(), Some("print('hi')\n"));
}

#[test]
fn env_block_beside_the_program() {
    let r = run("!run py\n```py\nimport os\n```\n```env\n# greeting\nGREETING=hello = world\n\nexport EMPTY=\n```");
    assert_eq!(r.code.as_deref(), Some("import os\n"));
    assert_eq!(
        r.env,
        vec![
            ("GREETING".to_string(), "hello = world".to_string()),
            ("EMPTY".to_string(), String::new())
        ]
    );
}

#[test]
fn env_block_refusals_say_why() {
    let refused = |text: &str| match parse("!", text) {
        Some(Command::RunError(e)) => e.to_string(),
        other => panic!("expected a refusal for {text:?}, got {other:?}"),
    };
    let e = refused("!run py\n```py\n1\n```\n```env\nLD_PRELOAD=/tmp/x.so\n```");
    assert!(e.contains("LD_PRELOAD") && e.contains("loaded"), "{e}");
    let e = refused("!run py\n```py\n1\n```\n```env\nPYTHONPATH=/tmp\n```");
    assert!(e.contains("PYTHONPATH") && e.contains("Python"), "{e}");
    let e = refused("!run py\n```py\n1\n```\n```env\n1ABC=x\n```");
    assert!(
        e.contains("`1ABC` is not an environment variable name"),
        "{e}"
    );
    let e = refused("!run py\n```py\n1\n```\n```env\njust words\n```");
    assert!(e.contains("line 1") && e.contains("KEY=value"), "{e}");
    let e = refused("!run py\n```py\n1\n```\n```env\nA=1\n```\n```env\nB=2\n```");
    assert!(e.contains("two ```env blocks"), "{e}");
}

#[test]
fn tilde_fences_and_case_insensitive_command() {
    let r = run("!RUN python\n~~~\nprint(1)\n~~~");
    assert_eq!(r.language.as_deref(), Some("python"));
    assert_eq!(r.code.as_deref(), Some("print(1)\n"));
}

#[test]
fn no_space_after_run() {
    let r = run("!run```py\nprint(1)```");
    assert_eq!(r.code_tag.as_deref(), Some("py"));
    assert_eq!(r.code.as_deref(), Some("print(1)\n"));
}

#[test]
fn code_containing_backticks() {
    let r = run("!run sh\n```sh\necho `date` \"``\"\nx='```'\n```");
    assert_eq!(r.code.as_deref(), Some("echo `date` \"``\"\nx='```'\n"));
    let r = run("!run md\n````\nthree ``` inside\n````");
    assert_eq!(r.code.as_deref(), Some("three ``` inside\n"));
}

#[test]
fn inline_code() {
    let r = run("!run py `print(2**10)`");
    assert_eq!(r.language.as_deref(), Some("py"));
    assert_eq!(r.code.as_deref(), Some("print(2**10)\n"));
    let r = run("!run js ``console.log(`x`)``");
    assert_eq!(r.code.as_deref(), Some("console.log(`x`)\n"));
}

#[test]
fn stdin_and_expected_blocks() {
    let r =
        run("!run py\n```py\nprint(input())\n```\n```stdin\nhello\n```\n```expected\nhello\n```");
    assert_eq!(r.stdin.as_deref(), Some("hello\n"));
    assert_eq!(r.expected.as_deref(), Some("hello"));
    let r = run("!run py\n```\nx\n```\n```INPUT\nabc```");
    assert_eq!(r.stdin.as_deref(), Some("abc\n"));
}

#[test]
fn flags_language_and_args() {
    let r = run(
        "!run --privileged --timeout=5 --memory=128MiB python a \"b c\" --verbose\n```\nx\n```",
    );
    assert!(r.flags.privileged);
    assert_eq!(r.flags.timeout, Some(Duration::from_secs(5)));
    assert_eq!(r.flags.memory, Some(128 << 20));
    assert_eq!(r.language.as_deref(), Some("python"));
    assert_eq!(r.args, vec!["a", "b c", "--verbose"]);
    let r = run("!run --timeout=1.5 --TIMEOUT=2m py `x`");
    assert_eq!(r.flags.timeout, Some(Duration::from_secs(120)));
}

#[test]
fn env_flag_names_a_set_before_the_language() {
    let r = run("!run --env=ML --timeout=3 py --env=other\n```\nx\n```");
    assert_eq!(r.flags.env_set.as_deref(), Some("ml"));
    assert_eq!(r.language.as_deref(), Some("py"));
    // After the language it is the program's own argument.
    assert_eq!(r.args, vec!["--env=other"]);
    assert_eq!(
        run("!run --env=none py `x`").flags.env_set.as_deref(),
        Some("none")
    );
    assert_eq!(run("!run py `x`").flags.env_set, None);
}

#[test]
fn bad_flags_are_explained() {
    for (text, needle) in [
        ("!run --fast py `x`", "unknown flag `--fast`"),
        ("!run --timeout=soon py `x`", "--timeout"),
        ("!run --memory=lots py `x`", "--memory"),
        ("!run --memory py `x`", "--memory"),
        ("!run --timeout=0 py `x`", "--timeout"),
        (
            "!run --env py `x`",
            "`--env` needs the name of a package set",
        ),
        ("!run --env= py `x`", "--env=ml"),
        ("!run --env=../etc py `x`", "--env"),
        ("!run --envs=ml py `x`", "--env=SET"),
    ] {
        match parse("!", text) {
            Some(Command::RunError(e)) => assert!(e.to_string().contains(needle), "{text}: {e}"),
            other => panic!("{text}: {other:?}"),
        }
    }
}

#[test]
fn crlf_and_zero_width() {
    let r = run("!run\u{200B} py\r\n```py\r\nprint(1)\r\nprint(2)\r\n```\r\n");
    assert_eq!(r.language.as_deref(), Some("py"));
    assert_eq!(r.code.as_deref(), Some("print(1)\nprint(2)\n"));
    let r = run("\u{FEFF}!run py\n`\u{200B}`\u{200B}`\nprint(3)\n```");
    assert_eq!(r.code.as_deref(), Some("print(3)\n"));
}

#[test]
fn bare_code_lines_after_header() {
    let r = run("!run py\nfor i in range(2):\n    print(i)");
    assert_eq!(
        r.code.as_deref(),
        Some("for i in range(2):\n    print(i)\n")
    );
    let r = run("!run sh\necho `date`");
    assert_eq!(r.code.as_deref(), Some("echo `date`\n"));
}

#[test]
fn no_code_is_none() {
    let r = run("!run python");
    assert_eq!(r.code, None);
    assert_eq!(r.language.as_deref(), Some("python"));
}

#[test]
fn several_programs_are_refused() {
    assert!(matches!(
        parse("!", "!run\n```py\na\n```\n```py\nb\n```"),
        Some(Command::RunError(ParseError::SeveralPrograms(2)))
    ));
}

#[test]
fn unclosed_fence_runs_to_end() {
    let r = run("!run py\n```py\nprint(1)\n");
    assert_eq!(r.code.as_deref(), Some("print(1)\n"));
}

#[test]
fn other_commands() {
    assert_eq!(parse("!", "!langs"), Some(Command::Languages));
    assert_eq!(
        parse("!", "!help !run"),
        Some(Command::Help {
            topic: Some("run".into())
        })
    );
    assert_eq!(
        parse("!", "!runs 5"),
        Some(Command::Runs { count: Some(5) })
    );
    assert_eq!(parse("!", "!runs"), Some(Command::Runs { count: None }));
    assert_eq!(parse("!", "!files"), Some(Command::Files));
    assert_eq!(parse("!", "!reset"), Some(Command::Reset));
    assert!(matches!(parse("?", "?run py `1`"), Some(Command::Run(_))));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn never_panics(s in "\\PC*") {
        let _ = parse("!", &s);
        let _ = parse("!", &format!("!run {s}"));
    }

    #[test]
    fn never_panics_on_fence_soup(parts in proptest::collection::vec(
        prop_oneof![
            Just("```".to_string()), Just("~~~".to_string()), Just("`".to_string()),
            Just("\n".to_string()), Just("\r\n".to_string()), Just("py".to_string()),
            Just("stdin".to_string()), Just("--timeout=".to_string()), Just("\"".to_string()),
            Just("\u{200B}".to_string()), Just("é😀".to_string()), "[a-z ]{0,5}",
        ], 0..40)) {
        let s: String = parts.concat();
        let _ = parse("!", &format!("!run{s}"));
    }

    #[test]
    fn fenced_code_round_trips(code in "[a-zA-Z0-9 =()+'\\n]{1,200}") {
        let code = code.trim_end().to_string();
        prop_assume!(!code.trim().is_empty());
        let r = match parse("!", &format!("!run py\n```py\n{code}\n```")) {
            Some(Command::Run(r)) => r,
            other => return Err(TestCaseError::fail(format!("{other:?}"))),
        };
        prop_assert_eq!(r.code, Some(format!("{code}\n")));
    }
}
