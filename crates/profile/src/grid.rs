//! The shape grid: which operator cases a profile run measures.
//!
//! The default grid reproduces the cases of `calibration/h100-sxm-ops.csv` (the Llama-3.1-8B
//! projections over a token grid, its attention shapes) and adds routed-expert (`moe_ffn`) cases
//! so the perf model's grouped-GEMM path can be calibrated too.

use crate::ProfileError;

/// Operand format of a measured case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Dtype {
    /// bfloat16 operands, fp32 accumulation, bf16 output.
    Bf16,
    /// fp8 e4m3 operands with per-tensor fp32 scales, fp32 accumulation, bf16 output.
    Fp8,
}

impl Dtype {
    /// The spelling used in calibration tables (`bf16`, `fp8`).
    pub fn as_str(self) -> &'static str {
        match self {
            Dtype::Bf16 => "bf16",
            Dtype::Fp8 => "fp8",
        }
    }

    /// Bytes per element.
    pub fn bytes(self) -> usize {
        match self {
            Dtype::Bf16 => 2,
            Dtype::Fp8 => 1,
        }
    }
}

/// Attention geometry shared by prefill and decode cases.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AttnHeads {
    /// Query heads.
    pub heads: u64,
    /// Key/value heads (GQA when fewer than `heads`).
    pub kv_heads: u64,
    /// Dimension of each head.
    pub head_dim: u64,
}

/// One operator case, in the vocabulary of the perf model's Contract 1 rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum OpCase {
    /// C[m,n] = A[m,k] · W[n,k]ᵀ.
    Gemm {
        /// Operand format.
        dtype: Dtype,
        /// Rows (tokens).
        m: u64,
        /// Output features.
        n: u64,
        /// Reduction dimension.
        k: u64,
    },
    /// Causal attention over `seq_len` new tokens for each of `batch` sequences (bf16).
    AttnPrefill {
        /// Sequences.
        batch: u64,
        /// New tokens per sequence.
        seq_len: u64,
        /// Head geometry.
        geom: AttnHeads,
    },
    /// One query token per sequence attending to `context_len` cached tokens (bf16 KV cache).
    AttnDecode {
        /// Sequences.
        batch: u64,
        /// Cached tokens per sequence.
        context_len: u64,
        /// Head geometry.
        geom: AttnHeads,
    },
    /// Routed expert FFN: gate+up grouped GEMM, SiLU·mul, down grouped GEMM, for `m` tokens routed
    /// to `top_k` of `experts`.
    MoeFfn {
        /// Operand format of the expert weights and activations.
        dtype: Dtype,
        /// Tokens.
        m: u64,
        /// Experts.
        experts: u64,
        /// Experts per token.
        top_k: u64,
        /// Model hidden size.
        hidden: u64,
        /// Expert intermediate size.
        inter: u64,
    },
}

impl OpCase {
    /// The `op` column value.
    pub fn op(&self) -> &'static str {
        match self {
            OpCase::Gemm { .. } => "gemm",
            OpCase::AttnPrefill { .. } => "attn_prefill",
            OpCase::AttnDecode { .. } => "attn_decode",
            OpCase::MoeFfn { .. } => "moe_ffn",
        }
    }

    /// Floating-point operations the case performs (2 per multiply-add; causal prefill counts the
    /// lower triangle only). Used for reporting rates, not for the tables.
    pub fn flops(&self) -> f64 {
        match *self {
            OpCase::Gemm { m, n, k, .. } => 2.0 * m as f64 * n as f64 * k as f64,
            OpCase::AttnPrefill { batch, seq_len, geom } => {
                let s = seq_len as f64;
                // QKᵀ and PV, each 2·d FLOPs per (query, key) pair, over s(s+1)/2 causal pairs.
                4.0 * batch as f64 * geom.heads as f64 * geom.head_dim as f64 * s * (s + 1.0) / 2.0
            }
            OpCase::AttnDecode { batch, context_len, geom } => {
                4.0 * batch as f64 * geom.heads as f64 * geom.head_dim as f64 * context_len as f64
            }
            OpCase::MoeFfn { m, top_k, hidden, inter, .. } => {
                // gate+up (2·inter outputs) and down (hidden outputs) for m·top_k routed rows.
                2.0 * (m * top_k) as f64 * hidden as f64 * (3 * inter) as f64
            }
        }
    }
}

/// Which operator families a grid includes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Families {
    /// Dense GEMMs.
    pub gemm: bool,
    /// Attention prefill and decode.
    pub attention: bool,
    /// Routed-expert FFNs.
    pub moe: bool,
}

impl Default for Families {
    fn default() -> Self {
        Families { gemm: true, attention: true, moe: true }
    }
}

/// Token counts of the GEMM grid (rows of A): decode batches up to long prefill chunks.
pub const GEMM_M: [u64; 13] = [1, 4, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384];

