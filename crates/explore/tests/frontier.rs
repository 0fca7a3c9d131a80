//! Frontier exactness, shard/merge equivalence, rejection accounting.

use proptest::prelude::*;
use tokenfab_catalog::Catalog;
use tokenfab_explore::pareto::dominates;
use tokenfab_explore::run::objectives;
use tokenfab_explore::{Explorer, Shard, ShardFile, Space, frontier_of, merge};

/// A small space around llama-3.1-8b (in every catalog) that exercises every rejection path
/// the physical model has, plus SLO and fit rejections.
fn small_space(axes: &str) -> Space {
    let text = format!(
        r#"
name = "small"
[axes]
{axes}
[workload]
name = "mix"
weight_dtype = "fp8"
kv_dtype = "fp8"
ttft_slo_ms = 1500.0
tpot_slo_ms = 30.0
[[workload.task]]
name = "chat"
share = 0.8
input_tokens = 1500
output_tokens = 400
[[workload.task]]
name = "code"
share = 0.2
input_tokens = 6000
output_tokens = 600
[[workload.model]]
id = "llama-3.1-8b"
share = 1.0
[memory.tiny]
stack_gb = {{ value = 4.0, source = "test", confidence = "estimate", note = "too small for an 8B model" }}
stack_tbps = {{ value = 0.5, source = "test", confidence = "estimate", note = "test" }}
usd_per_stack = {{ value = 50.0, source = "test", confidence = "estimate", note = "test" }}
phy_mm2 = {{ value = 6.0, source = "test", confidence = "estimate", note = "test" }}
pj_per_bit = {{ value = 4.0, source = "test", confidence = "estimate", note = "test" }}
"#
    );
    Space::from_toml("test", &text).unwrap()
}

const AXES: &str = r#"
fp8_pflops = [0.5, 2.0, 4.5, 10.0]
memory = ["hbm3e-8h", "hbm4-12h", "tiny"]
hbm_stacks = [1, 4, 8]
sram_mb = [64.0, 512.0]
scaleup_gbps = [450.0, 1800.0]
scaleup_domain = [1, 8]
tdp_w = [300.0, 1000.0]
compute_dies = [1, 2]
"#;

fn assert_exact_frontier(run: &ShardFile) {
    let pts = objectives(run);
    let front = frontier_of(run);
    // Brute force: a point is on the frontier iff no evaluated design dominates it.
    let brute: Vec<usize> = (0..pts.len()).filter(|&i| !pts.iter().any(|&q| dominates(q, pts[i]))).collect();
    let mut sorted = front.clone();
    sorted.sort();
    assert_eq!(sorted, brute, "frontier differs from the brute-force dominance check");
}

#[test]
fn frontier_is_exact_on_a_small_space() {
    let space = small_space(AXES);
    let catalog = Catalog::builtin();
    let ex = Explorer::new(&space, &catalog).unwrap();
    let run = ex.run(1, Shard::ALL, &|| {});
    assert_eq!(run.designs_evaluated, space.size());
    assert!(run.results.len() >= 10, "too few feasible designs to test: {}", run.results.len());
    assert_exact_frontier(&run);
    // Every design is either feasible or counted under exactly one reason.
    let rejected: u64 = run.rejections.values().sum();
    assert_eq!(rejected + run.results.len() as u64, run.designs_evaluated);
    for reason in ["reticle", "hbm-shoreline", "power-density", "tdp-below-demand", "does-not-fit"] {
        assert!(
            run.rejections.get(reason).copied().unwrap_or(0) > 0,
            "no `{reason}` rejection in {:?}",
            run.rejections
        );
    }
}

#[test]
fn sharded_runs_merged_give_the_same_frontier_as_one_run() {
    let space = small_space(AXES);
    let catalog = Catalog::builtin();
    let ex = Explorer::new(&space, &catalog).unwrap();
    let whole = ex.run(7, Shard::ALL, &|| {});
    let shards: Vec<ShardFile> = (0..3)
        .rev()
        .map(|i| {
            let s = ex.run(7, Shard { index: i, count: 3 }, &|| {});
            assert_eq!(s.designs_evaluated, ex.shard_len(7, Shard { index: i, count: 3 }));
            // Through the on-disk format and back, as `tokenfab merge` reads them.
            serde_json::from_str(&serde_json::to_string(&s).unwrap()).unwrap()
        })
        .collect();
    let merged = merge(shards).unwrap();
    assert_eq!(merged, whole);
    let f1: Vec<_> = frontier_of(&whole).into_iter().map(|i| &whole.results[i]).collect();
    let f2: Vec<_> = frontier_of(&merged).into_iter().map(|i| &merged.results[i]).collect();
    assert_eq!(f1, f2);
}

