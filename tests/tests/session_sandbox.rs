//! Notebook sessions through the real sandbox (runner level): state across cells, displays,
//! limits per cell (interrupt keeps the variables, a runaway cell ends only its session), memory
//! bombs, parking and restoring, and nothing left behind. scripts/test.sh runs it twice: cold,
//! and with every session forked from the warm pool's zygote (`CODERUNNER_TESTS_WARM=1`).

use std::time::Duration;

use base64::Engine;
use coderunner_config::{HumanDuration, Profile};
use coderunner_runner::session::{self, Cell, CellOutcome, Session, SessionSpec, STATE_FILE};
use coderunner_runner::{InputFile, RunStatus};
use coderunner_tests::png;
use coderunner_tests::safety_net::{self, bytes};

fn spec(files: Vec<InputFile>) -> SessionSpec {
    let (_, python) = safety_net::config()
        .find_language("python")
        .expect("python in the default config");
    SessionSpec {
        language: python.clone(),
        files,
        limits: safety_net::profile(),
        env: Vec::new(),
    }
}

/// A session of the suite's runner: cold, or in the warm pass (`CODERUNNER_TESTS_WARM=1`, see
/// scripts/test.sh) forked from the warm pool's zygote, which the same attacks then go through.
async fn open(files: Vec<InputFile>) -> Session {
    let s = session::start(safety_net::runner(), spec(files))
        .await
        .expect("the session started");
    assert_eq!(
        s.is_warm(),
        safety_net::warm_mode(),
        "warm pass: a session must fork from the zygote; cold pass: start cold"
    );
    s
}

fn limits() -> Profile {
    safety_net::profile()
}

async fn cell(s: &mut Session, code: &str) -> CellOutcome {
    s.run_cell(Cell {
        code: code.into(),
        stdin: String::new(),
        limits: limits(),
    })
    .await
}

fn text(o: &CellOutcome) -> Vec<&str> {
    o.display
        .iter()
        .filter(|d| d.mime == "text/plain")
        .map(|d| d.data.as_str())
        .collect()
}

#[tokio::test]
async fn state_persists_and_cells_show_like_a_notebook() {
    let _g = safety_net::shared().await;
    let mut s = open(vec![InputFile {
        path: "sales.csv".into(),
        content: b"region,amount\nnorth,3\nsouth,5\nnorth,4\n".to_vec(),
    }])
    .await;
    let o = cell(&mut s, "x = 40\nprint('set')").await;
    assert_eq!(o.outcome.status, RunStatus::Exited, "{o:?}");
    assert_eq!(o.outcome.stdout, "set\n");
    assert!(o.display.is_empty(), "an assignment shows nothing");

    let o = cell(&mut s, "x + 2").await;
    assert_eq!(text(&o), ["42"], "the last expression is shown");
    let o = cell(&mut s, "None").await;
    assert!(o.display.is_empty(), "None shows nothing: {o:?}");

    let o = cell(
        &mut s,
        "import pandas as pd\ndf = pd.read_csv('sales.csv')\ndf.groupby('region').sum()",
    )
    .await;
    assert_eq!(o.outcome.status, RunStatus::Exited, "{}", o.outcome.stderr);
    let table = text(&o)[0];
    assert!(
        table.contains("north") && table.contains("7") && table.contains("amount"),
        "{table}"
    );
    assert!(o
        .display
        .iter()
        .any(|d| d.mime == "text/html" && d.data.contains("<table")));

    let o = cell(&mut s, "pd.DataFrame({'n': range(1000)})").await;
    assert!(text(&o)[0].contains("… 980 more rows"), "{}", text(&o)[0]);

    let o = cell(
        &mut s,
        "import matplotlib.pyplot as plt\nplt.plot([1, 2, 3])\nplt.show()\nplt.bar(['a'], [1])",
    )
    .await;
    let pngs: Vec<_> = o.display.iter().filter(|d| d.mime == "image/png").collect();
    assert_eq!(
        pngs.len(),
        2,
        "plt.show() and the open figure: {:?}",
        o.display.iter().map(|d| &d.mime).collect::<Vec<_>>()
    );
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(&pngs[0].data)
        .expect("base64");
    assert!(png::dimensions(&bytes).0 > 100);
    let o = cell(&mut s, "len(plt.get_fignums())").await;
    assert_eq!(text(&o), ["0"], "figures are closed once shown");

    let o = s
        .run_cell(Cell {
            code: "name = input()\nprint('hi', name)".into(),
            stdin: "ada\n".into(),
            limits: limits(),
        })
        .await;
    assert_eq!(o.outcome.stdout, "hi ada\n");

    let o = cell(&mut s, "y = 1\n\ndef f():\n    return 1 / 0\n\nf()").await;
    assert_eq!(o.outcome.exit_code, Some(1));
    assert!(
        o.outcome.stderr.contains("line 6") && o.outcome.stderr.contains("line 4"),
        "{}",
        o.outcome.stderr
    );
    assert!(
        !o.outcome.stderr.contains("kernel"),
        "kernel frames are hidden: {}",
        o.outcome.stderr
    );
    let o = cell(&mut s, "import sys\nsys.exit(3)").await;
    assert_eq!(o.outcome.exit_code, Some(3));
    let o = cell(&mut s, "x, y").await;
    assert_eq!(
        text(&o),
        ["(40, 1)"],
        "an exception and sys.exit end the cell, not the session"
    );

    let o = cell(&mut s, "open('out.txt', 'w').write('hello')").await;
    assert_eq!(o.outcome.files.len(), 1, "{:?}", o.outcome.files);
    assert_eq!(o.outcome.files[0].path, "out.txt");
    let o = cell(&mut s, "1").await;
    assert!(
        o.outcome.files.is_empty(),
        "an unchanged file is not returned again"
    );
    s.close().await;
}

