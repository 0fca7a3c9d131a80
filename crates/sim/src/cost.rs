//! Memoized step costs.
//!
//! `StepModel::cost` sums dozens of operator models (microseconds per call); the simulator
//! needs one cost per engine iteration. [`StepCostTable`] quantizes the decode context sum (a
//! smooth input of decode attention) to 7 significant bits (≤ 0.4 % relative change), keeps
//! everything else exact (sequence counts and prefill shapes: GEMM and attention tile/wave
//! quantization make time a step function of them; quantizing them measured up to 5 % error),
//! and memoizes the result per key.
//! The accuracy cost is measured by a test against the exact model (`tests/cost_accuracy.rs`).

use crate::time::s_to_ns;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use tokenfab_perf::{BatchShape, StepModel};

/// Quantizes to `BITS` significant bits, round to nearest.
pub fn quantize(x: u64) -> u64 {
    const BITS: u32 = 7;
    let lz = x.leading_zeros();
    let width = 64 - lz;
    if width <= BITS {
        return x;
    }
    let shift = width - BITS;
    let half = 1u64 << (shift - 1);
    (x.saturating_add(half) >> shift) << shift
}

/// A small, fast, deterministic hasher for the cache keys (FxHash-style multiply-rotate).
#[derive(Default, Clone, Copy)]
pub struct FxHasher(u64);

impl Hasher for FxHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.write_u64(u64::from_le_bytes(c.try_into().expect("8 bytes")));
        }
        for b in chunks.remainder() {
            self.write_u64(*b as u64);
        }
    }
    fn write_u64(&mut self, i: u64) {
        self.0 = (self.0.rotate_left(5) ^ i).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    fn write_u32(&mut self, i: u32) {
        self.write_u64(i as u64);
    }
}

type Key = [u64; 6];

/// A step-cost memo shared by every simulation of one pool (across rayon threads and runs).
/// Entries are pure functions of their keys, so sharing never changes results.
pub type SharedCosts = std::sync::Arc<std::sync::Mutex<HashMap<Key, StepTiming, BuildHasherDefault<FxHasher>>>>;

/// Cost of one step as the simulator uses it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepTiming {
    /// Device time of the step, ns (without host overhead).
    pub device_ns: u64,
    /// Energy of all the replica's chips during the device time, J.
    pub energy_j: f64,
}

/// A memo table over one pool's step models.
#[derive(Debug, Clone)]
pub struct StepCostTable {
    graph: StepModel,
    eager: StepModel,
    /// Speculative-decoding draft model and its draft tokens per step.
    draft: Option<(StepModel, u32)>,
    /// Multiplier on device time and energy (engine `device_time_scale`).
    device_scale: f64,
    cache: HashMap<Key, StepTiming, BuildHasherDefault<FxHasher>>,
    shared: Option<SharedCosts>,
    /// Look-ups answered from the table.
    pub hits: u64,
    /// Look-ups that ran the step model.
    pub misses: u64,
    /// Run the exact model every time (no quantization, no memo).
    pub exact: bool,
}

/// Entries kept before the table is cleared (bounds memory; results do not depend on it).
const MAX_ENTRIES: usize = 1 << 20;

impl StepCostTable {
    /// A table over a graph and an eager step model.
    pub fn new(graph: StepModel, eager: StepModel) -> StepCostTable {
        StepCostTable {
            graph,
            eager,
            draft: None,
            device_scale: 1.0,
            cache: HashMap::default(),
            shared: None,
            hits: 0,
            misses: 0,
            exact: false,
        }
    }

    /// Adds the draft of speculative decoding: steps with verified draft tokens
    /// (`decode_extra_tokens`) also pay `k` draft passes over their decode sequences.
    pub fn with_draft(mut self, draft: Option<StepModel>, k: u32) -> StepCostTable {
        self.draft = draft.filter(|_| k > 0).map(|d| (d, k));
        self
    }

    /// Multiplies every step's device time and energy by `scale` (engine `device_time_scale`).
    pub fn with_device_scale(mut self, scale: f64) -> StepCostTable {
        self.device_scale = scale;
        self
    }

