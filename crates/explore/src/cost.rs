//! Area, yield, power and cost of a design, and the physical limits that reject it.
//!
//! ```text
//!  logic (fp8 PF × mm²/PF, + fp4) + SRAM (MB × mm²/MB) + uncore + HBM PHYs + SerDes
//!      ÷ dies (+ die-to-die)  ──► die area ──► reticle check, yield (Murphy/Poisson), dies/wafer
//!  good die $ = wafer $ / (dies per wafer × yield)
//!  package $ = (dies × good die $ + stacks × HBM $ + interposer) / assembly yield
//!  unit $ = package $ + board + NRE / volume;   capex/chip = unit $ + system share + scale-up
//! ```

use crate::Rejection;
use crate::figures::{CostModel, MemoryFigures};
use crate::space::Design;
use serde::{Deserialize, Serialize};
use tokenfab_catalog::{Chip, ChipStatus, Confidence, DtypePeaks, Fact};

/// Physical and economic figures derived from a design.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Physical {
    /// Area of one compute die, mm².
    pub die_mm2: f64,
    /// Yield of one compute die.
    pub die_yield: f64,
    /// Interposer area, mm².
    pub interposer_mm2: f64,
    /// HBM capacity, GB.
    pub hbm_gb: f64,
    /// HBM bandwidth, TB/s.
    pub hbm_tbps: f64,
    /// Compute units (for wave quantization).
    pub compute_units: u32,
    /// Idle power, W.
    pub idle_w: f64,
    /// Power the design would draw running its compute, memory and links at full rate, W.
    pub full_rate_w: f64,
    /// Clock (compute throughput) the TDP sustains relative to nominal, from the DVFS law (≤ 1).
    pub power_derate: f64,
    /// Cost of one packaged, tested module including its NRE share, USD.
    pub unit_usd: f64,
    /// Capital cost per deployed chip (module + system share + scale-up fabric), USD.
    pub capex_usd: f64,
}

