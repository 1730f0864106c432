//! What the model is told for each command, and how code and test cases are read back out of
//! its answer. Only the user's own code, its run's output and the workspace's file names, sizes
//! and CSV headers go into a prompt: never the config, secrets, or other users' code.

use coderunner_runner::RunOutcome;

use super::client::ChatMessage;
use super::memory::RunMemo;
use crate::render::cut_chars;

/// Output kept for the model: the end of stdout and stderr (where the error is).
const STDOUT_TAIL: usize = 1_500;
const STDERR_TAIL: usize = 2_500;
/// Source sent to the model at most (characters).
const CODE_CAP: usize = 12_000;

const SYSTEM: &str = "You help people whose programs run in a locked-down sandbox with no network access. \
Answer briefly. When you write code, write one complete program in one fenced code block tagged with its language.";

/// The last `max` characters of `s`.
pub fn tail(s: &str, max: usize) -> &str {
    let count = s.chars().count();
    if count <= max {
        return s;
    }
    let skip = count - max;
    let start = s.char_indices().nth(skip).map_or(0, |(i, _)| i);
    s.get(start..).unwrap_or(s)
}

/// The run as the model sees it: language, code, stdin, status, stderr and the end of stdout.
fn describe_run(language: &str, code: &str, stdin: &str, outcome: &RunOutcome) -> String {
    let mut s = format!(
        "Language: {language}\nProgram:\n```{language}\n{}\n```\n",
        cut_chars(code, CODE_CAP)
    );
    if !stdin.is_empty() {
        s.push_str(&format!(
            "Standard input:\n```\n{}\n```\n",
            cut_chars(stdin, 2_000)
        ));
    }
    s.push_str(&format!("Status: {}", outcome.status.as_str()));
    if let Some(code) = outcome.exit_code {
        s.push_str(&format!(", exit code {code}"));
    }
    if let Some(sig) = &outcome.signal {
        s.push_str(&format!(", signal {sig}"));
    }
    s.push('\n');
    if let Some(compile) = &outcome.compile {
        if !compile.stderr.is_empty() {
            s.push_str(&format!(
                "Compiler errors:\n```\n{}\n```\n",
                tail(&compile.stderr, STDERR_TAIL)
            ));
        }
    }
    if !outcome.stderr.is_empty() {
        s.push_str(&format!(
            "Standard error:\n```\n{}\n```\n",
            tail(&outcome.stderr, STDERR_TAIL)
        ));
    }
    if !outcome.stdout.is_empty() {
        s.push_str(&format!(
            "End of standard output:\n```\n{}\n```\n",
            tail(&outcome.stdout, STDOUT_TAIL)
        ));
    }
    if let Some(error) = &outcome.error {
        s.push_str(&format!("Sandbox error: {error}\n"));
    }
    s
}

/// `!explain`: what went wrong and how to fix it.
pub fn explain(memo: &RunMemo) -> Vec<ChatMessage> {
    vec![
        ChatMessage::system(SYSTEM),
        ChatMessage::user(format!(
            "{}\nExplain in at most 1,200 characters what went wrong (or what the program does, if nothing did) and how to fix it.",
            describe_run(&memo.language, &memo.code, &memo.stdin, &memo.outcome)
        )),
    ]
}

/// `!fix`, one round: the last attempt and its output; wants the whole corrected program.
pub fn fix(memo: &RunMemo, code: &str, outcome: &RunOutcome, round: u32) -> Vec<ChatMessage> {
    let intro = if round == 1 {
        "This program failed."
    } else {
        "Your previous correction still fails."
    };
    vec![
        ChatMessage::system(SYSTEM),
        ChatMessage::user(format!(
            "{intro}\n{}\nReturn the whole corrected program in one ```{} code block, then one sentence on what you changed.",
            describe_run(&memo.language, code, &memo.stdin, outcome),
            memo.language
        )),
    ]
}

/// `!ask`: a program from plain words, told which files the working directory holds.
pub fn ask(language: &str, question: &str, files: &str) -> Vec<ChatMessage> {
    let mut user = format!(
        "Write a {language} program for this request:\n{}\n",
        cut_chars(question, 4_000)
    );
    if files.is_empty() {
        user.push_str("The working directory is empty.\n");
    } else {
        user.push_str(&format!(
            "The program's working directory holds these files (read them by these names):\n{files}"
        ));
    }
    user.push_str(&format!(
        "Plots must be saved as PNG files (matplotlib's Agg backend), not shown. Answer with one ```{language} code block."
    ));
    vec![ChatMessage::system(SYSTEM), ChatMessage::user(user)]
}

