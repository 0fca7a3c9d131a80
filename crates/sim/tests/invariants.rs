//! Property tests of the simulator's invariants: no request lost or duplicated, KV blocks
//! conserved (checked after every step), simulated time monotone (the loop fails otherwise),
//! every request finishes when the load is below capacity, and the same seed gives the same
//! summary, byte for byte.
//!
//! A failing case prints its inputs; rerun with `PROPTEST_CASES` / the printed seed.

use proptest::prelude::*;
use std::collections::BTreeSet;
use tokenfab_catalog::Catalog;
use tokenfab_sim::{
    Arrivals, Deployment, DeploymentSpec, DisaggSpec, EngineKind, ParallelSpec, RouterPolicy, SimConfig, run,
};
use tokenfab_workload::{PrefixBlocks, Request};

#[derive(Debug, Clone)]
struct Case {
    engine: EngineKind,
    block_size: u32,
    kv_blocks: u64,
    replicas: u32,
    disagg: bool,
    chunked: bool,
    prefix_caching: bool,
    router: RouterPolicy,
    closed: Option<u32>,
    /// Output tokens a reserving engine (TensorRT-LLM) holds per request at admission, the
    /// clients' `max_tokens` (`engine_options.reserve_output_tokens`).
    reserve: Option<u32>,
    /// Speculative decoding: draft tokens per step and acceptance.
    spec: Option<(u32, f64)>,
    /// Attention DP over 2 ranks with balancing for at most this many iterations.
    balance: Option<u32>,
    /// Admission delays: the scheduler's receive interval (SGLang's recv skipper) and batch
    /// waiting (iterations, ratio of the token budget; TensorRT-LLM).
    holds: Option<(u32, u32, f64)>,
    reqs: Vec<(u64, u32, u32, Option<u64>)>,
}

fn case() -> impl Strategy<Value = Case> {
    (
        prop_oneof![Just(EngineKind::Vllm), Just(EngineKind::Sglang), Just(EngineKind::Trtllm)],
        prop_oneof![Just(1u32), Just(16), Just(32)],
        0u64..3,
        1u32..4,
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        prop_oneof![
            Just(RouterPolicy::RoundRobin),
            Just(RouterPolicy::LeastOutstanding),
            Just(RouterPolicy::PrefixAware),
            Just(RouterPolicy::Random)
        ],
        (prop_oneof![Just(None), (1u32..12).prop_map(Some)], prop_oneof![Just(None), (1u32..=300).prop_map(Some)]),
        prop_oneof![Just(None), (1u32..5, 0.0f64..=1.0).prop_map(Some)],
        (
            prop_oneof![2 => Just(None), 1 => (1u32..80).prop_map(Some)],
            prop_oneof![2 => Just(None), 1 => (1u32..40, 0u32..40, 0.0f64..=1.0).prop_map(Some)],
        ),
        prop::collection::vec((0u64..2_000_000_000, 1u32..3000, 1u32..300, prop::option::of(0u64..4)), 1..60),
    )
        .prop_map(
            |(
                engine,
                block_size,
                kv,
                replicas,
                disagg,
                chunked,
                prefix_caching,
                router,
                (closed, reserve),
                spec,
                (balance, holds),
                reqs,
            )| {
                // KV pools from tight (one max-size request, with its draft slots: forces preemption)
                // to roomy.
                let max_tokens = 3300u64 + spec.map_or(0, |s| s.0 as u64);
                let kv_blocks = max_tokens.div_ceil(block_size as u64) * [1, 3, 40][kv as usize] + 2;
                Case {
                    engine,
                    block_size,
                    kv_blocks,
                    replicas,
                    disagg,
                    chunked,
                    prefix_caching,
                    router,
                    closed,
                    reserve,
                    spec,
                    balance,
                    holds,
                    reqs,
                }
            },
        )
}

fn build(c: &Case) -> (Deployment, SimConfig, Vec<Request>) {
    build_tails(c, None)
}