    /// Also consults and fills `shared` on local misses.
    pub fn with_shared(mut self, shared: SharedCosts) -> StepCostTable {
        self.shared = Some(shared);
        self
    }

    /// The cost of `shape`; `graphed` selects the CUDA-graph model.
    pub fn cost(&mut self, shape: &BatchShape, graphed: bool) -> StepTiming {
        if self.exact {
            return self.exact_cost(shape, graphed);
        }
        let q = BatchShape {
            prefill_seqs: shape.prefill_seqs,
            // Exact: GEMM wave quantization makes time a step function of the token count.
            prefill_tokens: shape.prefill_tokens,
            prefill_tokens_sq: shape.prefill_tokens_sq,
            prefill_cached_x_new: shape.prefill_cached_x_new,
            decode_seqs: shape.decode_seqs,
            decode_context: quantize(shape.decode_context),
            decode_context_in_window: quantize(shape.decode_context_in_window),
            logits_seqs: shape.logits_seqs,
            decode_extra_tokens: shape.decode_extra_tokens,
        };
        let key: Key = [
            (q.prefill_seqs as u64) << 32 | q.decode_seqs as u64,
            q.decode_extra_tokens << 33 | (q.logits_seqs as u64) << 1 | graphed as u64,
            q.prefill_tokens,
            q.prefill_tokens_sq.to_bits(),
            q.prefill_cached_x_new.to_bits() ^ q.decode_context_in_window.rotate_left(32),
            q.decode_context,
        ];
        if let Some(t) = self.cache.get(&key) {
            self.hits += 1;
            return self.scaled(*t);
        }
        let from_shared = self.shared.as_ref().and_then(|m| m.lock().ok().and_then(|m| m.get(&key).copied()));
        let t = match from_shared {
            Some(t) => t,
            None => {
                self.misses += 1;
                let t = self.model_cost(&q, graphed);
                if let Some(Ok(mut m)) = self.shared.as_ref().map(|m| m.lock()) {
                    if m.len() >= MAX_ENTRIES {
                        m.clear();
                    }
                    m.insert(key, t);
                }
                t
            }
        };
        if self.cache.len() >= MAX_ENTRIES {
            self.cache.clear();
        }
        self.cache.insert(key, t);
        self.scaled(t)
    }

    /// The exact step model, no memo.
    pub fn exact_cost(&self, shape: &BatchShape, graphed: bool) -> StepTiming {
        self.scaled(self.model_cost(shape, graphed))
    }

    /// The step model's own cost (no memo, no scale).
    fn model_cost(&self, shape: &BatchShape, graphed: bool) -> StepTiming {
        let m = if graphed { &self.graph } else { &self.eager };
        let c = m.cost(shape);
        let (mut time_s, mut energy_j) = (c.time_s, c.energy_j);
        if let (Some((draft, k)), true) = (&self.draft, shape.decode_extra_tokens > 0) {
            // k sequential draft passes, one token per decode sequence each.
            let d = draft.cost(&BatchShape {
                decode_seqs: shape.decode_seqs,
                decode_context: shape.decode_context,
                decode_context_in_window: shape.decode_context_in_window,
                logits_seqs: shape.decode_seqs,
                ..Default::default()
            });
            time_s += *k as f64 * d.time_s;
            energy_j += *k as f64 * d.energy_j;
        }
        StepTiming { device_ns: s_to_ns(time_s), energy_j }
    }

    /// Applies the device-time scale (after the memo, which holds the model's own costs and is
    /// shared by runs whatever their scale).
    fn scaled(&self, t: StepTiming) -> StepTiming {
        if self.device_scale == 1.0 {
            return t;
        }
        StepTiming {
            device_ns: (t.device_ns as f64 * self.device_scale).round() as u64,
            energy_j: t.energy_j * self.device_scale,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::quantize;

    #[test]
    fn quantize_is_close_and_exact_for_small() {
        for x in [0u64, 1, 5, 127, 128, 129, 1000, 65_537, 123_456_789, u64::MAX / 3] {
            let q = quantize(x);
            if x < 128 {
                assert_eq!(q, x);
            }
            assert!((q as f64 - x as f64).abs() <= x as f64 / 128.0 + 0.5, "{x} -> {q}");
        }
    }
}
