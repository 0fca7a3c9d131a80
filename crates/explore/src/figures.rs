//! Sourced figures of the cost, area and power model: embedded defaults, overridable per space.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use tokenfab_catalog::{Confidence, Fact};

/// The embedded default figures (`data/figures.toml`).
pub const DEFAULT_FIGURES_TOML: &str = include_str!("../data/figures.toml");

/// Figures of one HBM option (generation and stack height).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemoryFigures {
    /// Capacity per stack, GB.
    pub stack_gb: Fact<f64>,
    /// Bandwidth per stack, TB/s.
    pub stack_tbps: Fact<f64>,
    /// Price per stack, USD.
    pub usd_per_stack: Fact<f64>,
    /// PHY and controller area per stack on the logic die, mm².
    pub phy_mm2: Fact<f64>,
    /// Interface energy, pJ per bit.
    pub pj_per_bit: Fact<f64>,
}

macro_rules! scalar_figures {
    ($($name:ident : $doc:literal),* $(,)?) => {
        /// Scalar figures of the cost, area and power model, as plain numbers (the sourced
        /// versions are in [`Figures::facts`]).
        #[derive(Debug, Clone, Copy, PartialEq, Serialize)]
        pub struct CostModel {
            $( #[doc = $doc] pub $name: f64, )*
        }

        /// Every scalar figure key with its meaning.
        pub const FIGURE_KEYS: &[(&str, &str)] = &[ $( (stringify!($name), $doc), )* ];

        impl CostModel {
            fn from_facts(m: &BTreeMap<String, Fact<f64>>) -> Result<CostModel, Vec<String>> {
                let mut missing = Vec::new();
                let mut get = |k: &str| match m.get(k) {
                    Some(f) => f.value,
                    None => {
                        missing.push(format!("figures.{k}: missing"));
                        f64::NAN
                    }
                };
                let c = CostModel { $( $name: get(stringify!($name)), )* };
                if missing.is_empty() { Ok(c) } else { Err(missing) }
            }
        }
    };
}

scalar_figures! {
    reticle_limit_mm2: "Largest die a scanner can expose, mm².",
    logic_mm2_per_fp8_pflops: "Tensor and core logic area per dense fp8 PFLOP/s, mm².",
    fp4_area_fraction: "Extra logic for an fp4 path, fraction of the fp8 logic.",
    bf16_rate_ratio: "Dense bf16 rate relative to fp8.",
    fp4_rate_ratio: "Dense fp4 rate relative to fp8.",
    tflops_fp8_per_compute_unit: "Dense fp8 TFLOP/s per compute unit (sets the unit count).",
    sram_mm2_per_mb: "SRAM area per MB, mm².",
    sram_weight_fraction: "Share of SRAM usable for pinned weights.",
    uncore_mm2: "Host interface, control and NoC area per package, mm².",
    scaleup_mm2_per_tbps: "SerDes area per TB/s of scale-up bandwidth per direction, mm².",
    d2d_mm2_per_die: "Die-to-die interface area per die of a multi-die package, mm².",
    hbm_shoreline_mm_per_stack: "Die edge one HBM stack needs, mm.",
    wafer_usd: "Price of one processed wafer, USD.",
    wafer_diameter_mm: "Wafer diameter, mm.",
    defect_density_per_cm2: "Defect density D0, per cm².",
    murphy_yield: "1: Murphy yield model; 0: Poisson.",
    nre_usd: "Design, mask and bring-up cost of one chip generation, USD.",
    volume_units: "Units the NRE is spread over.",
    hbm_footprint_mm2: "Interposer area of one HBM stack, mm².",
    interposer_area_factor: "Interposer area relative to the sum of dies and stacks.",
    max_interposer_mm2: "Largest interposer in volume, mm².",
    packaging_fixed_usd: "Fixed packaging cost per package, USD.",
    packaging_usd_per_interposer_mm2: "Packaging cost per mm² of interposer, USD.",
    assembly_yield: "Yield of package assembly.",
    board_fixed_usd: "Module board fixed cost, USD.",
    board_usd_per_w: "Module power delivery and cooling cost per W of TDP, USD.",
    system_usd_per_chip: "Host, NIC, rack, power and cooling share per accelerator, USD.",
    scaleup_usd_per_gbps: "Scale-up switch and cable cost per GB/s per direction per chip, USD.",
    scaleup_copper_max_chips: "Largest scale-up domain on copper in one rack, chips.",
    scaleup_optical_multiplier: "Scale-up cost multiplier for domains beyond one copper rack.",
    amortization_years: "Years the capital cost is spread over.",
    electricity_usd_per_kwh: "Electricity price, USD per kWh.",
    pue: "Facility power usage effectiveness.",
    idle_fraction_of_tdp: "Idle power as a fraction of TDP.",
    pj_per_fp8_flop: "Energy per dense fp8 FLOP at full rate, pJ.",
    serdes_pj_per_bit: "Scale-up SerDes energy, pJ per bit.",
    max_power_oversubscription: "Largest full-rate power / TDP accepted.",
    dvfs_power_exponent: "Exponent of dynamic power in clock frequency (P ~ f^n).",
    max_w_per_mm2: "Largest TDP per mm² of compute silicon.",
}

/// All figures after a space's overrides: scalar facts and HBM options.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Figures {
    /// Scalar figures with source and confidence, by key.
    pub facts: BTreeMap<String, Fact<f64>>,
    /// HBM options by name.
    pub memory: BTreeMap<String, MemoryFigures>,
    /// The scalar values, ready to compute with.
    #[serde(skip)]
    pub cost: CostModel,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FiguresFile {
    figures: BTreeMap<String, Fact<f64>>,
    memory: BTreeMap<String, MemoryFigures>,
}

impl Figures {
    /// The embedded defaults. Panics only if the embedded file is invalid, which a unit test
    /// rules out.
    pub fn defaults() -> Figures {
        let file: FiguresFile = match toml::from_str(DEFAULT_FIGURES_TOML) {
            Ok(f) => f,
            Err(e) => panic!("embedded figures.toml is invalid (a test should have caught this): {e}"),
        };
        match Figures::build(file.figures, file.memory) {
            Ok(f) => f,
            Err(e) => panic!("embedded figures.toml is invalid (a test should have caught this): {e:?}"),
        }
    }

    fn build(
        facts: BTreeMap<String, Fact<f64>>,
        memory: BTreeMap<String, MemoryFigures>,
    ) -> Result<Figures, Vec<String>> {
        let mut problems = Vec::new();
        for (k, f) in &facts {
            if !FIGURE_KEYS.iter().any(|(n, _)| n == k) {
                problems.push(format!(
                    "figures.{k}: unknown figure; known: {}",
                    FIGURE_KEYS.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
                ));
            }
            check_fact(&mut problems, &format!("figures.{k}"), f, k == "murphy_yield");
        }
        for (name, m) in &memory {
            for (field, f) in [
                ("stack_gb", &m.stack_gb),
                ("stack_tbps", &m.stack_tbps),
                ("usd_per_stack", &m.usd_per_stack),
                ("phy_mm2", &m.phy_mm2),
                ("pj_per_bit", &m.pj_per_bit),
            ] {
                check_fact(&mut problems, &format!("memory.{name}.{field}"), f, false);
            }
        }
        let cost = match CostModel::from_facts(&facts) {
            Ok(c) => Some(c),
            Err(mut e) => {
                problems.append(&mut e);
                None
            }
        };
        match cost {
            Some(cost) if problems.is_empty() => Ok(Figures { facts, memory, cost }),
            _ => Err(problems),
        }
    }

    /// These figures with a space's overrides applied (per key, per HBM option). Returns every
    /// problem found.
    pub fn with_overrides(
        self,
        facts: &BTreeMap<String, Fact<f64>>,
        memory: &BTreeMap<String, MemoryFigures>,
    ) -> Result<Figures, Vec<String>> {
        let mut f = self.facts;
        f.extend(facts.iter().map(|(k, v)| (k.clone(), v.clone())));
        let mut m = self.memory;
        m.extend(memory.iter().map(|(k, v)| (k.clone(), v.clone())));
        Figures::build(f, m)
    }

    /// Every figure as rows (key, value, source, confidence, note) for reports.
    pub fn rows(&self) -> Vec<(String, f64, String, Confidence, String)> {
        let mut rows: Vec<_> = self
            .facts
            .iter()
            .map(|(k, f)| (k.clone(), f.value, f.source.clone(), f.confidence, f.note.clone().unwrap_or_default()))
            .collect();
        for (name, m) in &self.memory {
            for (field, f) in [
                ("stack_gb", &m.stack_gb),
                ("stack_tbps", &m.stack_tbps),
                ("usd_per_stack", &m.usd_per_stack),
                ("phy_mm2", &m.phy_mm2),
                ("pj_per_bit", &m.pj_per_bit),
            ] {
                rows.push((
                    format!("memory.{name}.{field}"),
                    f.value,
                    f.source.clone(),
                    f.confidence,
                    f.note.clone().unwrap_or_default(),
                ));
            }
        }
        rows
    }
}

fn check_fact(problems: &mut Vec<String>, at: &str, f: &Fact<f64>, zero_ok: bool) {
    let ok = f.value.is_finite() && (f.value > 0.0 || (zero_ok && f.value == 0.0));
    if !ok {
        problems.push(format!("{at}.value: expected a positive number, got {}", f.value));
    }
    if f.source.trim().is_empty() {
        problems.push(format!("{at}.source: every figure needs a source"));
    }
    if f.confidence == Confidence::Estimate && f.note.as_deref().is_none_or(|n| n.trim().is_empty()) {
        problems.push(format!("{at}.note: an estimate must say why in `note`"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_defaults_are_complete_and_sourced() {
        let f = Figures::defaults();
        assert_eq!(f.facts.len(), FIGURE_KEYS.len());
        assert!(f.memory.contains_key("hbm3e-8h"));
        assert_eq!(f.cost.reticle_limit_mm2, 858.0);
    }

    #[test]
    fn unknown_and_unsourced_overrides_are_all_reported() {
        let mut over = BTreeMap::new();
        over.insert("wafer_usd_typo".to_string(), Fact::new(1.0, "x", Confidence::Reported));
        over.insert("wafer_usd".to_string(), Fact::new(1.0, "", Confidence::Estimate));
        let e = Figures::defaults().with_overrides(&over, &BTreeMap::new()).unwrap_err();
        assert_eq!(e.len(), 3, "{e:?}");
        assert!(e[0].starts_with("figures.wafer_usd.source"), "{e:?}");
        assert!(e[1].starts_with("figures.wafer_usd.note"), "{e:?}");
        assert!(e[2].starts_with("figures.wafer_usd_typo: unknown figure"), "{e:?}");
    }
}
