//! Making program output safe to show in chat, and trimming it to fit.

use std::sync::OnceLock;

use regex::Regex;

/// Zero-width space: breaks runs of backticks and mentions without changing what people read.
const ZWSP: char = '\u{200B}';

/// Characters that reorder or hide text (bidi overrides, isolates, marks).
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}')
}

fn ansi() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        // CSI sequences (colours, cursor moves) and OSC sequences (titles, hyperlinks).
        Regex::new(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-Z\\-_]?")
            .expect("the ANSI pattern is a valid literal")
    })
}

/// Terminal-style text as a chat shows it: ANSI escapes removed, CR as line breaks.
pub fn plain(text: &str) -> String {
    ansi()
        .replace_all(text, "")
        .replace("\r\n", "\n")
        .replace('\r', "\n")
}

/// Text that can sit inside a code block (or a chat line) without closing the block, pinging
/// anyone or hiding content: backticks are split by zero-width spaces, mentions are broken,
/// direction overrides and other control characters are shown as visible codes.
pub fn neutralize(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 16);
    for c in text.chars() {
        match c {
            '`' => {
                out.push('`');
                out.push(ZWSP);
            }
            '\n' | '\t' => out.push(c),
            c if is_bidi_control(c) => out.push_str(&format!("[U+{:04X}]", c as u32)),
            c if c.is_control() => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    // Mentions: `<@id>`, `<@!id>`, `<@&role>`, `@everyone`, `@here`.
    out.replace("<@", "<@\u{200B}")
        .replace("@everyone", "@\u{200B}everyone")
        .replace("@here", "@\u{200B}here")
}

/// Length as Discord counts it (UTF-16 code units; never less than the number of characters).
pub fn chat_len(s: &str) -> usize {
    s.encode_utf16().count()
}

/// At most `max` chat characters of `s`, cut at a character boundary.
pub fn cut_chars(s: &str, max: usize) -> &str {
    let mut used = 0;
    for (i, c) in s.char_indices() {
        used += c.len_utf16();
        if used > max {
            return s.get(..i).unwrap_or("");
        }
    }
    s
}

/// What is shown inline of an output, and what was left out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trimmed {
    /// Neutralised text for the code block.
    pub shown: String,
    pub total_lines: usize,
    pub shown_lines: usize,
    /// True when lines or characters were left out.
    pub cut: bool,
}

/// The first `max_lines` lines of `raw` (plain text), neutralised and cut to `max_chars`.
pub fn trim(raw: &str, max_lines: usize, max_chars: usize) -> Trimmed {
    let text = raw.trim_end_matches('\n');
    let total_lines = if text.is_empty() {
        0
    } else {
        text.split('\n').count()
    };
    let kept: Vec<&str> = text.split('\n').take(max_lines.max(1)).collect();
    let mut shown = neutralize(&kept.join("\n"));
    let mut shown_lines = kept.len().min(total_lines);
    let mut cut = shown_lines < total_lines;
    if chat_len(&shown) > max_chars {
        let mut cut_text = cut_chars(&shown, max_chars).to_string();
        // Prefer ending at a line break when one is near, so no line is shown half.
        if let Some(nl) = cut_text.rfind('\n') {
            if nl > cut_text.len() / 2 {
                cut_text.truncate(nl);
            }
        }
        shown_lines = if cut_text.is_empty() {
            0
        } else {
            cut_text.split('\n').count()
        };
        shown = cut_text;
        cut = true;
    }
    Trimmed {
        shown,
        total_lines,
        shown_lines,
        cut,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backticks_never_touch() {
        let n = neutralize("```\n`` ` ````");
        assert!(!n.contains("``"), "{n:?}");
    }

    #[test]
    fn mentions_are_broken() {
        let n = neutralize("@everyone @here <@123> <@!5> <@&9>");
        for bad in ["@everyone", "@here", "<@1", "<@!", "<@&"] {
            assert!(!n.contains(bad), "{bad} survived in {n:?}");
        }
    }

    #[test]
    fn bidi_and_controls_are_visible() {
        let n = neutralize("a\u{202E}b\u{2066}c\u{0007}d");
        assert_eq!(n, "a[U+202E]b[U+2066]c\u{FFFD}d");
    }

    #[test]
    fn ansi_is_stripped() {
        assert_eq!(plain("\x1b[31mred\x1b[0m\r\nx\ry"), "red\nx\ny");
    }

    #[test]
    fn trims_lines_and_chars() {
        let many: String = (1..=100).map(|i| format!("line {i}\n")).collect();
        let t = trim(&many, 10, 1000);
        assert_eq!((t.total_lines, t.shown_lines, t.cut), (100, 10, true));
        assert!(t.shown.ends_with("line 10"));
        let long = "x".repeat(5000);
        let t = trim(&long, 10, 100);
        assert_eq!(chat_len(&t.shown), 100);
        assert!(t.cut);
        let t = trim("a\nb\n", 10, 100);
        assert_eq!((t.total_lines, t.shown.as_str(), t.cut), (2, "a\nb", false));
    }

    #[test]
    fn cut_respects_utf16() {
        assert_eq!(cut_chars("😀😀😀", 3), "😀");
        assert_eq!(cut_chars("abc", 10), "abc");
    }
}
