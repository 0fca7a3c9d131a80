//! Deployments: what runs where. A [`DeploymentSpec`] (scenario text) resolves against the
//! catalog into a [`Deployment`]: pools of identical replicas, each with a step model, an engine
//! profile and a KV-cache size computed the way the engine computes it.

use crate::SimError;
use crate::engine::{EngineKind, EngineOverrides, EngineProfile, KvMemory};
use serde::{Deserialize, Serialize};
use tokenfab_catalog::{Catalog, Dtype};
use tokenfab_perf::collective::{Collective, Link, collective};
use tokenfab_perf::{ClockMode, Hardware, Parallel, StepModel, StepOptions};

/// A parallel layout as written in a scenario. `moe_tp`/`moe_ep` default to experts split by
/// tensor parallelism over all `tp × attn_dp` chips.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParallelSpec {
    /// Tensor parallelism.
    #[serde(default = "one")]
    pub tp: u32,
    /// Pipeline stages.
    #[serde(default = "one")]
    pub pp: u32,
    /// Attention data parallelism (MoE models).
    #[serde(default = "one")]
    pub attn_dp: u32,
    /// Tensor parallelism inside experts.
    #[serde(default)]
    pub moe_tp: Option<u32>,
    /// Expert parallelism.
    #[serde(default)]
    pub moe_ep: Option<u32>,
}

fn one() -> u32 {
    1
}

impl Default for ParallelSpec {
    fn default() -> Self {
        ParallelSpec { tp: 1, pp: 1, attn_dp: 1, moe_tp: None, moe_ep: None }
    }
}

impl ParallelSpec {
    /// The perf-model layout.
    pub fn resolve(&self) -> Parallel {
        let width = self.tp.max(1) * self.attn_dp.max(1);
        let (moe_tp, moe_ep) = match (self.moe_tp, self.moe_ep) {
            (Some(t), Some(e)) => (t, e),
            (Some(t), None) => (t, (width / t.max(1)).max(1)),
            (None, Some(e)) => ((width / e.max(1)).max(1), e),
            (None, None) => (width, 1),
        };
        Parallel { tp: self.tp, pp: self.pp, attn_dp: self.attn_dp, moe_tp, moe_ep }
    }
}

/// Disaggregated prefill/decode pools.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DisaggSpec {
    /// Replicas that only prefill.
    pub prefill_replicas: u32,
    /// Replicas that only decode.
    pub decode_replicas: u32,
    /// Layout of a prefill replica.
    #[serde(default)]
    pub prefill_parallel: ParallelSpec,
    /// Layout of a decode replica.
    #[serde(default)]
    pub decode_parallel: ParallelSpec,
}

/// The deployment as written in a scenario (`[deployment]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeploymentSpec {
    /// Catalog system id (or a chip id: its default system).
    pub system: String,
    /// Catalog model id or alias.
    pub model: String,
    /// Weight/activation format.
    #[serde(default = "bf16")]
    pub weight_dtype: Dtype,
    /// MoE expert format (defaults to `weight_dtype`).
    #[serde(default)]
    pub moe_dtype: Option<Dtype>,
    /// Format of the activations entering the routed experts' GEMMs, where the engine runs them
    /// wider than the expert weights (GPT-OSS on Blackwell with TensorRT-LLM: `fp8`, MXFP8 × MXFP4
    /// weights). Defaults to `moe_dtype`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub moe_act_dtype: Option<Dtype>,
    /// KV-cache format (defaults to bf16).
    #[serde(default = "bf16")]
    pub kv_dtype: Dtype,
    /// Serving engine.
    #[serde(default)]
    pub engine: EngineKind,
    /// Overrides of the engine's defaults.
    #[serde(default)]
    pub engine_options: EngineOverrides,
    /// Data-parallel replicas (aggregated serving). Ignored with `disagg`.
    #[serde(default = "one")]
    pub replicas: u32,
    /// Layout of each replica (aggregated serving).
    #[serde(default)]
    pub parallel: ParallelSpec,
    /// Disaggregated prefill/decode pools instead of `replicas`/`parallel`.
    #[serde(default)]
    pub disagg: Option<DisaggSpec>,
    /// Let tensor parallelism span scale-up domains (its collectives then cross the scale-out
    /// fabric). Off by default: a layout like that is almost always a mistake.
    #[serde(default)]
    pub allow_multi_domain_tp: bool,
}

fn bf16() -> Dtype {
    Dtype::Bf16
}

impl DeploymentSpec {
    /// A single aggregated deployment with defaults.
    pub fn simple(system: &str, model: &str, tp: u32, replicas: u32) -> DeploymentSpec {
        DeploymentSpec {
            system: system.into(),
            model: model.into(),
            weight_dtype: Dtype::Bf16,
            moe_dtype: None,
            moe_act_dtype: None,
            kv_dtype: Dtype::Bf16,
            engine: EngineKind::Vllm,
            engine_options: EngineOverrides::default(),
            replicas,
            parallel: ParallelSpec { tp, ..Default::default() },
            disagg: None,
            allow_multi_domain_tp: false,
        }
    }
}

