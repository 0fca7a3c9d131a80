//! Workload specs: task classes, languages and an arrival process, read from TOML
//! (`deny_unknown_fields`), plus the built-in workloads.

use crate::arrival::ArrivalSpec;
use crate::dist::LengthDist;
use crate::error::WorkloadError;
use serde::{Deserialize, Serialize};

/// A complete synthetic workload: what arrives when, and how long each request is.
///
/// Lengths of natural-language text are given in *English-equivalent* tokens and multiplied by
/// the fertility of the language drawn for the request (see [`Language`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkloadSpec {
    /// Short name (`assistant`, `azure-conv-fit`, …).
    pub name: String,
    /// One line on what this workload stands for and where its numbers come from.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Tokens per prefix block in generated [`crate::PrefixBlocks`] (default 16, vLLM's KV block).
    #[serde(default = "default_block_tokens")]
    pub block_tokens: u32,
    /// A conversation ends when its next prompt would exceed this many tokens (default 131 072).
    #[serde(default = "default_max_input_tokens")]
    pub max_input_tokens: u32,
    /// Arrival process of requests (a multi-turn class's follow-up turns count as requests).
    pub arrival: ArrivalSpec,
    /// Languages of the users; empty means English only (fertility 1).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub languages: Vec<Language>,
    /// Task classes; a request's [`crate::Request::class`] indexes this list.
    pub classes: Vec<TaskClass>,
}

fn default_block_tokens() -> u32 {
    // vLLM's default KV-cache block size (16 tokens); also the Qwen-Bailian block size (SUMMARY.md).
    16
}
fn default_max_input_tokens() -> u32 {
    // A 128k-token context window, common to current assistant models (estimate).
    131_072
}
fn one() -> f64 {
    1.0
}
fn default_think_time_s() -> f64 {
    // Estimate: reading a few-hundred-token answer at ~4 words/s and typing a 20-30-word reply.
    45.0
}

/// A user language: its share of requests and its tokenizer fertility relative to English (tokens
/// needed for the same content; English = 1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Language {
    /// ISO 639-1 code (`en`, `fr`, …).
    pub name: String,
    /// Relative share of requests (normalized over all languages).
    pub share: f64,
    /// Tokens per English-equivalent token (1.0 for English).
    pub fertility: f64,
    /// Where `share` and `fertility` come from.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub source: String,
}

/// Service-level objectives of a class (definitions: DESIGN.md).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Slo {
    /// Time to first token, ms.
    pub ttft_ms: f64,
    /// Time per output token after the first, ms.
    pub tpot_ms: f64,
}

/// What a class does with lengths and prefixes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskKind {
    /// Independent input and output lengths (what `workload fit` produces).
    Generic,
    /// Multi-turn conversation: each turn's prompt is the whole history plus the new message, and
    /// the history is a reusable prefix.
    Chat,
    /// Output ≈ source text × fertility(target)/fertility(source) × `output_ratio`.
    Translation,
    /// Long input, short output.
    Summarization,
    /// Code generation from a description (code tokens do not scale with the user's language).
    CodeGeneration,
    /// Code repair/optimization: output ≈ input code × `output_ratio`.
    CodeRepair,
    /// Reasoning: `hidden` tokens of thinking, then the answer; `output_tokens` counts both.
    Reasoning,
}

/// A translation direction and its relative share within a translation class.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TranslationPair {
    /// Source language (a name in `languages`).
    pub from: String,
    /// Target language (a name in `languages`).
    pub to: String,
    /// Relative share.
    pub share: f64,
}

/// One task class: lengths, SLOs and prefix behaviour.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskClass {
    /// Name (`chat`, `translation`, …).
    pub name: String,
    /// Behaviour.
    pub kind: TaskKind,
    /// Relative share of *requests* (normalized over classes; follow-up turns count).
    pub share: f64,
    /// New text per request (the user message, the document, the code), English-equivalent tokens.
    pub input: LengthDist,
    /// Answer tokens (English-equivalent); not used by `translation` and `code_repair`, whose
    /// output follows from the input.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<LengthDist>,
    /// SLOs of this class.
    pub slo: Slo,
    /// Tokens of a system prompt shared by every request of the class (a cacheable prefix).
    #[serde(default)]
    pub system_prompt_tokens: u32,
    /// Mean turns per conversation (chat; geometric, so ≥ 1). Other kinds: 1.
    #[serde(default = "one")]
    pub turns_mean: f64,
    /// Mean user think time between the end of an answer and the next turn, s (exponential).
    #[serde(default = "default_think_time_s")]
    pub think_time_s: f64,
    /// Output/input ratio for `translation` (content expansion, before fertility) and `code_repair`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_ratio: Option<f64>,
    /// Log-space standard deviation of a lognormal noise factor on `output_ratio` (default 0).
    #[serde(default)]
    pub ratio_sigma: f64,
    /// Hidden reasoning tokens before the answer (`reasoning` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hidden: Option<LengthDist>,
    /// Translation directions (`translation` only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pairs: Vec<TranslationPair>,
    /// Where the defaults come from.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub source: String,
}

