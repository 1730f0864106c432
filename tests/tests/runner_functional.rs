//! Functional tests of the real sandbox: every configured language, exit codes and signals,
//! output handling, stdin, args, multi-file programs, output files, compile errors, input
//! validation and the isolation this host gives.

use coderunner_runner::{InputFile, RunStatus, Runner, RunnerError};
use coderunner_tests::safety_net::{self, request, run, run_request};

#[tokio::test]
async fn hello_world_in_every_configured_language() {
    let _g = safety_net::shared().await;
    let programs = [
        ("python", "print('hello from python')", "hello from python"),
        (
            "javascript",
            "console.log('hello from js')",
            "hello from js",
        ),
        (
            "bash",
            "echo \"hello from $0\" | sed s/main.sh/bash/",
            "hello from bash",
        ),
        ("sh", "echo hello from sh", "hello from sh"),
        (
            "c",
            "#include <stdio.h>\nint main(void){puts(\"hello from c\");return 0;}",
            "hello from c",
        ),
        (
            "cpp",
            "#include <iostream>\nint main(){std::cout<<\"hello from cpp\\n\";}",
            "hello from cpp",
        ),
    ];
    let configured: Vec<&String> = safety_net::config().languages.keys().collect();
    for (lang, code, want) in programs {
        assert!(
            configured.iter().any(|l| *l == lang),
            "{lang} is configured"
        );
        let o = run(lang, code).await;
        assert_eq!(o.status, RunStatus::Exited, "{lang}: {o:?}");
        assert_eq!(o.exit_code, Some(0), "{lang}: {o:?}");
        assert_eq!(o.stdout.trim(), want, "{lang}: {o:?}");
        assert!(
            o.peak_memory_bytes.is_some(),
            "{lang}: peak memory measured"
        );
    }
    // Rust is configured but only runs where rustc is installed in a path the sandbox can see.
    let rust = run("rust", "fn main(){ println!(\"hello from rust\"); }").await;
    let installed = ["/usr/local/bin/rustc", "/usr/bin/rustc"]
        .iter()
        .any(|p| std::path::Path::new(p).exists());
    if installed {
        assert_eq!(rust.stdout.trim(), "hello from rust", "{rust:?}");
    } else {
        assert_eq!(rust.status, RunStatus::SandboxError);
        let e = rust.error.unwrap_or_default();
        assert!(e.contains("rustc") && e.contains("not installed"), "{e}");
    }
    // Every language ran: every configured one is covered above or by tests/tests/languages_*.rs.
    for lang in configured {
        assert!(
            programs.iter().any(|(l, _, _)| l == lang)
                || coderunner_tests::languages::COVERED.contains(&lang.as_str()),
            "no hello-world test for configured language {lang}"
        );
    }
}

#[tokio::test]
async fn exit_codes_and_signal_names() {
    let _g = safety_net::shared().await;
    let o = run("python", "import sys; sys.exit(42)").await;
    assert_eq!(
        (o.status, o.exit_code, o.signal.as_deref()),
        (RunStatus::Exited, Some(42), None)
    );
    let o = run(
        "python",
        "import os, signal; os.kill(os.getpid(), signal.SIGSEGV)",
    )
    .await;
    assert_eq!((o.status, o.exit_code), (RunStatus::Signaled, None));
    assert_eq!(o.signal.as_deref(), Some("SIGSEGV"));
    let o = run("bash", "kill -TERM $$").await;
    assert_eq!(o.signal.as_deref(), Some("SIGTERM"), "{o:?}");
    let o = run("c", "#include <stdlib.h>\nint main(void){abort();}").await;
    assert_eq!(
        (o.status, o.signal.as_deref()),
        (RunStatus::Signaled, Some("SIGABRT")),
        "{o:?}"
    );
}

#[tokio::test]
async fn invalid_utf8_output_is_replaced_not_fatal() {
    let _g = safety_net::shared().await;
    let o = run(
        "python",
        "import sys; sys.stdout.buffer.write(b'ok \\xff\\xfe end\\n')",
    )
    .await;
    assert_eq!(o.status, RunStatus::Exited);
    assert_eq!(o.stdout, "ok \u{FFFD}\u{FFFD} end\n");
}

#[tokio::test]
async fn stdout_and_stderr_interleave_in_arrival_order() {
    let _g = safety_net::shared().await;
    let code = "import sys, time\n\
                for i in range(3):\n\
                \x20   print('out', i)\n\
                \x20   time.sleep(0.05)\n\
                \x20   print('err', i, file=sys.stderr)\n\
                \x20   time.sleep(0.05)\n\
                raise SystemExit('bye')\n";
    let o = run("python", code).await;
    assert_eq!(o.stdout, "out 0\nout 1\nout 2\n");
    assert_eq!(o.stderr, "err 0\nerr 1\nerr 2\nbye\n");
    assert_eq!(o.output, "out 0\nerr 0\nout 1\nerr 1\nout 2\nerr 2\nbye\n");
    assert_eq!(o.exit_code, Some(1));
}