#[tokio::test]
async fn a_timeout_interrupts_and_keeps_the_variables() {
    let _g = safety_net::shared().await;
    let mut s = open(Vec::new()).await;
    cell(&mut s, "kept = 'still here'").await;
    let mut short = limits();
    short.wall_time = HumanDuration::from_secs(1);
    let o = s
        .run_cell(Cell {
            code: "import time\nprint('before', flush=True)\ntime.sleep(30)".into(),
            stdin: String::new(),
            limits: short.clone(),
        })
        .await;
    assert_eq!(o.outcome.status, RunStatus::Timeout, "{o:?}");
    assert!(o.ended.is_none(), "the session lives on");
    assert!(
        o.outcome.stderr.contains("KeyboardInterrupt"),
        "{}",
        o.outcome.stderr
    );
    assert_eq!(o.outcome.stdout, "before\n");
    assert!(
        o.outcome.wall_ms < 1900,
        "interrupted at its wall time: {} ms",
        o.outcome.wall_ms
    );
    let o = cell(&mut s, "kept").await;
    assert_eq!(text(&o), ["'still here'"]);

    // CPU time per cell: a busy loop past the CPU limit (below the wall limit) is interrupted.
    let mut cpu = limits();
    cpu.cpu_time = HumanDuration::from_secs(1);
    cpu.wall_time = HumanDuration::from_secs(8);
    let o = s
        .run_cell(Cell {
            code: "while True:\n    pass".into(),
            stdin: String::new(),
            limits: cpu,
        })
        .await;
    assert_eq!(o.outcome.status, RunStatus::Timeout, "{o:?}");
    assert!(
        o.outcome.error.as_deref().unwrap_or("").contains("CPU"),
        "{o:?}"
    );
    assert!(o.outcome.wall_ms < 4000, "{} ms", o.outcome.wall_ms);
    assert_eq!(text(&cell(&mut s, "kept").await), ["'still here'"]);
    s.close().await;
}

