//! # tokenfab-report
//!
//! Everything a run writes into its output directory, in one small API:
//!
//! ```text
//!  Table (named columns of f64 / i64 / String) ──► CSV · Parquet
//!  any Serialize value ─────────────────────────► summary.json (pretty, keys sorted)
//!  RunRecord (inputs, seed, version, git rev) ──► run.toml
//!  html::Page (text, tables, SVG charts) ───────► report.html (self-contained, offline)
//!  bytes ───────────────────────────────────────► write_atomic (temp file + rename), sha256_hex
//!  long runs ───────────────────────────────────► Progress (stderr bar, hidden off a TTY)
//! ```
//!
//! ```
//! use tokenfab_report::{Table, Column};
//! let mut t = Table::new();
//! t.add("chip", Column::Str(vec!["h100-sxm".into(), "b200".into()])).unwrap();
//! t.add("tokens_per_s", Column::F64(vec![1500.0, 3100.5])).unwrap();
//! t.add("chips", Column::I64(vec![8, 8])).unwrap();
//! let csv = t.to_csv_string().unwrap();
//! assert_eq!(csv, "chip,tokens_per_s,chips\nh100-sxm,1500,8\nb200,3100.5,8\n");
//! let parquet = t.to_parquet_bytes().unwrap();
//! assert_eq!(&parquet[..4], b"PAR1");
//! ```
//!
//! Architecture Invariant: every output is a pure function of its inputs (no timestamps, no
//! hash-map order), so the same run writes byte-identical files. The only filesystem access is
//! [`write_atomic`] and [`write_table`], which the caller invokes explicitly.
#![warn(missing_docs)]

pub mod html;
pub mod progress;
mod table;

pub use progress::{Progress, sha256_hex};
pub use table::{Column, Table};

use serde::{Deserialize, Serialize};
use std::path::Path;

/// Errors while building or writing outputs.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// A column whose length differs from the table's row count, or a duplicate name.
    #[error("table column `{name}`: {message}")]
    Column {
        /// column name
        name: String,
        /// what was wrong
        message: String,
    },
    /// A filesystem error, naming the path. (The IO error is part of the message, not a
    /// `source`, so that an error chain does not print it twice.)
    #[error("{path}: {error}")]
    Io {
        /// the file or directory
        path: String,
        /// the underlying error
        error: std::io::Error,
    },
    /// CSV encoding failed.
    #[error("csv: {0}")]
    Csv(#[from] csv::Error),
    /// Parquet encoding failed.
    #[error("parquet: {0}")]
    Parquet(#[from] parquet::errors::ParquetError),
    /// JSON or TOML serialization failed.
    #[error("serialize: {0}")]
    Serialize(String),
    /// A file this crate reads back (`run.toml`) did not parse.
    #[error("{file}: {message}")]
    Parse {
        /// the file
        file: String,
        /// what the parser said (line and column included)
        message: String,
    },
}

/// Writes `bytes` to `path` atomically: a temporary file in the same directory, then a rename,
/// so readers never see a half-written file. Creates the parent directory if needed.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), ReportError> {
    let io = |p: &Path| {
        let p = p.display().to_string();
        move |error| ReportError::Io { path: p, error }
    };
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let name = path.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_else(|| "out".into());
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    std::fs::write(&tmp, bytes).map_err(io(&tmp))?;
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        io(path)(e)
    })
}

/// Writes `table` as `<stem>.csv` and `<stem>.parquet` in `dir`, atomically.
pub fn write_table(dir: &Path, stem: &str, table: &Table) -> Result<(), ReportError> {
    write_atomic(&dir.join(format!("{stem}.csv")), table.to_csv_string()?.as_bytes())?;
    write_atomic(&dir.join(format!("{stem}.parquet")), &table.to_parquet_bytes()?)
}

/// Pretty JSON with object keys in sorted order (struct fields included), ending in a newline:
/// the `summary.json` format. Non-finite floats become `null`.
pub fn summary_json<T: Serialize + ?Sized>(value: &T) -> Result<String, ReportError> {
    // Going through `Value` (a BTreeMap without serde_json's preserve_order) sorts every key.
    let v = serde_json::to_value(value).map_err(|e| ReportError::Serialize(e.to_string()))?;
    let mut s = serde_json::to_string_pretty(&v).map_err(|e| ReportError::Serialize(e.to_string()))?;
    s.push('\n');
    Ok(s)
}

/// What `run.toml` records so that a run can be repeated exactly (`tokenfab repeat`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RunRecord {
    /// The subcommand, e.g. `simulate`.
    pub command: String,
    /// `tokenfab` version (`CARGO_PKG_VERSION` of the binary).
    pub tokenfab_version: String,
    /// Git revision of the source tree, when the caller knows it.
    pub git_revision: Option<String>,
    /// Seed of the random generators.
    pub seed: u64,
    /// Catalog files that overrode or extended the built-in catalog (`--catalog`), in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub catalog_files: Vec<RecordedFile>,
    /// The inputs, as TOML (e.g. the resolved scenario).
    pub inputs: toml::Table,
}

/// A file a run read, named as the user gave it, with the SHA-256 of its bytes at the time.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct RecordedFile {
    /// The path as given on the command line.
    pub path: String,
    /// Lowercase hex SHA-256 of the file's bytes.
    pub sha256: String,
}

impl RunRecord {
    /// The record as TOML text. Scalars come first, then the `[inputs]` table.
    pub fn to_toml(&self) -> Result<String, ReportError> {
        let mut s = String::from("# Written by tokenfab; repeat with the same inputs and seed: tokenfab repeat DIR\n");
        s.push_str(&toml::to_string(self).map_err(|e| ReportError::Serialize(e.to_string()))?);
        Ok(s)
    }

    /// Reads a record written by [`RunRecord::to_toml`]; `file` names it in errors.
    pub fn from_toml(file: &str, text: &str) -> Result<RunRecord, ReportError> {
        toml::from_str(text).map_err(|e| ReportError::Parse { file: file.to_string(), message: e.to_string() })
    }
}
