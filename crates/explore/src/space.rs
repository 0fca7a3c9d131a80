//! The design space file: axes, workload, and figure overrides; enumeration of designs.

use crate::ExploreError;
use crate::figures::{Figures, MemoryFigures};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use tokenfab_catalog::{Dtype, Fact};

/// The text of the built-in space `custom-asic`.
pub const BUILTIN_SPACE_TOML: &str = include_str!("../data/custom-asic.toml");

/// Name of the built-in space.
pub const BUILTIN_SPACE_NAME: &str = "custom-asic";

/// A design space as written in a TOML file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpaceFile {
    /// Short name, used in outputs.
    pub name: String,
    /// One line describing the space.
    #[serde(default)]
    pub description: String,
    /// The values each design parameter takes.
    pub axes: Axes,
    /// Traffic, models and SLOs the designs are scored on.
    pub workload: WorkloadSpec,
    /// Random subset and confirmation settings.
    #[serde(default)]
    pub search: SearchSpec,
    /// Overrides of the cost/area/power figures (same keys as the embedded defaults).
    #[serde(default)]
    pub figures: BTreeMap<String, Fact<f64>>,
    /// Overrides or additions of HBM options, by name.
    #[serde(default)]
    pub memory: BTreeMap<String, MemoryFigures>,
}

/// Values of every design parameter; the space is their Cartesian product.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Axes {
    /// Dense fp8 tensor throughput per package, PFLOP/s (bf16 and fp4 follow by fixed ratios).
    pub fp8_pflops: Vec<f64>,
    /// Whether the design has an fp4 tensor path.
    #[serde(default = "default_fp4")]
    pub fp4: Vec<bool>,
    /// HBM option names (keys of `[memory.NAME]`).
    pub memory: Vec<String>,
    /// HBM stacks per package.
    pub hbm_stacks: Vec<u32>,
    /// On-chip SRAM per package, MB.
    pub sram_mb: Vec<f64>,
    /// Scale-up bandwidth per chip per direction, GB/s.
    pub scaleup_gbps: Vec<f64>,
    /// Chips in one scale-up domain.
    pub scaleup_domain: Vec<u32>,
    /// Package power cap, W.
    pub tdp_w: Vec<f64>,
    /// Compute dies per package (the logic is split evenly; each die must fit the reticle).
    #[serde(default = "default_dies")]
    pub compute_dies: Vec<u32>,
}

fn default_fp4() -> Vec<bool> {
    vec![true]
}
fn default_dies() -> Vec<u32> {
    vec![1]
}

/// One serving task class of the workload mix.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskSpec {
    /// Name.
    pub name: String,
    /// Share of requests.
    pub share: f64,
    /// Prompt tokens per request.
    pub input_tokens: u32,
    /// Generated tokens per request.
    pub output_tokens: u32,
    /// Prompt length the TTFT target is checked at (default `input_tokens`; e.g. a p90 length).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttft_input_tokens: Option<u32>,
    /// TTFT target of this task, ms (default: the workload's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttft_slo_ms: Option<f64>,
    /// TPOT target of this task, ms (default: the workload's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tpot_slo_ms: Option<f64>,
}

/// A model served, with its share of output tokens.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSpec {
    /// Catalog id or alias.
    pub id: String,
    /// Share of output tokens.
    pub share: f64,
    /// Ids tried in order when `id` is not in the catalog.
    #[serde(default)]
    pub fallback: Vec<String>,
}

/// Workload, formats and SLOs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkloadSpec {
    /// Name, used in outputs.
    pub name: String,
    /// Format of weights (and GEMM math).
    pub weight_dtype: Dtype,
    /// Format of the KV cache.
    pub kv_dtype: Dtype,
    /// Time-to-first-token target, ms.
    pub ttft_slo_ms: f64,
    /// Time-per-output-token target, ms.
    pub tpot_slo_ms: f64,
    /// Fraction of HBM usable for weights and KV (the rest: activations, runtime).
    #[serde(default = "default_usable")]
    pub hbm_usable_fraction: f64,
    /// Largest decode batch per replica searched.
    #[serde(default = "default_max_batch")]
    pub max_batch: u32,
    /// The analytic screen holds its mean step times to this fraction of the SLOs, so that
    /// percentiles in simulation (p90 TPOT runs ~5-10 % above the mean step) still meet them.
    #[serde(default = "default_headroom")]
    pub slo_headroom: f64,
    /// The batch is sized so that its KV at the mean context fills at most this fraction of the
    /// KV space: contexts vary around the mean, and an engine whose KV runs out preempts and
    /// queues (in simulation, designs sized at 100 % missed their TTFT targets).
    #[serde(default = "default_kv_headroom")]
    pub kv_headroom: f64,
    /// Derive the task mix from a workload of the workload crate (`builtin:assistant`) instead
    /// of listing `[[workload.task]]`s: per class, its share of requests, mean prompt and output
    /// tokens, p90 prompt for the TTFT check, and the class SLOs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// Task classes.
    #[serde(rename = "task", default)]
    pub tasks: Vec<TaskSpec>,
    /// Models.
    #[serde(rename = "model")]
    pub models: Vec<ModelSpec>,
}

