//! Behaviour of the performance model: data-driven checks against the embedded H100
//! measurements, invariants, and layout errors.

use proptest::prelude::*;
use tokenfab_catalog::{Catalog, Dtype};
use tokenfab_perf::calib::{H100_OPS_CSV, parse_ops_csv};
use tokenfab_perf::ops::{Gemm, gemm};
use tokenfab_perf::predict::{OpRow, predict_row};
use tokenfab_perf::{BatchShape, Bound, Hardware, Parallel, StepModel, StepOptions};

fn h100() -> (Catalog, Hardware) {
    let cat = Catalog::builtin();
    let hw = Hardware::from_catalog(&cat, "h100-sxm").unwrap();
    (cat, hw)
}

/// Predicts a row and checks it against a measured latency within a tolerance.
fn check(row: OpRow, measured_ms: f64, tol_pct: f64) {
    let (cat, hw) = h100();
    let p = predict_row(&cat, &hw, &row).unwrap();
    let err = (p.ms / measured_ms - 1.0) * 100.0;
    assert!(err.abs() <= tol_pct, "{row:?}: predicted {:.4} ms vs measured {measured_ms} ms ({err:+.1} %)", p.ms);
}

fn g(m: u64, n: u64, k: u64, dtype: &str) -> OpRow {
    OpRow { op: "gemm".into(), m: Some(m), n: Some(n), k: Some(k), dtype: Some(dtype.into()), ..Default::default() }
}

#[test]
fn calibrated_h100_matches_representative_measurements() {
    // (row, measured ms from calibration/h100-sxm-ops.csv, tolerance %)
    check(g(1, 28672, 4096, "bf16"), 0.096064, 15.0);
    check(g(8192, 28672, 4096, "bf16"), 2.787104, 15.0);
    check(g(512, 6144, 4096, "fp8"), 0.027584, 25.0);
    check(g(16384, 4096, 14336, "fp8"), 1.497824, 15.0);
    let dec = OpRow {
        op: "attn_decode".into(),
        batch: Some(32),
        context_len: Some(8192),
        heads: Some(32),
        kv_heads: Some(8),
        head_dim: Some(128),
        ..Default::default()
    };
    check(dec, 0.426432, 15.0);
    let pf = OpRow {
        op: "attn_prefill".into(),
        batch: Some(1),
        seq_len: Some(8192),
        heads: Some(32),
        kv_heads: Some(8),
        head_dim: Some(128),
        backend: Some("cudnn".into()),
        ..Default::default()
    };
    check(pf, 0.982016, 15.0);
}

#[test]
fn cross_validated_error_stays_within_recorded_bounds() {
    // Guards the figures in docs/VALIDATION.md against silent regressions.
    let (cat, hw) = h100();
    let rows = parse_ops_csv("h100", H100_OPS_CSV, "latency_ms").unwrap();
    let base = tokenfab_perf::Params::analytical(cat.chip("h100-sxm").unwrap());
    let res = tokenfab_perf::validate::cross_validate(&cat, &hw, &base, &rows, None);
    let st = tokenfab_perf::validate::stats(&res);
    let all = st.iter().find(|s| s.class == "all").unwrap();
    assert_eq!(all.count, 161);
    assert!(all.median_ape < 10.0, "median {}", all.median_ape);
    assert!(all.p90_ape < 25.0, "p90 {}", all.p90_ape);
}

#[test]
fn small_decode_is_memory_bound_and_big_prefill_compute_bound() {
    let (cat, hw) = h100();
    let m = cat.model("llama-3.1-8b").unwrap();
    let sm = StepModel::new(m, &hw, Parallel::tp(1), StepOptions::default()).unwrap();
    assert_eq!(sm.cost(&BatchShape::decode(8, 1024)).bound(), Bound::Memory);
    assert_eq!(sm.cost(&BatchShape::prefill(4, 4096)).bound(), Bound::Compute);
    // Weights: 8.03 B params × 2 bytes.
    assert!((sm.weight_bytes_per_chip() / 1e9 - 16.06).abs() < 0.1, "{}", sm.weight_bytes_per_chip());
}