/// As [`build`]; with `tails`, every prompt's blocks after its group's (all of them without a
/// group) are its own, declared as its unique tail when `tails` is `Some(true)`.
fn build_tails(c: &Case, tails: Option<bool>) -> (Deployment, SimConfig, Vec<Request>) {
    let cat = Catalog::builtin();
    let mut spec = DeploymentSpec::simple("hgx-h100-8", "llama-3.1-8b", 1, c.replicas);
    spec.engine = c.engine;
    spec.engine_options.block_size = Some(c.block_size);
    spec.engine_options.num_gpu_blocks_override = Some(c.kv_blocks);
    spec.engine_options.chunked_prefill = Some(c.chunked);
    spec.engine_options.prefix_caching = Some(c.prefix_caching);
    spec.engine_options.max_num_batched_tokens = Some(4096);
    spec.engine_options.reserve_output_tokens = c.reserve;
    if let Some((k, a)) = c.spec {
        spec.engine_options.speculative_tokens = Some(k);
        spec.engine_options.speculative_acceptance = Some(a);
    }
    if let Some((recv, wait, ratio)) = c.holds {
        spec.engine_options.scheduler_recv_interval = Some(recv);
        spec.engine_options.batch_wait_timeout_iters = Some(wait);
        spec.engine_options.batch_wait_max_tokens_ratio = Some(ratio);
    }
    let parallel = match c.balance {
        Some(n) => {
            spec.engine_options.attention_dp_balance_iters = Some(n);
            ParallelSpec { attn_dp: 2, ..ParallelSpec::default() }
        }
        None => ParallelSpec::default(),
    };
    spec.parallel = parallel;
    if c.disagg {
        spec.disagg = Some(DisaggSpec {
            prefill_replicas: c.replicas,
            decode_replicas: c.replicas,
            prefill_parallel: parallel,
            decode_parallel: parallel,
        });
    }
    let dep = Deployment::resolve(&cat, &spec).expect("valid deployment");
    let mut arrivals: Vec<u64> = c.reqs.iter().map(|r| r.0).collect();
    arrivals.sort_unstable();
    let reqs = c
        .reqs
        .iter()
        .zip(arrivals)
        .enumerate()
        .map(|(i, (&(_, input, output, prefix), t))| Request {
            id: i as u64,
            arrival_ns: t,
            input_tokens: input,
            output_tokens: output,
            class: 0,
            session: None,
            turn: 0,
            prefix: match tails {
                None => prefix.map(|g| PrefixBlocks {
                    block_tokens: 16,
                    ids: (0..(input / 16).min(40) as u64).map(|j| g * 1000 + j).collect(),
                    unique_tail: 0,
                }),
                Some(declared) => {
                    let n = input.div_ceil(16) as u64;
                    let shared = prefix.map_or(0, |_| (n / 2).min(40));
                    let g = prefix.unwrap_or(0);
                    let ids: Vec<u64> = (0..shared)
                        .map(|j| g * 1000 + j)
                        .chain((shared..n).map(|j| (1 + i as u64) << 20 | j))
                        .collect();
                    Some(PrefixBlocks {
                        block_tokens: 16,
                        ids,
                        unique_tail: if declared { (n - shared) as u32 } else { 0 },
                    })
                }
            },
        })
        .collect();
    let cfg = SimConfig {
        router: c.router,
        arrivals: match c.closed {
            Some(n) => Arrivals::Closed { concurrency: n },
            None => Arrivals::Timed,
        },
        check_invariants: true,
        ..SimConfig::default()
    };
    (dep, cfg, reqs)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn requests_conserved_kv_conserved_all_finish(c in case()) {
        let (dep, cfg, reqs) = build(&c);
        let res = run(&cfg, &dep, reqs.clone().into_iter(), 7).map_err(|e| TestCaseError::fail(format!("{e}")))?;
        // Every request exactly once.
        let ids: Vec<u64> = res.records.iter().map(|r| r.id).collect();
        let set: BTreeSet<u64> = ids.iter().copied().collect();
        prop_assert_eq!(ids.len(), reqs.len(), "records");
        prop_assert_eq!(set.len(), reqs.len(), "duplicates");
        prop_assert_eq!(res.counters.requests_arrived, reqs.len() as u64);
        // The load is finite, so everything finishes (nothing is larger than the KV pool).
        prop_assert_eq!(res.counters.requests_rejected, 0);
        prop_assert_eq!(res.counters.requests_completed, reqs.len() as u64, "unfinished: {}", res.counters.requests_unfinished);
        for r in &res.records {
            let (f, t) = (r.finish_ns.unwrap(), r.first_token_ns.unwrap());
            prop_assert!(r.arrival_ns <= t && t <= f, "order of times for {:?}", r);
        }
        // Every output token counted once (recomputed tokens are not re-counted).
        let out: u64 = reqs.iter().map(|r| r.output_tokens as u64).sum();
        prop_assert_eq!(res.counters.output_tokens, out);
        if c.engine == EngineKind::Trtllm {
            prop_assert_eq!(res.counters.preemptions, 0, "GUARANTEED_NO_EVICT never preempts");
        }
        if c.disagg {
            prop_assert_eq!(res.counters.kv_transfers, reqs.iter().filter(|r| r.output_tokens > 1).count() as u64);
        }
    }

    /// Declaring unique tails (kept as capacity-only cache entries) changes no result, also
    /// when preempted requests recompute over their own tails and the cache evicts.
    #[test]
    fn declared_unique_tails_change_nothing(c in case()) {
        let c = Case { prefix_caching: true, ..c };
        let (dep, cfg, with) = build_tails(&c, Some(true));
        let (_, _, without) = build_tails(&c, Some(false));
        let a = run(&cfg, &dep, with.into_iter(), 5).unwrap();
        let b = run(&cfg, &dep, without.into_iter(), 5).unwrap();
        prop_assert_eq!(&a.records, &b.records);
        let sa = serde_json::to_string(&a.summary(&cfg.slos, 1.5, 1.3)).unwrap();
        let sb = serde_json::to_string(&b.summary(&cfg.slos, 1.5, 1.3)).unwrap();
        prop_assert_eq!(sa, sb);
    }

    #[test]
    fn same_seed_same_summary(c in case()) {
        let (dep, cfg, reqs) = build(&c);
        let a = run(&cfg, &dep, reqs.clone().into_iter(), 3).unwrap();
        let b = run(&cfg, &dep, reqs.into_iter(), 3).unwrap();
        let sa = serde_json::to_string(&a.summary(&cfg.slos, 1.5, 1.3)).unwrap();
        let sb = serde_json::to_string(&b.summary(&cfg.slos, 1.5, 1.3)).unwrap();
        prop_assert_eq!(sa, sb);
        prop_assert_eq!(a.records, b.records);
    }
}

/// Time is monotone and requests keep their order in a long open-loop run.
#[test]
fn open_loop_below_capacity_finishes_everything() {
    let c = Case {
        engine: EngineKind::Vllm,
        block_size: 16,
        kv_blocks: 20_000,
        replicas: 2,
        disagg: false,
        chunked: true,
        prefix_caching: true,
        router: RouterPolicy::LeastOutstanding,
        closed: None,
        reserve: None,
        spec: None,
        balance: None,
        holds: None,
        reqs: (0..2000u64)
            .map(|i| (i * 100_000_000, 500 + (i % 13) as u32 * 40, 100 + (i % 7) as u32 * 20, None))
            .collect(),
    };
    let (dep, cfg, reqs) = build(&c);
    let res = run(&cfg, &dep, reqs.into_iter(), 1).unwrap();
    assert_eq!(res.counters.requests_completed, 2000);
    assert_eq!(res.counters.preemptions, 0);
    assert!(res.end_ns >= 199_900_000_000);
}
