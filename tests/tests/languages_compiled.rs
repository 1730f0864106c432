//! Compiled languages in the real sandbox: Rust, Go, Java (single-file launch) and TypeScript
//! (esbuild, then node). Each: hello world, stdin, args, exit codes, a compile error, a runtime
//! error with its line, a memory bomb ending as `memory_limit`, a thread or process bomb contained.

use coderunner_tests::language_tests;
use coderunner_tests::languages::Case;

const RUST: Case = Case {
    lang: "rust",
    hello: "fn main() { println!(\"hello\"); }",
    stdin: "fn main() {\n    let mut s = String::new();\n    std::io::stdin().read_line(&mut s).unwrap();\n    println!(\"got {}\", s.trim_end());\n}",
    args: "fn main() {\n    let a: Vec<String> = std::env::args().skip(1).collect();\n    println!(\"{}\", a.join(\"|\"));\n}",
    exit3: "fn main() { std::process::exit(3); }",
    compile_error: Some(("fn main() {\n    let x: i32 = \"no\";\n}\n", "main.rs:2")),
    compile_stage: true,
    runtime_error: (
        "fn main() {\n    let v: Vec<u8> = Vec::new();\n    panic!(\"boom {}\", v.len());\n}\n",
        "main.rs:3",
    ),
    memory_bomb: "fn main() {\n    let mut v: Vec<Vec<u8>> = Vec::new();\n    loop { v.push(vec![1u8; 1 << 20]); }\n}",
    bomb: "use std::{thread, time::Duration};\nfn main() {\n    let mut n = 0;\n    let mut hs = Vec::new();\n    while n < 200 {\n        match thread::Builder::new().stack_size(64 << 10).spawn(|| thread::sleep(Duration::from_secs(10))) {\n            Ok(h) => { hs.push(h); n += 1; }\n            Err(_) => break,\n        }\n    }\n    println!(\"made {n}\");\n    std::process::exit(0);\n}",
};

const GO: Case = Case {
    lang: "go",
    hello: "package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Println(\"hello\") }\n",
    stdin: "package main\n\nimport (\n\t\"bufio\"\n\t\"fmt\"\n\t\"os\"\n)\n\nfunc main() {\n\ts := bufio.NewScanner(os.Stdin)\n\ts.Scan()\n\tfmt.Println(\"got \" + s.Text())\n}\n",
    args: "package main\n\nimport (\n\t\"fmt\"\n\t\"os\"\n\t\"strings\"\n)\n\nfunc main() { fmt.Println(strings.Join(os.Args[1:], \"|\")) }\n",
    exit3: "package main\n\nimport \"os\"\n\nfunc main() { os.Exit(3) }\n",
    compile_error: Some(("package main\n\nfunc main() {\n\tx := 1\n}\n", "main.go:4")),
    compile_stage: true,
    runtime_error: ("package main\n\nfunc main() {\n\tpanic(\"boom\")\n}\n", "main.go:4"),
    memory_bomb: "package main\n\nfunc main() {\n\tvar s [][]byte\n\tfor {\n\t\tb := make([]byte, 1<<20)\n\t\tfor i := range b {\n\t\t\tb[i] = 1\n\t\t}\n\t\ts = append(s, b)\n\t}\n}\n",
    bomb: "package main\n\nimport (\n\t\"fmt\"\n\t\"os\"\n\t\"os/exec\"\n)\n\nfunc main() {\n\tn := 0\n\tfor n < 200 {\n\t\tif err := exec.Command(\"/bin/sleep\", \"10\").Start(); err != nil {\n\t\t\tbreak\n\t\t}\n\t\tn++\n\t}\n\tfmt.Printf(\"made %d\\n\", n)\n\tos.Exit(0)\n}\n",
};

const JAVA: Case = Case {
    lang: "java",
    hello: "public class Main {\n    public static void main(String[] a) { System.out.println(\"hello\"); }\n}\n",
    stdin: "import java.util.Scanner;\n\npublic class Main {\n    public static void main(String[] a) {\n        System.out.println(\"got \" + new Scanner(System.in).nextLine());\n    }\n}\n",
    args: "public class Main {\n    public static void main(String[] a) { System.out.println(String.join(\"|\", a)); }\n}\n",
    exit3: "public class Main {\n    public static void main(String[] a) { System.exit(3); }\n}\n",
    compile_error: Some((
        "public class Main {\n    public static void main(String[] a) {\n        int x = \"no\";\n    }\n}\n",
        "Main.java:3: error",
    )),
    compile_stage: false,
    runtime_error: (
        "public class Main {\n    public static void main(String[] a) {\n        throw new IllegalStateException(\"boom\");\n    }\n}\n",
        "Main.java:3",
    ),
    memory_bomb: "import java.util.ArrayList;\n\npublic class Main {\n    public static void main(String[] a) {\n        ArrayList<long[]> l = new ArrayList<>();\n        while (true) l.add(new long[1 << 17]);\n    }\n}\n",
    bomb: "public class Main {\n    public static void main(String[] a) {\n        int n = 0;\n        try {\n            while (n < 200) {\n                Thread t = new Thread(null, () -> { try { Thread.sleep(10000); } catch (InterruptedException e) { } }, \"t\", 64 << 10);\n                t.setDaemon(true);\n                t.start();\n                n++;\n            }\n        } catch (Throwable e) { }\n        System.out.println(\"made \" + n);\n        System.exit(0);\n    }\n}\n",
};

const TYPESCRIPT: Case = Case {
    lang: "typescript",
    hello: "const greeting: string = \"hello\";\nconsole.log(greeting);\n",
    stdin: "import { readFileSync } from \"fs\";\nconst line: string = readFileSync(0, \"utf8\").split(\"\\n\")[0];\nconsole.log(`got ${line}`);\n",
    args: "const args: string[] = process.argv.slice(2);\nconsole.log(args.join(\"|\"));\n",
    exit3: "const code: number = 3;\nprocess.exit(code);\n",
    compile_error: Some(("let ok: number = 1;\nlet x: number = ;\n", "main.ts:2")),
    compile_stage: true,
    runtime_error: (
        "interface P { x: number }\nconst p: P = { x: 1 };\nthrow new Error(`boom ${p.x}`);\n",
        "main.ts:3",
    ),
    memory_bomb: "const a: number[][] = [];\nfor (;;) a.push(new Array(1e6).fill(1.5));\n",
    bomb: "import { spawn } from \"child_process\";\nconst total = 200;\nlet made = 0, failed = 0;\nfor (let i = 0; i < total; i++) {\n  const c = spawn(\"/bin/sleep\", [\"10\"]);\n  c.on(\"spawn\", () => { made++; });\n  c.on(\"error\", () => { failed++; });\n}\nsetInterval(() => {\n  if (made + failed === total) { console.log(`made ${made}`); process.exit(0); }\n}, 20);\n",
};

language_tests! {
    rust => RUST;
    go => GO;
    java => JAVA;
    typescript => TYPESCRIPT;
}