#[tokio::test]
async fn stdin_and_args_reach_the_program() {
    let _g = safety_net::shared().await;
    let mut req = request(
        "python",
        "import sys\nprint(sys.argv[1:])\nprint(sys.stdin.read().upper())",
    );
    req.stdin = b"line one\nline two".to_vec();
    req.args = vec!["a b".into(), "--flag".into(), "ünï".into()];
    let o = run_request(req).await;
    assert_eq!(
        o.stdout, "['a b', '--flag', 'ünï']\nLINE ONE\nLINE TWO\n",
        "{o:?}"
    );
    // A big stdin (larger than a pipe buffer) arrives whole.
    let mut req = request("python", "import sys; print(len(sys.stdin.buffer.read()))");
    req.stdin = vec![b'x'; 3 << 20];
    assert_eq!(run_request(req).await.stdout, format!("{}\n", 3 << 20));
}

#[tokio::test]
async fn multi_file_programs_and_output_files() {
    let _g = safety_net::shared().await;
    let mut req = request(
        "python",
        "import lib, os\n\
         print(lib.x)\n\
         open('plot.png', 'wb').write(b'\\x89PNG\\r\\n\\x1a\\n' + bytes(100))\n\
         os.makedirs('out/sub')\n\
         open('out/sub/data.csv', 'w').write('a,b\\n1,2\\n')\n\
         open('edited.txt', 'a').write('more')\n\
         open('.hidden', 'w').write('no')\n",
    );
    req.files.push(InputFile {
        path: "lib.py".into(),
        content: b"x = 'hello from lib'".to_vec(),
    });
    req.files.push(InputFile {
        path: "edited.txt".into(),
        content: b"start ".to_vec(),
    });
    req.files.push(InputFile {
        path: "data/untouched.csv".into(),
        content: b"1,2".to_vec(),
    });
    let o = run_request(req).await;
    assert_eq!(o.stdout, "hello from lib\n", "{o:?}");
    let files: Vec<(&str, u64, &str)> = o
        .files
        .iter()
        .map(|f| (f.path.as_str(), f.size, f.mime.as_str()))
        .collect();
    assert_eq!(
        files,
        [
            ("edited.txt", 10, "text/plain"),
            ("out/sub/data.csv", 8, "text/csv"),
            ("plot.png", 108, "image/png")
        ]
    );
    assert_eq!(o.files[0].content, b"start more");
    // The interpreter is Debian's, without user site-packages, in an environment only the sandbox
    // sets: no -E (a package set's PYTHONPATH comes from the runner), so the PYTHON* variables it
    // sees are the language's own (the author's may not name PYTHON*: languages_env.rs).
    let o = run("python", "import os, sys; print(sys.executable, sys.flags.no_user_site, sys.flags.dont_write_bytecode, sys.flags.utf8_mode, sorted(k for k in os.environ if k.startswith('PYTHON')))").await;
    assert_eq!(
        o.stdout,
        "/usr/bin/python3 1 1 1 ['PYTHONDONTWRITEBYTECODE', 'PYTHONIOENCODING', 'PYTHONUTF8']\n",
        "{o:?}"
    );
}

#[tokio::test]
async fn compile_errors_carry_the_compiler_messages() {
    let _g = safety_net::shared().await;
    let o = run("c", "int main(void) { return undeclared_thing; }").await;
    assert_eq!(o.status, RunStatus::CompileError, "{o:?}");
    let c = o.compile.expect("compile outcome");
    assert_eq!(c.exit_code, Some(1));
    assert!(c.stderr.contains("undeclared_thing"), "{}", c.stderr);
    assert!(o.output.contains("undeclared_thing"));
    // A successful compile is reported too.
    let ok = run("cpp", "int main(){return 7;}").await;
    assert_eq!((ok.status, ok.exit_code), (RunStatus::Exited, Some(7)));
    assert_eq!(ok.compile.map(|c| c.exit_code), Some(Some(0)));
}

#[tokio::test]
async fn bad_input_file_names_are_refused_with_a_reason() {
    let _g = safety_net::shared().await;
    for (name, fragment) in [
        ("../escape.txt", "`..`"),
        ("/etc/passwd", "relative"),
        ("a\0b", "NUL"),
        ("main.py/inner", "directory"),
    ] {
        let mut req = request("python", "print(1)");
        req.files.push(InputFile {
            path: name.into(),
            content: b"x".to_vec(),
        });
        match safety_net::runner().run(req).await {
            Err(RunnerError::InvalidRequest(msg)) => {
                assert!(msg.contains(fragment), "{name}: {msg}")
            }
            other => panic!("{name:?} was not refused: {other:?}"),
        }
    }
    let mut req = request("python", "print(1)");
    req.main = Some("missing.py".into());
    assert!(matches!(
        safety_net::runner().run(req).await,
        Err(RunnerError::InvalidRequest(_))
    ));
}

#[tokio::test]
async fn this_host_gives_full_isolation() {
    let s = safety_net::runner().summary();
    assert_eq!(s.mode, "root", "{s:?}");
    assert!(
        s.cgroups
            .as_deref()
            .is_some_and(|c| c.contains("memory") && c.contains("pids")),
        "{s:?}"
    );
    assert!(s.landlock_abi.is_some_and(|v| v >= 6), "{s:?}");
    assert!(s.degraded.is_empty(), "{s:?}");
    // And the CLI's doctor, which probes the same way, agrees.
    let dir = tempfile::tempdir().expect("tempdir");
    let out = std::process::Command::new(coderunner_tests::harness::coderunner_bin())
        .arg("--config")
        .arg(safety_net::config_file(dir.path()))
        .arg("doctor")
        .output()
        .expect("run coderunner doctor");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "doctor reports degradation: {text}");
    assert!(text.contains("verdict: full isolation"), "{text}");
}
