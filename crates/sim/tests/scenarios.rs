//! Scenario files: built-ins run; bad scenarios give clear errors naming the file and field.

use tokenfab_catalog::Catalog;
use tokenfab_sim::scenario::{Resolved, Scenario};

const GOOD: &str = r#"
[deployment]
system = "hgx-h100-8"
model = "llama-3.1-8b"
replicas = 1
[load]
input = { dist = "fixed", tokens = 500 }
output = { dist = "fixed", tokens = 50 }
arrivals = { kind = "closed", concurrency = 4 }
requests = 40
"#;

/// Resolves `text` as file `bad.toml`; returns the error message ("" when it resolves).
fn resolve_err(text: &str) -> String {
    let cat = Catalog::builtin();
    match Scenario::from_toml("bad.toml", text).and_then(|s| Resolved::new("bad.toml", &s, &cat)) {
        Ok(_) => String::new(),
        Err(e) => e.to_string(),
    }
}

fn check(edit: (&str, &str), expect: &[&str]) {
    let text = if edit.0.is_empty() { format!("{GOOD}\n{}", edit.1) } else { GOOD.replace(edit.0, edit.1) };
    assert_ne!(text, GOOD, "edit {edit:?} did not apply");
    let e = resolve_err(&text);
    for want in expect {
        assert!(e.contains(want), "error for {edit:?} should contain {want:?}:\n{e}");
    }
}

#[test]
fn good_scenario_resolves_and_runs() {
    assert_eq!(resolve_err(GOOD), "");
    let cat = Catalog::builtin();
    let r = Resolved::new("good.toml", &Scenario::from_toml("good.toml", GOOD).unwrap(), &cat).unwrap();
    let (res, _) = r.execute(0, None, &|_| {}).unwrap();
    assert_eq!(res.counters.requests_completed, 40);
}

#[test]
fn bad_scenarios_name_file_and_field() {
    // Syntax error: TOML's message with the line.
    check(("replicas = 1", "replicas = = 1"), &["bad.toml", "line"]);
    // Unknown field.
    check(("replicas = 1", "replicas = 1\ncolour = \"red\""), &["bad.toml", "unknown field `colour`"]);
    // Unknown chip/system and model.
    check(("\"hgx-h100-8\"", "\"h900\""), &["bad.toml", "deployment.system", "h900"]);
    check(("\"llama-3.1-8b\"", "\"llama-9\""), &["bad.toml", "deployment.model", "llama-9"]);
    // A model that does not fit.
    check(("\"llama-3.1-8b\"", "\"llama-3.1-405b\""), &["bad.toml", "deployment.parallel", "does not fit"]);
    // TP larger than the scale-up domain.
    check(
        ("replicas = 1", "replicas = 1\nparallel = { tp = 16 }"),
        &["bad.toml", "deployment.parallel", "scale-up domain"],
    );
    // Negative and zero values.
    check(("concurrency = 4", "concurrency = 0"), &["bad.toml", "load.arrivals.concurrency"]);
    check(("concurrency = 4", "concurrency = 4, think_ms = -1"), &["bad.toml", "load.arrivals.think_ms"]);
    check(
        ("concurrency = 4", "concurrency = 4, start_spread_ms = nan"),
        &["bad.toml", "load.arrivals.start_spread_ms"],
    );
    check(
        ("arrivals = { kind = \"closed\", concurrency = 4 }", "arrivals = { kind = \"poisson\", rate_per_s = -3 }"),
        &["bad.toml", "load.arrivals.rate_per_s", "> 0"],
    );
    check(("replicas = 1", "replicas = -1"), &["bad.toml", "replicas"]);
    check(("tokens = 500", "tokens = 0"), &["bad.toml", "load.input.tokens"]);
    // Missing pieces and bad combinations.
    check(("output = { dist = \"fixed\", tokens = 50 }", ""), &["bad.toml", "load.workload", "input"]);
    check(("", "[router]\nparallel_groups = 3"), &["bad.toml", "parallel_groups"]);
    check(("", "[facility]\npue = 0.5"), &["bad.toml", "facility.pue"]);
    check(("", "[deployment.engine_options]\nmemory_fraction = 1.5"), &["bad.toml", "engine_options.memory_fraction"]);
    check(
        ("", "[deployment.engine_options]\nspeculative_tokens = 3"),
        &["bad.toml", "engine_options.speculative_acceptance", "required"],
    );
    check(
        ("", "[deployment.engine_options]\nspeculative_tokens = 3\nspeculative_acceptance = 1.2"),
        &["bad.toml", "engine_options.speculative_acceptance", "between 0 and 1"],
    );
    check(
        ("", "[deployment.engine_options]\ndevice_time_scale = 0"),
        &["bad.toml", "engine_options.device_time_scale", "between 0.1 and 10"],
    );
    check(("requests = 40", "requests = 40\nworkload = \"builtin:nope\""), &["bad.toml", "load.workload"]);
    // A load longer than the simulated-time limit (a typo of 600000 for 600 would otherwise run
    // for a simulated week); raising the limit accepts it.
    check(("requests = 40", "requests = 40\nduration_s = 1e9"), &["bad.toml", "load.duration_s", "max_sim_time_s"]);
    assert_eq!(
        resolve_err(&GOOD.replace("requests = 40", "requests = 40\nduration_s = 1e6\n[limits]\nmax_sim_time_s = 2e6")),
        ""
    );
    // More requests than the memory bound.
    check(("requests = 40", "requests = 40000000000"), &["bad.toml", "load.requests", "limits.max_requests"]);
    // A deployment too large to simulate event by event (a typo in `replicas` exhausted memory).
    check(("replicas = 1", "replicas = 99999999"), &["bad.toml", "deployment.replicas", "limits.max_chips", "plan"]);
    assert_eq!(
        resolve_err(&format!("{}\n[limits]\nmax_chips = 200000", GOOD.replace("replicas = 1", "replicas = 150000"))),
        ""
    );
}

