//! Speculative decoding: draft tokens verified per step, a chained acceptance probability, and
//! a deterministic token clock. Each behaviour is pinned by a small run.

use tokenfab_catalog::Catalog;
use tokenfab_sim::{Arrivals, Deployment, DeploymentSpec, EngineKind, SimConfig, SimResult, run};
use tokenfab_workload::Request;

fn reqs(n: u64, input: u32, output: u32) -> Vec<Request> {
    (0..n)
        .map(|id| Request {
            id,
            arrival_ns: 0,
            input_tokens: input,
            output_tokens: output,
            class: 0,
            session: None,
            turn: 0,
            prefix: None,
        })
        .collect()
}

fn spec(engine: EngineKind, draft: Option<(u32, f64)>) -> DeploymentSpec {
    let mut s = DeploymentSpec::simple("hgx-h100-8", "llama-3.1-8b", 1, 1);
    s.engine = engine;
    if let Some((k, a)) = draft {
        s.engine_options.speculative_tokens = Some(k);
        s.engine_options.speculative_acceptance = Some(a);
    }
    s
}

fn sim(s: &DeploymentSpec, clients: u32, r: Vec<Request>) -> SimResult {
    let dep = Deployment::resolve(&Catalog::builtin(), s).unwrap();
    let cfg = SimConfig {
        arrivals: Arrivals::Closed { concurrency: clients },
        check_invariants: true,
        ..SimConfig::default()
    };
    run(&cfg, &dep, r.into_iter(), 1).unwrap()
}

fn tpot_ms(r: &SimResult) -> f64 {
    r.summary(&[], 1.0, 1.0).latency.tpot_ms.mean
}

#[test]
fn accepted_drafts_shorten_tpot_by_the_expected_tokens_per_step() {
    for engine in [EngineKind::Vllm, EngineKind::Sglang, EngineKind::Trtllm] {
        let base = sim(&spec(engine, None), 2, reqs(4, 200, 801));
        // Every draft accepted: 4 tokens per step, each step a little dearer (4 query tokens per
        // sequence and 3 one-layer draft passes).
        let all = sim(&spec(engine, Some((3, 1.0))), 2, reqs(4, 200, 801));
        let (t0, t1) = (tpot_ms(&base), tpot_ms(&all));
        assert!(t1 < t0 / 3.0 && t1 > t0 / 4.0, "{engine:?}: {t1} vs {t0}");
        // Nothing accepted: one token per step as without drafts, and the drafting costs time.
        let none = sim(&spec(engine, Some((3, 0.0))), 2, reqs(4, 200, 801));
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
    let a = sim(&s, 1, reqs(2, 100, 1751));
    let b = sim(&s, 1, reqs(2, 100, 1751));
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
    let r = sim(&s, 3, reqs(6, 1000, 200));
    assert_eq!(r.counters.requests_completed, 6);
    assert_eq!(r.counters.preemptions, 0);
}
