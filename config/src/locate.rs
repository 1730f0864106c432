//! Finds the line and column of a key path (`config.access.tiers[1].profile`) in YAML text, so
//! errors found after parsing (unknown keys, bad values) can still say where they are.
//!
//! serde_norway's `Value` keeps no positions, so this indexes the text itself. It understands the
//! block style this project's configs use (nested keys, `- ` list items, `key: {a: 1}` flow maps
//! on one line, `|`/`>` block scalars); anything it cannot place gets no line rather than a wrong one.

use std::collections::HashMap;

/// Where a key starts: 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    pub line: usize,
    pub column: usize,
}

/// Key paths of a YAML text mapped to where they are written.
#[derive(Debug, Default)]
pub struct KeyIndex {
    positions: HashMap<String, Position>,
}

enum Segment {
    Key(String),
    Index(usize),
}

impl KeyIndex {
    /// Index every key (and list item) of `text`.
    pub fn new(text: &str) -> Self {
        let mut index = KeyIndex::default();
        // (indent, segment) from the root down to the current line's parent.
        let mut stack: Vec<(usize, Segment)> = Vec::new();
        // How many items each list (by its path) has had so far.
        let mut items: HashMap<String, usize> = HashMap::new();
        // Lines deeper than this indent belong to a block scalar and are skipped.
        let mut block_scalar_indent: Option<usize> = None;

        for (n, raw) in text.lines().enumerate() {
            let line_no = n + 1;
            let trimmed = raw.trim_start_matches(' ');
            let mut indent = raw.len() - trimmed.len();
            if let Some(limit) = block_scalar_indent {
                if trimmed.is_empty() || indent > limit {
                    continue;
                }
                block_scalar_indent = None;
            }
            if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with("---") {
                continue;
            }
            let mut content = trimmed;
            // `- ` list items, possibly several on one line (`- - x`).
            while content == "-" || content.starts_with("- ") {
                while stack.last().is_some_and(|(i, seg)| {
                    *i > indent || (*i == indent && matches!(seg, Segment::Index(_)))
                }) {
                    stack.pop();
                }
                let parent = render(&stack);
                let count = items.entry(parent.clone()).or_insert(0);
                let item = *count;
                *count += 1;
                stack.push((indent, Segment::Index(item)));
                index.record(&stack, line_no, indent + 1);
                let rest = content[1..].trim_start_matches(' ');
                indent += content.len() - rest.len();
                content = rest;
            }
            if content.is_empty() {
                continue;
            }
            if content.starts_with('{') {
                // A flow mapping as a list item: `- {name: ci, tier: member}`.
                index.record_flow(
                    &render(&stack),
                    content,
                    line_no,
                    offset_in(raw, content) + 1,
                );
                continue;
            }
            let Some((key, value)) = split_key(content) else {
                continue;
            };
            while stack.last().is_some_and(|(i, _)| *i >= indent) {
                stack.pop();
            }
            stack.push((indent, Segment::Key(key.to_string())));
            index.record(&stack, line_no, indent + 1);
            let value = strip_comment(value).trim();
            if value.starts_with('{') {
                index.record_flow(&render(&stack), value, line_no, offset_in(raw, value) + 1);
            } else if value.starts_with('|') || value.starts_with('>') {
                block_scalar_indent = Some(indent);
            }
        }
        index
    }

    /// Where `path` (e.g. `config.discord.prefix` or `config.access.tiers[0].name`) is written.
    pub fn find(&self, path: &str) -> Option<Position> {
        self.positions.get(path).copied()
    }

    /// Where `path` or, failing that, its nearest written ancestor is.
    pub fn find_nearest(&self, path: &str) -> Option<Position> {
        let mut p = path;
        loop {
            if let Some(pos) = self.find(p) {
                return Some(pos);
            }
            let cut = p.rfind(['.', '['])?;
            p = &p[..cut];
        }
    }

    fn record(&mut self, stack: &[(usize, Segment)], line: usize, column: usize) {
        self.positions
            .entry(render(stack))
            .or_insert(Position { line, column });
    }

