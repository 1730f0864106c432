//! Finding code blocks in a message: ``` and ~~~ fences (with an optional tag), or inline code.

/// A code block: where it starts in the text, its tag (```py) and its body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    /// Byte offset of the opening fence.
    pub start: usize,
    pub tag: Option<String>,
    pub body: String,
}

/// Longest fence tag accepted; longer first lines are code, not a tag.
const MAX_TAG_LEN: usize = 32;

/// Fenced blocks in order; when there are none, an inline `code` span on the first line.
pub fn find_blocks(text: &str) -> Vec<Block> {
    let fenced = fenced_blocks(text);
    if !fenced.is_empty() {
        return fenced;
    }
    inline_block(text).into_iter().collect()
}

fn fenced_blocks(text: &str) -> Vec<Block> {
    let bytes = text.as_bytes();
    let mut blocks = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if c != b'`' && c != b'~' {
            i += 1;
            continue;
        }
        let run = run_len(bytes, i, c);
        if run < 3 {
            i += run;
            continue;
        }
        let (block, next) = fenced_block(text, i, c, run);
        blocks.push(block);
        i = next;
    }
    blocks
}

/// The block whose opening fence (`run` times `fence`) starts at `open`, and where scanning resumes.
fn fenced_block(text: &str, open: usize, fence: u8, run: usize) -> (Block, usize) {
    let after = open + run;
    let rest = text.get(after..).unwrap_or("");
    let (tag, body_start) = match rest.find('\n') {
        Some(nl) => {
            let first = rest.get(..nl).unwrap_or("").trim();
            if first.is_empty() {
                (None, after + nl + 1)
            } else if is_tag(first) {
                (Some(first.to_string()), after + nl + 1)
            } else {
                (None, after)
            }
        }
        None => (None, after),
    };
    let (body_end, next) = match find_closer(text, body_start, fence, run) {
        Some((start, end)) => (start, end),
        // Unclosed: the block runs to the end, as in Discord's rendering.
        None => (text.len(), text.len()),
    };
    let body = text
        .get(body_start..body_end.max(body_start))
        .unwrap_or("")
        .trim_end_matches([' ', '\t', '\n'])
        .to_string();
    (
        Block {
            start: open,
            tag,
            body,
        },
        next,
    )
}

/// A closing fence at least as long as the opening one. One that ends its line is preferred,
/// so code may contain shorter or mid-line fences (`print("```")`); otherwise the first one.
fn find_closer(text: &str, from: usize, fence: u8, min: usize) -> Option<(usize, usize)> {
    let bytes = text.as_bytes();
    let mut first_any = None;
    let mut i = from;
    while i < bytes.len() {
        if bytes[i] != fence {
            i += 1;
            continue;
        }
        let run = run_len(bytes, i, fence);
        if run >= min {
            let end = i + run;
            let line_rest = text.get(end..).unwrap_or("");
            let line_rest = line_rest.split('\n').next().unwrap_or("");
            if line_rest.trim().is_empty() {
                return Some((i, end));
            }
            first_any.get_or_insert((i, end));
        }
        i += run;
    }
    first_any
}

fn run_len(bytes: &[u8], at: usize, c: u8) -> usize {
    bytes
        .get(at..)
        .map_or(0, |b| b.iter().take_while(|&&x| x == c).count())
}

fn is_tag(s: &str) -> bool {
    s.len() <= MAX_TAG_LEN
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '+' | '#' | '.' | '-'))
}

/// `code` or ``code`` on the first line (so backticks in a bare program below are left alone).
fn inline_block(text: &str) -> Option<Block> {
    let first_line_end = text.find('\n').unwrap_or(text.len());
    let bytes = text.as_bytes();
    let start = text.get(..first_line_end)?.find('`')?;
    let run = run_len(bytes, start, b'`');
    let body_start = start + run;
    let mut i = body_start;
    while i < first_line_end {
        if bytes[i] == b'`' {
            let r = run_len(bytes, i, b'`');
            if r == run {
                let body = text.get(body_start..i)?.trim().to_string();
                if body.is_empty() {
                    return None;
                }
                return Some(Block {
                    start,
                    tag: None,
                    body,
                });
            }
            i += r;
        } else {
            i += 1;
        }
    }
    None
}
