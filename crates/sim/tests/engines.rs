//! Engine-profile behaviours, each pinned by a small deterministic run.

use tokenfab_catalog::Catalog;
use tokenfab_sim::{
    Arrivals, Deployment, DeploymentSpec, DisaggSpec, EngineKind, ParallelSpec, RouterPolicy, SimConfig, SimResult, run,
};
use tokenfab_workload::{PrefixBlocks, Request};

fn reqs(n: u64, input: u32, output: u32, gap_ns: u64) -> Vec<Request> {
    (0..n)
        .map(|id| Request {
            id,
            arrival_ns: id * gap_ns,
            input_tokens: input,
            output_tokens: output,
            class: 0,
            session: None,
            turn: 0,
            prefix: None,
        })
        .collect()
}

fn sim(spec: &DeploymentSpec, cfg: &SimConfig, r: Vec<Request>) -> SimResult {
    let dep = Deployment::resolve(&Catalog::builtin(), spec).unwrap();
    run(cfg, &dep, r.into_iter(), 1).unwrap()
}

fn closed(n: u32) -> SimConfig {
    SimConfig { arrivals: Arrivals::Closed { concurrency: n }, check_invariants: true, ..SimConfig::default() }
}

fn tpot_ms(r: &SimResult) -> f64 {
    r.summary(&[], 1.0, 1.0).latency.tpot_ms.mean
}

#[test]
fn cuda_graph_padding_and_eager_launches() {
    let spec = DeploymentSpec::simple("hgx-h100-8", "llama-3.1-8b", 1, 1);
    // Decode batches of 3 run as the captured graph of 4: same step cost.
    let t3 = tpot_ms(&sim(&spec, &closed(3), reqs(3, 100, 400, 0)));
    let t4 = tpot_ms(&sim(&spec, &closed(4), reqs(4, 100, 400, 0)));
    assert!((t3 / t4 - 1.0).abs() < 0.01, "padded batch 3 ≈ batch 4: {t3} vs {t4}");
    // Without graphs every kernel pays a launch: slower.
    let mut eager = spec.clone();
    eager.engine_options.cuda_graph_max_batch = Some(0);
    let te = tpot_ms(&sim(&eager, &closed(3), reqs(3, 100, 400, 0)));
    assert!(te > t3 * 1.05, "eager {te} vs graphs {t3}");
}

#[test]
fn preemption_by_recompute_vs_guaranteed_no_evict() {
    // A KV pool that holds about 3 of these requests in full: vLLM admits more and preempts;
    // TensorRT-LLM reserves the whole output at admission and never preempts.
    let mut v = DeploymentSpec::simple("hgx-h100-8", "llama-3.1-8b", 1, 1);
    v.engine_options.num_gpu_blocks_override = Some(3 * (1000 + 1000) / 16);
    let mut t = v.clone();
    t.engine = EngineKind::Trtllm;
    t.engine_options.block_size = Some(16);
    let rv = sim(&v, &closed(8), reqs(24, 1000, 1000, 0));
    let rt = sim(&t, &closed(8), reqs(24, 1000, 1000, 0));
    assert!(rv.counters.preemptions > 0, "vLLM preempts under KV pressure");
    assert_eq!(rt.counters.preemptions, 0);
    assert_eq!(rv.counters.requests_completed, 24);
    assert_eq!(rt.counters.requests_completed, 24);
    assert!(rv.records.iter().any(|r| r.preemptions > 0));
}

#[test]
fn guaranteed_no_evict_reserves_the_clients_max_tokens() {
    // TensorRT-LLM cannot know when a sequence will stop, so it reserves up to the request's
    // `max_tokens`. The same pool admits 3 requests at a time with their own 1,000 output tokens
    // and 1 with `max_tokens` 4,000 (1,000 + 4,000 = 5,000 of 6,000 tokens): the same work then
    // takes longer and queues more, and it still never preempts.
    let mut t = DeploymentSpec::simple("hgx-h100-8", "llama-3.1-8b", 1, 1);
    t.engine = EngineKind::Trtllm;
    t.engine_options.block_size = Some(16);
    t.engine_options.num_gpu_blocks_override = Some(3 * (1000 + 1000) / 16);
    let mut m = t.clone();
    m.engine_options.reserve_output_tokens = Some(4000);
    let (rt, rm) = (sim(&t, &closed(8), reqs(24, 1000, 1000, 0)), sim(&m, &closed(8), reqs(24, 1000, 1000, 0)));
    for r in [&rt, &rm] {
        assert_eq!(r.counters.requests_completed, 24);
        assert_eq!(r.counters.preemptions, 0);
    }
    let (st, sm) = (rt.summary(&[], 1.0, 1.0), rm.summary(&[], 1.0, 1.0));
    assert!(
        sm.latency.ttft_ms.mean > 2.0 * st.latency.ttft_ms.mean,
        "{} vs {}",
        sm.latency.ttft_ms.mean,
        st.latency.ttft_ms.mean
    );
    assert!(sm.throughput.output_tokens_per_s < 0.5 * st.throughput.output_tokens_per_s);
    // A bound below every request's output changes nothing: each reserves its own length.
    let mut low = t.clone();
    low.engine_options.reserve_output_tokens = Some(10);
    let rl = sim(&low, &closed(8), reqs(24, 1000, 1000, 0));
    assert_eq!(rl.summary(&[], 1.0, 1.0), st);
}

