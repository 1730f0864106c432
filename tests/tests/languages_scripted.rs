//! Interpreted languages in the real sandbox: R, Ruby, PyPy, Lua, PHP and Perl. Each: hello world,
//! stdin, args, exit codes, a runtime error with its line, a memory bomb ending as
//! `memory_limit`, a process bomb contained; R's png() plot comes back as an image file.

use coderunner_runner::RunStatus;
use coderunner_tests::language_tests;
use coderunner_tests::languages::Case;
use coderunner_tests::safety_net::{self, run};

const R: Case = Case {
    lang: "r",
    hello: "cat(\"hello\\n\")\n",
    stdin: "line <- readLines(file(\"stdin\"), n = 1)\ncat(paste0(\"got \", line), \"\\n\", sep = \"\")\n",
    args: "cat(paste(commandArgs(trailingOnly = TRUE), collapse = \"|\"), \"\\n\", sep = \"\")\n",
    exit3: "quit(save = \"no\", status = 3)\n",
    compile_error: Some(("x <- 1\ny <- (2\n", "main.R:3")),
    compile_stage: false,
    runtime_error: ("x <- 1\ny <- x + 1\nstop(\"boom\")\n", "main.R:3"),
    memory_bomb: "l <- list()\ni <- 0\nrepeat {\n  i <- i + 1\n  l[[i]] <- runif(1e6)\n}\n",
    bomb: "n <- 0\nrepeat {\n  j <- tryCatch(parallel::mcparallel(Sys.sleep(10)), error = function(e) NULL)\n  if (is.null(j) || n >= 200) break\n  n <- n + 1\n}\ncat(\"made\", n, \"\\n\")\nquit(save = \"no\", status = 0)\n",
};

const RUBY: Case = Case {
    lang: "ruby",
    hello: "puts \"hello\"\n",
    stdin: "puts \"got #{STDIN.gets.chomp}\"\n",
    args: "puts ARGV.join(\"|\")\n",
    exit3: "exit 3\n",
    compile_error: Some(("x = 1\ndef f(\n", "main.rb:")),
    compile_stage: false,
    runtime_error: ("x = 1\ny = x + 1\nraise \"boom #{y}\"\n", "main.rb:3"),
    memory_bomb: "a = []\nloop { a << \"x\" * (1 << 20) }\n",
    bomb: "n = 0\nbegin\n  while n < 200\n    fork { sleep 10 }\n    n += 1\n  end\nrescue SystemCallError\nend\nputs \"made #{n}\"\n$stdout.flush\nexit! 0\n",
};

const PYPY: Case = Case {
    lang: "pypy",
    hello: "print('hello')\n",
    stdin: "print('got', input())\n",
    args: "import sys\nprint('|'.join(sys.argv[1:]))\n",
    exit3: "import sys\nsys.exit(3)\n",
    compile_error: Some(("x = 1\ny = (2\n", "line 2")),
    compile_stage: false,
    runtime_error: ("x = 1\ny = x + 1\nraise ValueError('boom')\n", "line 3"),
    memory_bomb: "l = []\nwhile True:\n    l.append(bytearray(b'x') * (1 << 20))\n",
    bomb: "import os, time\nn = 0\nwhile n < 200:\n    try:\n        p = os.fork()\n    except OSError:\n        break\n    if p == 0:\n        time.sleep(10)\n        os._exit(0)\n    n += 1\nprint('made', n, flush=True)\nos._exit(0)\n",
};

const LUA: Case = Case {
    lang: "lua",
    hello: "print(\"hello\")\n",
    stdin: "print(\"got \" .. io.read(\"l\"))\n",
    args: "print(table.concat(arg, \"|\"))\n",
    exit3: "os.exit(3)\n",
    compile_error: Some(("local x = 1\nlocal y = = 2\n", "main.lua:2")),
    compile_stage: false,
    runtime_error: ("local x = 1\nlocal y = x + 1\nerror(\"boom \" .. y)\n", "main.lua:3"),
    memory_bomb: "local t = {}\nlocal i = 0\nwhile true do\n  i = i + 1\n  t[i] = string.rep(\"x\", 1 << 20) .. i\nend\n",
    bomb: "local n = 0\nlocal hs = {}\nwhile n < 200 do\n  local h = io.popen(\"exec /bin/sleep 10\")\n  if not h then break end\n  hs[#hs + 1] = h\n  n = n + 1\nend\nprint(\"made \" .. n)\nio.stdout:flush()\nos.exit(0, false)\n",
};

const PHP: Case = Case {
    lang: "php",
    hello: "<?php\necho \"hello\\n\";\n",
    stdin: "<?php\necho \"got \" . rtrim(fgets(STDIN)) . \"\\n\";\n",
    args: "<?php\necho implode(\"|\", array_slice($argv, 1)) . \"\\n\";\n",
    exit3: "<?php\nexit(3);\n",
    compile_error: Some(("<?php\n$x = 1;\n$y = = 2;\n", "main.php on line 3")),
    compile_stage: false,
    runtime_error: ("<?php\n$x = 1;\nthrow new Exception(\"boom $x\");\n", "main.php:3"),
    memory_bomb: "<?php\n$a = [];\nwhile (true) { $a[] = str_repeat(\"x\", 1 << 20); }\n",
    bomb: "<?php\n$n = 0;\nwhile ($n < 200) {\n    $p = @pcntl_fork();\n    if ($p === -1) break;\n    if ($p === 0) { sleep(10); exit(0); }\n    $n++;\n}\necho \"made $n\\n\";\nexit(0);\n",
};

const PERL: Case = Case {
    lang: "perl",
    hello: "print \"hello\\n\";\n",
    stdin: "my $l = <STDIN>;\nchomp $l;\nprint \"got $l\\n\";\n",
    args: "print join(\"|\", @ARGV), \"\\n\";\n",
    exit3: "exit 3;\n",
    compile_error: Some(("my $x = 1;\nmy $y = = 2;\n", "main.pl line 2")),
    compile_stage: false,
    runtime_error: ("my $x = 1;\nmy $y = $x + 1;\ndie \"boom $y\";\n", "main.pl line 3"),
    memory_bomb: "my @a;\nwhile (1) { push @a, \"x\" x (1 << 20); }\n",
    bomb: "$| = 1;\nmy $n = 0;\nwhile ($n < 200) {\n    my $p = fork();\n    last unless defined $p;\n    if ($p == 0) { sleep 10; exit 0; }\n    $n++;\n}\nprint \"made $n\\n\";\nexit 0;\n",
};

language_tests! {
    r => R;
    ruby => RUBY;
    pypy => PYPY;
    lua => LUA;
    php => PHP;
    perl => PERL;
}

#[tokio::test]
async fn r_png_plots_come_back_as_images() {
    let _g = safety_net::shared().await;
    let o = run(
        "r",
        "png(\"plot.png\", width = 320, height = 200)\nplot(1:10, main = \"sandboxed\")\ninvisible(dev.off())\ncat(\"drawn\\n\")\n",
    )
    .await;
    assert_eq!(
        (o.status, o.stdout.as_str()),
        (RunStatus::Exited, "drawn\n"),
        "{o:?}"
    );
    let plot = o
        .files
        .iter()
        .find(|f| f.path == "plot.png")
        .unwrap_or_else(|| panic!("plot.png is returned: {o:?}"));
    assert_eq!(plot.mime, "image/png");
    assert!(plot.size > 1000, "a real picture: {plot:?}");
}
