//! Criterion benchmarks of the chat pipeline's pure hot paths: parsing a `!run` message and
//! rendering the reply to a run that printed 1 MiB.

use std::hint::black_box;

use coderunner_commands::parse::parse;
use coderunner_commands::render::{render_run, RunView};
use coderunner_config::Config;
use coderunner_runner::{RunOutcome, RunStatus};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

const MESSAGE: &str = "!run --timeout=5 python arg1 \"two words\"\n```py\nimport sys\nfor i in range(10):\n    print(i, sys.argv)\n```\n```stdin\nhello\n```\n```expected\n0\n```";

fn bench_parse(c: &mut Criterion) {
    let mut g = c.benchmark_group("parse");
    g.throughput(Throughput::Bytes(MESSAGE.len() as u64));
    g.bench_function("run_message", |b| {
        b.iter(|| parse(black_box("!"), black_box(MESSAGE)))
    });
    g.finish();
}

/// An outcome whose output is 1 MiB of numbered lines (the default profile's output cap).
fn mib_outcome() -> RunOutcome {
    let mut out = String::with_capacity(1 << 20);
    let mut i = 0u64;
    while out.len() < (1 << 20) {
        out.push_str(&format!(
            "line {i}: the quick brown fox jumps over the lazy dog\n"
        ));
        i += 1;
    }
    out.truncate(1 << 20);
    RunOutcome {
        status: RunStatus::Exited,
        exit_code: Some(0),
        signal: None,
        stdout: out.clone(),
        stderr: String::new(),
        output: out,
        truncated: true,
        wall_ms: 42,
        cpu_ms: 40,
        peak_memory_bytes: Some(9 << 20),
        files: Vec::new(),
        compile: None,
        error: None,
    }
}

fn bench_render(c: &mut Criterion) {
    let config = match Config::embedded_default() {
        Ok(c) => c,
        Err(e) => panic!("the embedded default config must load: {e}"),
    };
    let profile = match config.profiles.values().next() {
        Some(p) => p.clone(),
        None => panic!("the embedded default config has no profiles"),
    };
    let outcome = mib_outcome();
    let view = RunView {
        language: "python",
        version: Some("3.11"),
        highlight: "py",
        limits: &profile,
        outcome: &outcome,
        expected: None,
    };
    let upload = config.discord.upload_limit.bytes();
    let mut g = c.benchmark_group("render");
    g.throughput(Throughput::Bytes(outcome.output.len() as u64));
    g.bench_function("reply_1MiB_output", |b| {
        b.iter(|| render_run(black_box(&view), &config.output, upload))
    });
    g.finish();
}

criterion_group!(benches, bench_parse, bench_render);
criterion_main!(benches);