#[test]
fn sglang_runs_prefill_and_decode_in_separate_steps() {
    // With a steady stream of arrivals, SGLang interrupts decoding for prefill batches, so the
    // worst inter-token gap is at least one prefill step; vLLM mixes them into one step.
    let mut s = DeploymentSpec::simple("hgx-h100-8", "llama-3.1-8b", 1, 1);
    s.engine = EngineKind::Sglang;
    let v = DeploymentSpec::simple("hgx-h100-8", "llama-3.1-8b", 1, 1);
    let cfg = SimConfig { check_invariants: true, ..SimConfig::default() };
    let rs = sim(&s, &cfg, reqs(200, 4000, 200, 100_000_000));
    let rv = sim(&v, &cfg, reqs(200, 4000, 200, 100_000_000));
    let (ss, sv) = (rs.summary(&[], 1.0, 1.0), rv.summary(&[], 1.0, 1.0));
    assert_eq!(ss.counters.requests_completed, 200);
    assert!(ss.latency.ttft_ms.mean <= sv.latency.ttft_ms.mean * 1.05, "prefill-first favours TTFT");
}

#[test]
fn prefix_aware_routing_finds_cached_prefixes() {
    let mut r = reqs(400, 2500, 50, 20_000_000);
    for (i, q) in r.iter_mut().enumerate() {
        let g = (i % 3) as u64;
        q.prefix =
            Some(PrefixBlocks { block_tokens: 16, ids: (0..125).map(|j| g * 1000 + j).collect(), unique_tail: 0 });
    }
    let spec = DeploymentSpec::simple("hgx-h100-8", "llama-3.1-8b", 1, 4);
    let hits = |policy| {
        let cfg = SimConfig { router: policy, check_invariants: true, ..SimConfig::default() };
        sim(&spec, &cfg, r.clone()).summary(&[], 1.0, 1.0).kv_cache.prefix_hit_tokens_mean
    };
    let (aware, rr) = (hits(RouterPolicy::PrefixAware), hits(RouterPolicy::RoundRobin));
    assert!(aware > 1500.0, "most of the 2000-token prefix is reused: {aware}");
    assert!(aware > rr, "prefix-aware {aware} vs round-robin {rr}");
    let mut off = spec.clone();
    off.engine_options.prefix_caching = Some(false);
    let cfg = SimConfig::default();
    assert_eq!(sim(&off, &cfg, r).summary(&[], 1.0, 1.0).kv_cache.prefix_hit_tokens_mean, 0.0);
}

#[test]
fn disaggregated_pools_transfer_kv() {
    let mut spec = DeploymentSpec::simple("hgx-h100-8", "llama-3.1-70b", 4, 1);
    spec.weight_dtype = tokenfab_catalog::Dtype::Fp8;
    spec.disagg = Some(DisaggSpec {
        prefill_replicas: 1,
        decode_replicas: 2,
        prefill_parallel: ParallelSpec { tp: 4, ..Default::default() },
        decode_parallel: ParallelSpec { tp: 4, ..Default::default() },
    });
    let dep = Deployment::resolve(&Catalog::builtin(), &spec).unwrap();
    assert_eq!(dep.chips(), 12);
    assert!(dep.kv_transfer_ns(4000) > 0);
    let cfg = SimConfig { check_invariants: true, ..SimConfig::default() };
    let res = run(&cfg, &dep, reqs(100, 3000, 100, 200_000_000).into_iter(), 1).unwrap();
    assert_eq!(res.counters.requests_completed, 100);
    assert_eq!(res.counters.kv_transfers, 100);
    assert!(res.records.iter().all(|r| r.replica == 0 && matches!(r.decode_replica, Some(1 | 2))));
}

