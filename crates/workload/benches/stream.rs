//! Throughput of the streaming paths: generate the built-in assistant workload, write it in the
//! native CSV format, read it back and accumulate statistics. `cargo bench -p tokenfab-workload`.
//! (Speed figures live here, not in tests; the 10-million-request end-to-end figures with the
//! release binary are in docs/WORKLOADS.md.)

use std::time::Instant;
use tokenfab_workload::{NativeFormat, NativeWriter, ReadOptions, TraceReader, TraceStats, WorkloadSpec};

fn main() {
    let n: usize = std::env::var("TOKENFAB_BENCH_REQUESTS").ok().and_then(|s| s.parse().ok()).unwrap_or(1_000_000);
    let spec = WorkloadSpec::builtin("assistant").expect("built-in");

    let t = Instant::now();
    let mut w = NativeWriter::new(Vec::with_capacity(n * 100), NativeFormat::Csv).expect("in memory");
    for r in spec.generate(1).expect("valid").take(n) {
        w.write(&r).expect("in memory");
    }
    let bytes = w.finish().expect("in memory");
    let gen_s = t.elapsed().as_secs_f64();

    let t = Instant::now();
    let mut stats = TraceStats::default();
    for r in TraceReader::new(bytes.as_slice(), None, ReadOptions::default()).expect("native header") {
        stats.add(&r.expect("well formed"));
    }
    let read_s = t.elapsed().as_secs_f64();
    assert_eq!(stats.requests() as usize, n);

    println!(
        "generate+write {n} requests: {gen_s:.3} s ({:.2} M req/s, {:.1} MB)",
        n as f64 / gen_s / 1e6,
        bytes.len() as f64 / 1e6
    );
    println!("read+stats     {n} requests: {read_s:.3} s ({:.2} M req/s)", n as f64 / read_s / 1e6);
}
