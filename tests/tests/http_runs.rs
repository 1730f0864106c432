//! Runs through the real `coderunner serve` in every configured language, with stdin, args,
//! extra input files (utf8 and base64) and output files returned inline.

mod http_support;

use base64::Engine as _;
use http_support::*;
use serde_json::{json, Value};

/// (language, main file, program printing "<lang> <arg1> <first stdin line>").
fn programs() -> Vec<(&'static str, &'static str, &'static str)> {
    vec![
        ("python", "main.py", "import sys\nprint('python', sys.argv[1], input())\n"),
        (
            "javascript",
            "main.js",
            "const l = require('fs').readFileSync(0, 'utf8').split('\\n')[0];\nconsole.log('javascript', process.argv[2], l);\n",
        ),
        ("bash", "main.sh", "read -r l; echo bash \"$1\" \"$l\"\n"),
        ("sh", "main.sh", "read l; echo sh \"$1\" \"$l\"\n"),
        (
            "c",
            "main.c",
            "#include <stdio.h>\nint main(int c, char **v) { char l[64]; if (!fgets(l, 64, stdin)) return 3; printf(\"c %s %s\", v[1], l); return 0; }\n",
        ),
        (
            "cpp",
            "main.cpp",
            "#include <iostream>\n#include <string>\nint main(int c, char **v) { std::string l; std::getline(std::cin, l); std::cout << \"cpp \" << v[1] << ' ' << l << std::endl; }\n",
        ),
        (
            "rust",
            "main.rs",
            "fn main() { let mut l = String::new(); std::io::stdin().read_line(&mut l).unwrap(); let a: Vec<String> = std::env::args().collect(); print!(\"rust {} {}\", a[1], l); }\n",
        ),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_in_each_language() {
    let server = Server::start();
    for (language, file, code) in programs() {
        if language == "rust" && !std::path::Path::new("/usr/bin/rustc").exists() {
            println!("SKIP rust: /usr/bin/rustc is absent on this host (the sandbox binds only system toolchains)");
            continue;
        }
        let mut body = program(language, file, code);
        body["stdin"] = json!("line one\nline two\n");
        body["args"] = json!(["arg1"]);
        let (status, _, json) = post_run(&server, Some(MEMBER_KEY), "", &body).await;
        assert_eq!(status, 200, "{language}: {json}\n{}", server.log());
        assert_eq!(json["status"], "exited", "{language}: {json}");
        assert_eq!(json["exit_code"], 0, "{language}: {json}");
        assert_eq!(
            json["stdout"],
            format!("{language} arg1 line one\n"),
            "{language}: {json}"
        );
        let compiled = matches!(language, "c" | "cpp" | "rust");
        assert_eq!(json["compile"].is_object(), compiled, "{language}: {json}");
        // The DESIGN §3 field set is all there.
        for field in [
            "status",
            "exit_code",
            "signal",
            "stdout",
            "stderr",
            "output",
            "truncated",
            "wall_ms",
            "cpu_ms",
            "peak_memory_bytes",
            "files",
            "compile",
            "error",
        ] {
            assert!(
                json.get(field).is_some(),
                "{language}: no {field} in {json}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn input_files_and_inline_output_files() {
    let server = Server::start();
    let binary: Vec<u8> = (0u8..=255).collect();
    let code = "import os\n\
        data = open('data/blob.bin', 'rb').read()\n\
        csv = open('sales.csv').read()\n\
        open('out.bin', 'wb').write(bytes(reversed(data)))\n\
        print(len(data), csv.strip())\n";
    let body = json!({
        "language": "py",
        "files": [
            {"name": "prog.py", "content": code},
            {"name": "sales.csv", "content": "a,b\n1,2\n", "encoding": "utf8"},
            {"name": "data/blob.bin", "content": base64::engine::general_purpose::STANDARD.encode(&binary), "encoding": "base64"},
        ],
    });
    let (status, _, json) = post_run(&server, Some(MEMBER_KEY), "?files=inline", &body).await;
    assert_eq!(status, 200, "{json}");
    assert_eq!(json["stdout"], "256 a,b\n1,2\n", "{json}");
    let out = find_file(&json, "out.bin");
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(out["content_base64"].as_str().expect("content_base64"))
        .expect("base64");
    let mut expected = binary.clone();
    expected.reverse();
    assert_eq!(bytes, expected);
    assert_eq!(out["size"], 256);

    // Without ?files=inline the file is listed without content.
    let (status, _, json) = post_run(&server, Some(MEMBER_KEY), "", &body).await;
    assert_eq!(status, 200, "{json}");
    assert!(
        find_file(&json, "out.bin").get("content_base64").is_none(),
        "{json}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn program_failures_are_outcomes_not_http_errors() {
    let server = Server::start();
    let (status, _, json) = post_run(
        &server,
        Some(MEMBER_KEY),
        "",
        &program("c", "main.c", "int main( {"),
    )
    .await;
    assert_eq!(status, 200, "{json}");
    assert_eq!(json["status"], "compile_error", "{json}");
    assert!(
        json["compile"]["stderr"]
            .as_str()
            .unwrap_or("")
            .contains("error"),
        "{json}"
    );

    let (status, _, json) = post_run(
        &server,
        Some(MEMBER_KEY),
        "",
        &program(
            "python",
            "main.py",
            "import sys; print('bye', file=sys.stderr); sys.exit(7)",
        ),
    )
    .await;
    assert_eq!(status, 200, "{json}");
    assert_eq!(
        (json["status"].clone(), json["exit_code"].clone()),
        (json!("exited"), json!(7))
    );
    assert_eq!(json["stderr"], "bye\n", "{json}");
}

fn find_file<'a>(json: &'a Value, path: &str) -> &'a Value {
    json["files"]
        .as_array()
        .and_then(|files| files.iter().find(|f| f["path"] == path))
        .unwrap_or_else(|| panic!("no {path} in files: {json}"))
}
