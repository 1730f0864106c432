//! AI assist end to end: the real `coderunner console` binary and the real sandbox, talking to a
//! fake OpenAI-compatible endpoint on loopback (real HTTP and JSON, scripted answers, recorded
//! requests). Model-written code runs in the sandbox; endpoint failures give clear replies.

use std::path::Path;
use std::time::Duration;

use coderunner_tests::console::{run_in, Transcript};
use coderunner_tests::fake_ai::{FakeAi, Scripted};
use coderunner_tests::harness::workspace_root;

const FAILING: &str = "!run py\n```py\nname = 'world'\nprint('hello', nmae)\n```\n";

/// The default config with AI assist pointed at `base_url`, plus `extra` edits (from, to).
fn write_config(dir: &Path, base_url: &str, timeout: &str, attempts: u32, extra: &[(&str, &str)]) {
    let mut yaml = std::fs::read_to_string(workspace_root().join("config/default.yaml"))
        .expect("default config");
    let cut = yaml
        .find("\n  ai:\n")
        .expect("the default config has an ai: section");
    yaml.truncate(cut);
    yaml.push_str(&format!(
        "\n  ai:\n    base_url: {base_url}\n    model: fake-coder\n    timeout: {timeout}\n    max_tokens: 512\n    attempts: {attempts}\n"
    ));
    for (from, to) in extra {
        assert!(yaml.contains(from), "config has {from}");
        yaml = yaml.replacen(from, to, 1);
    }
    std::fs::write(dir.join("coderunner.yaml"), yaml).expect("write config");
}

fn console(dir: &Path, input: &str) -> Transcript {
    let t = run_in(dir, &["--config", "coderunner.yaml", "console"], input);
    assert!(t.success, "stdout: {}\nstderr: {}", t.stdout, t.stderr);
    println!("{}", t.stdout);
    t
}

fn py(answer_words: &str, code: &str) -> Scripted {
    Scripted::Answer(format!("{answer_words}\n```python\n{code}```\n"))
}

#[test]
fn fix_succeeds_on_the_second_attempt_and_the_request_carries_code_and_error() {
    let fake = FakeAi::start(vec![
        py(
            "Renamed the variable.",
            "name = 'world'\nprint('hello', nme)\n",
        ),
        py(
            "Use the name that is defined.",
            "name = 'world'\nprint('hello', name)\n",
        ),
    ]);
    let dir = tempfile::tempdir().expect("dir");
    write_config(dir.path(), &fake.base_url(), "30s", 3, &[]);
    let out = console(dir.path(), &format!("{FAILING}!fix\n")).stdout;
    assert!(out.contains("NameError"), "{out}");
    assert!(
        out.contains("🛠️ **fix** · fake-coder · ✅ fixed on attempt 2 of 3"),
        "{out}"
    );
    assert!(out.contains("--- main.py\n+++ main.py (fixed)"), "{out}");
    assert!(
        out.contains("-print('hello', nmae)\n+print('hello', name)"),
        "{out}"
    );
    assert!(out.contains("hello world"), "the fixed program ran: {out}");
    let reqs = fake.requests();
    assert_eq!(reqs.len(), 2);
    let first = reqs[0].prompt();
    assert!(first.contains("print('hello', nmae)"), "{first}");
    assert!(
        first.contains("NameError: name 'nmae' is not defined"),
        "{first}"
    );
    assert_eq!(reqs[0].body["model"], "fake-coder");
    assert_eq!(reqs[0].body["max_tokens"], 512);
    assert!(
        reqs[0].authorization.is_none(),
        "no key configured, none sent"
    );
    // The second round sees the first correction and its own error.
    let second = reqs[1].prompt();
    assert!(second.contains("print('hello', nme)"), "{second}");
    assert!(second.contains("name 'nme' is not defined"), "{second}");
    // Nothing of the bot's configuration leaves the machine.
    for r in &reqs {
        let body = r.body.to_string();
        assert!(
            !body.contains("agent_id") && !body.contains("code_runner_agent"),
            "{body}"
        );
    }
}

