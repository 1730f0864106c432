//! Data exploration in the console, end to end: the real `coderunner console` binary, the real
//! sandbox, pandas and matplotlib; the session's workspace survives a restart and `!reset`
//! empties it.

use std::path::Path;

use coderunner_tests::console::run_in;
use coderunner_tests::png;

const SALES: &str = "month,revenue,units\n1,1200.5,10\n2,1350.0,12\n3,990.25,8\n4,1810.75,15\n5,1600.0,13\n6,2100.5,18\n";

/// Pipe `input` into `coderunner console` run in `dir` (the data dir and saved files land there).
fn console(dir: &Path, input: &str) -> String {
    let t = run_in(dir, &["console"], input);
    assert!(t.success, "stdout: {}\nstderr: {}", t.stdout, t.stderr);
    t.stdout
}

#[test]
fn csv_to_pandas_to_plot_then_restart_then_reset() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("sales.csv"), SALES).expect("csv");
    let first = console(
        dir.path(),
        concat!(
            ":attach sales.csv\n",
            "!run python\n```py\nimport pandas as pd\ndf = pd.read_csv('sales.csv')\nprint(df.describe())\n```\n",
            "!run python\n```py\nimport pandas as pd\nimport matplotlib.pyplot as plt\n",
            "df = pd.read_csv('sales.csv')\n",
            "df.plot(x='month', y='revenue', figsize=(6, 4)).figure.savefig('plot.png', dpi=100)\n",
            "print('saved plot.png')\n```\n",
            "!files\n",
        ),
    );
    println!("{first}");
    // describe() of the attached CSV.
    assert!(first.contains("revenue"), "{first}");
    assert!(first.contains("count"), "{first}");
    assert!(first.contains("6.000000"), "{first}");
    assert!(first.contains("mean"), "{first}");
    assert!(first.contains("1508.666667"), "mean revenue: {first}");
    // The first run's status line counts the attachment now kept in the workspace.
    let lines: Vec<&str> = first.lines().collect();
    let status: Vec<&&str> = lines
        .iter()
        .filter(|l| l.starts_with("✅ **python"))
        .collect();
    assert_eq!(status.len(), 2, "{first}");
    assert!(
        status[0].ends_with("· 📁 1 file in workspace"),
        "{}",
        status[0]
    );
    assert!(
        status[1].ends_with("· 📁 2 files in workspace"),
        "{}",
        status[1]
    );
    // The plot came back as a real PNG of 600x400 pixels.
    assert!(first.contains("saved plot.png"), "{first}");
    let saved = dir.path().join("coderunner-out/2-plot.png");
    assert!(
        first.contains("📎 plot.png saved to coderunner-out/2-plot.png"),
        "{first}"
    );
    let png = std::fs::read(&saved).expect("the PNG was saved");
    assert_eq!(png::dimensions(&png), (600, 400));
    println!("plot.png: {} bytes, 600x400", png.len());
    // !files lists both with sizes.
    assert!(first.contains("📁 **workspace** · 2 files"), "{first}");
    assert!(first.contains("• `plot.png` · "), "{first}");
    assert!(
        first.contains(&format!("• `sales.csv` · {} B · just now", SALES.len())),
        "{first}"
    );

    // A new console process on the same data dir still has the files; a one-shot run sees them
    // and unchanged files are not attached again. The first console's exit parked its notebook
    // session into the workspace (`.session/state.pkl`), so `!reset` removes three files.
    let second = console(
        dir.path(),
        concat!(
            "!run --fresh py `import os; print(sorted(os.listdir('.')))`\n",
            "!reset\n",
            "!run --fresh py `import os; print(sorted(os.listdir('.')))`\n",
            "!files\n",
        ),
    );
    println!("{second}");
    assert!(
        second.contains("['.session', 'main.py', 'plot.png', 'sales.csv']"),
        "{second}"
    );
    assert!(!second.contains("📎 plot.png"), "{second}");
    assert!(
        second.contains("🗑️ workspace cleared: removed 3 files"),
        "{second}"
    );
    assert!(second.contains("['main.py']"), "{second}");
    assert!(second.contains("📁 this workspace is empty"), "{second}");
}
