//! The console is one notebook session, end to end through the real `coderunner console` binary
//! and the real sandbox: variables carry across cells, the last expression and DataFrames show,
//! figures come back without `savefig`, a timeout keeps the variables, `!restart` and `!reset`
//! work, leaving the console parks the session and the next console restores it, and no log
//! line gets between the banner and the replies.

use std::path::Path;

use coderunner_tests::console::run_in;
use coderunner_tests::png;

fn console(dir: &Path, input: &str) -> (String, String) {
    let t = run_in(dir, &["console"], input);
    assert!(t.success, "stdout: {}\nstderr: {}", t.stdout, t.stderr);
    (t.stdout, t.stderr)
}

fn cell(code: &str) -> String {
    format!("!run py\n```py\n{code}\n```\n")
}

/// The output block under the `n`th (0-based) status line of a cell or run.
fn output_of(transcript: &str, n: usize) -> Vec<&str> {
    transcript
        .split('\n')
        .collect::<Vec<_>>()
        .split(|l| l.contains(" **python "))
        .nth(n + 1)
        .map(|block| {
            block
                .iter()
                .copied()
                .skip_while(|l| !l.starts_with("```"))
                .skip(1)
                .take_while(|l| !l.starts_with("```"))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn the_console_is_a_notebook_that_survives_its_own_exit() {
    let dir = tempfile::tempdir().expect("temp dir");
    let input = [
        cell("import pandas as pd\ndf = pd.DataFrame({'city': ['Oslo', 'Lima'], 'temp': [4.5, 19.0]})\nn = 2"),
        cell("n * 21"),
        cell("df"),
        cell("import matplotlib.pyplot as plt\nplt.bar(df.city, df.temp)\nplt.show()"),
        "!run --timeout=2 py\n```py\nwhile True:\n    pass\n```\n".to_string(),
        cell("n"),
        "!session\n".to_string(),
    ]
    .concat();
    let (out, err) = console(dir.path(), &input);
    println!("{out}\n--- stderr:\n{err}");
    assert_eq!(output_of(&out, 0), Vec::<&str>::new(), "{out}");
    assert_eq!(output_of(&out, 1), ["42"], "{out}");
    let table = output_of(&out, 2);
    assert!(
        table
            .first()
            .is_some_and(|h| h.split_whitespace().eq(["city", "temp"])),
        "{table:?}"
    );
    assert!(
        table
            .iter()
            .any(|r| r.split_whitespace().eq(["1", "Lima", "19.0"])),
        "{table:?}"
    );
    // plt.show() hands the figure back: saved by the console as a PNG.
    let figure = out
        .lines()
        .find_map(|l| l.split("figure-1.png saved to ").nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no figure saved: {out}"));
    let png = std::fs::read(dir.path().join(figure)).expect("the figure file");
    let (w, h) = png::dimensions(&png);
    assert!(w > 300 && h > 200, "{w}x{h}");
    // The timeout interrupts the cell, and the next cell still has `n`.
    assert!(out.contains("KeyboardInterrupt"), "{out}");
    assert!(
        out.lines().any(|l| l.starts_with("⏱️ **python ")),
        "the timed-out cell says so: {out}"
    );
    assert_eq!(output_of(&out, 5), ["2"], "{out}");
    assert!(out.contains("`df`: pandas.core.frame.DataFrame"), "{out}");
    assert!(out.contains("`n`: int"), "{out}");
    // The conversation has no log lines in it (they are warnings and errors only, on stderr).
    for text in [&out, &err] {
        assert!(
            !text.contains(" INFO ") && !text.contains("\u{1b}["),
            "log lines or colour codes: {text}"
        );
    }

    // Leaving the console parked the session; the next console restores it first.
    let (again, _) = console(
        dir.path(),
        &[cell("n + 1"), "!restart\n".into(), cell("'n' in globals()")].concat(),
    );
    println!("{again}");
    assert_eq!(output_of(&again, 0), ["3"], "{again}");
    assert!(again.contains("restored 2 variables (df, n)"), "{again}");
    assert!(again.contains("restarted"), "{again}");
    assert_eq!(output_of(&again, 1), ["False"], "{again}");

    // !reset clears the variables and the files.
    let (reset, _) = console(
        dir.path(),
        &[
            cell("m = 1\nopen('kept.txt', 'w').write('x')"),
            "!reset\n".into(),
            cell("import os\n'm' in globals(), sorted(os.listdir('.'))"),
        ]
        .concat(),
    );
    println!("{reset}");
    assert!(reset.contains("variables are cleared"), "{reset}");
    assert_eq!(output_of(&reset, 1), ["(False, [])"], "{reset}");
}

/// A file attached to a one-shot run after the session started joins the live session before
/// its next cell; a name the session already holds (here a link it planted, pointing at a host
/// path) is never written through or over.
#[test]
fn files_attached_after_the_session_started_reach_its_next_cell() {
    let dir = tempfile::tempdir().expect("temp dir");
    let bait = dir.path().join("pwned");
    std::fs::write(dir.path().join("data.csv"), "city,temp\nOslo,4.5\n").expect("data.csv");
    std::fs::write(dir.path().join("evil.csv"), "written by the host\n").expect("evil.csv");
    let input = [
        cell(&format!(
            "import os\nos.symlink({:?}, 'evil.csv')\nx = 1",
            bait.display().to_string()
        )),
        ":attach data.csv\n:attach evil.csv\n!run py `print('stored')`\n".to_string(),
        cell("print(open('data.csv').read().strip(), x)\nprint(os.path.islink('evil.csv'), os.readlink('evil.csv').endswith('pwned'))"),
    ]
    .concat();
    let (out, _) = console(dir.path(), &input);
    println!("{out}");
    assert_eq!(output_of(&out, 1), ["stored"], "{out}");
    assert_eq!(
        output_of(&out, 2),
        ["city,temp", "Oslo,4.5 1", "True True"],
        "{out}"
    );
    assert!(
        !bait.exists(),
        "the host wrote through a link the session planted"
    );
}
