//! # tokenfab-catalog
//!
//! The sourced catalog tokenfab reasons about: accelerators ([`Chip`]), the boxes and racks they
//! ship in ([`System`]), the fabrics between them ([`Fabric`]) and model architectures
//! ([`Model`]).
//!
//! ```text
//!   data/*.toml (embedded)   user files (--catalog FILE, override or extend by id)
//!            \                 /
//!             parse + validate  ──► Catalog { chips, systems, fabrics, models }
//!             (every problem reported at once, with file and field)
//! ```
//!
//! Every hardware figure is a [`Fact`]: a value, the `source` it came from and a
//! [`Confidence`] (`official`, `reported`, `estimate`). An estimate says why in `note`; the loader
//! rejects one that does not. [`Chip::figures`] (and the same on systems and fabrics) lists every
//! figure with its unit, for audits and `tokenfab catalog show`.
//! Model architectures come from public `config.json` files; each model records that source, and
//! [`import_hf_config`] turns any Hugging Face config into a [`Model`]:
//!
//! ```
//! let cfg = r#"{"hidden_size": 4096, "num_hidden_layers": 32, "num_attention_heads": 32,
//!     "num_key_value_heads": 8, "intermediate_size": 14336, "vocab_size": 128256}"#;
//! let m = tokenfab_catalog::import_hf_config("config.json", cfg, "my-llama", "local").unwrap();
//! assert!((m.total_params() / 1e9 - 8.03).abs() < 0.01);
//! assert_eq!(m.kv_bytes_per_token(tokenfab_catalog::Dtype::Bf16), 131072.0);
//! ```
//!
//! ```
//! let catalog = tokenfab_catalog::Catalog::builtin();
//! let h100 = catalog.chip("h100-sxm").unwrap();
//! assert!(h100.hbm_bandwidth_tbps.value > 3.0);
//! let llama = catalog.model("meta-llama/Llama-3.1-8B-Instruct").unwrap();
//! assert_eq!(llama.id, "llama-3.1-8b");
//! ```
//!
//! Units are last in field names. In this catalog every bandwidth is in **bytes** per second:
//! `_tbps` is terabytes/s, `_gbps` gigabytes/s (a 400 Gb/s NIC is 50 GB/s). Power is in watts
//! (`_w`) or kilowatts (`_kw`), capacities in gigabytes (`_gb`, 10^9 bytes) or megabytes (`_mb`).
//!
//! Architecture Invariant: this crate does no IO of its own. [`Catalog::with_file_text`] takes
//! text the caller read; the binary does the reading.
#![warn(missing_docs)]

mod hf;
mod model;
mod types;

pub use hf::{HfImportError, import_hf_config};
pub use model::{Attention, LinearAttention, Mla, Model, Moe, SlidingWindow, SparseAttention};
pub use types::{
    Chip, ChipStatus, Confidence, DtypePeaks, Fabric, FabricKind, Fact, FactRef, Figure, GemmEfficiency, System,
    SystemKind,
};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Numeric formats the performance model knows. Peak rates are per format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Dtype {
    /// bfloat16
    Bf16,
    /// IEEE half precision (same tensor-core rate as bf16 on every catalog chip)
    Fp16,
    /// 8-bit float (e4m3/e5m2, incl. block-scaled variants)
    Fp8,
    /// 4-bit float (NVFP4 / MXFP4)
    Fp4,
}

impl Dtype {
    /// Bytes per element (fp4 is half a byte; scale factors are ignored).
    pub fn bytes(self) -> f64 {
        match self {
            Dtype::Bf16 | Dtype::Fp16 => 2.0,
            Dtype::Fp8 => 1.0,
            Dtype::Fp4 => 0.5,
        }
    }
    /// The lower-case name used in files and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Dtype::Bf16 => "bf16",
            Dtype::Fp16 => "fp16",
            Dtype::Fp8 => "fp8",
            Dtype::Fp4 => "fp4",
        }
    }
    /// All formats, in order of decreasing width.
    pub const ALL: [Dtype; 4] = [Dtype::Bf16, Dtype::Fp16, Dtype::Fp8, Dtype::Fp4];
}

impl std::fmt::Display for Dtype {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Dtype {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "bf16" | "bfloat16" => Ok(Dtype::Bf16),
            "fp16" | "float16" | "half" => Ok(Dtype::Fp16),
            "fp8" | "fp8_block" | "float8" | "e4m3" => Ok(Dtype::Fp8),
            "fp4" | "nvfp4" | "mxfp4" => Ok(Dtype::Fp4),
            other => Err(format!("unknown dtype `{other}`: expected one of bf16, fp16, fp8, fp4")),
        }
    }
}