/// The names of the built-in workloads.
pub const BUILTIN_NAMES: &[&str] = &["assistant"];

const ASSISTANT_TOML: &str = include_str!("builtin/assistant.toml");

impl WorkloadSpec {
    /// Parses and validates a TOML spec.
    pub fn from_toml(text: &str) -> Result<Self, WorkloadError> {
        let spec: WorkloadSpec = toml::from_str(text).map_err(|e| WorkloadError::Spec(vec![e.to_string()]))?;
        spec.validate()?;
        Ok(spec)
    }

    /// The spec as TOML.
    pub fn to_toml(&self) -> String {
        toml::to_string(self).expect("a WorkloadSpec always serializes")
    }

    /// A built-in workload by name (`assistant`), with or without a `builtin:` prefix.
    pub fn builtin(name: &str) -> Option<Self> {
        match name.strip_prefix("builtin:").unwrap_or(name) {
            "assistant" => Some(Self::from_toml(ASSISTANT_TOML).expect("the built-in assistant spec is valid")),
            _ => None,
        }
    }

    /// The TOML text of a built-in workload.
    pub fn builtin_toml(name: &str) -> Option<&'static str> {
        match name.strip_prefix("builtin:").unwrap_or(name) {
            "assistant" => Some(ASSISTANT_TOML),
            _ => None,
        }
    }

    /// The same workload with every arrival rate multiplied by `factor`.
    pub fn scaled(&self, factor: f64) -> Self {
        WorkloadSpec { arrival: self.arrival.scaled(factor), ..self.clone() }
    }

    /// Normalized request shares of the classes.
    pub fn class_shares(&self) -> Vec<f64> {
        let total: f64 = self.classes.iter().map(|c| c.share).sum();
        self.classes.iter().map(|c| c.share / total).collect()
    }

    /// Fertility of a language by name (1.0 when the spec has no languages or no such name).
    pub fn fertility(&self, name: &str) -> f64 {
        self.languages.iter().find(|l| l.name == name).map(|l| l.fertility).unwrap_or(1.0)
    }

    /// Every problem with the spec, at once.
    pub fn validate(&self) -> Result<(), WorkloadError> {
        let mut p = self.arrival.problems();
        if self.block_tokens == 0 {
            p.push("block_tokens must be ≥ 1".into());
        }
        if self.classes.is_empty() {
            p.push("a workload needs at least one class".into());
        }
        if self.classes.len() > u16::MAX as usize {
            p.push(format!("at most {} classes", u16::MAX));
        }
        if self.classes.iter().any(|c| !(c.share.is_finite() && c.share >= 0.0))
            || self.classes.iter().map(|c| c.share).sum::<f64>() <= 0.0
        {
            p.push("class shares must be finite, ≥ 0, and not all 0".into());
        }
        for l in &self.languages {
            if !(l.share.is_finite() && l.share >= 0.0) {
                p.push(format!("languages.{}: share must be ≥ 0", l.name));
            }
            if !(l.fertility.is_finite() && l.fertility > 0.0) {
                p.push(format!("languages.{}: fertility must be > 0", l.name));
            }
        }
        if !self.languages.is_empty() && self.languages.iter().map(|l| l.share).sum::<f64>() <= 0.0 {
            p.push("language shares must not all be 0".into());
        }
        for c in &self.classes {
            let w = format!("classes.{}", c.name);
            p.extend(c.input.problems(&format!("{w}.input")));
            if let Some(o) = &c.output {
                p.extend(o.problems(&format!("{w}.output")));
            }
            if let Some(h) = &c.hidden {
                p.extend(h.problems(&format!("{w}.hidden")));
            }
            let needs_output = !matches!(c.kind, TaskKind::Translation | TaskKind::CodeRepair);
            if needs_output && c.output.is_none() {
                p.push(format!("{w}: kind {:?} needs an `output` distribution", c.kind));
            }
            if matches!(c.kind, TaskKind::Translation | TaskKind::CodeRepair) && c.output_ratio.is_none() {
                p.push(format!("{w}: kind {:?} needs `output_ratio`", c.kind));
            }
            if let Some(r) = c.output_ratio
                && !(r.is_finite() && r > 0.0)
            {
                p.push(format!("{w}: output_ratio must be > 0"));
            }
            if !(c.ratio_sigma.is_finite() && c.ratio_sigma >= 0.0) {
                p.push(format!("{w}: ratio_sigma must be ≥ 0"));
            }
            if c.kind == TaskKind::Reasoning && c.hidden.is_none() {
                p.push(format!("{w}: kind reasoning needs a `hidden` distribution"));
            }
            if !(c.turns_mean.is_finite() && c.turns_mean >= 1.0) {
                p.push(format!("{w}: turns_mean must be ≥ 1"));
            }
            if c.turns_mean > 1.0 && c.kind != TaskKind::Chat {
                p.push(format!("{w}: only chat classes have several turns (turns_mean = {})", c.turns_mean));
            }
            if !(c.think_time_s.is_finite() && c.think_time_s >= 0.0) {
                p.push(format!("{w}: think_time_s must be ≥ 0"));
            }
            if !(c.slo.ttft_ms > 0.0 && c.slo.tpot_ms > 0.0) {
                p.push(format!("{w}: slo.ttft_ms and slo.tpot_ms must be > 0"));
            }
            if c.kind == TaskKind::Translation {
                if c.pairs.is_empty() {
                    p.push(format!("{w}: a translation class needs `pairs`"));
                }
                for pair in &c.pairs {
                    for lang in [&pair.from, &pair.to] {
                        if !self.languages.iter().any(|l| &l.name == lang) {
                            p.push(format!("{w}: pair language {lang:?} is not in `languages`"));
                        }
                    }
                    if !(pair.share.is_finite() && pair.share >= 0.0) {
                        p.push(format!("{w}: pair share must be ≥ 0"));
                    }
                }
            } else if !c.pairs.is_empty() {
                p.push(format!("{w}: only translation classes have `pairs`"));
            }
            if c.kind == TaskKind::CodeGeneration && c.output_ratio.is_some() {
                p.push(format!("{w}: code_generation has no output_ratio (use `output`)"));
            }
        }
        if p.is_empty() { Ok(()) } else { Err(WorkloadError::Spec(p)) }
    }
}