fn default_usable() -> f64 {
    0.9
}
fn default_max_batch() -> u32 {
    1024
}
fn default_headroom() -> f64 {
    0.9
}
fn default_kv_headroom() -> f64 {
    0.8
}

/// Search settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct SearchSpec {
    /// Evaluate only this many designs, drawn without replacement with the run's seed (0: all).
    #[serde(default)]
    pub sample: u64,
}

/// One point of the space: a value of every axis.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Design {
    /// Position in the enumeration of the full space (stable for a given space file).
    pub index: u64,
    /// Dense fp8 PFLOP/s.
    pub fp8_pflops: f64,
    /// fp4 path present.
    pub fp4: bool,
    /// HBM option name.
    pub memory: String,
    /// HBM stacks.
    pub hbm_stacks: u32,
    /// SRAM, MB.
    pub sram_mb: f64,
    /// Scale-up GB/s per direction.
    pub scaleup_gbps: f64,
    /// Scale-up domain, chips.
    pub scaleup_domain: u32,
    /// TDP, W.
    pub tdp_w: f64,
    /// Compute dies.
    pub compute_dies: u32,
}

impl Design {
    /// Stable id, e.g. `d000123`.
    pub fn id(&self) -> String {
        format!("d{:06}", self.index)
    }
}

/// A validated space: the file plus resolved figures.
#[derive(Debug, Clone)]
pub struct Space {
    /// The file as parsed.
    pub file: SpaceFile,
    /// Figures after overrides.
    pub figures: Figures,
    /// Where it came from (`builtin:custom-asic` or a path).
    pub origin: String,
    /// The file's text, kept so shard files and `run.toml` can reproduce the run.
    pub text: String,
}

impl Space {
    /// The built-in space `custom-asic`.
    pub fn builtin() -> Result<Space, ExploreError> {
        Space::from_toml(&format!("builtin:{BUILTIN_SPACE_NAME}"), BUILTIN_SPACE_TOML)
    }

    /// Parses and validates a space file; `origin` names it in errors.
    pub fn from_toml(origin: &str, text: &str) -> Result<Space, ExploreError> {
        let file: SpaceFile = toml::from_str(text).map_err(|e| {
            let location = match e.span() {
                Some(span) => {
                    let (line, col) = line_col(text, span.start);
                    format!("line {line}, column {col}")
                }
                None => "file".into(),
            };
            ExploreError::Space { origin: origin.into(), problems: vec![format!("{location}: {}", e.message())] }
        })?;
        // Every problem at once: the figures' and the rest of the file's.
        let mut known_memory: Vec<String> = Figures::defaults().memory.keys().cloned().collect();
        known_memory.extend(file.memory.keys().cloned());
        known_memory.sort();
        known_memory.dedup();
        let mut problems = validate(&file, &known_memory);
        let figures = match Figures::defaults().with_overrides(&file.figures, &file.memory) {
            Ok(f) => Some(f),
            Err(mut p) => {
                problems.append(&mut p);
                None
            }
        };
        match figures {
            Some(figures) if problems.is_empty() => {
                Ok(Space { file, figures, origin: origin.into(), text: text.to_string() })
            }
            _ => Err(ExploreError::Space { origin: origin.into(), problems }),
        }
    }
}

