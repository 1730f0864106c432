//! Environment variables a run's author asks for, through the real sandbox: they reach the
//! program (after the sandbox's and the language's own), and names that change how interpreters
//! or the loader behave are refused by the runner itself, whatever frontend sent them.

use coderunner_runner::{RunStatus, Runner, RunnerError};
use coderunner_tests::safety_net::{self, request, run_request};

#[tokio::test]
async fn requested_variables_reach_the_program() {
    let _g = safety_net::shared().await;
    let mut req = request(
        "python",
        "import os\nprint(os.environ['GREETING'], os.environ['MPLBACKEND'], os.environ['PYTHONHASHSEED'], os.environ['HOME'])\n",
    );
    req.env = vec![
        ("GREETING".into(), "hello = world".into()),
        ("MPLBACKEND".into(), "svg".into()),
        ("PYTHONHASHSEED".into(), "0".into()),
    ];
    let o = run_request(req).await;
    assert_eq!(o.status, RunStatus::Exited, "{o:?}");
    assert_eq!(o.stdout, "hello = world svg 0 /work\n", "{o:?}");
    // Another language sees them too.
    let mut req = request("ruby", "puts ENV.fetch('GREETING')\n");
    req.env = vec![("GREETING".into(), "hi".into())];
    assert_eq!(run_request(req).await.stdout, "hi\n");
}

#[tokio::test]
async fn loader_and_interpreter_variables_are_refused_by_the_runner() {
    let _g = safety_net::shared().await;
    for (name, value) in [
        ("LD_PRELOAD", "/work/evil.so"),
        ("PYTHONPATH", "/work"),
        ("PYTHONSTARTUP", "/work/x.py"),
        ("NODE_OPTIONS", "--max-old-space-size=100000"),
        ("PATH", "/work"),
        ("HOME", "/"),
        ("BAD-NAME", "x"),
    ] {
        let mut req = request("python", "print('ran')\n");
        req.env = vec![(name.into(), value.into())];
        match safety_net::runner().run(req).await {
            Err(RunnerError::InvalidRequest(why)) => {
                assert!(why.contains(name), "{name}: {why}")
            }
            other => panic!("{name} was not refused: {other:?}"),
        }
    }
}
