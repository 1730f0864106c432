//! Splitting console input into chat messages: a message ends at the end of a line unless a
//! code fence is still open, and a `!run` line waits for a code block that starts on the next line.

/// An open fence: its character and length.
pub type Fence = Option<(u8, usize)>;

/// The fence state after `line`, starting from `open`. Mirrors the parser: a run of three or
/// more backticks (or tildes) opens a block, and a run at least as long closes it.
pub fn scan_fences(line: &str, mut open: Fence) -> Fence {
    let bytes = line.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if c != b'`' && c != b'~' {
            i += 1;
            continue;
        }
        let run = bytes[i..].iter().take_while(|&&b| b == c).count();
        match open {
            None if run >= 3 => open = Some((c, run)),
            Some((oc, on)) if oc == c && run >= on => open = None,
            _ => {}
        }
        i += run;
    }
    open
}

/// Whether `line` begins a fenced block (so it belongs to the `!run` message before it).
pub fn starts_fence(line: &str) -> bool {
    let t = line.trim_start();
    t.starts_with("```") || t.starts_with("~~~")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fences_open_and_close() {
        assert_eq!(scan_fences("!run```py", None), Some((b'`', 3)));
        assert_eq!(scan_fences("print(1)```", Some((b'`', 3))), None);
        assert_eq!(scan_fences("```print(1)```", None), None);
        assert_eq!(scan_fences("x = '``'", Some((b'`', 3))), Some((b'`', 3)));
        assert_eq!(scan_fences("~~~", Some((b'`', 3))), Some((b'`', 3)));
        assert_eq!(scan_fences("````", Some((b'`', 4))), None);
        assert_eq!(scan_fences("```", Some((b'`', 4))), Some((b'`', 4)));
        assert!(starts_fence("  ```stdin"));
        assert!(!starts_fence("print(1)"));
    }
}