/// What a pool's replicas do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Prefill and decode (aggregated).
    Unified,
    /// Prefill only; hands KV to the decode pool.
    Prefill,
    /// Decode only; receives KV.
    Decode,
}

/// Identical replicas.
#[derive(Debug, Clone)]
pub struct Pool {
    /// What the pool does.
    pub role: Role,
    /// Number of replicas.
    pub replicas: u32,
    /// Layout of one replica.
    pub parallel: Parallel,
    /// Step model with CUDA graphs.
    pub step: StepModel,
    /// Step model without CUDA graphs (decode batches larger than the largest captured one).
    pub step_eager: StepModel,
    /// The speculative-decoding draft (the target's first `spec_draft_layers` layers and LM
    /// head, CUDA-graphed), when the engine drafts tokens.
    pub step_draft: Option<StepModel>,
    /// KV blocks of one engine instance (one pipeline "virtual engine" when pp > 1).
    pub kv_blocks: u64,
    /// KV-cache bytes per chip.
    pub kv_bytes_per_chip: f64,
    /// The engine's memory fraction on this pool's chips (SGLang derives it per layout).
    pub memory_fraction: f64,
    /// Weight bytes per chip.
    pub weight_bytes_per_chip: f64,
    /// Activation-peak estimate per chip, bytes.
    pub activation_bytes_per_chip: f64,
    /// Chips per replica.
    pub chips_per_replica: u32,
    /// Step-cost memo shared by all runs of this pool (see [`crate::cost::SharedCosts`]).
    pub costs: crate::cost::SharedCosts,
    /// Engine instances per replica: `pp` (see docs/SIMULATOR.md: pipeline stages are modelled
    /// as `pp` interleaved engines each owning `1/pp` of the KV pool).
    pub engines_per_replica: u32,
}

/// A resolved deployment.
#[derive(Debug, Clone)]
pub struct Deployment {
    /// Model id.
    pub model_id: String,
    /// System id.
    pub system_id: String,
    /// Chip id.
    pub chip_id: String,
    /// Engine profile (shared by all pools).
    pub engine: EngineProfile,
    /// Pools: one `Unified`, or `Prefill` then `Decode`.
    pub pools: Vec<Pool>,
    /// Hardware view (links for KV transfer, idle power).
    pub hw: Hardware,
    /// System power / (chips × chip TDP): scales chip power to IT power (hosts, switches, fans).
    pub it_power_factor: f64,
}

