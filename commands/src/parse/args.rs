//! Splitting the `!run` header into words, with "double" and 'single' quotes for spaces.

/// The words of `line`; `None` when a quote is left open.
pub fn split(line: &str) -> Option<Vec<String>> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut in_word = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                in_word = true;
                loop {
                    match chars.next()? {
                        '"' => break,
                        '\\' => match chars.next()? {
                            e @ ('"' | '\\') => current.push(e),
                            other => {
                                current.push('\\');
                                current.push(other);
                            }
                        },
                        other => current.push(other),
                    }
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next()? {
                        '\'' => break,
                        other => current.push(other),
                    }
                }
            }
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut current));
                    in_word = false;
                }
            }
            other => {
                in_word = true;
                current.push(other);
            }
        }
    }
    if in_word {
        words.push(current);
    }
    Some(words)
}

#[cfg(test)]
mod tests {
    use super::split;

    #[test]
    fn quotes_group_words() {
        assert_eq!(
            split(r#"a "b c" 'd e' f\g "x\"y""#),
            Some(vec![
                "a".into(),
                "b c".into(),
                "d e".into(),
                r"f\g".into(),
                "x\"y".into()
            ])
        );
        assert_eq!(split("  "), Some(vec![]));
        assert_eq!(split("\"\""), Some(vec![String::new()]));
        assert_eq!(split("\"open"), None);
    }
}
