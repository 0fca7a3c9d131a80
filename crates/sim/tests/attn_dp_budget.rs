//! Attention data parallelism: every DP rank schedules its own token budget, so `attn_dp`
//! prompts as long as the budget are prefilled side by side, not one after another.
use tokenfab_catalog::{Catalog, Dtype};
use tokenfab_sim::load::fixed_requests;
use tokenfab_sim::{Arrivals, Deployment, DeploymentSpec, EngineKind, ParallelSpec, SimConfig, run};

#[test]
fn each_attention_dp_rank_prefills_its_own_prompt() {
    let cat = Catalog::builtin();
    let mut spec = DeploymentSpec::simple("hgx-h200-8", "qwen3-235b-a22b", 1, 1);
    spec.weight_dtype = Dtype::Fp8;
    spec.engine = EngineKind::Trtllm;
    spec.parallel = ParallelSpec { tp: 1, pp: 1, attn_dp: 8, moe_tp: Some(1), moe_ep: Some(8) };
    let dep = Deployment::resolve(&cat, &spec).unwrap();
    let cfg = SimConfig { arrivals: Arrivals::Closed { concurrency: 8 }, ..SimConfig::default() };
    // Eight prompts of exactly one rank's budget (8192 tokens), all arriving at once.
    let res = run(&cfg, &dep, fixed_requests(8, 8000, 4), 1).unwrap();
    let ttft: Vec<u64> = res.records.iter().map(|r| r.first_token_ns.unwrap() - r.arrival_ns).collect();
    // The first arrival starts a step on its own (the engine is idle when it arrives); the seven
    // others then share one step. One budget for the whole replica would take seven more steps.
    let mut distinct = ttft.clone();
    distinct.sort_unstable();
    distinct.dedup();
    assert!(distinct.len() <= 2, "prompts were serialized: TTFT {ttft:?} ns");
}

#[test]
fn attention_dp_balancing_holds_lone_prompts_for_at_most_its_iterations() {
    use tokenfab_sim::EngineOverrides;
    let cat = Catalog::builtin();
    let sim = |balance: Option<u32>| {
        let mut spec = DeploymentSpec::simple("hgx-h200-8", "qwen3-235b-a22b", 1, 1);
        spec.weight_dtype = Dtype::Fp8;
        spec.engine = EngineKind::Trtllm;
        spec.parallel = ParallelSpec { tp: 1, pp: 1, attn_dp: 8, moe_tp: Some(1), moe_ep: Some(8) };
        spec.engine_options = EngineOverrides { attention_dp_balance_iters: balance, ..Default::default() };
        let dep = Deployment::resolve(&cat, &spec).unwrap();
        // 16 clients in random phase: prompts mostly arrive alone while others decode.
        let cfg = SimConfig {
            arrivals: Arrivals::Closed { concurrency: 16 },
            client_start_spread_ns: 2_000_000_000,
            ..SimConfig::default()
        };
        let res = run(&cfg, &dep, fixed_requests(160, 1000, 200), 7).unwrap();
        assert_eq!(res.records.len(), 160, "no request lost");
        assert!(res.records.iter().all(|r| r.first_token_ns.is_some()));
        let ttft: Vec<f64> = res.records.iter().map(|r| (r.first_token_ns.unwrap() - r.arrival_ns) as f64).collect();
        (ttft.iter().sum::<f64>() / ttft.len() as f64, ttft.iter().cloned().fold(0.0, f64::max))
    };
    let (off, _) = sim(None);
    let (on, on_max) = sim(Some(20));
    // Held prompts wait for the other ranks: first tokens come later on average ...
    assert!(on > off * 1.5, "balancing off {off} ns, on {on} ns");
    // ... but never much more than the 20 iterations of the timeout (a step here is ~15 ms) plus
    // a prefill.
    assert!(on_max < 20.0 * 30e6 + 200e6, "longest TTFT {on_max} ns");
}