#[test]
fn fix_stops_at_the_attempt_limit_when_every_attempt_fails() {
    let fake = FakeAi::start(vec![
        py("try 1", "print(undefined_one)\n"),
        py("try 2", "print(undefined_two)\n"),
        py("try 3", "print(undefined_three)\n"),
    ]);
    let dir = tempfile::tempdir().expect("dir");
    write_config(dir.path(), &fake.base_url(), "30s", 2, &[]);
    let out = console(dir.path(), &format!("{FAILING}!fix\n")).stdout;
    assert!(out.contains("❌ still failing after 2 attempts"), "{out}");
    assert!(
        out.contains("undefined_two"),
        "the last attempt is shown: {out}"
    );
    assert_eq!(fake.requests().len(), 2, "ai.attempts = 2 bounds the calls");
    assert_eq!(fake.left(), 1);
}

#[test]
fn explain_replies_with_the_models_words_about_the_real_error() {
    let fake = FakeAi::start(vec![Scripted::Answer(
        "`nmae` is a typo for `name`: Python raised NameError on line 2. Write `name`.".into(),
    )]);
    let dir = tempfile::tempdir().expect("dir");
    write_config(dir.path(), &fake.base_url(), "30s", 3, &[]);
    let out = console(dir.path(), &format!("{FAILING}!explain\n")).stdout;
    assert!(out.contains("🤖 **explain** · fake-coder"), "{out}");
    assert!(out.contains("is a typo for"), "{out}");
    let prompt = fake.requests()[0].prompt();
    assert!(prompt.contains("Status: exited, exit code 1"), "{prompt}");
    assert!(prompt.contains("NameError"), "{prompt}");
}

#[test]
fn ask_tells_the_model_the_workspace_csv_header_and_runs_its_code() {
    let fake = FakeAi::start(vec![py(
        "Sums the revenue column.",
        "import csv\nrows = list(csv.DictReader(open('sales.csv')))\nprint('total', sum(float(r['revenue']) for r in rows))\n",
    )]);
    let dir = tempfile::tempdir().expect("dir");
    write_config(dir.path(), &fake.base_url(), "30s", 3, &[]);
    let csv = "month,revenue,units\n1,1200.5,10\n2,1350.0,12\n3,990.25,8\n4,1810.75,15\n5,1600.0,13\n6,2100.5,18\n";
    std::fs::write(dir.path().join("sales.csv"), csv).expect("csv");
    let out = console(
        dir.path(),
        ":attach sales.csv\n!run py `print('stored')`\n!ask python total revenue from sales.csv\n",
    )
    .stdout;
    assert!(out.contains("🤖 **ask** · fake-coder · python"), "{out}");
    assert!(
        out.contains("total 9052.0"),
        "the model's program ran on the file: {out}"
    );
    let prompt = fake.requests()[0].prompt();
    assert!(prompt.contains("total revenue from sales.csv"), "{prompt}");
    let line = format!(
        "- sales.csv ({} bytes), header: month,revenue,units",
        csv.len()
    );
    assert!(prompt.contains(&line), "{prompt}");
}

#[test]
fn ask_in_a_notebook_session_runs_as_a_cell_of_it() {
    let fake = FakeAi::start(vec![py(
        "Doubles your x.",
        "doubled = x * 2\nprint('doubled', doubled)\n",
    )]);
    let dir = tempfile::tempdir().expect("dir");
    write_config(dir.path(), &fake.base_url(), "30s", 3, &[]);
    // The console is one session: the model's code sees `x` from the cell before, and the
    // next cell sees what the model's code defined.
    let out = console(
        dir.path(),
        "!run py\n```py\nx = 21\n```\n!ask python double x\n!run py\n```py\nprint('after', doubled + 1)\n```\n",
    )
    .stdout;
    assert!(out.contains("🤖 **ask** · fake-coder · python"), "{out}");
    assert!(out.contains("doubled 42"), "the cell saw x: {out}");
    assert!(out.contains("after 43"), "the session kept doubled: {out}");
}

