//! Plain-text tables for the CLI's reports (left-aligned columns, two spaces apart).

/// Render `header` and `rows` as aligned columns; the last column is not padded.
pub fn render<const N: usize>(header: &[&str; N], rows: &[[String; N]]) -> String {
    let mut widths = header.map(|h| h.chars().count());
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: Vec<&str>| {
        let mut l = String::new();
        for (i, cell) in cells.iter().enumerate() {
            if i + 1 == N {
                l.push_str(cell);
            } else {
                l.push_str(cell);
                l.push_str(&" ".repeat(widths[i] - cell.chars().count() + 2));
            }
        }
        out.push_str(l.trim_end());
        out.push('\n');
    };
    line(header.to_vec());
    for row in rows {
        line(row.iter().map(String::as_str).collect());
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn columns_line_up() {
        let t = super::render(
            &["A", "BB", "C"],
            &[
                ["xxx".into(), "y".into(), "z z".into()],
                ["q".into(), "".into(), "w".into()],
            ],
        );
        assert_eq!(t, "A    BB  C\nxxx  y   z z\nq        w\n");
    }
}
