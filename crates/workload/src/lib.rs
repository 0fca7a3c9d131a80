//! # tokenfab-workload
//!
//! Requests for the simulator and the planner: synthetic generators (task classes, languages,
//! arrival processes) and streaming readers of public traces, all producing [`Request`]s.
//!
//! ```text
//!  WorkloadSpec (TOML, or builtin:assistant) ──generate(seed)──┐
//!                                                              ├──► Iterator<Request> ──► sim / stats / NativeWriter
//!  trace file (impl BufRead) ──TraceReader::new(fmt?, opts)────┘        (Result<Request, WorkloadError> for readers)
//! ```
//!
//! Generate the built-in multilingual assistant traffic and summarize it:
//!
//! ```
//! use tokenfab_workload::{TraceStats, WorkloadSpec};
//! let spec = WorkloadSpec::builtin("builtin:assistant").unwrap();
//! let mut stats = TraceStats::default();
//! for r in spec.generate(42).unwrap().take(2_000) {
//!     stats.add(&r);
//! }
//! let s = stats.summary();
//! assert_eq!(s.requests, 2_000);
//! assert!(s.input_tokens.p50 > 0);
//! ```
//!
//! Read a trace (format detected from the first line) and fit a task class to it:
//!
//! ```
//! use tokenfab_workload::{ReadOptions, TraceReader, TraceStats};
//! let csv = "TIMESTAMP,ContextTokens,GeneratedTokens\n\
//!            2023-11-16 18:17:03.9799600,4808,10\n\
//!            2023-11-16 18:17:04.0319600,3180,8\n";
//! let mut stats = TraceStats::default();
//! for r in TraceReader::new(csv.as_bytes(), None, ReadOptions::default()).unwrap() {
//!     stats.add(&r.unwrap());
//! }
//! assert_eq!(stats.summary().requests, 2);
//! let spec = stats.fit("azure-sample", "an Azure 2023 sample");
//! assert!(spec.to_toml().contains("process = \"gamma\""));
//! ```
//!
//! Architecture Invariant: readers take `impl BufRead` (the caller opens files) and hold one line
//! at a time; generators are pure functions of (spec, seed) using ChaCha8; nothing here reads the
//! clock, the environment or the filesystem.
#![warn(missing_docs)]

pub mod arrival;
pub mod dist;
mod error;
pub mod generate;
pub mod native;
pub mod readers;
pub mod spec;
pub mod stats;

pub use arrival::{ArrivalGen, ArrivalSpec, RateProfile};
pub use dist::LengthDist;
pub use error::WorkloadError;
pub use generate::Generator;
pub use native::{NativeFormat, NativeWriter};
pub use readers::{Format, ReadCounts, ReadOptions, ServeGenLengths, SpreadTies, TraceReader};
pub use spec::{
    BUILTIN_NAMES, Language, Slo, TaskClass, TaskKind, TraceRef, TranslationPair, WorkloadRef, WorkloadSpec,
};
pub use stats::{ClassTally, LengthHistogram, LengthSummary, StatsSummary, TraceStats};

use serde::{Deserialize, Serialize};

/// Shared prefix blocks of a request's prompt (for prefix caching): the ids of consecutive
/// `block_tokens`-token blocks; two requests whose first `j` ids are equal share `j` blocks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct PrefixBlocks {
    /// Tokens per block (512 in Mooncake traces, 16 in Qwen-Bailian).
    pub block_tokens: u32,
    /// Block hash ids, in prompt order.
    pub ids: Vec<u64>,
    /// Trailing blocks of `ids` that no other request shares (fresh ids the generator will never
    /// hand out again). A simulator may keep them out of its lookup structures, though they still
    /// occupy cache capacity. 0, the default and the value every trace reader gives, claims
    /// nothing: any block may be shared.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub unique_tail: u32,
}

fn is_zero(x: &u32) -> bool {
    *x == 0
}

/// One inference request: the canonical record every reader and generator produces.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    /// Sequential id within a workload (0-based, in arrival order).
    pub id: u64,
    /// Arrival time since the start of the workload, integer nanoseconds.
    pub arrival_ns: u64,
    /// Prompt tokens (including any reused history).
    pub input_tokens: u32,
    /// Tokens to generate (including hidden reasoning tokens).
    pub output_tokens: u32,
    /// Task class index into the workload's class table (0 when there is only one class).
    pub class: u16,
    /// Conversation/session id, where the source has one.
    pub session: Option<u64>,
    /// Turn within the session (0-based).
    pub turn: u32,
    /// Prefix blocks, where the source has them.
    pub prefix: Option<PrefixBlocks>,
}