#[test]
fn tests_report_pass_and_fail_per_case() {
    let fake = FakeAi::start(vec![Scripted::Answer(
        "```json\n[{\"name\": \"doubles 3\", \"stdin\": \"3\\n\", \"expected_stdout\": \"6\"},\n {\"name\": \"doubles 0\", \"stdin\": \"0\\n\", \"expected_stdout\": \"0\"},\n {\"name\": \"wrong on purpose\", \"stdin\": \"5\\n\", \"expected_stdout\": \"11\"}]\n```".into(),
    )]);
    let dir = tempfile::tempdir().expect("dir");
    write_config(dir.path(), &fake.base_url(), "30s", 3, &[]);
    let out = console(
        dir.path(),
        "!run py\n```py\nprint(int(input()) * 2)\n```\n```stdin\n4\n```\n!tests\n",
    )
    .stdout;
    assert!(
        out.contains("🧪 **tests** · fake-coder · 2 of 3 passed"),
        "{out}"
    );
    assert!(out.contains("✅ doubles 3"), "{out}");
    assert!(out.contains("✅ doubles 0"), "{out}");
    assert!(
        out.contains("❌ wrong on purpose — expected `11`, got `10`"),
        "{out}"
    );
}

#[test]
fn model_written_fork_bombs_and_network_calls_are_contained() {
    let fake = FakeAi::start(vec![py(
        "Forks forever.",
        "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n",
    )]);
    let port = fake.addr.port();
    let network = format!(
        "import socket\nfor host, port in [('127.0.0.1', {port}), ('1.1.1.1', 53)]:\n    try:\n        socket.create_connection((host, port), timeout=2)\n        print('CONNECTED', host)\n    except OSError as e:\n        print('blocked', host, type(e).__name__)\n"
    );
    fake.push(py("Talks to the network.", &network));
    let dir = tempfile::tempdir().expect("dir");
    write_config(dir.path(), &fake.base_url(), "30s", 3, &[]);
    let out = console(
        dir.path(),
        "!ask python fork a lot\n!ask python phone home\n!run py `print('still', 'alive')`\n",
    )
    .stdout;
    // The fork bomb ended at the run's limits (its wall-clock deadline), and the bot went on.
    assert!(out.contains("**ask** · fake-coder"), "{out}");
    assert!(
        out.contains("timed out") || out.contains("⏱"),
        "the fork bomb hits the deadline: {out}"
    );
    // The network program got no connection anywhere: not even to the fake endpoint on loopback.
    assert!(out.contains("blocked 127.0.0.1"), "{out}");
    assert!(out.contains("blocked 1.1.1.1"), "{out}");
    assert!(!out.lines().any(|l| l.starts_with("CONNECTED")), "{out}");
    assert_eq!(
        fake.requests().len(),
        2,
        "only the bot's own two calls reached the endpoint"
    );
    assert!(out.contains("still alive"), "{out}");
}

#[test]
fn endpoint_failures_give_clear_replies() {
    let fake = FakeAi::start(vec![
        Scripted::Status(401, vec![], "{\"error\": \"bad key\"}".into()),
        Scripted::Status(429, vec![("retry-after", "7".into())], "slow down".into()),
        Scripted::Slow(Duration::from_secs(4), "too late".into()),
        Scripted::Raw("<html>gateway</html>".into()),
        Scripted::Answer("I would rather not write code today.".into()),
    ]);
    let dir = tempfile::tempdir().expect("dir");
    write_config(dir.path(), &fake.base_url(), "1s", 3, &[]);
    let out = console(
        dir.path(),
        "!ask python a\n!ask python b\n!ask python c\n!ask python d\n!ask python e\n",
    )
    .stdout;
    assert!(
        out.contains("refused the API key (401 Unauthorized)"),
        "{out}"
    );
    assert!(
        out.contains("rate limiting us (429); retry in 7 s"),
        "{out}"
    );
    assert!(out.contains("the model did not answer within 1 s"), "{out}");
    assert!(
        out.contains("is not the JSON of a chat completion"),
        "{out}"
    );
    assert!(
        out.contains("has no code block, so there is nothing to run"),
        "{out}"
    );
    assert_eq!(fake.left(), 0);

    // Nothing listening: unreachable, said as such.
    let dead = tempfile::tempdir().expect("dir");
    write_config(dead.path(), "http://127.0.0.1:9/v1", "5s", 3, &[]);
    let out = console(dead.path(), "!ask python hello\n").stdout;
    assert!(
        out.contains("the AI endpoint http://127.0.0.1:9/v1/chat/completions is unreachable"),
        "{out}"
    );
}