#[test]
fn builtins_parse_and_resolve() {
    let cat = Catalog::builtin();
    for (name, _, _) in tokenfab_sim::scenario::BUILTINS {
        let s = Scenario::builtin(name).unwrap();
        let r = Resolved::new(name, &s, &cat).unwrap();
        assert!(r.deployment.chips() > 0);
    }
    assert_eq!(Resolved::new("x", &Scenario::builtin("fleet-hour").unwrap(), &cat).unwrap().deployment.chips(), 1000);
    assert!(Scenario::builtin("nope").unwrap_err().to_string().contains("builtin:default"));
}

#[test]
fn example_files_parse() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    let cat = Catalog::builtin();
    let mut n = 0;
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "toml") && std::fs::read_to_string(&p).unwrap().contains("[deployment]") {
            let name = p.display().to_string();
            let s = Scenario::from_toml(&name, &std::fs::read_to_string(&p).unwrap()).unwrap();
            Resolved::new(&name, &s, &cat).unwrap();
            n += 1;
        }
    }
    assert!(n >= 3, "expected example scenarios in {}", dir.display());
}

#[test]
fn default_builtin_is_deterministic_and_loaded() {
    let cat = Catalog::builtin();
    let r = Resolved::new("d", &Scenario::builtin("default").unwrap(), &cat).unwrap();
    let (a, info) = r.execute(1, None, &|_| {}).unwrap();
    let (b, _) = r.execute(1, None, &|_| {}).unwrap();
    assert_eq!(a.records, b.records);
    assert_eq!(a.counters, b.counters);
    let u = info.offered_requests_per_s.unwrap() / info.capacity_requests_per_s.unwrap();
    assert!((u - 0.7).abs() < 1e-9, "offered load is 70 % of capacity: {u}");
    assert_eq!(a.counters.requests_unfinished, 0);
}