/// Derives area, power and cost, or the first physical limit the design breaks.
pub fn physical(d: &Design, c: &CostModel, mem: &MemoryFigures) -> Result<Physical, Rejection> {
    let dies = d.compute_dies.max(1) as f64;
    let stacks = d.hbm_stacks as f64;
    let logic = d.fp8_pflops * c.logic_mm2_per_fp8_pflops * (1.0 + if d.fp4 { c.fp4_area_fraction } else { 0.0 });
    let sram = d.sram_mb * c.sram_mm2_per_mb;
    let hbm_phy = stacks * mem.phy_mm2.value;
    let serdes = d.scaleup_gbps / 1000.0 * c.scaleup_mm2_per_tbps;
    let total = logic + sram + c.uncore_mm2 + hbm_phy + serdes;
    let d2d = if dies > 1.0 { c.d2d_mm2_per_die } else { 0.0 };
    let die_mm2 = total / dies + d2d;
    if die_mm2 > c.reticle_limit_mm2 {
        return Err(Rejection::Reticle);
    }
    // Two long edges per die carry HBM PHYs.
    let shoreline = dies * 2.0 * die_mm2.sqrt();
    if stacks * c.hbm_shoreline_mm_per_stack > shoreline {
        return Err(Rejection::HbmShoreline);
    }
    let interposer_mm2 = (dies * die_mm2 + stacks * c.hbm_footprint_mm2) * c.interposer_area_factor;
    if interposer_mm2 > c.max_interposer_mm2 {
        return Err(Rejection::PackageTooLarge);
    }
    let silicon_mm2 = dies * die_mm2;
    if d.tdp_w / silicon_mm2 > c.max_w_per_mm2 {
        return Err(Rejection::PowerDensity);
    }
    // Power at full rate: compute + HBM + SerDes above idle.
    let idle_w = c.idle_fraction_of_tdp * d.tdp_w;
    let hbm_tbps = stacks * mem.stack_tbps.value;
    let compute_w = d.fp8_pflops * 1e15 * c.pj_per_fp8_flop * 1e-12;
    let hbm_w = hbm_tbps * 1e12 * 8.0 * mem.pj_per_bit.value * 1e-12;
    let serdes_w = d.scaleup_gbps * 1e9 * 8.0 * c.serdes_pj_per_bit * 1e-12;
    let full_rate_w = idle_w + compute_w + hbm_w + serdes_w;
    if full_rate_w > d.tdp_w * c.max_power_oversubscription {
        return Err(Rejection::TdpBelowDemand);
    }
    // What the cap leaves for compute once memory and links are fed.
    let compute_budget = (d.tdp_w - idle_w - hbm_w - serdes_w).max(0.0);
    // Under the cap the clock drops until compute power fits: P ~ f^n, so f = (budget / demand)^(1/n).
    let power_derate = (compute_budget / compute_w).min(1.0).powf(1.0 / c.dvfs_power_exponent);
    if power_derate <= 0.0 {
        return Err(Rejection::TdpBelowDemand);
    }

    let a_cm2 = die_mm2 / 100.0;
    let ad = a_cm2 * c.defect_density_per_cm2;
    let die_yield = if ad <= 0.0 {
        1.0
    } else if c.murphy_yield > 0.5 {
        ((1.0 - (-ad).exp()) / ad).powi(2)
    } else {
        (-ad).exp()
    };
    let dpw = dies_per_wafer(c.wafer_diameter_mm, die_mm2);
    let good_die_usd = c.wafer_usd / (dpw * die_yield);
    let package_usd = c.packaging_fixed_usd + interposer_mm2 * c.packaging_usd_per_interposer_mm2;
    let assembled = (dies * good_die_usd + stacks * mem.usd_per_stack.value + package_usd) / c.assembly_yield;
    let unit_usd = assembled + c.board_fixed_usd + c.board_usd_per_w * d.tdp_w + c.nre_usd / c.volume_units;
    let optical = if d.scaleup_domain as f64 > c.scaleup_copper_max_chips { c.scaleup_optical_multiplier } else { 1.0 };
    // More chips per domain need more switch stages and ports per chip: log2(domain) / 3 (1 at 8).
    let stages = (d.scaleup_domain.max(2) as f64).log2() / 3.0;
    let scaleup_usd =
        if d.scaleup_domain > 1 { d.scaleup_gbps * c.scaleup_usd_per_gbps * stages * optical } else { 0.0 };
    let capex_usd = unit_usd + c.system_usd_per_chip + scaleup_usd;
    Ok(Physical {
        die_mm2,
        die_yield,
        interposer_mm2,
        hbm_gb: stacks * mem.stack_gb.value,
        hbm_tbps,
        compute_units: ((d.fp8_pflops * 1000.0 / c.tflops_fp8_per_compute_unit).round() as u32).max(1),
        idle_w,
        full_rate_w,
        power_derate,
        unit_usd,
        capex_usd,
    })
}

/// Gross dies per wafer (de Vries' approximation: area ratio minus edge loss).
pub fn dies_per_wafer(wafer_diameter_mm: f64, die_mm2: f64) -> f64 {
    let r = wafer_diameter_mm / 2.0;
    let n = std::f64::consts::PI * r * r / die_mm2 - std::f64::consts::PI * wafer_diameter_mm / (2.0 * die_mm2).sqrt();
    n.max(1.0)
}