impl Deployment {
    /// Resolves a spec against the catalog. Errors name the scenario field (`deployment.*`).
    pub fn resolve(catalog: &Catalog, spec: &DeploymentSpec) -> Result<Deployment, SimError> {
        let field = |f: &str, m: String| SimError::Field { field: format!("deployment.{f}"), message: m };
        let (system, chip) = match catalog.system(&spec.system) {
            Ok(s) => (Some(s), catalog.chip(&s.chip).map_err(|e| field("system", e.to_string()))?),
            Err(e) => match catalog.chip(&spec.system) {
                Ok(c) => (catalog.default_system_for_chip(&c.id), c),
                Err(_) => return Err(field("system", e.to_string())),
            },
        };
        let model = catalog.model(&spec.model).map_err(|e| field("model", e.to_string()))?;
        let hw = Hardware::new(chip, system, catalog);
        let mut engine = EngineProfile::with_overrides(spec.engine, &spec.engine_options)
            .map_err(|(f, m)| field(&format!("engine_options.{f}"), m))?;
        let options = StepOptions {
            weight_dtype: spec.weight_dtype,
            moe_dtype: spec.moe_dtype,
            moe_act_dtype: spec.moe_act_dtype,
            kv_dtype: spec.kv_dtype,
            cuda_graphs: true,
            clock_mode: ClockMode::Sustained,
            allow_multi_domain_tp: spec.allow_multi_domain_tp,
            kernel_overhead_scale: engine.kernel_overhead_scale,
            ..StepOptions::default()
        };
        let layouts: Vec<(Role, u32, ParallelSpec, &str)> = match &spec.disagg {
            None => vec![(Role::Unified, spec.replicas, spec.parallel, "parallel")],
            Some(d) => vec![
                (Role::Prefill, d.prefill_replicas, d.prefill_parallel, "disagg.prefill_parallel"),
                (Role::Decode, d.decode_replicas, d.decode_parallel, "disagg.decode_parallel"),
            ],
        };
        // Knobs the engine picks from the GPU at start-up (SGLang); CUDA graphs serve decode, so
        // the decode (or only) pool's layout decides them.
        let gpu_mib = hw.hbm_bytes / (1024.0 * 1024.0);
        if let Some((_, _, pspec, _)) = layouts.last() {
            engine.for_device(gpu_mib, &pspec.resolve());
        }
        // Prompt steps run on the prefill pool where there is one.
        if let Some((Role::Prefill, _, pspec, _)) = layouts.first() {
            engine.prompt_graphs_for(&pspec.resolve());
        }
        let mut pools = Vec::new();
        for (role, replicas, pspec, fname) in layouts {
            if replicas == 0 {
                let f = match role {
                    Role::Unified => "replicas",
                    Role::Prefill => "disagg.prefill_replicas",
                    Role::Decode => "disagg.decode_replicas",
                };
                return Err(field(f, "must be at least 1".into()));
            }
            let parallel = pspec.resolve();
            let step =
                StepModel::new(model, &hw, parallel, options.clone()).map_err(|e| field(fname, e.to_string()))?;
            let step_eager =
                StepModel::new(model, &hw, parallel, StepOptions { cuda_graphs: false, ..options.clone() })
                    .map_err(|e| field(fname, e.to_string()))?;
            let step_draft = if engine.spec_tokens > 0 {
                let o = StepOptions { layers: Some(engine.spec_draft_layers), ..options.clone() };
                Some(StepModel::new(model, &hw, parallel, o).map_err(|e| field(fname, e.to_string()))?)
            } else {
                None
            };
            let w = step.weight_bytes_per_chip();
            let per_rank_tokens = (engine.max_num_batched_tokens as f64 / parallel.attn_dp as f64).ceil();
            let act_bytes = spec.weight_dtype.bytes().max(2.0);
            // Activation peak of the profiling run (estimate): the widest intermediate tensors of
            // one layer for a full token budget, plus fp32 logits of the running sequences.
            let act = per_rank_tokens
                * (4.0 * model.hidden_size as f64 + 2.0 * model.intermediate_size as f64 / parallel.tp as f64)
                * act_bytes
                + engine.max_num_seqs as f64 * model.vocab_size as f64 / parallel.tp as f64 * 4.0;
            let hbm = hw.hbm_bytes;
            let fraction = engine.memory_fraction_for(gpu_mib, &parallel);
            let kv = match engine.kv_memory {
                KvMemory::FractionOfTotal => fraction * hbm - w - act - engine.non_torch_bytes,
                KvMemory::StaticFraction => fraction * hbm - w,
                KvMemory::FractionOfFree => fraction * (hbm - w - act - engine.non_torch_bytes),
            };
            let per_tok = step.kv_bytes_per_token_per_chip();
            let tokens = if kv > 0.0 { (kv / per_tok).floor() * parallel.attn_dp as f64 } else { 0.0 };
            let engines = parallel.pp;
            let mut blocks = (tokens / engine.block_size as f64 / engines as f64).floor() as u64;
            const GB: f64 = 1e9;
            if let Some(b) = spec.engine_options.num_gpu_blocks_override {
                if b == 0 {
                    return Err(field("engine_options.num_gpu_blocks_override", "must be at least 1".into()));
                }
                blocks = b;
            } else if blocks * (engine.block_size as u64) < 2048 {
                return Err(field(
                    fname,
                    format!(
                        "model `{}` does not fit on {} with this layout: {:.1} GB of weights per chip, {:.1} GB HBM, \
                         memory fraction {}{} leaves room for {} KV tokens (need at least 2048)",
                        model.id,
                        chip.id,
                        w / GB,
                        hbm / GB,
                        fraction,
                        if engine.kind == EngineKind::Sglang && engine.auto.memory_fraction {
                            " (SGLang's start-up default for this GPU and layout; set \
                             engine_options.memory_fraction to what the deployment launches with)"
                        } else {
                            ""
                        },
                        blocks * engine.block_size as u64
                    ),
                ));
            }
            pools.push(Pool {
                role,
                replicas,
                parallel,
                chips_per_replica: parallel.chips(),
                engines_per_replica: engines,
                costs: Default::default(),
                step,
                step_eager,
                step_draft,
                kv_blocks: blocks,
                kv_bytes_per_chip: kv,
                memory_fraction: fraction,
                weight_bytes_per_chip: w,
                activation_bytes_per_chip: act,
            });
        }
        let chips_in_system = system.map_or(1.0, |s| s.chips.value as f64);
        let it_power_factor = system
            .map(|s| s.system_power_kw.value * 1000.0 / (chips_in_system * chip.tdp_w.value))
            .filter(|f| f.is_finite() && *f >= 1.0)
            .unwrap_or(1.0);
        Ok(Deployment {
            model_id: model.id.clone(),
            system_id: system.map_or_else(|| chip.id.clone(), |s| s.id.clone()),
            chip_id: chip.id.clone(),
            engine,
            pools,
            hw,
            it_power_factor,
        })
    }

    /// Total accelerators.
    pub fn chips(&self) -> u64 {
        self.pools.iter().map(|p| p.replicas as u64 * p.chips_per_replica as u64).sum()
    }

    /// Time to move the KV of `tokens` prompt tokens from a prefill to a decode replica, ns:
    /// every chip sends its shard in parallel over the scale-out fabric (a send/recv).
    pub fn kv_transfer_ns(&self, tokens: u32) -> u64 {
        if self.pools.len() < 2 {
            return 0;
        }
        let per_tok =
            self.pools[0].step.kv_bytes_per_token_per_chip().max(self.pools[1].step.kv_bytes_per_token_per_chip());
        let c = collective(&self.hw, Collective::SendRecv, per_tok * tokens as f64, 2, Link::ScaleOut);
        crate::time::s_to_ns(c.time_s)
    }
}