#[test]
fn sglang_decides_prompt_graphs_on_the_pool_that_runs_the_prompts() {
    // DeepSeek-R1 on 8 x B200: DP-attention prefill workers (no piecewise graphs) feeding TP
    // decode workers; the prompts run on the prefill pool, so the deployment runs them eagerly.
    let mut spec = DeploymentSpec::simple("hgx-b200-8", "deepseek-r1", 8, 1);
    spec.weight_dtype = tokenfab_catalog::Dtype::Fp8;
    spec.engine = EngineKind::Sglang;
    let dp = ParallelSpec { tp: 1, attn_dp: 8, moe_ep: Some(8), moe_tp: Some(1), ..Default::default() };
    let tp = ParallelSpec { tp: 8, ..Default::default() };
    let resolve = |prefill: &ParallelSpec, decode: &ParallelSpec| {
        let mut s = spec.clone();
        s.disagg = Some(DisaggSpec {
            prefill_replicas: 1,
            decode_replicas: 1,
            prefill_parallel: *prefill,
            decode_parallel: *decode,
        });
        Deployment::resolve(&Catalog::builtin(), &s).unwrap().engine.prefill_cuda_graphs
    };
    assert!(!resolve(&dp, &tp));
    assert!(resolve(&tp, &dp));
    // Aggregated: the one layout decides.
    let mut agg = spec.clone();
    agg.parallel = dp;
    assert!(!Deployment::resolve(&Catalog::builtin(), &agg).unwrap().engine.prefill_cuda_graphs);
    agg.parallel = tp;
    assert!(Deployment::resolve(&Catalog::builtin(), &agg).unwrap().engine.prefill_cuda_graphs);
}

#[test]
fn pipeline_stages_run_as_interleaved_engines() {
    let mut spec = DeploymentSpec::simple("hgx-h100-8", "llama-3.1-70b", 2, 1);
    spec.parallel.pp = 2;
    let dep = Deployment::resolve(&Catalog::builtin(), &spec).unwrap();
    assert_eq!(dep.pools[0].engines_per_replica, 2);
    assert_eq!(dep.chips(), 4);
    let res = run(&closed(16), &dep, reqs(64, 500, 100, 0).into_iter(), 1).unwrap();
    assert_eq!(res.counters.requests_completed, 64);
    assert!(res.records.iter().any(|r| r.replica == 1), "both pipeline engines take work");
}

#[test]
fn requests_larger_than_the_kv_pool_are_rejected_not_hung() {
    let mut spec = DeploymentSpec::simple("hgx-h100-8", "llama-3.1-8b", 1, 1);
    spec.engine_options.num_gpu_blocks_override = Some(100); // 1,600 tokens
    let mut r = reqs(30, 4000, 10, 0);
    r.extend(reqs(5, 200, 10, 0).into_iter().map(|mut q| {
        q.id += 100;
        q
    }));
    let res = sim(&spec, &closed(4), r);
    assert_eq!(res.counters.requests_rejected, 30);
    assert_eq!(res.counters.requests_completed, 5);
    assert_eq!(res.counters.requests_unfinished, 0);
}

#[test]
fn fixed_closed_loop_helper() {
    let spec = DeploymentSpec::simple("hgx-h100-8", "llama-3.1-8b", 1, 1);
    let dep = Deployment::resolve(&Catalog::builtin(), &spec).unwrap();
    let res = run(&closed(16), &dep, tokenfab_sim::load::fixed_requests(64, 1024, 128), 0).unwrap();
    let s = res.summary(&[], 1.0, 1.0);
    assert_eq!(s.counters.requests_completed, 64);
    assert!(s.latency.tpot_ms.p50 > 0.0 && s.latency.ttft_ms.p99 >= s.latency.ttft_ms.p50);
}

/// A Llama-3.1-8B replica on one H100 with the given engine and speculative drafts.
fn spec(engine: EngineKind, draft: Option<(u32, f64)>) -> DeploymentSpec {
    let mut s = DeploymentSpec::simple("hgx-h100-8", "llama-3.1-8b", 1, 1);
    s.engine = engine;
    if let Some((k, a)) = draft {
        s.engine_options.speculative_tokens = Some(k);
        s.engine_options.speculative_acceptance = Some(a);
    }
    s
}

// Speculative decoding: draft tokens verified per step, a chained acceptance probability and a
// deterministic token clock.

