//! Criterion benchmarks of loading the configuration: the embedded default and a YAML file on disk.

use std::hint::black_box;

use coderunner_config::Config;
use criterion::{criterion_group, criterion_main, Criterion};

const DEFAULT_YAML: &str = include_str!("../default.yaml");

fn bench_load(c: &mut Criterion) {
    let mut g = c.benchmark_group("config");
    g.bench_function("embedded_default", |b| b.iter(Config::embedded_default));
    g.bench_function("from_yaml_str", |b| {
        b.iter(|| Config::from_yaml_str(black_box(DEFAULT_YAML), "default.yaml"))
    });
    let dir = std::env::temp_dir().join(format!("coderunner-bench-{}", std::process::id()));
    let path = dir.join("config.yaml");
    if std::fs::create_dir_all(&dir)
        .and_then(|()| std::fs::write(&path, DEFAULT_YAML))
        .is_ok()
    {
        g.bench_function("load_file", |b| b.iter(|| Config::load(black_box(&path))));
    }
    g.finish();
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, bench_load);
criterion_main!(benches);