/// Runs GOOD with `extra` added to its closed-loop arrivals (e.g. `, think_ms = 50`).
fn run_closed(extra: &str, seed: u64) -> tokenfab_sim::SimResult {
    let cat = Catalog::builtin();
    let text = GOOD.replace("concurrency = 4 }", &format!("concurrency = 4{extra} }}"));
    let r = Resolved::new("t.toml", &Scenario::from_toml("t.toml", &text).unwrap(), &cat).unwrap();
    r.execute(seed, None, &|_| {}).unwrap().0
}

/// Closed-loop think time: each client waits between a response and its next request, the
/// gaps are seeded (same seed, same run; another seed, another run) and average the mean.
#[test]
fn closed_loop_think_time_spaces_requests() {
    let run = run_closed;
    let none = run("", 1);
    let a = run(", think_ms = 50", 1);
    assert_eq!(a.records, run(", think_ms = 50", 1).records, "same seed, same run");
    assert_ne!(a.records, run(", think_ms = 50", 2).records, "the gaps are drawn from the seed");
    assert_eq!(a.counters.requests_completed, 40);
    // Without think time each client's next request goes out the instant its previous one
    // finished; with it, the gaps average about the mean (10 clients' worth of samples).
    let gaps = |res: &tokenfab_sim::SimResult| {
        let mut finished: Vec<u64> = res.records.iter().filter_map(|r| r.finish_ns).collect();
        finished.sort_unstable();
        let mut arrivals: Vec<u64> = res.records.iter().map(|r| r.arrival_ns).filter(|&t| t > 0).collect();
        arrivals.sort_unstable();
        // Each arrival after the first wave follows some completion at or before it.
        arrivals
            .iter()
            .map(|&t| t - finished.iter().copied().filter(|&f| f <= t).max().unwrap_or(0))
            .collect::<Vec<u64>>()
    };
    assert!(gaps(&none).iter().all(|&g| g == 0), "no think time: sends at once");
    let g = gaps(&a);
    let mean_ms = g.iter().sum::<u64>() as f64 / g.len() as f64 * 1e-6;
    assert!(g.iter().all(|&x| x <= 100_000_000), "each gap is at most 2 × the mean");
    assert!(mean_ms > 5.0 && mean_ms < 60.0, "mean gap {mean_ms} ms");
}

/// Closed-loop start spread: the clients' first sends fall in `[0, spread]`, seeded; later
/// sends follow completions at once.
#[test]
fn closed_loop_start_spread_staggers_first_sends() {
    let run = run_closed;
    let together = run("", 1);
    assert!(together.records[..4].iter().all(|r| r.arrival_ns == 0));
    let spread = run(", start_spread_ms = 2000", 1);
    assert_eq!(spread.records, run(", start_spread_ms = 2000", 1).records, "same seed, same run");
    let firsts: Vec<u64> = spread.records[..4].iter().map(|r| r.arrival_ns).collect();
    assert!(firsts.iter().all(|&t| t <= 2_000_000_000), "{firsts:?}");
    assert!(firsts.iter().filter(|&&t| t > 0).count() >= 3, "first sends are spread: {firsts:?}");
    assert_eq!(spread.counters.requests_completed, 40);
}