/// The design as a catalog chip: every figure an `estimate` from the explore model. Compute
/// peaks are the TDP-sustainable rates (derated where the cap cannot feed full rate).
pub fn to_chip(d: &Design, p: &Physical, c: &CostModel, space_name: &str) -> Chip {
    let src = format!("tokenfab explore: space {space_name}, design {}", d.id());
    let est = |v: f64, why: &str| Fact {
        value: v,
        source: src.clone(),
        confidence: Confidence::Estimate,
        note: Some(why.into()),
    };
    let fp8_tflops = d.fp8_pflops * 1000.0 * p.power_derate;
    let derate_note = if p.power_derate < 1.0 {
        format!("design point; derated to {:.0} % by the TDP", p.power_derate * 100.0)
    } else {
        "design point".to_string()
    };
    Chip {
        id: d.id(),
        name: format!("{space_name} {}", d.id()),
        vendor: "custom".into(),
        aliases: vec![],
        status: ChipStatus::Concept,
        year: Fact {
            value: 2027,
            source: src.clone(),
            confidence: Confidence::Estimate,
            note: Some("design point".into()),
        },
        process: Fact {
            value: format!("N3-class, {} die(s) of {:.0} mm2", d.compute_dies, p.die_mm2),
            source: src.clone(),
            confidence: Confidence::Estimate,
            note: Some("design point".into()),
        },
        peak_dense_tflops: DtypePeaks {
            bf16: est(fp8_tflops * c.bf16_rate_ratio, &derate_note),
            fp8: Some(est(fp8_tflops, &derate_note)),
            fp4: d.fp4.then(|| est(fp8_tflops * c.fp4_rate_ratio, &derate_note)),
        },
        hbm_capacity_gb: est(p.hbm_gb, "stacks x capacity per stack"),
        hbm_driver_mib: None,
        hbm_bandwidth_tbps: est(p.hbm_tbps, "stacks x bandwidth per stack"),
        sram_mb: Some(est(d.sram_mb, "design point")),
        scaleup_bandwidth_gbps: est(d.scaleup_gbps, "design point"),
        scaleup_domain_chips: Fact {
            value: d.scaleup_domain,
            source: src.clone(),
            confidence: Confidence::Estimate,
            note: Some("design point".into()),
        },
        scaleout_bandwidth_gbps: est(100.0, "800 Gb/s NIC per chip assumed"),
        tdp_w: est(d.tdp_w, "design point"),
        idle_power_w: est(p.idle_w, "idle fraction of TDP"),
        compute_units: Some(Fact {
            value: p.compute_units,
            source: src.clone(),
            confidence: Confidence::Estimate,
            note: Some("fp8 rate / rate per unit".into()),
        }),
        gemm_efficiency: None,
        price_usd: Some(est(p.unit_usd, "manufacturing cost + NRE share (no margin)")),
        notes: Some("generated by tokenfab explore".into()),
        origin: src,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::figures::Figures;

    fn design() -> Design {
        Design {
            index: 7,
            fp8_pflops: 4.5,
            fp4: true,
            memory: "hbm3e-12h".into(),
            hbm_stacks: 8,
            sram_mb: 256.0,
            scaleup_gbps: 900.0,
            scaleup_domain: 72,
            tdp_w: 1000.0,
            compute_dies: 2,
        }
    }

    #[test]
    fn dies_per_wafer_matches_the_textbook_example() {
        // 300 mm wafer, 100 mm² die: 706.9 - 66.6 = 640 gross dies.
        assert!((dies_per_wafer(300.0, 100.0) - 640.2).abs() < 0.5);
    }

    #[test]
    fn a_b200_class_design_costs_what_analysts_say() {
        let f = Figures::defaults();
        let p = physical(&design(), &f.cost, &f.memory["hbm3e-12h"]).unwrap();
        assert!(p.die_mm2 > 350.0 && p.die_mm2 < 858.0, "{p:?}");
        assert!(p.die_yield > 0.4 && p.die_yield < 0.8, "{p:?}");
        // Analyst BOMs put B200/MI355X-class modules at US$6-8 k before NRE and board.
        assert!(p.unit_usd > 5_000.0 && p.unit_usd < 12_000.0, "{p:?}");
        assert_eq!(p.hbm_gb, 288.0);
    }

    #[test]
    fn each_physical_limit_rejects_with_its_reason() {
        let f = Figures::defaults();
        let m = &f.memory["hbm3e-12h"];
        let check = |d: Design, want: Rejection| assert_eq!(physical(&d, &f.cost, m).unwrap_err(), want);
        check(Design { compute_dies: 1, fp8_pflops: 10.0, ..design() }, Rejection::Reticle);
        check(Design { compute_dies: 1, fp8_pflops: 10.0, ..design() }, Rejection::Reticle);
        check(
            Design { fp8_pflops: 1.0, sram_mb: 64.0, hbm_stacks: 12, compute_dies: 1, ..design() },
            Rejection::HbmShoreline,
        );
        check(Design { fp8_pflops: 10.0, hbm_stacks: 12, sram_mb: 512.0, ..design() }, Rejection::PackageTooLarge);
        check(
            Design { fp8_pflops: 1.0, hbm_stacks: 2, sram_mb: 64.0, compute_dies: 1, tdp_w: 1400.0, ..design() },
            Rejection::PowerDensity,
        );
        check(Design { fp8_pflops: 6.0, tdp_w: 400.0, ..design() }, Rejection::TdpBelowDemand);
    }
}