#[test]
fn merge_refuses_incomplete_or_foreign_shards() {
    let space = small_space(AXES);
    let catalog = Catalog::builtin();
    let ex = Explorer::new(&space, &catalog).unwrap();
    let s0 = ex.run(7, Shard { index: 0, count: 2 }, &|| {});
    let s1 = ex.run(7, Shard { index: 1, count: 2 }, &|| {});
    let e = merge(vec![s0.clone()]).unwrap_err().to_string();
    assert!(e.contains("missing [1/2]"), "{e}");
    let e = merge(vec![s0.clone(), s0.clone(), s1.clone()]).unwrap_err().to_string();
    assert!(e.contains("duplicated [0/2]"), "{e}");
    let other = ex.run(8, Shard { index: 1, count: 2 }, &|| {});
    let e = merge(vec![s0, other]).unwrap_err().to_string();
    assert!(e.contains("does not belong"), "{e}");
}

#[test]
fn space_errors_name_every_bad_field() {
    let e = Space::from_toml("bad.toml", "name = 1").unwrap_err().to_string();
    assert!(e.contains("bad.toml") && e.contains("line 1"), "{e}");
    let bad = AXES.replace("\"hbm4-12h\"", "\"hbm9\"").replace("tdp_w = [300.0, 1000.0]", "tdp_w = [-1.0]");
    let text = format!("name = \"x\"\n[axes]\n{bad}\n{}", &small_space_workload());
    let e = Space::from_toml("bad.toml", &text).unwrap_err().to_string();
    assert!(e.contains("unknown HBM option `hbm9`"), "{e}");
    assert!(e.contains("axes.tdp_w: expected positive numbers"), "{e}");
}

fn small_space_workload() -> String {
    r#"
[workload]
name = "mix"
weight_dtype = "fp8"
kv_dtype = "fp8"
ttft_slo_ms = 1500.0
tpot_slo_ms = 30.0
[[workload.task]]
name = "chat"
share = 1.0
input_tokens = 1500
output_tokens = 400
[[workload.model]]
id = "llama-3.1-8b"
share = 1.0
"#
    .to_string()
}

#[test]
fn the_builtin_space_has_at_least_10000_designs() {
    let space = Space::builtin().unwrap();
    assert!(space.size() >= 10_000, "{}", space.size());
}

fn subset(all: &[&str], mask: u8) -> String {
    let v: Vec<&str> = all.iter().enumerate().filter(|(i, _)| mask & (1 << i) != 0).map(|(_, s)| *s).collect();
    let v = if v.is_empty() { vec![all[0]] } else { v };
    format!("[{}]", v.join(", "))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]
    /// Whatever sub-space is explored, no frontier design is dominated by any evaluated design.
    #[test]
    fn no_frontier_point_is_dominated(
        compute in 1u8..16, mem in 1u8..4, stacks in 1u8..8, tdp in 1u8..4, seed in 0u64..1000
    ) {
        let axes = format!(
            "fp8_pflops = {}\nmemory = {}\nhbm_stacks = {}\nsram_mb = [64.0, 512.0]\nscaleup_gbps = [900.0]\nscaleup_domain = [8]\ntdp_w = {}\n",
            subset(&["1.0", "2.0", "4.5", "8.0"], compute),
            subset(&["\"hbm3e-12h\"", "\"hbm4-16h\""], mem),
            subset(&["2", "4", "8"], stacks),
            subset(&["700.0", "1200.0"], tdp),
        );
        let space = small_space(&axes);
        let catalog = Catalog::builtin();
        let ex = Explorer::new(&space, &catalog).unwrap();
        let run = ex.run(seed, Shard::ALL, &|| {});
        let pts = objectives(&run);
        for i in frontier_of(&run) {
            for q in &pts {
                prop_assert!(!dominates(*q, pts[i]), "frontier point {:?} dominated by {:?}", pts[i], q);
            }
        }
    }
}

