//! Data exploration in the console, end to end: the real `coderunner console` binary, the real
//! sandbox, pandas and matplotlib; the session's workspace survives a restart and `!reset`
//! empties it.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use coderunner_tests::harness::coderunner_bin;

/// Generous: a hang fails the test instead of the suite.
const DEADLINE: Duration = Duration::from_secs(300);

const SALES: &str = "month,revenue,units\n1,1200.5,10\n2,1350.0,12\n3,990.25,8\n4,1810.75,15\n5,1600.0,13\n6,2100.5,18\n";

/// Pipe `input` into `coderunner console` run in `dir` (the data dir and saved files land there).
fn console(dir: &Path, input: &str) -> String {
    let mut child = Command::new(coderunner_bin())
        .arg("console")
        .current_dir(dir)
        .env_remove("DISCORD_TOKEN")
        .env_remove("CODERUNNER_CONFIG")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start coderunner");
    let mut stdin = child.stdin.take().expect("stdin");
    let input = input.to_string();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(input.as_bytes());
    });
    let started = Instant::now();
    while child.try_wait().expect("wait").is_none() {
        if started.elapsed() > DEADLINE {
            let _ = child.kill();
            panic!("coderunner console did not finish within {DEADLINE:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    writer.join().expect("writer");
    let out = child.wait_with_output().expect("output");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "stdout: {stdout}\nstderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// Width and height from a PNG's IHDR chunk, after checking the signature.
fn png_size(bytes: &[u8]) -> (u32, u32) {
    assert!(
        bytes.len() > 24,
        "too short for a PNG: {} bytes",
        bytes.len()
    );
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "PNG signature");
    assert_eq!(&bytes[12..16], b"IHDR", "first chunk is IHDR");
    let w = u32::from_be_bytes([bytes[16], bytes[17], bytes[18], bytes[19]]);
    let h = u32::from_be_bytes([bytes[20], bytes[21], bytes[22], bytes[23]]);
    (w, h)
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
    assert_eq!(png_size(&png), (600, 400));
    println!("plot.png: {} bytes, 600x400", png.len());
    // !files lists both with sizes.
    assert!(first.contains("📁 **workspace** · 2 files"), "{first}");
    assert!(first.contains("• `plot.png` · "), "{first}");
    assert!(
        first.contains(&format!("• `sales.csv` · {} B · just now", SALES.len())),
        "{first}"
    );

    // A new console process on the same data dir still has the files; the run sees them and
    // unchanged files are not attached again.
    let second = console(
        dir.path(),
        concat!(
            "!run py `import os; print(sorted(os.listdir('.')))`\n",
            "!reset\n",
            "!run py `import os; print(sorted(os.listdir('.')))`\n",
            "!files\n",
        ),
    );
    println!("{second}");
    assert!(
        second.contains("['main.py', 'plot.png', 'sales.csv']"),
        "{second}"
    );
    assert!(!second.contains("📎 plot.png"), "{second}");
    assert!(
        second.contains("🗑️ workspace cleared: removed 2 files"),
        "{second}"
    );
    assert!(second.contains("['main.py']"), "{second}");
    assert!(second.contains("📁 this workspace is empty"), "{second}");
}