/// One catalog file: any mix of chips, systems, fabrics and models.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CatalogFile {
    /// Accelerators.
    #[serde(default, rename = "chip", skip_serializing_if = "Vec::is_empty")]
    pub chips: Vec<Chip>,
    /// Boxes, racks and pods built from chips.
    #[serde(default, rename = "system", skip_serializing_if = "Vec::is_empty")]
    pub systems: Vec<System>,
    /// Scale-up and scale-out interconnects and switches.
    #[serde(default, rename = "fabric", skip_serializing_if = "Vec::is_empty")]
    pub fabrics: Vec<Fabric>,
    /// Model architectures.
    #[serde(default, rename = "model", skip_serializing_if = "Vec::is_empty")]
    pub models: Vec<Model>,
}

/// A problem found while loading or validating catalog data.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{file}: {location}: {message}")]
pub struct CatalogError {
    /// The file (or `builtin:NAME`) the problem is in.
    pub file: String,
    /// Where in the file: a TOML path like `chip[h100-sxm].tdp_w`, or `line 12, column 3`.
    pub location: String,
    /// What was wrong and what was expected.
    pub message: String,
}

/// Errors from [`Catalog`] look-ups.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LookupError {
    /// No entry of that kind has this id or alias.
    #[error("unknown {kind} `{id}`; known: {known}")]
    Unknown {
        /// chip, system, fabric or model
        kind: &'static str,
        /// what was asked for
        id: String,
        /// comma-separated known ids
        known: String,
    },
}

/// Errors from loading catalog files: all problems found, not just the first.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{} problem(s) in catalog data:\n{}", .0.len(), .0.iter().map(|e| format!("  - {e}")).collect::<Vec<_>>().join("\n"))]
pub struct CatalogErrors(pub Vec<CatalogError>);

const BUILTIN_FILES: &[(&str, &str)] = &[
    ("builtin:chips.toml", include_str!("../data/chips.toml")),
    ("builtin:systems.toml", include_str!("../data/systems.toml")),
    ("builtin:fabrics.toml", include_str!("../data/fabrics.toml")),
    ("builtin:models.toml", include_str!("../data/models.toml")),
];

/// The loaded, validated catalog. Maps are keyed by id, so iteration order is stable.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Catalog {
    /// Accelerators by id.
    pub chips: BTreeMap<String, Chip>,
    /// Systems by id.
    pub systems: BTreeMap<String, System>,
    /// Fabrics by id.
    pub fabrics: BTreeMap<String, Fabric>,
    /// Models by id.
    pub models: BTreeMap<String, Model>,
}

impl Catalog {
    /// The catalog embedded in the binary. Panics only if the embedded data is invalid, which a
    /// unit test rules out.
    pub fn builtin() -> Catalog {
        match Self::try_builtin() {
            Ok(c) => c,
            Err(e) => panic!("embedded catalog is invalid (a test should have caught this): {e}"),
        }
    }

    /// The embedded catalog, or every problem in it.
    pub fn try_builtin() -> Result<Catalog, CatalogErrors> {
        let mut cat = Catalog::default();
        let mut errors = Vec::new();
        for (name, text) in BUILTIN_FILES {
            if let Err(mut e) = cat.merge_text(name, text) {
                errors.append(&mut e.0);
            }
        }
        errors.extend(cat.validate());
        if errors.is_empty() { Ok(cat) } else { Err(CatalogErrors(errors)) }
    }

    /// Returns this catalog with one more file's entries merged in: an entry whose id exists
    /// replaces it, a new id extends the catalog. `name` is used in error messages.
    pub fn with_file_text(mut self, name: &str, text: &str) -> Result<Catalog, CatalogErrors> {
        self.merge_text(name, text)?;
        let errors = self.validate();
        if errors.is_empty() { Ok(self) } else { Err(CatalogErrors(errors)) }
    }

    fn merge_text(&mut self, name: &str, text: &str) -> Result<(), CatalogErrors> {
        let file: CatalogFile = toml::from_str(text).map_err(|e| {
            let location = match e.span() {
                Some(span) => {
                    let (line, col) = line_col(text, span.start);
                    format!("line {line}, column {col}")
                }
                None => "file".to_string(),
            };
            CatalogErrors(vec![CatalogError { file: name.to_string(), location, message: e.message().to_string() }])
        })?;
        for mut c in file.chips {
            c.origin = name.to_string();
            self.chips.insert(c.id.clone(), c);
        }
        for mut s in file.systems {
            s.origin = name.to_string();
            self.systems.insert(s.id.clone(), s);
        }
        for mut f in file.fabrics {
            f.origin = name.to_string();
            self.fabrics.insert(f.id.clone(), f);
        }
        for mut m in file.models {
            m.origin = name.to_string();
            self.models.insert(m.id.clone(), m);
        }
        Ok(())
    }

