//! Capacity at SLO (analytic level) and its cache.
use tokenfab_catalog::{Catalog, Dtype};
use tokenfab_plan::capacity::capacity_key;
use tokenfab_plan::*;

fn query(model: &str, system: &str, tpot_ms: f64, ttft_ms: f64) -> CapacityQuery {
    CapacityQuery {
        model: model.into(),
        system: system.into(),
        engine: "vllm".into(),
        weight_dtype: Dtype::Fp8,
        moe_dtype: None,
        kv_dtype: Dtype::Fp8,
        input_tokens: 2000,
        output_tokens: 400,
        ttft_s: ttft_ms / 1e3,
        tpot_s: tpot_ms / 1e3,
        parallel: None,
    }
}

#[test]
fn capacity_meets_its_slos_and_grows_with_looser_ones() {
    let cat = Catalog::builtin();
    let m = AnalyticCapacity::default();
    // (model, system) pairs that exist in any catalog version this crate is built against.
    for (model, system) in [("llama-3.1-8b", "hgx-h100-8"), ("llama-3.1-70b", "hgx-h100-8")] {
        let mut last = 0.0;
        for tpot in [15.0, 25.0, 50.0, 100.0] {
            let q = query(model, system, tpot, 2000.0);
            let c = m.capacity(&cat, &q).unwrap();
            assert!(c.feasible, "{model} on {system} at {tpot} ms: {:?}", c.reason);
            assert!(c.tpot_ms <= tpot + 1e-9 && c.ttft_ms <= 2000.0 + 1e-9, "{model} {tpot}: {c:?}");
            assert!(c.energy_j_per_token > 0.0 && c.chip_power_w > 0.0);
            let tps = c.tokens_per_s_per_replica / c.chips_per_replica as f64;
            let expect = c.requests_per_s_per_replica * 2400.0 / c.chips_per_replica as f64;
            assert!((tps - expect).abs() < 1e-6 * tps);
            // Batches are searched on a grid refined locally, so "looser SLO, no less capacity"
            // holds to within the refinement (0.5 %).
            assert!(tps >= last * 0.995, "{model}: looser TPOT {tpot} gave less ({tps} < {last})");
            last = tps;
        }
    }
}

#[test]
fn impossible_slos_and_oversized_models_are_infeasible_with_a_reason() {
    let cat = Catalog::builtin();
    let m = AnalyticCapacity::default();
    let c = m.capacity(&cat, &query("llama-3.1-8b", "hgx-h100-8", 0.01, 2000.0)).unwrap();
    assert!(!c.feasible && c.requests_per_s_per_chip() == 0.0);
    assert!(c.reason.as_deref().unwrap_or("").contains("TPOT SLO"), "{:?}", c.reason);
    // 405 B parameters in bf16 (810 GB) cannot fit 8 × 80 GB.
    let mut q = query("llama-3.1-405b", "hgx-h100-8", 100.0, 10_000.0);
    q.weight_dtype = Dtype::Bf16;
    let c = m.capacity(&cat, &q).unwrap();
    assert!(!c.feasible);
    assert!(c.reason.as_deref().unwrap_or("").contains("exceed"), "{:?}", c.reason);
    let e = m.capacity(&cat, &query("no-such-model", "hgx-h100-8", 50.0, 1000.0)).unwrap_err();
    assert!(e.to_string().contains("no-such-model"));
}

#[test]
fn the_cache_key_follows_every_input() {
    let cat = Catalog::builtin();
    let m = AnalyticCapacity::default();
    let base = query("llama-3.1-8b", "hgx-h100-8", 50.0, 1000.0);
    let k = capacity_key(&m, &cat, &base);
    assert_eq!(k.len(), 64);
    assert_eq!(k, capacity_key(&m, &cat, &base.clone()), "same query, same key");
    let mut variants = vec![];
    let mut q = base.clone();
    q.tpot_s = 0.04;
    variants.push(q);
    let mut q = base.clone();
    q.input_tokens += 1;
    variants.push(q);
    let mut q = base.clone();
    q.kv_dtype = Dtype::Bf16;
    variants.push(q);
    let mut q = base.clone();
    q.engine = "sglang".into();
    variants.push(q);
    for v in variants {
        assert_ne!(capacity_key(&m, &cat, &v), k, "{v:?}");
    }
    // A catalog change to the chip changes the key (the entry is part of the key).
    let patched = cat.clone().with_file_text("patch.toml", &patch_h100_hbm(&cat)).unwrap();
    assert_ne!(capacity_key(&m, &patched, &base), k);
    // So does a different capacity model configuration.
    let other = AnalyticCapacity { hbm_fraction: 0.8, ..AnalyticCapacity::default() };
    assert_ne!(capacity_key(&other, &cat, &base), k);
}

fn patch_h100_hbm(cat: &Catalog) -> String {
    let mut chip = cat.chip("h100-sxm").unwrap().clone();
    chip.hbm_capacity_gb.value = 96.0;
    #[derive(serde::Serialize)]
    struct F {
        chip: Vec<tokenfab_catalog::Chip>,
    }
    toml::to_string(&F { chip: vec![chip] }).unwrap()
}

#[test]
fn the_cache_answers_repeats_and_survives_json() {
    let cat = Catalog::builtin();
    let m = AnalyticCapacity::default();
    let q = query("llama-3.1-8b", "hgx-h100-8", 50.0, 1000.0);
    let mut cache = CapacityCache::default();
    let a = cache.get_or_compute(&m, &cat, &q).unwrap();
    let b = cache.get_or_compute(&m, &cat, &q).unwrap();
    assert_eq!(a, b);
    assert_eq!((cache.misses, cache.hits), (1, 1));
    let mut back = CapacityCache::from_json(&cache.to_json()).unwrap();
    assert_eq!(back.entries, cache.entries);
    let c = back.get_or_compute(&m, &cat, &q).unwrap();
    assert_eq!((back.misses, back.hits), (0, 1));
    assert_eq!(c, a);
    assert!(CapacityCache::from_json("not json").is_err());
}

#[test]
fn simulated_capacity_meets_the_slos_at_its_load_and_is_keyed_apart() {
    let cat = Catalog::builtin();
    let sim = SimCapacity::default();
    let analytic = AnalyticCapacity::default();
    let q = query("llama-3.1-8b", "hgx-h100-8", 40.0, 1000.0);
    let s = sim.capacity(&cat, &q).unwrap();
    let a = analytic.capacity(&cat, &q).unwrap();
    assert_eq!(s.fidelity, "sim");
    assert!(s.feasible, "{:?}", s.reason);
    assert_eq!(s.parallel, a.parallel, "the analytic level picks the layout");
    // p90 latencies at the highest passing load are within the SLOs (90 % goodput target).
    assert!(s.tpot_ms <= 40.0 && s.ttft_ms <= 1000.0, "{s:?}");
    assert!(s.requests_per_s_per_replica > 0.0);
    assert!(s.requests_per_s_per_replica <= a.requests_per_s_per_replica * sim.max_load_factor);
    assert!(s.energy_j_per_token > 0.0);
    assert_ne!(capacity_key(&sim, &cat, &q), capacity_key(&analytic, &cat, &q));
    // Deterministic: same query, same answer.
    assert_eq!(sim.capacity(&cat, &q).unwrap(), s);
    // An SLO the analytic level already rules out stays infeasible.
    let tight = sim.capacity(&cat, &query("llama-3.1-8b", "hgx-h100-8", 0.01, 1000.0)).unwrap();
    assert!(!tight.feasible && tight.fidelity == "sim");
}
