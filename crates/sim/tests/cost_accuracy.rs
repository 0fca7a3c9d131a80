//! The accuracy cost of memoizing step costs on quantized batch shapes (`cost.rs`), measured
//! against the exact step model: per step, and end to end on a simulation.

use proptest::prelude::*;
use tokenfab_catalog::Catalog;
use tokenfab_perf::BatchShape;
use tokenfab_sim::cost::StepCostTable;
use tokenfab_sim::{Arrivals, Deployment, DeploymentSpec, SimConfig, run};
use tokenfab_workload::Request;

fn table(model: &str, tp: u32) -> StepCostTable {
    let cat = Catalog::builtin();
    let dep = Deployment::resolve(&cat, &DeploymentSpec::simple("hgx-h100-8", model, tp, 1)).unwrap();
    StepCostTable::new(dep.pools[0].step.clone(), dep.pools[0].step_eager.clone())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    /// Quantization changes a step's time by less than 1 %.
    #[test]
    fn memoized_step_within_one_percent(
        decodes in prop::collection::vec(1u64..32_000, 0..64),
        prefills in prop::collection::vec((1u64..8192, 0u64..16_000), 0..4),
        big in any::<bool>(),
    ) {
        prop_assume!(!decodes.is_empty() || !prefills.is_empty());
        let mut t = table(if big { "llama-3.1-70b" } else { "llama-3.1-8b" }, if big { 4 } else { 1 });
        let mut b = BatchShape::default();
        for &c in &decodes {
            b.add_decode(c, None);
        }
        for &(n, c) in &prefills {
            b.add_prefill(n, c, true);
        }
        let exact = t.exact_cost(&b, true).device_ns as f64;
        let memo = t.cost(&b, true).device_ns as f64;
        let err = (memo - exact).abs() / exact;
        prop_assert!(err < 0.01, "relative error {err:.4} for {b:?}");
    }
}

/// End to end: TTFT and TPOT means with the memo table are within 0.5 % of the exact model on a
/// mixed chat load (the printed figures are quoted in docs/SIMULATOR.md).
#[test]
fn memoized_simulation_matches_exact() {
    let cat = Catalog::builtin();
    let dep = Deployment::resolve(&cat, &DeploymentSpec::simple("hgx-h100-8", "llama-3.1-8b", 1, 1)).unwrap();
    let reqs = || {
        (0..600u64).map(|i| Request {
            id: i,
            arrival_ns: i * 75_000_000,
            input_tokens: 200 + ((i * 7919) % 3000) as u32,
            output_tokens: 50 + ((i * 104_729) % 400) as u32,
            class: 0,
            session: None,
            turn: 0,
            prefix: None,
        })
    };
    let mut cfg = SimConfig { arrivals: Arrivals::Timed, ..SimConfig::default() };
    let memo = run(&cfg, &dep, reqs(), 1).unwrap().summary(&cfg.slos, 1.0, 1.0);
    cfg.exact_step_costs = true;
    let exact = run(&cfg, &dep, reqs(), 1).unwrap().summary(&cfg.slos, 1.0, 1.0);
    let rel = |a: f64, b: f64| (a - b).abs() / b;
    let e_ttft = rel(memo.latency.ttft_ms.mean, exact.latency.ttft_ms.mean);
    let e_tpot = rel(memo.latency.tpot_ms.mean, exact.latency.tpot_ms.mean);
    let e_e2e = rel(memo.latency.e2e_ms.p99, exact.latency.e2e_ms.p99);
    println!(
        "memo vs exact: TTFT mean {:.4} vs {:.4} ms ({:.3} %), TPOT mean {:.4} vs {:.4} ms ({:.3} %), E2E p99 {:.3} %",
        memo.latency.ttft_ms.mean,
        exact.latency.ttft_ms.mean,
        e_ttft * 100.0,
        memo.latency.tpot_ms.mean,
        exact.latency.tpot_ms.mean,
        e_tpot * 100.0,
        e_e2e * 100.0
    );
    assert!(e_ttft < 0.005 && e_tpot < 0.005 && e_e2e < 0.005);
    assert_eq!(memo.counters.requests_completed, 600);
}
