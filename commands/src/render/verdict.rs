//! The verdict on an ```expected block: ✅ when the output matches, ❌ with a short diff otherwise.

use super::text::{cut_chars, neutralize, plain};

/// Longest line shown in a diff.
const DIFF_LINE_CHARS: usize = 80;
/// Differing lines shown at most.
const DIFF_LINES: usize = 3;

/// Lines compared loosely: trailing spaces and trailing blank lines do not count.
fn lines(text: &str) -> Vec<String> {
    let text = plain(text);
    let mut lines: Vec<String> = text.split('\n').map(|l| l.trim_end().to_string()).collect();
    while lines.last().is_some_and(String::is_empty) {
        lines.pop();
    }
    lines
}

/// The verdict comparing the program's stdout with `expected`.
pub fn verdict(stdout: &str, expected: &str) -> String {
    let got = lines(stdout);
    let want = lines(expected);
    if got == want {
        return "✅ output matches `expected`".to_string();
    }
    let first = got
        .iter()
        .zip(&want)
        .position(|(g, w)| g != w)
        .unwrap_or(got.len().min(want.len()));
    let mut diff = String::new();
    for i in first..(first + DIFF_LINES).min(got.len().max(want.len())) {
        let w = want.get(i);
        let g = got.get(i);
        if w == g {
            continue;
        }
        diff.push_str(&format!("- {}\n", show(w)));
        diff.push_str(&format!("+ {}\n", show(g)));
    }
    format!(
        "❌ output differs from `expected` at line {} (expected {}, got {}; - expected, + got):\n```diff\n{}```",
        first + 1,
        crate::fmt::plural(want.len(), "line", "lines"),
        crate::fmt::plural(got.len(), "line", "lines"),
        diff
    )
}

fn show(line: Option<&String>) -> String {
    match line {
        None => "(no line)".to_string(),
        Some(l) => {
            let cut = cut_chars(l, DIFF_LINE_CHARS);
            let more = if cut.len() < l.len() { "…" } else { "" };
            format!("{}{more}", neutralize(cut))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::verdict;

    #[test]
    fn matches_ignoring_trailing_space() {
        assert_eq!(
            verdict("1\n2  \n\n", "1\n2"),
            "✅ output matches `expected`"
        );
    }

    #[test]
    fn differs_with_diff() {
        let v = verdict("1\n2\n4\n", "1\n2\n3\n");
        assert!(
            v.starts_with("❌ output differs from `expected` at line 3"),
            "{v}"
        );
        assert!(v.contains("- 3\n+ 4\n"), "{v}");
    }

    #[test]
    fn missing_lines_are_named() {
        let v = verdict("1\n", "1\n2\n");
        assert!(v.contains("- 2\n+ (no line)\n"), "{v}");
    }
}