#[test]
fn accepted_drafts_shorten_tpot_by_the_expected_tokens_per_step() {
    for engine in [EngineKind::Vllm, EngineKind::Sglang, EngineKind::Trtllm] {
        let base = sim(&spec(engine, None), &closed(2), reqs(4, 200, 801, 0));
        // Every draft accepted: 4 tokens per step, each step a little dearer (4 query tokens per
        // sequence and 3 one-layer draft passes).
        let all = sim(&spec(engine, Some((3, 1.0))), &closed(2), reqs(4, 200, 801, 0));
        let (t0, t1) = (tpot_ms(&base), tpot_ms(&all));
        assert!(t1 < t0 / 3.0 && t1 > t0 / 4.0, "{engine:?}: {t1} vs {t0}");
        // Nothing accepted: one token per step as without drafts, and the drafting costs time.
        let none = sim(&spec(engine, Some((3, 0.0))), &closed(2), reqs(4, 200, 801, 0));
        assert!(tpot_ms(&none) > t0, "{engine:?}");
        assert_eq!(none.counters.engine_iterations, base.counters.engine_iterations, "{engine:?}");
        // Every token is counted once, however the steps group them.
        for r in [&base, &all, &none] {
            assert_eq!(r.counters.output_tokens, 4 * 801);
        }
    }
}

#[test]
fn fractional_acceptance_gives_the_chained_mean_deterministically() {
    // k = 2, a = 0.5: 1 + 0.5 + 0.25 = 1.75 tokens per step on average.
    let s = spec(EngineKind::Vllm, Some((2, 0.5)));
    let a = sim(&s, &closed(1), reqs(2, 100, 1751, 0));
    let b = sim(&s, &closed(1), reqs(2, 100, 1751, 0));
    assert_eq!(a.records, b.records);
    // One sequence at a time: 1750 decode tokens each in ⌈1750 / 1.75⌉ = 1000 steps, plus the
    // prefill steps.
    assert_eq!(a.counters.engine_iterations, 2 * (1000 + 1));
}

#[test]
fn reserving_engines_hold_the_draft_slots() {
    // A TensorRT-LLM pool that fits exactly one request with its draft slots never preempts.
    let mut s = spec(EngineKind::Trtllm, Some((4, 0.7)));
    s.engine_options.block_size = Some(1);
    s.engine_options.num_gpu_blocks_override = Some(1000 + 200 + 4);
    let r = sim(&s, &closed(3), reqs(6, 1000, 200, 0));
    assert_eq!(r.counters.requests_completed, 6);
    assert_eq!(r.counters.preemptions, 0);
}

/// `device_time_scale` multiplies every step's device time (not the host time) and leaves the
/// schedule alone: the same steps, each slower.
#[test]
fn device_time_scale_stretches_steps_not_the_schedule() {
    let mut s = spec(EngineKind::Vllm, None);
    s.engine_options.host_overhead_ms = Some(0.0);
    s.engine_options.host_overhead_per_seq_us = Some(0.0);
    let base = sim(&s, &closed(4), reqs(8, 500, 200, 0));
    s.engine_options.device_time_scale = Some(2.0);
    let slow = sim(&s, &closed(4), reqs(8, 500, 200, 0));
    assert_eq!(slow.counters.engine_iterations, base.counters.engine_iterations);
    let ratio = tpot_ms(&slow) / tpot_ms(&base);
    assert!((ratio - 2.0).abs() < 1e-3, "{ratio}");
}

/// Steps that carry prompt tokens replay graphs only where the engine captures them for
/// prefill: TensorRT-LLM (generation-only graphs by default) launches every kernel of a
/// context step; vLLM and SGLang replay piecewise graphs; the scenario can say otherwise.
#[test]
fn prompt_steps_run_eagerly_unless_the_engine_captures_prefill_graphs() {
    let ttft = |engine: EngineKind, prefill_graphs: Option<bool>| {
        let mut s = spec(engine, None);
        s.engine_options.prefill_cuda_graphs = prefill_graphs;
        // One short prompt at a time: the step is launch-bound, so launches show.
        let r = sim(&s, &closed(1), reqs(4, 64, 4, 0));
        r.summary(&[], 1.0, 1.0).latency.ttft_ms.mean
    };
    let (trt, trt_graphed) = (ttft(EngineKind::Trtllm, None), ttft(EngineKind::Trtllm, Some(true)));
    assert!(trt > trt_graphed * 1.05, "TensorRT-LLM context steps eager {trt} ms vs graphed {trt_graphed} ms");
    let (vllm, vllm_eager) = (ttft(EngineKind::Vllm, None), ttft(EngineKind::Vllm, Some(false)));
    assert!(vllm_eager > vllm * 1.05, "vLLM piecewise graphs {vllm} ms vs eager {vllm_eager} ms");
    let p = tokenfab_sim::EngineProfile::defaults(EngineKind::Sglang);
    assert!(p.prefill_cuda_graphs && !tokenfab_sim::EngineProfile::defaults(EngineKind::Trtllm).prefill_cuda_graphs);
}
