//! Cutting program output to fit a model's context: the start and the end are kept (a traceback or
//! a compiler's last error is at the end), the middle goes, and the cut is said in words.

/// Share of the budget given to the start of the output; the rest goes to the end.
const HEAD_SHARE: usize = 3;

/// `text` within `max` characters, and a note saying what was cut (None when nothing was).
pub fn cut_middle(text: &str, max: usize) -> (String, Option<String>) {
    let total = text.chars().count();
    if total <= max {
        return (text.to_string(), None);
    }
    let head_len = max / HEAD_SHARE;
    let tail_len = max - head_len;
    let head_end = byte_at(text, head_len);
    let tail_start = byte_at(text, total - tail_len);
    // End the head and start the tail on line breaks when one is near, so no line is shown half.
    let head_end = match text[..head_end].rfind('\n') {
        Some(nl) if nl > head_end / 2 => nl + 1,
        _ => head_end,
    };
    let tail_start = match text[tail_start..].find('\n') {
        Some(nl) if nl < (text.len() - tail_start) / 2 => tail_start + nl + 1,
        _ => tail_start,
    };
    let (head, cut, tail) = (
        &text[..head_end],
        &text[head_end..tail_start],
        &text[tail_start..],
    );
    let cut_chars = cut.chars().count();
    let cut_lines = cut.matches('\n').count();
    let note = format!(
        "[{} of {} characters cut from the middle ({} lines); the whole output is in structuredContent.output]",
        group(cut_chars),
        group(total),
        group(cut_lines)
    );
    let mut shown = String::with_capacity(head.len() + tail.len() + note.len() + 2);
    shown.push_str(head);
    if !head.ends_with('\n') {
        shown.push('\n');
    }
    shown.push_str(&note);
    shown.push('\n');
    shown.push_str(tail);
    (shown, Some(note))
}

/// Byte offset of character `n` (or the end).
fn byte_at(text: &str, n: usize) -> usize {
    text.char_indices().nth(n).map_or(text.len(), |(i, _)| i)
}

/// 12345 -> "12,345".
fn group(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_text_is_untouched() {
        assert_eq!(cut_middle("abc\n", 10), ("abc\n".to_string(), None));
    }

    #[test]
    fn keeps_start_and_end_and_says_how_much_went() {
        let text: String = (0..10_000).map(|i| format!("line {i}\n")).collect();
        let (shown, note) = cut_middle(&text, 1_000);
        let note = note.expect("cut");
        assert!(shown.starts_with("line 0\n"), "{shown}");
        assert!(shown.ends_with("line 9999\n"), "{shown}");
        assert!(shown.chars().count() < 1_000 + note.len() + 2);
        let total = text.chars().count();
        assert!(
            note.contains(&format!("of {} characters", group(total))),
            "{note}"
        );
        // The note's count is exactly what is missing.
        let kept = shown.chars().count() - note.chars().count() - 1;
        let cut: usize = note
            .trim_start_matches('[')
            .split(' ')
            .next()
            .expect("count")
            .replace(',', "")
            .parse()
            .expect("number");
        assert_eq!(kept + cut, total);
    }

    #[test]
    fn cuts_on_character_boundaries() {
        let text = "é".repeat(5_000);
        let (shown, note) = cut_middle(&text, 100);
        assert!(note.is_some());
        assert!(shown.starts_with('é') && shown.ends_with('é'));
        assert_eq!(group(1_234_567), "1,234,567");
    }
}
