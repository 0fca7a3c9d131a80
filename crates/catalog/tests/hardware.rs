//! Built-in chips, systems and fabrics: every id the design promises exists, every figure is
//! sourced, every estimate says why, and the figures make physical sense.

use std::collections::BTreeMap;
use tokenfab_catalog::{Catalog, ChipStatus, Confidence, Dtype, Figure};

const CHIP_IDS: &[&str] = &[
    "h100-sxm",
    "h200-sxm",
    "b200",
    "b300",
    "gb200",
    "gb300",
    "rubin",
    "mi300x",
    "mi325x",
    "mi355x",
    "mi450",
    "tpu-v6e",
    "tpu-v7",
    "trainium2",
    "trainium3",
    "gaudi3",
    "custom-inference-asic",
];

/// Chips with an fp4 tensor path (Blackwell, Rubin, MI355X, MI450, Trainium3 MXFP4, the concept).
const FP4_CHIPS: &[&str] =
    &["b200", "b300", "gb200", "gb300", "rubin", "mi355x", "mi450", "trainium3", "custom-inference-asic"];

#[test]
fn builtin_catalog_validates() {
    if let Err(e) = Catalog::try_builtin() {
        panic!("{e}");
    }
}

#[test]
fn every_design_chip_id_exists() {
    let cat = Catalog::builtin();
    for id in CHIP_IDS {
        assert!(cat.chips.contains_key(*id), "missing chip {id}");
    }
    assert_eq!(cat.chips.len(), CHIP_IDS.len(), "unexpected chips: {:?}", cat.chips.keys().collect::<Vec<_>>());
}

#[test]
fn aiconfigurator_system_names_resolve_to_chips() {
    let cat = Catalog::builtin();
    for (name, id) in [
        ("h100_sxm", "h100-sxm"),
        ("h200_sxm", "h200-sxm"),
        ("b200_sxm", "b200"),
        ("b300_sxm", "b300"),
        ("gb200", "gb200"),
        ("gb300", "gb300"),
        ("H100", "h100-sxm"),
        ("ironwood", "tpu-v7"),
        ("trn2", "trainium2"),
        ("mi455x", "mi450"),
    ] {
        assert_eq!(cat.chip(name).map(|c| c.id.as_str()), Ok(id), "{name}");
    }
}

#[test]
fn every_system_name_of_the_validation_set_resolves() {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/validation/aic-silicon-held-in.csv");
    let Ok(text) = std::fs::read_to_string(&path) else {
        println!("skipping: {} not found", path.display());
        return;
    };
    let cat = Catalog::builtin();
    let col = text.lines().next().unwrap_or("").split(',').position(|h| h == "system").expect("system column");
    for line in text.lines().skip(1) {
        let name = line.split(',').nth(col).unwrap_or("");
        assert!(cat.chip(name).is_ok(), "system `{name}` does not resolve to a chip");
    }
}

fn audit(kind: &str, id: &str, figures: &[Figure], errs: &mut Vec<String>) {
    for f in figures {
        if f.source.trim().is_empty() {
            errs.push(format!("{kind} {id}: {} has no source", f.field));
        }
        if f.confidence == Confidence::Estimate && f.note.as_deref().is_none_or(|n| n.trim().len() < 10) {
            errs.push(format!("{kind} {id}: estimate {} does not say why", f.field));
        }
        if f.value.is_null() {
            errs.push(format!("{kind} {id}: {} has no value", f.field));
        }
    }
}

#[test]
fn every_figure_is_sourced_and_every_estimate_says_why() {
    let cat = Catalog::builtin();
    let mut errs = Vec::new();
    for c in cat.chips.values() {
        audit("chip", &c.id, &c.figures(), &mut errs);
    }
    for s in cat.systems.values() {
        audit("system", &s.id, &s.figures(), &mut errs);
    }
    for f in cat.fabrics.values() {
        audit("fabric", &f.id, &f.figures(), &mut errs);
    }
    assert!(errs.is_empty(), "{}", errs.join("\n"));
}

#[test]
fn every_chip_has_every_required_figure() {
    // Required: year, process, bf16 peak, HBM, links, TDP, idle power, and a price estimate.
    let cat = Catalog::builtin();
    for c in cat.chips.values() {
        let fields: Vec<&str> = c.figures().iter().map(|f| f.field).collect();
        for want in [
            "year",
            "process",
            "peak_dense_tflops.bf16",
            "hbm_capacity_gb",
            "hbm_bandwidth_tbps",
            "scaleup_bandwidth_gbps",
            "scaleup_domain_chips",
            "scaleout_bandwidth_gbps",
            "tdp_w",
            "idle_power_w",
            "price_usd",
        ] {
            assert!(fields.contains(&want), "chip {} lacks {want}", c.id);
        }
    }
}

#[test]
fn fp4_only_where_supported() {
    let cat = Catalog::builtin();
    for c in cat.chips.values() {
        let has = c.peak_flops(Dtype::Fp4).is_some();
        assert_eq!(has, FP4_CHIPS.contains(&c.id.as_str()), "fp4 on {}", c.id);
    }
}

