//! Speed of the simulator (run with `cargo bench -p tokenfab-sim`):
//! 1. engine iterations per second on one core (one replica, closed loop, decode-heavy);
//! 2. wall time of `builtin:fleet-hour` (all cores, rayon).
//!
//! Targets (issue 3): ≥ 1,000,000 iterations/s on one core; fleet-hour ≤ 60 s (goal 10 s).

use std::time::Instant;
use tokenfab_catalog::Catalog;
use tokenfab_sim::scenario::{GroupEvent, Resolved, Scenario, estimate_wall_s};
use tokenfab_sim::{Arrivals, Deployment, DeploymentSpec, SimConfig, run};
use tokenfab_workload::Request;

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let cat = Catalog::builtin();
    let dep =
        Deployment::resolve(&cat, &DeploymentSpec::simple("hgx-h100-8", "llama-3.1-8b", 1, 1)).expect("deployment");
    let n: u64 = if quick { 20_000 } else { 200_000 };
    let cfg = SimConfig { arrivals: Arrivals::Closed { concurrency: 64 }, ..SimConfig::default() };
    let reqs = |n| {
        (0..n).map(|id| Request {
            id,
            arrival_ns: 0,
            input_tokens: 512 + (id % 7) as u32 * 100,
            output_tokens: 256 + (id % 5) as u32 * 50,
            class: 0,
            session: None,
            turn: 0,
            prefix: None,
        })
    };
    // Warm the step-cost memo (first run pays the step model), then time a fresh run.
    let _ = run(&cfg, &dep, reqs(2_000), 1).expect("warm-up");
    let t = Instant::now();
    let res = run(&cfg, &dep, reqs(n), 1).expect("run");
    let dt = t.elapsed().as_secs_f64();
    let it = res.counters.engine_iterations;
    println!(
        "single core: {it} engine iterations, {} requests, {} step-model evaluations in {dt:.3} s = {:.0} iterations/s",
        res.counters.requests_completed,
        res.step_cost_evaluations,
        it as f64 / dt
    );

    let s = Scenario::builtin("fleet-hour").expect("builtin");
    let r = Resolved::new("builtin:fleet-hour", &s, &cat).expect("resolve");
    let t = Instant::now();
    let cap = r.probe_capacity_rps(1, None).expect("probe");
    let probe_s = t.elapsed().as_secs_f64();
    println!("fleet-hour capacity probe (one group): {cap:.1} req/s in {probe_s:.2} s");
    let t = Instant::now();
    let spans = std::sync::Mutex::new(Vec::new());
    let on_group = |e: GroupEvent| {
        if let Ok(mut v) = spans.lock() {
            v.push((e, Instant::now()));
        }
    };
    let (res, info) = r.execute(1, None, &on_group).expect("fleet-hour");
    let dt = t.elapsed().as_secs_f64();
    let spans = spans.into_inner().expect("timing lock");
    let mut group_s = Vec::new();
    for &(e, end) in &spans {
        if let GroupEvent::Finished(g) = e
            && let Some(&(_, start)) = spans.iter().find(|(s, _)| *s == GroupEvent::Started(g))
        {
            group_s.push(end.duration_since(start).as_secs_f64());
        }
    }
    // Before the first group starts (capacity probe) and after the last finishes (merge).
    let span = match (spans.iter().map(|s| s.1).min(), spans.iter().map(|s| s.1).max()) {
        (Some(a), Some(b)) => b.duration_since(a).as_secs_f64(),
        _ => 0.0,
    };
    let serial_s = (dt - span).max(0.0);
    println!(
        "builtin:fleet-hour: {} chips, {} requests, {} engine iterations, {} step-model evaluations, {} preemptions, {:.1} M iterations/s, capacity {:.0} req/s, offered {:.0} req/s, wall {dt:.2} s ({} threads)",
        res.chips,
        res.counters.requests_completed,
        res.counters.engine_iterations,
        res.step_cost_evaluations,
        res.counters.preemptions,
        res.counters.engine_iterations as f64 / dt / 1e6,
        info.capacity_requests_per_s.unwrap_or(0.0),
        info.offered_requests_per_s.unwrap_or(0.0),
        rayon::current_num_threads()
    );
    println!(
        "builtin:fleet-hour groups: {} taking {:.1} s in all (longest {:.2} s); estimated wall on 16 cores {:.1} s \
         (greedy schedule of these group times plus the serial {:.2} s of probe and merge; an estimate, not a measurement)",
        group_s.len(),
        group_s.iter().sum::<f64>(),
        group_s.iter().copied().fold(0.0, f64::max),
        estimate_wall_s(&group_s, serial_s, 16),
        serial_s,
    );
}
