//! Hardware entries: chips, systems, fabrics, and the sourced [`Fact`] every figure is.

use crate::{CatalogError, Dtype};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// How much to trust a figure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Confidence {
    /// Published by the vendor (datasheet, official documentation, keynote).
    Official,
    /// Reported by a credible third party (press, benchmark write-up, cloud provider).
    Reported,
    /// Derived or assumed by tokenfab; `note` says how.
    Estimate,
}

impl Confidence {
    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Confidence::Official => "official",
            Confidence::Reported => "reported",
            Confidence::Estimate => "estimate",
        }
    }
}

/// A sourced figure: value, where it came from, and how much to trust it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Fact<T> {
    /// The figure itself, in the unit the field name ends with.
    pub value: T,
    /// Where it comes from: a URL, a document, or `derived: ...`.
    pub source: String,
    /// official, reported or estimate.
    pub confidence: Confidence,
    /// Why an estimate is what it is, or what conflicts with this figure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl<T> Fact<T> {
    /// A figure with a source and confidence, no note.
    pub fn new(value: T, source: impl Into<String>, confidence: Confidence) -> Self {
        Fact { value, source: source.into(), confidence, note: None }
    }
}

/// A borrowed view of a [`Fact`]'s provenance: (source, confidence, note).
pub type FactRef<'a> = (&'a str, Confidence, Option<&'a str>);

/// Finite and strictly positive.
pub(crate) fn is_positive(v: f64) -> bool {
    v.is_finite() && v > 0.0
}

/// One sourced figure with its unit, formatted for audits and `tokenfab catalog show`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Figure {
    /// Field name as written in catalog files, e.g. `peak_dense_tflops.fp8`.
    pub field: &'static str,
    /// The value (number or text).
    pub value: serde_json::Value,
    /// Unit of the value; empty where the value is text or a year.
    pub unit: &'static str,
    /// Where it comes from.
    pub source: String,
    /// official, reported or estimate.
    pub confidence: Confidence,
    /// Why, for estimates; conflicts, for others.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

fn fig<T: Serialize>(field: &'static str, unit: &'static str, f: &Fact<T>) -> Figure {
    Figure {
        field,
        value: serde_json::to_value(&f.value).unwrap_or(serde_json::Value::Null),
        unit,
        source: f.source.clone(),
        confidence: f.confidence,
        note: f.note.clone(),
    }
}

fn opt_fig<T: Serialize>(v: &mut Vec<Figure>, field: &'static str, unit: &'static str, f: &Option<Fact<T>>) {
    if let Some(f) = f {
        v.push(fig(field, unit, f));
    }
}

/// Every figure needs a source; every estimate needs a note saying why.
fn check_provenance(kind: &str, id: &str, origin: &str, figures: &[Figure], errs: &mut Vec<CatalogError>) {
    for f in figures {
        if f.source.trim().is_empty() {
            errs.push(CatalogError {
                file: origin.to_string(),
                location: format!("{kind}[{id}].{}.source", f.field),
                message: "every figure needs a source".into(),
            });
        }
        if f.confidence == Confidence::Estimate && f.note.as_deref().is_none_or(|n| n.trim().is_empty()) {
            errs.push(CatalogError {
                file: origin.to_string(),
                location: format!("{kind}[{id}].{}.note", f.field),
                message: "an estimate must say why in `note`".into(),
            });
        }
    }
}

/// Whether a chip can be bought today.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ChipStatus {
    /// In volume production.
    Shipping,
    /// Announced with (partial) specifications; figures may change.
    Announced,
    /// A parametric design point, not a product.
    Concept,
}

/// Dense tensor peak rates per format, in TFLOP/s. Never 2:4-sparse figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DtypePeaks {
    /// bf16/fp16 dense tensor peak.
    pub bf16: Fact<f64>,
    /// fp8 dense tensor peak, where supported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fp8: Option<Fact<f64>>,
    /// fp4 dense tensor peak, where supported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fp4: Option<Fact<f64>>,
}

impl DtypePeaks {
    /// Dense peak in TFLOP/s for a format, `None` where the chip has no such tensor path.
    pub fn tflops(&self, dtype: Dtype) -> Option<f64> {
        match dtype {
            Dtype::Bf16 | Dtype::Fp16 => Some(self.bf16.value),
            Dtype::Fp8 => self.fp8.as_ref().map(|f| f.value),
            Dtype::Fp4 => self.fp4.as_ref().map(|f| f.value),
        }
    }
}

