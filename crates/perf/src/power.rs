//! Power: from idle up to the cap, and the clock throttling at the cap.
//!
//! Dynamic power (above idle) is modelled as activity × (TDP − idle), with
//! `activity = compute_activity · u_c + memory_activity · u_m`: `u_c` is the achieved FLOP rate
//! relative to 75 % of dense peak (what a large GEMM achieves), `u_m` the achieved HBM traffic
//! relative to peak bandwidth. Power never exceeds TDP. When sustained compute demand exceeds the
//! cap the chip lowers its clocks; throughput then scales as `(1 / activity)^γ`, with γ chosen so
//! that a fully compute-bound kernel keeps `sustained_compute_ratio` of its burst throughput —
//! on the measured H100, 672.4 / 743.5 TFLOP/s = 0.904 for bf16 at 1380 MHz under 700 W
//! (shared/calibration/h100-sxm-ceilings.csv).

use crate::{Hardware, PowerParams};

/// Fraction of dense peak that counts as full compute activity.
pub const FULL_COMPUTE_FRACTION: f64 = 0.75;

/// Average chip power while an op of these totals runs, W.
pub fn average_power_w(hw: &Hardware, time_s: f64, flops: f64, bytes: f64, peak: f64) -> f64 {
    if time_s <= 0.0 {
        return hw.idle_w;
    }
    let u_c = (flops / time_s) / (peak * FULL_COMPUTE_FRACTION);
    let u_m = (bytes / time_s) / hw.hbm_bytes_per_s;
    let p = &hw.params.power;
    let activity = p.compute_activity * u_c + p.memory_activity * u_m;
    hw.idle_w + (hw.tdp_w - hw.idle_w) * activity.clamp(0.0, 1.0)
}

/// Throughput factor (≤ 1) of compute-bound work at the power cap, for a compute utilization
/// `u` (1.0 = a large GEMM at its burst rate).
pub fn sustained_factor(p: &PowerParams, u: f64) -> f64 {
    let demand = p.compute_activity * u.max(0.0);
    if demand <= 1.0 || p.compute_activity <= 1.0 {
        return 1.0;
    }
    let gamma = p.sustained_compute_ratio.ln() / (1.0 / p.compute_activity).ln();
    (1.0 / demand).powf(gamma)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_gemm_keeps_the_measured_sustained_ratio() {
        let p = PowerParams { compute_activity: 1.25, memory_activity: 0.8, sustained_compute_ratio: 0.904 };
        assert!((sustained_factor(&p, 1.0) - 0.904).abs() < 1e-9);
        assert_eq!(sustained_factor(&p, 0.5), 1.0);
        assert!(sustained_factor(&p, 1.1) < 0.904);
    }
}