#[test]
fn slo_rejections_are_named_by_the_slo_that_fails() {
    let axes = "fp8_pflops = [4.5]\nmemory = [\"hbm3e-12h\"]\nhbm_stacks = [4]\nsram_mb = [64.0]\nscaleup_gbps = [900.0]\n\
                scaleup_domain = [8]\ntdp_w = [700.0]\ncompute_dies = [2]\n";
    let catalog = Catalog::builtin();
    let check = |from: &str, to: &str, reason: &str| {
        let base = small_space(axes);
        let text = base.text.replace(from, to);
        let space = Space::from_toml("slo", &text).unwrap();
        let ex = Explorer::new(&space, &catalog).unwrap();
        let run = ex.run(0, Shard::ALL, &|| {});
        assert_eq!(run.results.len(), 0, "{reason}: {:?}", run.rejections);
        assert_eq!(run.rejections.get(reason), Some(&1), "{:?}", run.rejections);
    };
    check("tpot_slo_ms = 30.0", "tpot_slo_ms = 0.5", "tpot-slo");
    check("ttft_slo_ms = 1500.0", "ttft_slo_ms = 5.0", "ttft-slo");
    // The same design is feasible with the SLOs as written.
    let space = small_space(axes);
    let ex = Explorer::new(&space, &catalog).unwrap();
    assert_eq!(ex.run(0, Shard::ALL, &|| {}).results.len(), 1);
}

#[test]
fn sampling_is_seeded_and_shards_split_the_sample() {
    let space = {
        let s = small_space(AXES);
        Space::from_toml("sample", &format!("{}\n[search]\nsample = 50\n", s.text)).unwrap()
    };
    let catalog = Catalog::builtin();
    let ex = Explorer::new(&space, &catalog).unwrap();
    let a = space.indices(1);
    assert_eq!(a.len(), 50);
    assert!(a.windows(2).all(|w| w[0] < w[1]) && *a.last().unwrap() < space.size());
    assert_eq!(a, space.indices(1));
    assert_ne!(a, space.indices(2));
    let whole = ex.run(1, Shard::ALL, &|| {});
    assert_eq!((whole.designs_selected, whole.designs_evaluated), (50, 50));
    let parts: Vec<ShardFile> = (0..4).map(|i| ex.run(1, Shard { index: i, count: 4 }, &|| {})).collect();
    assert_eq!(merge(parts).unwrap(), whole);
}

#[test]
fn the_simulator_confirms_a_frontier_design() {
    let space = small_space(AXES);
    let catalog = Catalog::builtin();
    let ex = Explorer::new(&space, &catalog).unwrap();
    let run = ex.run(0, Shard::ALL, &|| {});
    let best = &run.results[frontier_of(&run)[0]];
    let sim = ex.confirm(best, 0);
    assert_eq!(sim.error, None);
    assert_eq!(sim.id, best.design.id());
    let analytic = best.score.tokens_per_s_per_chip;
    // Offered at 85 % of the analytic capacity, the simulated replica carries about that load.
    assert!(
        sim.tokens_per_s_per_chip > 0.6 * analytic && sim.tokens_per_s_per_chip < 1.0 * analytic,
        "sim {} vs analytic {analytic}",
        sim.tokens_per_s_per_chip
    );
    assert!(sim.tokens_per_joule > 0.0 && sim.usd_per_mtok > 0.0);
    assert_eq!(sim, ex.confirm(best, 0), "same seed, same simulation");
}

#[test]
fn the_builtin_assistant_workload_gives_the_task_mix_and_its_slos() {
    let tasks = tokenfab_explore::screen::tasks_from_workload("builtin:assistant").unwrap();
    assert!(tasks.len() >= 3, "{tasks:?}");
    let share: f64 = tasks.iter().map(|t| t.share).sum();
    assert!((share - 1.0).abs() < 1e-9);
    for t in &tasks {
        assert!(t.ttft_input_tokens.unwrap() >= t.input_tokens / 2, "{t:?}");
        assert!(t.ttft_slo_ms.unwrap() > 0.0 && t.tpot_slo_ms.unwrap() > 0.0, "{t:?}");
    }
    // Same sample every time: the mix does not depend on the run's seed.
    assert_eq!(tasks, tokenfab_explore::screen::tasks_from_workload("assistant").unwrap());
    // The built-in space scores on it, holding every step to the tightest class TPOT.
    let space = Space::builtin().unwrap();
    let catalog = Catalog::builtin();
    let ex = Explorer::new(&space, &catalog).unwrap();
    let tightest = tasks.iter().map(|t| t.tpot_slo_ms.unwrap()).fold(f64::INFINITY, f64::min);
    assert_eq!(ex.workload.tpot_slo_s * 1e3, tightest);
    assert_eq!(ex.workload.tasks, tasks);
}

#[test]
fn an_unknown_workload_source_is_an_error() {
    let text = small_space(AXES)
        .text
        .replace("[[workload.task]]\nname = \"chat\"", "from = \"builtin:nope\"\n[[workload.task]]\nname = \"chat\"");
    let e = Space::from_toml("x.toml", &text).unwrap_err().to_string();
    assert!(e.contains("workload.from: unknown workload `builtin:nope`"), "{e}");
    assert!(e.contains("give either `from` or [[workload.task]]s"), "{e}");
}