/// Measured fraction of the dense peak that a large, well-shaped GEMM reaches, per format.
/// Where the catalog has a figure, the performance model's analytical defaults use it in place
/// of their generic fraction (a chip with its own operator calibration uses that instead).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct GemmEfficiency {
    /// bf16/fp16 GEMM.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bf16: Option<Fact<f64>>,
    /// fp8 GEMM.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fp8: Option<Fact<f64>>,
    /// fp4 GEMM.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fp4: Option<Fact<f64>>,
}

impl GemmEfficiency {
    /// The figure for a format (fp16 uses bf16's), if the catalog has one.
    pub fn fraction(&self, dtype: Dtype) -> Option<f64> {
        match dtype {
            Dtype::Bf16 | Dtype::Fp16 => self.bf16.as_ref(),
            Dtype::Fp8 => self.fp8.as_ref(),
            Dtype::Fp4 => self.fp4.as_ref(),
        }
        .map(|f| f.value)
    }

    fn entries(&self) -> [(&'static str, &Option<Fact<f64>>); 3] {
        [("gemm_efficiency.bf16", &self.bf16), ("gemm_efficiency.fp8", &self.fp8), ("gemm_efficiency.fp4", &self.fp4)]
    }
}

/// An accelerator (one package: one GPU, one TPU chip, one XPU).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Chip {
    /// Stable id users type, e.g. `h100-sxm`.
    pub id: String,
    /// Marketing name.
    pub name: String,
    /// nvidia, amd, google, aws, intel, custom.
    pub vendor: String,
    /// Other names that resolve to this chip.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    /// shipping, announced or concept.
    pub status: ChipStatus,
    /// Year of first volume availability (or announced target).
    pub year: Fact<u32>,
    /// Process node and packaging.
    pub process: Fact<String>,
    /// Dense tensor peaks per format, TFLOP/s.
    pub peak_dense_tflops: DtypePeaks,
    /// HBM capacity, GB (10^9 bytes), as the vendor specifies it.
    pub hbm_capacity_gb: Fact<f64>,
    /// Device memory the driver reports (`nvidia-smi` memory.total, `torch.cuda`'s
    /// `total_memory`), MiB: what engines size their weights and KV cache against. Vendors'
    /// "80 GB" and "180 GB" are nearer GiB than 10^9 bytes (an H100 reports 81,559 MiB =
    /// 85.5 × 10^9 bytes). Optional: without it, [`Chip::hbm_bytes`] uses `hbm_capacity_gb`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hbm_driver_mib: Option<Fact<f64>>,
    /// HBM bandwidth, TB/s.
    pub hbm_bandwidth_tbps: Fact<f64>,
    /// On-chip SRAM (L2 / LLC / scratchpad), MB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sram_mb: Option<Fact<f64>>,
    /// Scale-up bandwidth per chip, per direction, GB/s.
    pub scaleup_bandwidth_gbps: Fact<f64>,
    /// Largest scale-up domain (chips reachable over the scale-up fabric in one hop group).
    pub scaleup_domain_chips: Fact<u32>,
    /// Scale-out (NIC) bandwidth per chip, per direction, GB/s.
    pub scaleout_bandwidth_gbps: Fact<f64>,
    /// Thermal design power / board power cap, W.
    pub tdp_w: Fact<f64>,
    /// Power drawn idle with clocks up (no work), W.
    pub idle_power_w: Fact<f64>,
    /// Streaming multiprocessors / compute units / cores, for wave quantization.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compute_units: Option<Fact<u32>>,
    /// Measured GEMM efficiency (fraction of the dense peak) per format, where published
    /// kernel benchmarks give one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gemm_efficiency: Option<GemmEfficiency>,
    /// Unit price of the chip (as part of a system), USD.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price_usd: Option<Fact<f64>>,
    /// Free-form notes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
    /// Which file this entry came from (set by the loader).
    #[serde(skip)]
    #[schemars(skip)]
    pub origin: String,
}