#[test]
fn grouped_gemm_tiles_only_the_experts_that_receive_tokens() {
    use tokenfab_perf::ops::grouped_gemm;
    let (_, hw) = h100();
    // 256 experts, 4 tokens × top-8 = 32 rows: ~31 experts touched, one row each.
    let touched = 256.0 * (1.0 - (1.0 - 8.0_f64 / 256.0).powi(4));
    let few = grouped_gemm(&hw, Dtype::Fp8, 256, 32.0 / 256.0, 512, 7168, touched);
    // The same rows as if every expert had been scheduled: 8 × the tiles.
    let all = grouped_gemm(&hw, Dtype::Fp8, 256, 32.0 / 256.0, 512, 7168, 256.0);
    assert_eq!(few.bound, Bound::Memory, "{few:?}");
    assert!(few.time_s < all.time_s / 2.0, "{} vs {}", few.time_s, all.time_s);
    // Touching every group with one row each costs what the dense tile grid costs.
    let dense_rows = grouped_gemm(&hw, Dtype::Fp8, 64, 1.0, 512, 7168, 64.0);
    assert!(dense_rows.time_s > few.time_s);
    // A single group is a dense GEMM.
    let one = grouped_gemm(&hw, Dtype::Fp8, 1, 128.0, 4096, 4096, 1.0);
    let dense = gemm(&hw, &Gemm { m: 128, n: 4096, k: 4096, dtype: Dtype::Fp8 });
    assert_eq!(one.time_s, dense.time_s);
}

#[test]
fn tensor_parallelism_splits_weights_and_adds_communication() {
    let (cat, hw) = h100();
    let m = cat.model("llama-3.1-8b").unwrap();
    let one = StepModel::new(m, &hw, Parallel::tp(1), StepOptions::default()).unwrap();
    let four = StepModel::new(m, &hw, Parallel::tp(4), StepOptions::default()).unwrap();
    assert!(four.weight_bytes_per_chip() < one.weight_bytes_per_chip() / 3.0);
    let b = BatchShape::decode(64, 2048);
    let c4 = four.cost(&b);
    assert!(c4.class(tokenfab_perf::OpClass::Communication).time_s > 0.0);
    assert!(c4.time_s < one.cost(&b).time_s);
}

#[test]
fn bad_layouts_are_errors_not_panics() {
    let (cat, hw) = h100();
    let m = cat.model("llama-3.1-8b").unwrap();
    for (p, needle) in [
        (Parallel::tp(16), "scale-up domain"),
        (Parallel { tp: 2, moe_tp: 1, ..Default::default() }, "moe_tp"),
        (Parallel { tp: 1, pp: 0, ..Default::default() }, "pp must be"),
        (Parallel { tp: 1, moe_ep: 2, moe_tp: 1, attn_dp: 2, ..Default::default() }, "dense model"),
        // 32 query heads: tp 3 and tp 6 do not split them evenly.
        (Parallel::tp(3), "does not divide the model's 32 attention heads"),
        (Parallel::tp(6), "does not divide the model's 32 attention heads"),
    ] {
        let e = StepModel::new(m, &hw, p, StepOptions::default()).unwrap_err().to_string();
        assert!(e.contains(needle), "{p:?}: {e}");
    }
    // Layouts the engines accept (8 KV heads split over 2, 4, 8 ranks).
    for tp in [1, 2, 4, 8] {
        StepModel::new(m, &hw, Parallel::tp(tp), StepOptions::default()).unwrap();
    }
}

#[test]
fn predict_rows_report_missing_columns() {
    let (cat, hw) = h100();
    for (row, needle) in [
        (OpRow { op: "gemm".into(), m: Some(1), ..Default::default() }, "column `n`"),
        (OpRow { op: "nope".into(), ..Default::default() }, "unknown op"),
        (OpRow { op: "decode_step".into(), batch: Some(1), ..Default::default() }, "column `model`"),
        (g(1, 1, 1, "fp4"), "fp4"),
        (g(1, 1, 1, "int3"), "unknown dtype"),
    ] {
        let e = predict_row(&cat, &hw, &row).unwrap_err();
        assert!(e.contains(needle), "{row:?}: {e}");
    }
}

#[test]
fn sustained_clocks_slow_compute_bound_work_only() {
    let (_, mut hw) = h100();
    let big = Gemm { m: 8192, n: 8192, k: 8192, dtype: Dtype::Bf16 };
    let small = Gemm { m: 1, n: 8192, k: 8192, dtype: Dtype::Bf16 };
    let (b1, s1) = (gemm(&hw, &big).time_s, gemm(&hw, &small).time_s);
    hw.clock_mode = tokenfab_perf::ClockMode::Sustained;
    let (b2, s2) = (gemm(&hw, &big).time_s, gemm(&hw, &small).time_s);
    assert!(b2 > b1 * 1.05, "{b1} {b2}");
    assert!((s2 - s1).abs() / s1 < 1e-9);
    // Power never exceeds TDP and never drops below idle.
    let c = gemm(&hw, &big);
    assert!(c.power_w() <= hw.tdp_w + 1e-9 && c.power_w() >= hw.idle_w);
}

