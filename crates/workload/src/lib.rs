//! # tokenfab-workload
//!
//! Requests for the simulator and the planner: synthetic generators (task classes, languages,
//! arrival processes) and streaming readers of public traces, all producing [`Request`]s.
//!
//! Architecture Invariant: readers take `impl BufRead` (the caller opens files); generators are
//! pure functions of (spec, seed) using ChaCha8.
#![warn(missing_docs)]

use serde::{Deserialize, Serialize};

/// Shared prefix blocks of a request's prompt (for prefix caching): the ids of consecutive
/// `block_tokens`-token blocks; two requests whose first `j` ids are equal share `j` blocks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct PrefixBlocks {
    /// Tokens per block (512 in Mooncake traces, 16 in Qwen-Bailian).
    pub block_tokens: u32,
    /// Block hash ids, in prompt order.
    pub ids: Vec<u64>,
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