impl Chip {
    /// Dense peak FLOP/s for a format, `None` if unsupported.
    pub fn peak_flops(&self, dtype: Dtype) -> Option<f64> {
        self.peak_dense_tflops.tflops(dtype).map(|t| t * 1e12)
    }
    /// Measured fraction of the dense peak a large GEMM reaches in a format, where the catalog
    /// has one.
    pub fn gemm_efficiency(&self, dtype: Dtype) -> Option<f64> {
        self.gemm_efficiency.as_ref().and_then(|g| g.fraction(dtype))
    }
    /// HBM bandwidth in bytes/s.
    pub fn hbm_bytes_per_s(&self) -> f64 {
        self.hbm_bandwidth_tbps.value * 1e12
    }
    /// Device memory software can allocate, bytes: the driver-reported figure where the
    /// catalog has it, else the vendor's capacity.
    pub fn hbm_bytes(&self) -> f64 {
        match &self.hbm_driver_mib {
            Some(m) => m.value * 1024.0 * 1024.0,
            None => self.hbm_capacity_gb.value * 1e9,
        }
    }

    pub(crate) fn validate(&self, errs: &mut Vec<CatalogError>) {
        let mut pos = |field: &str, v: f64| {
            if !(v.is_finite() && v > 0.0) {
                errs.push(CatalogError {
                    file: self.origin.clone(),
                    location: format!("chip[{}].{field}", self.id),
                    message: format!("expected a positive number, got {v}"),
                });
            }
        };
        pos("peak_dense_tflops.bf16", self.peak_dense_tflops.bf16.value);
        if let Some(f) = &self.peak_dense_tflops.fp8 {
            pos("peak_dense_tflops.fp8", f.value);
        }
        if let Some(f) = &self.peak_dense_tflops.fp4 {
            pos("peak_dense_tflops.fp4", f.value);
        }
        pos("hbm_capacity_gb", self.hbm_capacity_gb.value);
        if let Some(m) = &self.hbm_driver_mib {
            pos("hbm_driver_mib", m.value);
        }
        pos("hbm_bandwidth_tbps", self.hbm_bandwidth_tbps.value);
        pos("scaleup_bandwidth_gbps", self.scaleup_bandwidth_gbps.value);
        pos("scaleout_bandwidth_gbps", self.scaleout_bandwidth_gbps.value);
        pos("tdp_w", self.tdp_w.value);
        pos("idle_power_w", self.idle_power_w.value);
        pos("scaleup_domain_chips", self.scaleup_domain_chips.value as f64);
        if let Some(m) = &self.hbm_driver_mib {
            // A unit slip (GB or GiB typed as MiB) lands far outside this band.
            let ratio = m.value * 1024.0 * 1024.0 / (self.hbm_capacity_gb.value * 1e9);
            if m.value > 0.0 && !(0.8..=1.25).contains(&ratio) {
                errs.push(CatalogError {
                    file: self.origin.clone(),
                    location: format!("chip[{}].hbm_driver_mib", self.id),
                    message: format!(
                        "{} MiB is {:.0} % of hbm_capacity_gb ({} GB); expected 80–125 % (a figure in MiB, as nvidia-smi prints it)",
                        m.value,
                        ratio * 100.0,
                        self.hbm_capacity_gb.value
                    ),
                });
            }
        }
        for (field, f) in self.gemm_efficiency.iter().flat_map(|g| g.entries()) {
            if let Some(f) = f
                && !(f.value > 0.0 && f.value <= 1.0)
            {
                errs.push(CatalogError {
                    file: self.origin.clone(),
                    location: format!("chip[{}].{field}", self.id),
                    message: format!("expected a fraction of the dense peak in (0, 1], got {}", f.value),
                });
            }
        }
        if self.idle_power_w.value >= self.tdp_w.value {
            errs.push(CatalogError {
                file: self.origin.clone(),
                location: format!("chip[{}].idle_power_w", self.id),
                message: format!("idle power {} W must be below TDP {} W", self.idle_power_w.value, self.tdp_w.value),
            });
        }
        check_provenance("chip", &self.id, &self.origin, &self.figures(), errs);
    }