proptest! {
    #[test]
    fn gemm_time_grows_with_m_and_power_is_bounded(m in 1u64..20000, n in 64u64..30000, k in 64u64..16384) {
        let (_, hw) = h100();
        let a = gemm(&hw, &Gemm { m, n, k, dtype: Dtype::Bf16 });
        let b = gemm(&hw, &Gemm { m: m * 2, n, k, dtype: Dtype::Bf16 });
        prop_assert!(b.time_s >= a.time_s * 0.999);
        prop_assert!(a.power_w() <= hw.tdp_w + 1e-6 && a.power_w() >= hw.idle_w - 1e-6);
        prop_assert!(a.time_s.is_finite() && a.time_s > 0.0);
    }

    #[test]
    fn decode_step_time_grows_with_batch_and_context(batch in 1u32..256, ctx in 1u64..32768) {
        let (cat, hw) = h100();
        let m = cat.model("llama-3.1-8b").unwrap();
        let sm = StepModel::new(m, &hw, Parallel::tp(1), StepOptions::default()).unwrap();
        let a = sm.cost(&BatchShape::decode(batch, ctx)).time_s;
        prop_assert!(sm.cost(&BatchShape::decode(batch + 1, ctx)).time_s >= a * 0.999);
        prop_assert!(sm.cost(&BatchShape::decode(batch, ctx * 2)).time_s >= a * 0.999);
    }
}

/// fp4 weights on a chip without fp4 tensor cores (H100) run in a dequantizing W4A16 kernel:
/// large GEMMs at the bf16 rate, small ones reading half the bytes of fp8.
#[test]
fn fp4_weights_without_fp4_tensor_cores_compute_at_the_bf16_rate() {
    let (_, hw) = h100();
    assert_eq!(hw.peak_or_wider(Dtype::Fp4).1, Dtype::Bf16);
    assert_eq!(hw.peak_or_wider(Dtype::Fp8).1, Dtype::Fp8);
    let t = |m: u64, dtype: Dtype| gemm(&hw, &Gemm { m, n: 8192, k: 8192, dtype }).time_s;
    let (big4, big16, big8) = (t(16384, Dtype::Fp4), t(16384, Dtype::Bf16), t(16384, Dtype::Fp8));
    assert!((big4 / big16 - 1.0).abs() < 0.15, "compute-bound fp4 {big4} vs bf16 {big16}");
    assert!(big4 > 1.5 * big8, "not at the fp8 rate: {big4} vs {big8}");
    assert!(t(1, Dtype::Fp4) < t(1, Dtype::Fp8), "memory-bound: fp4 weights stream half the bytes");
}

#[test]
fn a_chips_measured_gemm_efficiency_replaces_the_generic_fraction() {
    let cat = Catalog::builtin();
    let b200 = cat.chip("b200").unwrap();
    let p = tokenfab_perf::Params::analytical(b200);
    assert_eq!(p.gemm_fp4.compute_eff, b200.gemm_efficiency(Dtype::Fp4).unwrap());
    assert_eq!(p.gemm_bf16.compute_eff, b200.gemm_efficiency(Dtype::Bf16).unwrap());
    assert!(p.provenance.contains("catalog"), "{}", p.provenance);
    // A large fp4 GEMM on B200 is priced at the measured fraction of the 9 PF peak, not at 60 %.
    let hw = Hardware::new(b200, cat.default_system_for_chip("b200"), &cat);
    let flops = 2.0 * 16384.0 * 6144.0 * 4096.0;
    let t = gemm(&hw, &Gemm { m: 16384, n: 6144, k: 4096, dtype: Dtype::Fp4 }).time_s;
    let frac = flops / t / 9e15;
    assert!((0.35..0.45).contains(&frac), "{frac}");
    // Without a figure the generic fractions stay.
    let mi = tokenfab_perf::Params::analytical(cat.chip("mi355x").unwrap());
    assert_eq!((mi.gemm_bf16.compute_eff, mi.gemm_fp4.compute_eff), (0.72, 0.60));
    assert_eq!(mi.provenance, "analytical defaults");
}

#[test]
fn expert_parallelism_that_does_not_divide_the_experts_uses_expert_slots() {
    let cat = Catalog::builtin();
    let model = cat.model("deepseek-r1").unwrap();
    let chip = cat.chip("gb200").unwrap();
    let hw = Hardware::new(chip, cat.default_system_for_chip("gb200"), &cat);
    let layout = |ep: u32| Parallel { tp: 1, pp: 1, attn_dp: ep, moe_tp: 1, moe_ep: ep };
    let opts = StepOptions { weight_dtype: Dtype::Fp4, ..Default::default() };
    // 256 experts over 36 GPUs: ⌈256 / 36⌉ = 8 slots per GPU, as over 32 GPUs.
    let w = |ep: u32| StepModel::new(model, &hw, layout(ep), opts.clone()).unwrap().weight_bytes_per_chip();
    assert!((w(36) - w(32)).abs() / w(32) < 0.02, "{} {}", w(36), w(32));
    assert!(w(36) < w(28));
    // More ranks than experts cannot be laid out.
    assert!(StepModel::new(model, &hw, layout(288), opts).is_err());
}