/// Llama-3.1-8B projection shapes (n, k): fused QKV, attention output, fused gate+up, down, LM head.
pub const LLAMA31_8B_NK: [(u64, u64); 5] = [(6144, 4096), (4096, 4096), (28672, 4096), (4096, 14336), (128256, 4096)];

/// Llama-3.1-8B attention geometry.
pub const LLAMA31_8B_ATTN: AttnHeads = AttnHeads { heads: 32, kv_heads: 8, head_dim: 128 };

/// Prefill cases (batch, seq_len).
pub const PREFILL_CASES: [(u64, u64); 7] =
    [(1, 512), (1, 2048), (1, 8192), (1, 32768), (4, 2048), (16, 1024), (64, 512)];

/// Decode cases (batch, context_len): KV cache sizes up to 256 × 2048 and 32 × 32768 tokens.
pub const DECODE_CASES: [(u64, u64); 17] = [
    (1, 512),
    (1, 2048),
    (1, 8192),
    (1, 32768),
    (8, 512),
    (8, 2048),
    (8, 8192),
    (8, 32768),
    (32, 512),
    (32, 2048),
    (32, 8192),
    (32, 32768),
    (128, 512),
    (128, 2048),
    (128, 8192),
    (256, 512),
    (256, 2048),
];

/// Routed-expert shapes (experts, top_k, hidden, inter): Mixtral-8x7B and Qwen3-235B-A22B.
pub const MOE_SHAPES: [(u64, u64, u64, u64); 2] = [(8, 2, 4096, 14336), (128, 8, 4096, 1536)];

/// Token counts of the MoE grid.
pub const MOE_M: [u64; 6] = [1, 16, 128, 1024, 4096, 16384];

/// Options that shrink the grid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GridOptions {
    /// Families to include.
    pub families: Families,
    /// Quick mode: every other GEMM token count, fewer attention cases (a smoke run of a minute).
    pub quick: bool,
}

/// The default grid, in a fixed order (GEMMs by shape, dtype, m; then attention; then MoE).
pub fn default_grid(opts: GridOptions) -> Vec<OpCase> {
    let keep_m = |i: usize| !opts.quick || i.is_multiple_of(3);
    let mut cases = Vec::new();
    if opts.families.gemm {
        for &(n, k) in &LLAMA31_8B_NK {
            for dtype in [Dtype::Bf16, Dtype::Fp8] {
                for (i, &m) in GEMM_M.iter().enumerate() {
                    if keep_m(i) {
                        cases.push(OpCase::Gemm { dtype, m, n, k });
                    }
                }
            }
        }
    }
    if opts.families.attention {
        for (i, &(batch, seq_len)) in PREFILL_CASES.iter().enumerate() {
            if !opts.quick || (i.is_multiple_of(2) && seq_len <= 8192) {
                cases.push(OpCase::AttnPrefill { batch, seq_len, geom: LLAMA31_8B_ATTN });
            }
        }
        for (i, &(batch, context_len)) in DECODE_CASES.iter().enumerate() {
            if keep_m(i) {
                cases.push(OpCase::AttnDecode { batch, context_len, geom: LLAMA31_8B_ATTN });
            }
        }
    }
    if opts.families.moe {
        for &(experts, top_k, hidden, inter) in &MOE_SHAPES {
            for dtype in [Dtype::Bf16, Dtype::Fp8] {
                for (i, &m) in MOE_M.iter().enumerate() {
                    if !opts.quick || i.is_multiple_of(2) {
                        cases.push(OpCase::MoeFfn { dtype, m, experts, top_k, hidden, inter });
                    }
                }
            }
        }
    }
    cases
}

/// Parses a comma-separated family list (`gemm,attn,moe`; `all` for every family).
pub fn parse_families(list: &str) -> Result<Families, ProfileError> {
    let mut f = Families { gemm: false, attention: false, moe: false };
    for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        match item {
            "all" => f = Families::default(),
            "gemm" => f.gemm = true,
            "attn" | "attention" => f.attention = true,
            "moe" => f.moe = true,
            other => {
                return Err(ProfileError::Usage(format!(
                    "unknown op family `{other}` in `{list}`: expected gemm, attn, moe or all"
                )));
            }
        }
    }
    if !(f.gemm || f.attention || f.moe) {
        return Err(ProfileError::Usage(format!("no op family selected by `{list}`")));
    }
    Ok(f)
}