    /// Every sourced figure with its unit, in display order.
    pub fn figures(&self) -> Vec<Figure> {
        let p = &self.peak_dense_tflops;
        let mut v = vec![
            fig("year", "", &self.year),
            fig("process", "", &self.process),
            fig("peak_dense_tflops.bf16", "TFLOP/s", &p.bf16),
        ];
        opt_fig(&mut v, "peak_dense_tflops.fp8", "TFLOP/s", &p.fp8);
        opt_fig(&mut v, "peak_dense_tflops.fp4", "TFLOP/s", &p.fp4);
        v.push(fig("hbm_capacity_gb", "GB", &self.hbm_capacity_gb));
        opt_fig(&mut v, "hbm_driver_mib", "MiB", &self.hbm_driver_mib);
        v.push(fig("hbm_bandwidth_tbps", "TB/s", &self.hbm_bandwidth_tbps));
        opt_fig(&mut v, "sram_mb", "MB", &self.sram_mb);
        v.push(fig("scaleup_bandwidth_gbps", "GB/s per direction", &self.scaleup_bandwidth_gbps));
        v.push(fig("scaleup_domain_chips", "chips", &self.scaleup_domain_chips));
        v.push(fig("scaleout_bandwidth_gbps", "GB/s per direction", &self.scaleout_bandwidth_gbps));
        v.push(fig("tdp_w", "W", &self.tdp_w));
        v.push(fig("idle_power_w", "W", &self.idle_power_w));
        opt_fig(&mut v, "compute_units", "SMs/CUs", &self.compute_units);
        for (field, f) in self.gemm_efficiency.iter().flat_map(|g| g.entries()) {
            opt_fig(&mut v, field, "of dense peak", f);
        }
        opt_fig(&mut v, "price_usd", "USD", &self.price_usd);
        v
    }

    /// Every sourced figure as (field, (source, confidence, note)), for audits and `catalog show`.
    pub fn facts(&self) -> Vec<(&'static str, FactRef<'_>)> {
        fn t<T>(f: &Fact<T>) -> (&str, Confidence, Option<&str>) {
            (f.source.as_str(), f.confidence, f.note.as_deref())
        }
        let mut v = vec![
            ("year", t(&self.year)),
            ("process", t(&self.process)),
            ("peak_dense_tflops.bf16", t(&self.peak_dense_tflops.bf16)),
            ("hbm_capacity_gb", t(&self.hbm_capacity_gb)),
            ("hbm_bandwidth_tbps", t(&self.hbm_bandwidth_tbps)),
            ("scaleup_bandwidth_gbps", t(&self.scaleup_bandwidth_gbps)),
            ("scaleup_domain_chips", t(&self.scaleup_domain_chips)),
            ("scaleout_bandwidth_gbps", t(&self.scaleout_bandwidth_gbps)),
            ("tdp_w", t(&self.tdp_w)),
            ("idle_power_w", t(&self.idle_power_w)),
        ];
        if let Some(f) = &self.peak_dense_tflops.fp8 {
            v.push(("peak_dense_tflops.fp8", t(f)));
        }
        if let Some(f) = &self.peak_dense_tflops.fp4 {
            v.push(("peak_dense_tflops.fp4", t(f)));
        }
        if let Some(f) = &self.hbm_driver_mib {
            v.push(("hbm_driver_mib", t(f)));
        }
        if let Some(f) = &self.sram_mb {
            v.push(("sram_mb", t(f)));
        }
        if let Some(f) = &self.compute_units {
            v.push(("compute_units", t(f)));
        }
        for (field, f) in self.gemm_efficiency.iter().flat_map(|g| g.entries()) {
            if let Some(f) = f {
                v.push((field, t(f)));
            }
        }
        if let Some(f) = &self.price_usd {
            v.push(("price_usd", t(f)));
        }
        v
    }
}

/// What a system is physically.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum SystemKind {
    /// A server box (e.g. 8-GPU HGX).
    Node,
    /// A rack-scale system (e.g. GB200 NVL72).
    Rack,
    /// A pod / UltraServer spanning racks.
    Pod,
}

/// A deployable unit: chips in a box, rack or pod, with its scale-up domain and power.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct System {
    /// Stable id, e.g. `hgx-h100-8`, `gb200-nvl72`.
    pub id: String,
    /// Marketing name.
    pub name: String,
    /// Vendor.
    pub vendor: String,
    /// Other names.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    /// node, rack or pod.
    pub kind: SystemKind,
    /// Chip id.
    pub chip: String,
    /// Whether this is the system used when a user names only the chip.
    #[serde(default)]
    pub default_for_chip: bool,
    /// Chips in one system.
    pub chips: Fact<u32>,
    /// Chips in one scale-up (NVLink/UALink/ICI/Ethernet scale-up) domain within the system.
    pub scaleup_domain_chips: Fact<u32>,
    /// Scale-up fabric id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scaleup_fabric: Option<String>,
    /// Scale-out fabric id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scaleout_fabric: Option<String>,
    /// Maximum IT power of the whole system (chips, hosts, switches, fans), kW.
    pub system_power_kw: Fact<f64>,
    /// Systems per physical rack (a node-type system); 1 for a rack system.
    pub systems_per_rack: Fact<f64>,
    /// Price of one system, USD.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price_usd: Option<Fact<f64>>,
    /// First availability, e.g. `2026Q3`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub available: Option<Fact<String>>,
    /// Free-form notes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
    /// Which file this entry came from (set by the loader).
    #[serde(skip)]
    #[schemars(skip)]
    pub origin: String,
}