    /// Cross-checks every entry (ranges, references between entries, duplicate aliases).
    /// Returns every problem found.
    pub fn validate(&self) -> Vec<CatalogError> {
        let mut errs = Vec::new();
        let mut aliases: BTreeMap<String, (String, String)> = BTreeMap::new();
        for c in self.chips.values() {
            c.validate(&mut errs);
            for a in c.aliases.iter().chain(std::iter::once(&c.id)) {
                check_alias(&mut aliases, &mut errs, "chip", &c.id, a, &c.origin);
            }
        }
        let mut model_aliases: BTreeMap<String, (String, String)> = BTreeMap::new();
        for m in self.models.values() {
            m.validate(&mut errs);
            for a in m.aliases.iter().chain(std::iter::once(&m.id)) {
                check_alias(&mut model_aliases, &mut errs, "model", &m.id, a, &m.origin);
            }
        }
        for s in self.systems.values() {
            s.validate(&mut errs);
            if !self.chips.contains_key(&s.chip) {
                errs.push(CatalogError {
                    file: s.origin.clone(),
                    location: format!("system[{}].chip", s.id),
                    message: format!("unknown chip `{}`", s.chip),
                });
            }
            for (field, fab) in [("scaleup_fabric", &s.scaleup_fabric), ("scaleout_fabric", &s.scaleout_fabric)] {
                if let Some(f) = fab
                    && !self.fabrics.contains_key(f)
                {
                    errs.push(CatalogError {
                        file: s.origin.clone(),
                        location: format!("system[{}].{field}", s.id),
                        message: format!("unknown fabric `{f}`"),
                    });
                }
            }
        }
        for f in self.fabrics.values() {
            f.validate(&mut errs);
        }
        errs
    }

    /// A chip by id or alias (case-insensitive).
    pub fn chip(&self, id: &str) -> Result<&Chip, LookupError> {
        find(&self.chips, id, |c| &c.aliases).ok_or_else(|| LookupError::Unknown {
            kind: "chip",
            id: id.to_string(),
            known: join_keys(&self.chips),
        })
    }
    /// A system by id or alias (case-insensitive).
    pub fn system(&self, id: &str) -> Result<&System, LookupError> {
        find(&self.systems, id, |s| &s.aliases).ok_or_else(|| LookupError::Unknown {
            kind: "system",
            id: id.to_string(),
            known: join_keys(&self.systems),
        })
    }
    /// A fabric by id (case-insensitive).
    pub fn fabric(&self, id: &str) -> Result<&Fabric, LookupError> {
        find(&self.fabrics, id, |f| &f.aliases).ok_or_else(|| LookupError::Unknown {
            kind: "fabric",
            id: id.to_string(),
            known: join_keys(&self.fabrics),
        })
    }
    /// A model by id, alias or exact Hugging Face name (case-insensitive).
    pub fn model(&self, id: &str) -> Result<&Model, LookupError> {
        find(&self.models, id, |m| &m.aliases).ok_or_else(|| LookupError::Unknown {
            kind: "model",
            id: id.to_string(),
            known: join_keys(&self.models),
        })
    }

    /// The default system for a chip: the first system (by id) built from it whose
    /// `default_for_chip` is set, else the first system of that chip.
    pub fn default_system_for_chip(&self, chip_id: &str) -> Option<&System> {
        let mut of_chip = self.systems.values().filter(|s| s.chip == chip_id);
        let all: Vec<&System> = of_chip.by_ref().collect();
        all.iter().find(|s| s.default_for_chip).copied().or(all.first().copied())
    }
}

fn find<'a, T>(map: &'a BTreeMap<String, T>, id: &str, aliases: impl Fn(&T) -> &Vec<String>) -> Option<&'a T> {
    if let Some(v) = map.get(id) {
        return Some(v);
    }
    let want = id.trim().to_ascii_lowercase();
    map.iter()
        .find(|(k, v)| k.to_ascii_lowercase() == want || aliases(v).iter().any(|a| a.to_ascii_lowercase() == want))
        .map(|(_, v)| v)
}

fn join_keys<T>(map: &BTreeMap<String, T>) -> String {
    map.keys().cloned().collect::<Vec<_>>().join(", ")
}

fn check_alias(
    seen: &mut BTreeMap<String, (String, String)>,
    errs: &mut Vec<CatalogError>,
    kind: &str,
    id: &str,
    alias: &str,
    origin: &str,
) {
    let key = alias.to_ascii_lowercase();
    if let Some((other, _)) = seen.get(&key)
        && other != id
    {
        errs.push(CatalogError {
            file: origin.to_string(),
            location: format!("{kind}[{id}].aliases"),
            message: format!("alias `{alias}` is also used by {kind} `{other}`"),
        });
        return;
    }
    seen.insert(key, (id.to_string(), origin.to_string()));
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map(|l| l.chars().count()).unwrap_or(0) + 1;
    (line, col)
}

/// The JSON Schema of a catalog file, for editors (`tokenfab catalog schema`).
pub fn json_schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(CatalogFile)).unwrap_or(serde_json::Value::Null)
}

#[cfg(test)]
mod tests;