#[test]
fn ai_off_gives_the_configuration_hint() {
    let dir = tempfile::tempdir().expect("dir");
    let t = run_in(
        dir.path(),
        &["console"],
        &format!("{FAILING}!explain\n!ask python hi\n"),
    );
    assert!(t.success, "{}", t.stderr);
    let hint = "AI assist is off: set ai.base_url to an OpenAI-compatible endpoint (Ollama http://127.0.0.1:11434/v1, llama.cpp server http://127.0.0.1:8080/v1, vLLM, or a hosted one)";
    assert_eq!(t.stdout.matches(hint).count(), 2, "{}", t.stdout);
}

#[test]
fn the_ai_rate_limit_holds() {
    let answers = (0..3)
        .map(|i| Scripted::Answer(format!("explanation {i}")))
        .collect();
    let fake = FakeAi::start(answers);
    let dir = tempfile::tempdir().expect("dir");
    write_config(
        dir.path(),
        &fake.base_url(),
        "30s",
        3,
        &[(
            "      data: {count: 20, per: 10m}\n",
            "      data: {count: 20, per: 10m}\n      admin: {count: 2, per: 10m}\n",
        )],
    );
    let out = console(
        dir.path(),
        &format!("{FAILING}!explain\n!explain\n!explain\n"),
    )
    .stdout;
    assert!(
        out.contains("explanation 0") && out.contains("explanation 1"),
        "{out}"
    );
    assert!(
        out.contains("slow down: the `admin` tier may ask the AI 2 times per 10 min"),
        "{out}"
    );
    assert_eq!(
        fake.requests().len(),
        2,
        "the third call never reached the model"
    );
}

/// gcc quotes names with ‘’ or '' depending on the locale; match the start and a later word.
fn has_line(out: &str, start: &str, word: &str) -> bool {
    out.lines()
        .any(|l| l.starts_with(start) && l[start.len()..].contains(word))
}

#[test]
fn lint_lists_findings_with_line_numbers_for_each_language() {
    let dir = tempfile::tempdir().expect("dir");
    let input = concat!(
        "!lint py\n```py\nimport os\nprint(x)\n```\n",
        "!lint py\n```py\nprint('clean')\n```\n",
        "!lint c\n```c\nint main(void) {\n    int unused;\n    return y;\n}\n```\n",
        "!lint cpp\n```cpp\nint main() {\n    int unused = 0;\n    return 0;\n}\n```\n",
        "!lint js\n```js\nconst a = 1;\nlet b = (;\n```\n",
        "!lint bash\n```bash\nif true; then\n  echo hi\n```\n",
        "!lint rust\n```rust\nfn main() {}\n```\n",
    );
    let t = run_in(dir.path(), &["console"], input);
    assert!(t.success, "{}", t.stderr);
    let out = t.stdout;
    println!("{out}");
    assert!(
        out.contains("🔎 **lint python** (pyflakes) · 2 findings"),
        "{out}"
    );
    assert!(
        out.contains("• **line 1:1** — 'os' imported but unused"),
        "{out}"
    );
    assert!(out.contains("• **line 2:7** — undefined name 'x'"), "{out}");
    assert!(
        out.contains("🔎 **lint python** (pyflakes) · ✅ no findings"),
        "{out}"
    );
    assert!(
        out.contains("🔎 **lint c** (gcc -fsyntax-only -Wall -Wextra)"),
        "{out}"
    );
    assert!(
        has_line(&out, "• **line 3:12** — error: ", "undeclared"),
        "{out}"
    );
    assert!(
        has_line(&out, "• **line 2:9** — warning: unused variable", "unused"),
        "{out}"
    );
    assert!(
        out.contains("🔎 **lint cpp** (g++ -fsyntax-only -Wall -Wextra) · 1 finding"),
        "{out}"
    );
    assert!(
        out.contains("• **line 2** — SyntaxError: Unexpected token ';'"),
        "{out}"
    );
    assert!(
        out.contains("🔎 **lint bash** (bash -n) · 1 finding"),
        "{out}"
    );
    assert!(
        out.contains("• **line 3** — syntax error: unexpected end of file"),
        "{out}"
    );
    assert!(
        out.contains(
            "`!lint` checks python, c, cpp, javascript, bash and sh; there is no checker for rust"
        ),
        "{out}"
    );
}