/// Expected tokens per expert and experts touched when `m` tokens each pick `top_k` distinct experts
/// uniformly at random, sampled with a seeded ChaCha8 generator (deterministic). Returns
/// (`experts_touched`, `rows_per_touched_expert`), the padded-batched layout the profiler runs:
/// every touched expert gets the same row count, `ceil(m·top_k / touched)`.
pub fn moe_layout(m: u64, experts: u64, top_k: u64, seed: u64) -> (u64, u64) {
    use rand::{RngExt, SeedableRng};
    let mut rng = rand::rngs::ChaCha8Rng::seed_from_u64(seed ^ (m << 20) ^ (experts << 8) ^ top_k);
    let mut touched = vec![false; experts as usize];
    let k = top_k.min(experts) as usize;
    let mut pick: Vec<usize> = (0..experts as usize).collect();
    for _ in 0..m {
        // Partial Fisher–Yates: the first k entries become a uniform k-subset.
        for i in 0..k {
            let j = rng.random_range(i..pick.len());
            pick.swap(i, j);
            touched[pick[i]] = true;
        }
    }
    let n_touched = touched.iter().filter(|&&t| t).count().max(1) as u64;
    (n_touched, (m * top_k).div_ceil(n_touched))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(cases: &[OpCase], op: &str) -> usize {
        cases.iter().filter(|c| c.op() == op).count()
    }

    #[test]
    fn default_grid_sizes() {
        let g = default_grid(GridOptions::default());
        assert_eq!(count(&g, "gemm"), 5 * 2 * 13);
        assert_eq!(count(&g, "attn_prefill"), 7);
        assert_eq!(count(&g, "attn_decode"), 17);
        assert_eq!(count(&g, "moe_ffn"), 2 * 2 * 6);
        let distinct: std::collections::BTreeSet<OpCase> = g.iter().copied().collect();
        assert_eq!(distinct.len(), g.len(), "no duplicate cases");
    }

    #[test]
    fn quick_grid_is_a_subset() {
        let full: std::collections::BTreeSet<OpCase> = default_grid(GridOptions::default()).into_iter().collect();
        let quick = default_grid(GridOptions { quick: true, ..Default::default() });
        assert!(quick.len() * 2 < full.len());
        assert!(quick.iter().all(|c| full.contains(c)));
        for op in ["gemm", "attn_prefill", "attn_decode", "moe_ffn"] {
            assert!(count(&quick, op) > 0, "quick grid keeps {op}");
        }
    }

    #[test]
    fn family_selection() {
        let cases = [
            ("gemm", Some((true, false, false))),
            ("attn,moe", Some((false, true, true))),
            ("all", Some((true, true, true))),
            (" gemm , attention ", Some((true, true, false))),
            ("", None),
            ("gemm,conv", None),
        ];
        for (input, expect) in cases {
            let got = parse_families(input).ok().map(|f| (f.gemm, f.attention, f.moe));
            assert_eq!(got, expect, "parse_families({input:?})");
        }
        let only_attn = default_grid(GridOptions { families: parse_families("attn").unwrap(), quick: false });
        assert!(only_attn.iter().all(|c| matches!(c, OpCase::AttnPrefill { .. } | OpCase::AttnDecode { .. })));
    }

    #[test]
    fn flops_cases() {
        let g = AttnHeads { heads: 32, kv_heads: 8, head_dim: 128 };
        let cases = [
            (OpCase::Gemm { dtype: Dtype::Bf16, m: 8192, n: 8192, k: 8192 }, 2.0 * 8192f64.powi(3)),
            (OpCase::AttnDecode { batch: 2, context_len: 100, geom: g }, 4.0 * 2.0 * 32.0 * 128.0 * 100.0),
            (OpCase::AttnPrefill { batch: 1, seq_len: 3, geom: g }, 4.0 * 32.0 * 128.0 * 6.0),
            (
                OpCase::MoeFfn { dtype: Dtype::Fp8, m: 10, experts: 8, top_k: 2, hidden: 4096, inter: 14336 },
                2.0 * 20.0 * 4096.0 * 3.0 * 14336.0,
            ),
        ];
        for (case, expect) in cases {
            assert_eq!(case.flops(), expect, "{case:?}");
        }
    }

    #[test]
    fn moe_layout_cases() {
        // (m, experts, top_k) -> touched bounds; rows * touched covers every routed token.
        for (m, e, k) in [(1, 8, 2), (16, 8, 2), (1, 128, 8), (16, 128, 8), (1024, 128, 8), (16384, 8, 2)] {
            let (touched, rows) = moe_layout(m, e, k, 0);
            assert!(touched >= k.min(e) && touched <= e.min(m * k), "m={m} e={e} k={k}: touched {touched}");
            assert!(rows * touched >= m * k && (rows - 1) * touched < m * k, "m={m}: rows {rows}");
            assert_eq!(moe_layout(m, e, k, 0), (touched, rows), "deterministic");
        }
        // One token touches exactly top_k experts; many tokens touch all of them.
        assert_eq!(moe_layout(1, 128, 8, 3).0, 8);
        assert_eq!(moe_layout(4096, 128, 8, 3).0, 128);
    }
}