/// `!tests`: test cases as JSON, each with stdin and the expected stdout.
pub fn tests(memo: &RunMemo) -> Vec<ChatMessage> {
    vec![
        ChatMessage::system(SYSTEM),
        ChatMessage::user(format!(
            "{}\nWrite up to 6 test cases for this program, as a JSON array in one ```json code block: \
[{{\"name\": \"...\", \"stdin\": \"...\", \"expected_stdout\": \"...\"}}]. The expected output is compared after trimming whitespace at both ends.",
            describe_run(&memo.language, &memo.code, &memo.stdin, &memo.outcome)
        )),
    ]
}

/// The fenced blocks of a model's answer as (tag, body), and its prose outside them. Only
/// real fences count: an inline `name` in a sentence is not code to run.
pub fn split_answer(answer: &str) -> (Vec<(String, String)>, String) {
    let mut blocks = Vec::new();
    let mut prose = String::new();
    let mut open: Option<(String, String, String)> = None; // (fence, tag, body)
    for line in answer.lines() {
        let trimmed = line.trim_start();
        match &mut open {
            None => {
                let fence = ["```", "~~~"].into_iter().find(|f| trimmed.starts_with(f));
                match fence {
                    Some(f) => {
                        let tag = trimmed.trim_start_matches(f.chars().next().unwrap_or('`'));
                        open = Some((f.to_string(), tag.trim().to_string(), String::new()));
                    }
                    None => {
                        prose.push_str(line);
                        prose.push('\n');
                    }
                }
            }
            Some((fence, tag, body)) => {
                if trimmed.trim_end() == fence.as_str() {
                    blocks.push((std::mem::take(tag), std::mem::take(body)));
                    open = None;
                } else {
                    body.push_str(line);
                    body.push('\n');
                }
            }
        }
    }
    // An answer cut off by max_tokens leaves its last fence open: keep what arrived.
    if let Some((_, tag, body)) = open {
        blocks.push((tag, body));
    }
    (blocks, prose.trim().to_string())
}

/// The first non-empty fenced code block of a model's answer.
pub fn first_code_block(answer: &str) -> Option<String> {
    split_answer(answer)
        .0
        .into_iter()
        .map(|(_, body)| body)
        .find(|body| !body.trim().is_empty())
}

/// The answer without its code blocks: the model's words around the code.
pub fn prose(answer: &str) -> String {
    split_answer(answer).1
}

/// One test case the model wrote.
#[derive(Debug, Clone, serde::Deserialize, PartialEq, Eq)]
pub struct TestCase {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub stdin: String,
    pub expected_stdout: String,
}

/// At most 8 test cases from the answer's JSON block; `None` when there is none to read.
pub fn test_cases(answer: &str) -> Option<Vec<TestCase>> {
    let body = split_answer(answer)
        .0
        .into_iter()
        .map(|(_, body)| body)
        .find(|body| body.trim_start().starts_with('['))?;
    let mut cases: Vec<TestCase> = serde_json::from_str(&body).ok()?;
    cases.truncate(8);
    (!cases.is_empty()).then_some(cases)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_block_and_prose() {
        let a = "Here:\n```python\nprint(1)\n```\nI changed the call.\n```py\nx\n```";
        assert_eq!(first_code_block(a).as_deref(), Some("print(1)\n"));
        assert_eq!(prose(a), "Here:\nI changed the call.");
        assert_eq!(first_code_block("no code, only `inline` words"), None);
        // Cut off by max_tokens: the open block still counts.
        assert_eq!(
            first_code_block("```c\nint x;\n").as_deref(),
            Some("int x;\n")
        );
    }

    #[test]
    fn tail_keeps_the_end() {
        assert_eq!(tail("abcdef", 3), "def");
        assert_eq!(tail("ab", 3), "ab");
        assert_eq!(tail("ééé", 2), "éé");
    }

    #[test]
    fn test_cases_read_json_and_refuse_prose() {
        let a = "```json\n[{\"name\":\"one\",\"stdin\":\"2\\n\",\"expected_stdout\":\"4\"}]\n```";
        let cases = test_cases(a).expect("cases");
        assert_eq!(cases.len(), 1);
        assert_eq!(cases[0].stdin, "2\n");
        assert!(test_cases("```json\n{\"not\": \"a list\"}\n```").is_none());
        assert!(test_cases("no blocks").is_none());
    }
}
