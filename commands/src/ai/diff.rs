//! A small unified diff (LCS over lines, 3 lines of context) for `!fix`'s reply: programs are
//! short, so a quadratic table is cheap; past a size cap the whole file is one hunk.

/// Cells of the LCS table at most (lines of a × lines of b).
const MAX_CELLS: usize = 4_000_000;
const CONTEXT: usize = 3;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    Same,
    Del,
    Add,
}

/// Line edits turning `a` into `b`, as (op, index into a or b).
fn edits(a: &[&str], b: &[&str]) -> Vec<(Op, usize)> {
    let (n, m) = (a.len(), b.len());
    if n.saturating_mul(m) > MAX_CELLS {
        let mut out: Vec<(Op, usize)> = (0..n).map(|i| (Op::Del, i)).collect();
        out.extend((0..m).map(|j| (Op::Add, j)));
        return out;
    }
    // lcs[i][j]: LCS length of a[i..] and b[j..].
    let width = m + 1;
    let mut lcs = vec![0u32; (n + 1) * width];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i * width + j] = if a[i] == b[j] {
                lcs[(i + 1) * width + j + 1] + 1
            } else {
                lcs[(i + 1) * width + j].max(lcs[i * width + j + 1])
            };
        }
    }
    let (mut i, mut j) = (0, 0);
    let mut out = Vec::with_capacity(n + m);
    while i < n || j < m {
        if i < n && j < m && a[i] == b[j] {
            out.push((Op::Same, i));
            i += 1;
            j += 1;
        } else if i < n && (j == m || lcs[(i + 1) * width + j] >= lcs[i * width + j + 1]) {
            // Deletions before additions, as diff(1) prints them.
            out.push((Op::Del, i));
            i += 1;
        } else {
            out.push((Op::Add, j));
            j += 1;
        }
    }
    out
}

/// `---`/`+++` headers and `@@` hunks; empty when the texts are equal.
pub fn unified(old_name: &str, new_name: &str, old: &str, new: &str) -> String {
    let a: Vec<&str> = old.lines().collect();
    let b: Vec<&str> = new.lines().collect();
    let ops = edits(&a, &b);
    if ops.iter().all(|(op, _)| *op == Op::Same) {
        return String::new();
    }
    // Positions (in a and b) before each op, to number the hunks.
    let mut pos = Vec::with_capacity(ops.len());
    let (mut ai, mut bi) = (0usize, 0usize);
    for (op, _) in &ops {
        pos.push((ai, bi));
        match op {
            Op::Same => {
                ai += 1;
                bi += 1;
            }
            Op::Del => ai += 1,
            Op::Add => bi += 1,
        }
    }
    let changed: Vec<usize> = (0..ops.len()).filter(|&k| ops[k].0 != Op::Same).collect();
    let mut out = format!("--- {old_name}\n+++ {new_name}\n");
    let mut k = 0;
    while k < changed.len() {
        let start = changed[k].saturating_sub(CONTEXT);
        let mut end = changed[k];
        while k < changed.len() && changed[k] <= end + 2 * CONTEXT + 1 {
            end = changed[k];
            k += 1;
        }
        let end = (end + CONTEXT + 1).min(ops.len());
        let (a0, b0) = pos[start];
        let a_len = ops[start..end]
            .iter()
            .filter(|(o, _)| *o != Op::Add)
            .count();
        let b_len = ops[start..end]
            .iter()
            .filter(|(o, _)| *o != Op::Del)
            .count();
        out.push_str(&format!(
            "@@ -{},{} +{},{} @@\n",
            if a_len == 0 { a0 } else { a0 + 1 },
            a_len,
            if b_len == 0 { b0 } else { b0 + 1 },
            b_len
        ));
        for (op, idx) in &ops[start..end] {
            let (mark, line) = match op {
                Op::Same => (' ', a[*idx]),
                Op::Del => ('-', a[*idx]),
                Op::Add => ('+', b[*idx]),
            };
            out.push(mark);
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::unified;

    #[test]
    fn one_changed_line_with_context() {
        let old = "a\nb\nc\nd\ne\nf\ng\nh\n";
        let new = "a\nb\nc\nd\nE\nf\ng\nh\n";
        let d = unified("main.py", "main.py (fixed)", old, new);
        assert_eq!(
            d,
            "--- main.py\n+++ main.py (fixed)\n@@ -2,7 +2,7 @@\n b\n c\n d\n-e\n+E\n f\n g\n h\n"
        );
    }

    #[test]
    fn equal_texts_give_nothing_and_additions_count_from_zero() {
        assert_eq!(unified("a", "b", "x\n", "x\n"), "");
        let d = unified("a", "b", "", "new\n");
        assert!(d.contains("@@ -0,0 +1,1 @@\n+new\n"), "{d}");
    }

    #[test]
    fn far_apart_changes_make_two_hunks() {
        let old: String = (0..30).map(|i| format!("l{i}\n")).collect();
        let new = old.replace("l2\n", "L2\n").replace("l25\n", "L25\n");
        let d = unified("a", "b", &old, &new);
        assert_eq!(d.matches("@@ -").count(), 2, "{d}");
        assert!(
            d.contains("-l2\n+L2\n") && d.contains("-l25\n+L25\n"),
            "{d}"
        );
    }
}