    /// Record the keys of a one-line flow mapping `{a: 1, b: [x, y]}` under `parent`; `column`
    /// is the 1-based column of its `{`.
    fn record_flow(&mut self, parent: &str, flow: &str, line: usize, column: usize) {
        let mut depth = 0usize;
        let mut start = 1usize;
        let bytes = flow.as_bytes();
        for (i, &b) in bytes.iter().enumerate() {
            match b {
                b'{' | b'[' => {
                    depth += 1;
                    if depth == 1 {
                        start = i + 1;
                    }
                }
                b'}' | b']' | b',' => {
                    if depth == 1 {
                        let part = &flow[start..i];
                        let lead = part.len() - part.trim_start().len();
                        if let Some((key, _)) = split_key(part.trim_start()) {
                            let path = format!("{parent}.{key}");
                            self.positions.entry(path).or_insert(Position {
                                line,
                                column: column + start + lead,
                            });
                        }
                        start = i + 1;
                    }
                    if b != b',' {
                        depth = depth.saturating_sub(1);
                    }
                }
                _ => {}
            }
        }
    }
}

/// Byte offset of `part` (a subslice) inside `whole`.
fn offset_in(whole: &str, part: &str) -> usize {
    (part.as_ptr() as usize).saturating_sub(whole.as_ptr() as usize)
}

/// `key: value` (or `"key": value`, `key:`) -> (key, value).
fn split_key(content: &str) -> Option<(&str, &str)> {
    let (key, value) = if let Some(quote @ ('"' | '\'')) = content.chars().next() {
        let end = content[1..].find(quote)? + 1;
        let after = &content[end + 1..];
        let value = after.strip_prefix(':')?;
        (&content[1..end], value)
    } else {
        let colon = content
            .char_indices()
            .find(|&(i, c)| {
                c == ':'
                    && content[i + 1..]
                        .chars()
                        .next()
                        .is_none_or(|n| n == ' ' || n == '\t')
            })
            .map(|(i, _)| i)?;
        let key = content[..colon].trim_end();
        if key.is_empty() || key.starts_with(['[', '{', '#', '"', '\'']) {
            return None;
        }
        (key, &content[colon + 1..])
    };
    if !value.is_empty() && !value.starts_with([' ', '\t']) {
        return None;
    }
    Some((key, value))
}

/// Cut a trailing `# comment` (not inside quotes).
fn strip_comment(value: &str) -> &str {
    let mut quote = None;
    for (i, c) in value.char_indices() {
        match (quote, c) {
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, '#') if i == 0 || value[..i].ends_with(' ') => return &value[..i],
            _ => {}
        }
    }
    value
}

fn render(stack: &[(usize, Segment)]) -> String {
    let mut out = String::new();
    for (_, seg) in stack {
        match seg {
            Segment::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            Segment::Index(i) => {
                out.push('[');
                out.push_str(&i.to_string());
                out.push(']');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{KeyIndex, Position};

    const TEXT: &str = "\
# comment
config:
  agent_id: x   # trailing
  discord:
    prefix: \"!\"
    guilds: []
  access:
    tiers:
      - name: member
        roles: []
      - name: admin
        admin: true
    note: |
      not: a key
      - nor an item
  rate_limits:
    user:
      member: {count: 5, per: 1m}
  http:
    api_keys:
    - {name: ci, key_env: CI_KEY, tier: member}
    - name: two
      tier: admin
  \"quoted\": 1
";

    fn at(line: usize, column: usize) -> Option<Position> {
        Some(Position { line, column })
    }

    #[test]
    fn finds_nested_keys_items_and_flow_maps() {
        let ix = KeyIndex::new(TEXT);
        assert_eq!(ix.find("config"), at(2, 1));
        assert_eq!(ix.find("config.agent_id"), at(3, 3));
        assert_eq!(ix.find("config.discord.prefix"), at(5, 5));
        assert_eq!(ix.find("config.access.tiers[0]"), at(9, 7));
        assert_eq!(ix.find("config.access.tiers[0].name"), at(9, 9));
        assert_eq!(ix.find("config.access.tiers[1].admin"), at(12, 9));
        assert_eq!(ix.find("config.access.note"), at(13, 5));
        assert_eq!(ix.find("config.access.not"), None);
        assert_eq!(ix.find("config.rate_limits.user.member"), at(18, 7));
        assert_eq!(ix.find("config.rate_limits.user.member.per"), at(18, 26));
        assert_eq!(ix.find("config.http.api_keys[0].key_env"), at(21, 18));
        assert_eq!(ix.find("config.http.api_keys[1].tier"), at(23, 7));
        assert_eq!(ix.find("config.quoted"), at(24, 3));
    }

    #[test]
    fn nearest_falls_back_to_the_parent() {
        let ix = KeyIndex::new(TEXT);
        assert_eq!(ix.find_nearest("config.discord.token_env"), at(4, 3));
        assert_eq!(ix.find_nearest("config.access.tiers[1].profile"), at(11, 7));
        assert_eq!(ix.find_nearest("nowhere"), None);
    }
}