fn validate(file: &SpaceFile, known_memory: &[String]) -> Vec<String> {
    {
        let mut p = Vec::new();
        let a = &file.axes;
        let mut pos = |name: &str, vals: &[f64]| {
            if vals.is_empty() {
                p.push(format!("axes.{name}: expected at least one value"));
            }
            for v in vals {
                if !(v.is_finite() && *v > 0.0) {
                    p.push(format!("axes.{name}: expected positive numbers, got {v}"));
                }
            }
        };
        pos("fp8_pflops", &a.fp8_pflops);
        pos("sram_mb", &a.sram_mb);
        pos("scaleup_gbps", &a.scaleup_gbps);
        pos("tdp_w", &a.tdp_w);
        let f = |v: &[u32]| v.iter().map(|x| *x as f64).collect::<Vec<_>>();
        pos("hbm_stacks", &f(&a.hbm_stacks));
        pos("scaleup_domain", &f(&a.scaleup_domain));
        pos("compute_dies", &f(&a.compute_dies));
        if a.fp4.is_empty() {
            p.push("axes.fp4: expected at least one value".into());
        }
        if a.memory.is_empty() {
            p.push("axes.memory: expected at least one HBM option".into());
        }
        for m in &a.memory {
            if !known_memory.contains(m) {
                p.push(format!(
                    "axes.memory: unknown HBM option `{m}`; known: {} (add a [memory.{m}] table)",
                    known_memory.join(", ")
                ));
            }
        }
        let w = &file.workload;
        if !(w.ttft_slo_ms > 0.0 && w.tpot_slo_ms > 0.0) {
            p.push("workload: ttft_slo_ms and tpot_slo_ms must be positive".into());
        }
        if !(w.hbm_usable_fraction > 0.0 && w.hbm_usable_fraction <= 1.0) {
            p.push(format!("workload.hbm_usable_fraction: expected (0, 1], got {}", w.hbm_usable_fraction));
        }
        if !(w.slo_headroom > 0.0 && w.slo_headroom <= 1.0) {
            p.push(format!("workload.slo_headroom: expected (0, 1], got {}", w.slo_headroom));
        }
        if !(w.kv_headroom > 0.0 && w.kv_headroom <= 1.0) {
            p.push(format!("workload.kv_headroom: expected (0, 1], got {}", w.kv_headroom));
        }
        if w.max_batch == 0 {
            p.push("workload.max_batch: expected at least 1".into());
        }
        match (&w.from, w.tasks.is_empty()) {
            (None, true) => p.push("workload: expected at least one [[workload.task]] or `from`".into()),
            (Some(_), false) => p.push("workload: give either `from` or [[workload.task]]s, not both".into()),
            _ => {}
        }
        if let Some(f) = &w.from
            && tokenfab_workload::WorkloadSpec::builtin(f).is_none()
        {
            p.push(format!(
                "workload.from: unknown workload `{f}`; known: {}",
                tokenfab_workload::spec::BUILTIN_NAMES
                    .iter()
                    .map(|n| format!("builtin:{n}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        for (i, t) in w.tasks.iter().enumerate() {
            if t.share.is_nan() || t.share <= 0.0 || t.input_tokens == 0 || t.output_tokens == 0 {
                p.push(format!(
                    "workload.task[{i}] ({}): share, input_tokens and output_tokens must be positive",
                    t.name
                ));
            }
        }
        if w.models.is_empty() {
            p.push("workload: expected at least one [[workload.model]]".into());
        }
        for (i, m) in w.models.iter().enumerate() {
            if m.share.is_nan() || m.share <= 0.0 {
                p.push(format!("workload.model[{i}] ({}): share must be positive", m.id));
            }
        }
        p
    }
}

impl Space {
    /// The axis lengths in enumeration order (the last one varies fastest).
    fn radices(&self) -> [u64; 9] {
        let a = &self.file.axes;
        [
            a.fp8_pflops.len(),
            a.fp4.len(),
            a.memory.len(),
            a.hbm_stacks.len(),
            a.sram_mb.len(),
            a.scaleup_gbps.len(),
            a.scaleup_domain.len(),
            a.tdp_w.len(),
            a.compute_dies.len(),
        ]
        .map(|n| n as u64)
    }

    /// Number of designs in the full space.
    pub fn size(&self) -> u64 {
        self.radices().iter().product()
    }

    /// The design at a position of the enumeration (`index < size()`).
    pub fn design(&self, index: u64) -> Design {
        let r = self.radices();
        let mut digits = [0usize; 9];
        let mut rest = index;
        for i in (0..9).rev() {
            digits[i] = (rest % r[i]) as usize;
            rest /= r[i];
        }
        let a = &self.file.axes;
        Design {
            index,
            fp8_pflops: a.fp8_pflops[digits[0]],
            fp4: a.fp4[digits[1]],
            memory: a.memory[digits[2]].clone(),
            hbm_stacks: a.hbm_stacks[digits[3]],
            sram_mb: a.sram_mb[digits[4]],
            scaleup_gbps: a.scaleup_gbps[digits[5]],
            scaleup_domain: a.scaleup_domain[digits[6]],
            tdp_w: a.tdp_w[digits[7]],
            compute_dies: a.compute_dies[digits[8]],
        }
    }

    /// The design indices a run evaluates: all of them, or a seeded sample when
    /// `search.sample` is set (sorted, so shards slice it deterministically).
    pub fn indices(&self, seed: u64) -> Vec<u64> {
        let n = self.size();
        let k = self.file.search.sample;
        if k == 0 || k >= n {
            return (0..n).collect();
        }
        use rand::{RngExt, SeedableRng};
        // Floyd's algorithm: k distinct values from 0..n, O(k) memory.
        let mut rng = rand::rngs::ChaCha8Rng::seed_from_u64(seed);
        let mut chosen = std::collections::BTreeSet::new();
        for j in (n - k)..n {
            let t = rng.random_range(0..=j);
            if !chosen.insert(t) {
                chosen.insert(j);
            }
        }
        chosen.into_iter().collect()
    }

    /// A stable digest of the space file and figures (FNV-1a over their canonical JSON), used to
    /// refuse merging shards of different spaces.
    pub fn digest(&self) -> String {
        let json = serde_json::to_string(&(&self.file, &self.figures)).unwrap_or_default();
        let mut h: u64 = 0xcbf29ce484222325;
        for b in json.as_bytes() {
            h ^= *b as u64;
            h = h.wrapping_mul(0x100000001b3);
        }
        format!("{h:016x}")
    }
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map(|l| l.chars().count()).unwrap_or(0) + 1;
    (line, col)
}