#[test]
fn peaks_are_dense_and_ordered() {
    // Dense rates never drop with narrower formats, and halving the width never buys more than
    // the format allows: fp8 up to 4x bf16 (Trainium3 is 3.75x), fp4 up to 3x fp8 (Blackwell
    // Ultra's fp4 units are 1.5x Blackwell's at the same fp8 rate). A 2:4-sparse figure on top
    // of these would break the bounds.
    let cat = Catalog::builtin();
    for c in cat.chips.values() {
        let bf16 = c.peak_flops(Dtype::Bf16).unwrap();
        if let Some(fp8) = c.peak_flops(Dtype::Fp8) {
            assert!(fp8 >= bf16 && fp8 <= 4.0 * bf16, "{}: fp8 {fp8} vs bf16 {bf16}", c.id);
            if let Some(fp4) = c.peak_flops(Dtype::Fp4) {
                assert!(fp4 >= fp8 && fp4 <= 3.0 * fp8, "{}: fp4 {fp4} vs fp8 {fp8}", c.id);
            }
        }
    }
    // Spot checks against hw_chips.csv dense rows.
    for (id, dtype, tflops) in [
        ("h100-sxm", Dtype::Fp8, 1978.9),
        ("b200", Dtype::Fp4, 9000.0),
        ("gb300", Dtype::Fp4, 15000.0),
        ("mi300x", Dtype::Bf16, 1307.4),
        ("tpu-v7", Dtype::Fp8, 4614.0),
        ("trainium3", Dtype::Fp4, 2517.0),
    ] {
        assert_eq!(cat.chip(id).unwrap().peak_dense_tflops.tflops(dtype), Some(tflops), "{id} {dtype}");
    }
}

#[test]
fn idle_power_is_a_fraction_of_tdp_and_h100_is_measured() {
    let cat = Catalog::builtin();
    for c in cat.chips.values() {
        let frac = c.idle_power_w.value / c.tdp_w.value;
        assert!((0.1..=0.25).contains(&frac), "{}: idle {:.0} % of TDP", c.id, frac * 100.0);
        if c.id != "h100-sxm" {
            assert_eq!(c.idle_power_w.confidence, Confidence::Estimate, "{} idle power", c.id);
        }
    }
    assert_ne!(cat.chip("h100-sxm").unwrap().idle_power_w.confidence, Confidence::Estimate);
}

#[test]
fn the_concept_chip_is_all_estimates() {
    let cat = Catalog::builtin();
    let c = cat.chip("custom-inference-asic").unwrap();
    assert_eq!(c.status, ChipStatus::Concept);
    for f in c.figures() {
        assert_eq!(f.confidence, Confidence::Estimate, "custom-inference-asic.{}", f.field);
    }
}

#[test]
fn exactly_one_default_system_per_chip() {
    let cat = Catalog::builtin();
    let mut defaults: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for s in cat.systems.values() {
        if s.default_for_chip {
            defaults.entry(s.chip.as_str()).or_default().push(s.id.as_str());
        }
    }
    for id in CHIP_IDS {
        assert_eq!(defaults.get(id).map(Vec::len), Some(1), "default systems of {id}: {:?}", defaults.get(id));
        let d = cat.default_system_for_chip(id).unwrap();
        assert!(d.default_for_chip, "{id}");
    }
}

#[test]
fn systems_are_consistent_with_their_chips() {
    let cat = Catalog::builtin();
    for s in cat.systems.values() {
        let chip = cat.chip(&s.chip).unwrap();
        assert!(s.scaleup_domain_chips.value <= s.chips.value, "{}: domain larger than system", s.id);
        // The system's power covers its chips at TDP (hosts, switches and cooling come on top).
        let chips_kw = s.chips.value as f64 * chip.tdp_w.value / 1e3;
        assert!(s.system_power_kw.value >= chips_kw, "{}: {} kW < chips {chips_kw} kW", s.id, s.system_power_kw.value);
        assert!(s.system_power_kw.value <= 2.0 * chips_kw, "{}: {} kW > 2x chips", s.id, s.system_power_kw.value);
        for f in [&s.scaleup_fabric, &s.scaleout_fabric].into_iter().flatten() {
            assert!(cat.fabric(f).is_ok(), "{}: fabric {f}", s.id);
        }
        if let Some(a) = &s.available {
            let ok = a.value.len() == 6 && a.value.starts_with("20") && a.value[4..5] == *"Q";
            assert!(ok, "{}: available `{}` is not YYYYQn", s.id, a.value);
        }
    }
}

#[test]
fn scaleup_fabrics_match_their_chips_bandwidth() {
    let cat = Catalog::builtin();
    for s in cat.systems.values() {
        let chip = cat.chip(&s.chip).unwrap();
        if let Some(f) = &s.scaleup_fabric {
            let fab = cat.fabric(f).unwrap();
            assert_eq!(fab.bandwidth_gbps.value, chip.scaleup_bandwidth_gbps.value, "{} over {f}", s.id);
        }
    }
}

#[test]
fn bandwidths_are_bytes_per_second() {
    // A 400 Gb/s NIC is 50 GB/s; nothing in the catalog is a bit rate by mistake.
    let cat = Catalog::builtin();
    let h100 = cat.chip("h100-sxm").unwrap();
    assert_eq!(h100.scaleout_bandwidth_gbps.value, 50.0);
    assert_eq!(cat.fabric("ib-ndr400").unwrap().bandwidth_gbps.value, 50.0);
    assert_eq!(cat.fabric("tomahawk5").unwrap().switch_capacity_tbit_s.as_ref().unwrap().value, 51.2);
    for c in cat.chips.values() {
        assert!(
            c.scaleout_bandwidth_gbps.value <= 400.0,
            "{}: scale-out {} GB/s",
            c.id,
            c.scaleout_bandwidth_gbps.value
        );
        assert!(c.hbm_bandwidth_tbps.value < 30.0, "{}: HBM {} TB/s", c.id, c.hbm_bandwidth_tbps.value);
    }
}