#[tokio::test]
async fn a_runaway_cell_ends_only_its_session_and_a_memory_bomb_is_contained() {
    let _g = safety_net::exclusive().await;
    let mut other = open(Vec::new()).await;
    cell(&mut other, "mine = 7").await;

    let mut s = open(Vec::new()).await;
    let mut short = limits();
    short.wall_time = HumanDuration::from_secs(1);
    let started = std::time::Instant::now();
    let o = s
        .run_cell(Cell {
            // Ignores the interrupt, as a cell stuck in C code would.
            code:
                "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    pass"
                    .into(),
            stdin: String::new(),
            limits: short,
        })
        .await;
    let took = started.elapsed();
    assert_eq!(o.outcome.status, RunStatus::Timeout, "{o:?}");
    let ended = o.ended.expect("the session was ended");
    assert!(
        ended.contains("variables are gone") && ended.contains("files are kept"),
        "{ended}"
    );
    assert!(
        took < Duration::from_secs(5),
        "killed 2 s after the interrupt: {took:?}"
    );
    let again = cell(&mut s, "1").await;
    assert_eq!(
        again.outcome.status,
        RunStatus::SandboxError,
        "an ended session runs nothing"
    );
    s.close().await;

    let mut bomb = open(Vec::new()).await;
    let o = cell(
        &mut bomb,
        "x = []\nwhile True:\n    x.append(bytearray(1 << 20))",
    )
    .await;
    assert!(
        matches!(o.outcome.status, RunStatus::MemoryLimit | RunStatus::Exited),
        "{o:?}"
    );
    if o.outcome.status == RunStatus::MemoryLimit {
        assert!(o.ended.is_some());
    } else {
        // Without a memory cgroup RLIMIT_AS turns it into a MemoryError inside the cell.
        assert!(o.outcome.stderr.contains("MemoryError"), "{o:?}");
    }
    bomb.close().await;

    assert_eq!(
        text(&cell(&mut other, "mine").await),
        ["7"],
        "the other session is untouched"
    );
    other.close().await;
    let left = safety_net::leftovers_after(Duration::from_secs(3)).await;
    assert!(left.is_empty(), "left behind: {left:#?}");
}

#[tokio::test]
async fn parking_saves_what_pickles_and_restoring_brings_it_back() {
    let _g = safety_net::shared().await;
    let mut s = open(Vec::new()).await;
    let o = cell(
        &mut s,
        "import pandas as pd\ndf = pd.DataFrame({'a': [1, 2, 3]})\nxs = [1, 2]\ngen = (i for i in xs)\ndef f():\n    return 1",
    )
    .await;
    assert_eq!(o.outcome.status, RunStatus::Exited, "{}", o.outcome.stderr);
    let parked = s.park(Duration::from_secs(10)).await.expect("parked");
    s.close().await;
    assert_eq!(parked.saved, ["df", "xs"]);
    assert!(
        parked
            .not_saved
            .contains(&("gen".into(), "generator".into())),
        "{parked:?}"
    );
    assert!(parked.modules.contains(&"pd".to_string()));
    let state = parked.state.expect("the state file");

    let mut s = open(vec![InputFile {
        path: STATE_FILE.into(),
        content: state,
    }])
    .await;
    let r = s.restore(Duration::from_secs(10)).await;
    let note = r.note().expect("a note");
    assert!(
        note.starts_with("restored 2 variables (df, xs); not saved: "),
        "{note}"
    );
    assert!(note.contains("gen (generator)"), "{note}");
    let o = cell(&mut s, "int(df['a'].sum()), xs, pd.__name__").await;
    assert_eq!(text(&o), ["(6, [1, 2], 'pandas')"]);
    let o = cell(&mut s, "import os\nos.path.exists('.session/state.pkl')").await;
    assert_eq!(text(&o), ["False"], "restoring consumes the state");

    // A state that is not a pickle of ours is refused inside the sandbox, and empty is nothing.
    s.close().await;
    let mut s = open(vec![InputFile {
        path: STATE_FILE.into(),
        content: Vec::new(),
    }])
    .await;
    assert_eq!(s.restore(Duration::from_secs(5)).await.note(), None);
    s.close().await;
    let _ = bytes(0);
}
