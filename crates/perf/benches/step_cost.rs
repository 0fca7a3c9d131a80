//! How long one `StepModel::cost` evaluation takes (the simulator's hot path on cache misses).
//! `cargo bench -p tokenfab-perf --bench step_cost`
use std::time::Instant;
use tokenfab_catalog::{Catalog, Dtype};
use tokenfab_perf::{BatchShape, ClockMode, Hardware, Parallel, StepModel, StepOptions};

fn main() {
    let cat = Catalog::builtin();
    for (model, chip, tp, dtype) in [
        ("llama-3.1-70b", "h100-sxm", 4, Dtype::Fp8),
        ("deepseek-v3", "b200", 8, Dtype::Fp8),
        ("qwen3.5-397b-a17b", "b300", 4, Dtype::Fp8),
    ] {
        let hw = Hardware::from_catalog(&cat, chip).expect("chip");
        let m = cat.model(model).expect("model");
        let opts = StepOptions { weight_dtype: dtype, clock_mode: ClockMode::Sustained, ..Default::default() };
        let sm = StepModel::new(m, &hw, Parallel::tp(tp), opts).expect("layout");
        let n = 200_000u64;
        let t = Instant::now();
        let mut acc = 0.0;
        for i in 0..n {
            let mut b = BatchShape::decode(1 + (i % 256) as u32, 1000 + i % 7000);
            if i % 3 == 0 {
                b.add_prefill(512 + i % 4096, i % 2048, true);
            }
            acc += sm.cost(&b).time_s;
        }
        let per = t.elapsed().as_secs_f64() / n as f64;
        println!(
            "{model} on {chip} tp{tp}: {:.2} µs per StepModel::cost ({:.0} k/s) [checksum {acc:.3}]",
            per * 1e6,
            1e-3 / per
        );
    }
}
