//! Engine admission delays: SGLang's `--scheduler-recv-interval` (new requests taken in every N decode
//! steps) and TensorRT-LLM's batch waiting (prompts held to fill the step).
use tokenfab_sim::load::fixed_requests;
use tokenfab_sim::{Arrivals, Deployment, DeploymentSpec, EngineKind, EngineOverrides, SimConfig, run};

/// Mean TTFT, longest TTFT and mean TPOT (ns) of 160 requests from 16 clients in random phase.
fn sim(interval: Option<u32>) -> (f64, f64, f64) {
    let cat = tokenfab_catalog::Catalog::builtin();
    let mut spec = DeploymentSpec::simple("hgx-h100-8", "llama-3.1-8b", 1, 1);
    spec.engine = EngineKind::Sglang;
    spec.engine_options = EngineOverrides { scheduler_recv_interval: interval, ..Default::default() };
    let dep = Deployment::resolve(&cat, &spec).unwrap();
    let cfg = SimConfig {
        arrivals: Arrivals::Closed { concurrency: 16 },
        client_start_spread_ns: 2_000_000_000,
        ..SimConfig::default()
    };
    let res = run(&cfg, &dep, fixed_requests(160, 1000, 200), 3).unwrap();
    assert_eq!(res.records.len(), 160, "no request lost");
    let ttft: Vec<f64> = res.records.iter().map(|r| r.ttft_ns().expect("finished") as f64).collect();
    let tpot: Vec<f64> = res.records.iter().filter_map(|r| r.tpot_ns()).collect();
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    (mean(&ttft), ttft.iter().cloned().fold(0.0, f64::max), mean(&tpot))
}

#[test]
fn requests_wait_for_the_schedulers_next_receive() {
    let (off, off_max, tpot) = sim(None);
    assert_eq!(sim(Some(1)).0, off, "an interval of 1 is the default");
    let (on, on_max, _) = sim(Some(30));
    // Arrivals land at random points of the 30-step cycle: about 15 decode steps more on average
    // (fewer when a prompt step resets the cycle first) ...
    assert!(on - off > 5.0 * tpot && on - off < 30.0 * tpot, "TTFT off {off} ns, on {on} ns, TPOT {tpot} ns");
    // ... and never more than the whole cycle.
    assert!(on_max < off_max + 31.0 * tpot, "longest TTFT off {off_max} ns, on {on_max} ns");
}

#[test]
fn out_of_range_intervals_are_refused() {
    let cat = tokenfab_catalog::Catalog::builtin();
    for bad in [0, 10_001] {
        let mut spec = DeploymentSpec::simple("hgx-h100-8", "llama-3.1-8b", 1, 1);
        spec.engine = EngineKind::Sglang;
        spec.engine_options = EngineOverrides { scheduler_recv_interval: Some(bad), ..Default::default() };
        let err = Deployment::resolve(&cat, &spec).unwrap_err().to_string();
        assert!(err.contains("scheduler_recv_interval"), "{err}");
    }
}

/// Mean TTFT and TPOT (ns) of TensorRT-LLM serving 8 clients in random phase, with batch waiting
/// of `iters` iterations at `ratio` of the token budget.
fn trtllm(iters: Option<u32>, ratio: Option<f64>) -> (f64, f64) {
    let cat = tokenfab_catalog::Catalog::builtin();
    let mut spec = DeploymentSpec::simple("hgx-h100-8", "llama-3.1-8b", 1, 1);
    spec.engine = EngineKind::Trtllm;
    spec.engine_options =
        EngineOverrides { batch_wait_timeout_iters: iters, batch_wait_max_tokens_ratio: ratio, ..Default::default() };
    let dep = Deployment::resolve(&cat, &spec).unwrap();
    let cfg = SimConfig {
        arrivals: Arrivals::Closed { concurrency: 8 },
        client_start_spread_ns: 2_000_000_000,
        ..SimConfig::default()
    };
    let res = run(&cfg, &dep, fixed_requests(80, 1000, 200), 5).unwrap();
    assert_eq!(res.records.len(), 80, "no request lost");
    let ttft: Vec<f64> = res.records.iter().map(|r| r.ttft_ns().expect("finished") as f64).collect();
    let tpot: Vec<f64> = res.records.iter().filter_map(|r| r.tpot_ns()).collect();
    (ttft.iter().sum::<f64>() / ttft.len() as f64, tpot.iter().sum::<f64>() / tpot.len() as f64)
}

#[test]
fn batch_waiting_holds_lone_prompts_for_its_timeout() {
    let (off, tpot) = trtllm(None, None);
    // A lone 1000-token prompt never fills 90 % of the 8192-token budget: it waits the whole
    // timeout, 20 decode steps, while the others decode.
    let (on, _) = trtllm(Some(20), Some(0.9));
    assert!(on - off > 12.0 * tpot && on - off < 24.0 * tpot, "TTFT off {off} ns, on {on} ns, TPOT {tpot} ns");
    // A ratio the prompt alone reaches releases it at once.
    let (filled, _) = trtllm(Some(20), Some(0.1));
    assert!((filled - off).abs() < 0.05 * off, "TTFT off {off} ns, ratio 0.1 {filled} ns");
}