/// How a scenario names its workload: a built-in (`"builtin:assistant"`), an inline spec, or a
/// trace file (read by the caller with [`crate::readers::TraceReader`]).
///
/// ```toml
/// workload = "builtin:assistant"
/// # or: workload = { trace = "../shared/traces/azure_llm_2023/AzureLLMInferenceTrace_conv.csv" }
/// # or: [workload.spec] … a WorkloadSpec …
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum WorkloadRef {
    /// `builtin:NAME`.
    Builtin(String),
    /// A trace file, optionally with its format (auto-detected otherwise).
    Trace(TraceRef),
    /// An inline spec.
    Inline {
        /// The spec.
        spec: WorkloadSpec,
    },
}

/// A trace file reference inside a scenario.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TraceRef {
    /// Path of the trace.
    pub trace: std::path::PathBuf,
    /// Format name (see [`crate::Format`]); detected from the first line when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    /// Skip and count malformed rows instead of failing.
    #[serde(default)]
    pub lenient: bool,
}

impl WorkloadRef {
    /// The spec of a built-in or inline workload (None for a trace, which the caller opens).
    pub fn spec(&self) -> Result<Option<WorkloadSpec>, WorkloadError> {
        match self {
            WorkloadRef::Builtin(name) => match WorkloadSpec::builtin(name) {
                Some(s) => Ok(Some(s)),
                None => Err(WorkloadError::Spec(vec![format!(
                    "unknown built-in workload {name:?}; built-ins: {}",
                    BUILTIN_NAMES.iter().map(|n| format!("builtin:{n}")).collect::<Vec<_>>().join(", ")
                )])),
            },
            WorkloadRef::Inline { spec } => {
                spec.validate()?;
                Ok(Some(spec.clone()))
            }
            WorkloadRef::Trace(_) => Ok(None),
        }
    }
}