impl System {
    /// Every sourced figure with its unit, in display order.
    pub fn figures(&self) -> Vec<Figure> {
        let mut v = vec![
            fig("chips", "chips", &self.chips),
            fig("scaleup_domain_chips", "chips", &self.scaleup_domain_chips),
            fig("system_power_kw", "kW", &self.system_power_kw),
            fig("systems_per_rack", "per rack", &self.systems_per_rack),
        ];
        opt_fig(&mut v, "price_usd", "USD", &self.price_usd);
        opt_fig(&mut v, "available", "", &self.available);
        v
    }

    pub(crate) fn validate(&self, errs: &mut Vec<CatalogError>) {
        check_provenance("system", &self.id, &self.origin, &self.figures(), errs);
        if self.chips.value == 0 {
            errs.push(CatalogError {
                file: self.origin.clone(),
                location: format!("system[{}].chips", self.id),
                message: "expected at least one chip".into(),
            });
        }
        if self.scaleup_domain_chips.value == 0 || self.scaleup_domain_chips.value > self.chips.value.max(1) * 1024 {
            errs.push(CatalogError {
                file: self.origin.clone(),
                location: format!("system[{}].scaleup_domain_chips", self.id),
                message: format!("expected 1..=chips, got {}", self.scaleup_domain_chips.value),
            });
        }
        if !is_positive(self.system_power_kw.value) {
            errs.push(CatalogError {
                file: self.origin.clone(),
                location: format!("system[{}].system_power_kw", self.id),
                message: "expected a positive power".into(),
            });
        }
        if !is_positive(self.systems_per_rack.value) {
            errs.push(CatalogError {
                file: self.origin.clone(),
                location: format!("system[{}].systems_per_rack", self.id),
                message: "expected a positive number".into(),
            });
        }
    }
}

/// Scale-up (inside a domain) or scale-out (between domains).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum FabricKind {
    /// NVLink, UALink, Infinity Fabric, ICI, Ethernet scale-up.
    ScaleUp,
    /// InfiniBand, RoCE/Ultra Ethernet, DCN.
    ScaleOut,
}

/// An interconnect or switch generation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Fabric {
    /// Stable id, e.g. `nvlink4`, `ib-ndr400`, `tomahawk6`.
    pub id: String,
    /// Name.
    pub name: String,
    /// Other names.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    /// scale-up or scale-out.
    pub kind: FabricKind,
    /// Per-chip bandwidth per direction over this fabric, GB/s (for a switch: per port).
    pub bandwidth_gbps: Fact<f64>,
    /// One-way latency of a small message through the fabric, microseconds.
    pub latency_us: Fact<f64>,
    /// Switch capacity, Tb/s of switching (bits), where this is a switch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub switch_capacity_tbit_s: Option<Fact<f64>>,
    /// Switch power, W.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub switch_power_w: Option<Fact<f64>>,
    /// Free-form notes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
    /// Which file this entry came from (set by the loader).
    #[serde(skip)]
    #[schemars(skip)]
    pub origin: String,
}

impl Fabric {
    /// Every sourced figure with its unit, in display order.
    pub fn figures(&self) -> Vec<Figure> {
        let mut v = vec![
            fig("bandwidth_gbps", "GB/s per direction", &self.bandwidth_gbps),
            fig("latency_us", "us", &self.latency_us),
        ];
        opt_fig(&mut v, "switch_capacity_tbit_s", "Tb/s", &self.switch_capacity_tbit_s);
        opt_fig(&mut v, "switch_power_w", "W", &self.switch_power_w);
        v
    }

    pub(crate) fn validate(&self, errs: &mut Vec<CatalogError>) {
        check_provenance("fabric", &self.id, &self.origin, &self.figures(), errs);
        if !is_positive(self.bandwidth_gbps.value) {
            errs.push(CatalogError {
                file: self.origin.clone(),
                location: format!("fabric[{}].bandwidth_gbps", self.id),
                message: "expected a positive bandwidth".into(),
            });
        }
        if !(self.latency_us.value.is_finite() && self.latency_us.value >= 0.0) {
            errs.push(CatalogError {
                file: self.origin.clone(),
                location: format!("fabric[{}].latency_us", self.id),
                message: "expected a non-negative latency".into(),
            });
        }
    }
}