#[test]
fn sglang_sizes_its_memory_from_the_gpu_unless_told() {
    let cat = Catalog::builtin();
    let dsr1 = |extra: &str| {
        GOOD.replace("\"hgx-h100-8\"", "\"hgx-b200-8\"")
            .replace(
                "\"llama-3.1-8b\"",
                "\"deepseek-r1\"\nweight_dtype = \"fp8\"\nkv_dtype = \"fp8\"\nengine = \"sglang\"",
            )
            .replace("replicas = 1", &format!("replicas = 1\nparallel = {{ tp = 4 }}\n{extra}"))
    };
    // B200 at TP 4: SGLang's start-up default is 0.855, which cannot hold DeepSeek-R1 fp8; the
    // error says which fraction it used and how to set another.
    let e = resolve_err(&dsr1(""));
    for want in ["bad.toml", "deployment.parallel", "memory fraction 0.855", "engine_options.memory_fraction"] {
        assert!(e.contains(want), "{want:?} in:\n{e}");
    }
    // A fraction set in the scenario is used as given.
    let text = dsr1("engine_options = { memory_fraction = 0.95 }");
    let r = Resolved::new("ok.toml", &Scenario::from_toml("ok.toml", &text).unwrap(), &cat).unwrap();
    let pool = &r.deployment.pools[0];
    assert_eq!(pool.memory_fraction, 0.95);
    assert_eq!(r.deployment.engine.max_num_batched_tokens, 16384, "B200 budget picked from memory");
    // Llama-3.1-8B on H100 with SGLang: 0.835 at TP 1, and vLLM keeps its 0.9.
    for (engine, frac) in [("sglang", 0.835), ("vllm", 0.9)] {
        let text = GOOD.replace("replicas = 1", &format!("replicas = 1\nengine = \"{engine}\""));
        let r = Resolved::new("ok.toml", &Scenario::from_toml("ok.toml", &text).unwrap(), &cat).unwrap();
        assert!((r.deployment.pools[0].memory_fraction - frac).abs() < 1e-9, "{engine}");
    }
}

#[test]
fn a_trace_replays_whole_without_a_request_count_but_a_generated_workload_needs_one() {
    let deployment = "[deployment]\nsystem = \"hgx-h100-8\"\nmodel = \"llama-3.1-8b\"\n";
    let generated = format!("{deployment}[load]\nworkload = \"builtin:assistant\"\n");
    let e = resolve_err(&generated);
    assert!(e.contains("load.requests") && e.contains("endless"), "{e}");
    let text = format!("{deployment}[load]\nworkload = {{ trace = \"t.csv\" }}\n");
    let cat = Catalog::builtin();
    let r = Resolved::new("trace.toml", &Scenario::from_toml("trace.toml", &text).unwrap(), &cat).unwrap();
    let trace: Vec<tokenfab_workload::Request> = (0..30u64)
        .map(|id| tokenfab_workload::Request {
            id,
            arrival_ns: id * 200_000_000,
            input_tokens: 300 + 10 * id as u32,
            output_tokens: 40,
            class: 0,
            session: None,
            turn: 0,
            prefix: None,
        })
        .collect();
    let (res, _) = r.execute(0, Some(&trace), &|_| {}).unwrap();
    assert_eq!(res.counters.requests_completed, 30, "every trace request is replayed");
}

#[test]
fn an_overload_that_outgrows_the_request_limit_stops_with_a_clear_error() {
    // 10,000 requests/s on one H100 for an hour would queue tens of millions of requests; with the
    // limit at 5,000 the run stops once that many have arrived and says why.
    let text = GOOD
        .replace(
            "arrivals = { kind = \"closed\", concurrency = 4 }",
            "arrivals = { kind = \"poisson\", rate_per_s = 10000 }",
        )
        .replace("requests = 40", "duration_s = 3600\n[limits]\nmax_requests = 5000");
    let cat = Catalog::builtin();
    let r = Resolved::new("t.toml", &Scenario::from_toml("t.toml", &text).unwrap(), &cat).unwrap();
    let e = r.execute(0, None, &|_| {}).unwrap_err().to_string();
    assert!(e.contains("more than 5000 requests arrived") && e.contains("limits.max_requests"), "{e}");
    // The queue bound trips first where it is the lower one.
    let text = text.replace("max_requests = 5000", "max_in_flight = 2000");
    let r = Resolved::new("t.toml", &Scenario::from_toml("t.toml", &text).unwrap(), &cat).unwrap();
    let e = r.execute(0, None, &|_| {}).unwrap_err().to_string();
    assert!(e.contains("more than 2000 requests in the system at once") && e.contains("limits.max_in_flight"), "{e}");
}
