//! Generated workloads reproduce their configured statistics (fixed seeds, tolerances of several
//! standard errors), fitting a trace and regenerating reproduces it, and streams are well formed.

use proptest::prelude::*;
use std::path::PathBuf;
use tokenfab_workload::{ReadOptions, Request, TaskKind, TraceReader, TraceStats, WorkloadSpec};

fn spec(text: &str) -> WorkloadSpec {
    WorkloadSpec::from_toml(text).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

#[test]
fn builtin_assistant_reproduces_class_shares_and_mean_rate() {
    let s = WorkloadSpec::builtin("builtin:assistant").unwrap();
    let shares = s.class_shares();
    let n = 300_000usize;
    let reqs: Vec<Request> = s.generate(1).unwrap().take(n).collect();
    let mut counts = vec![0usize; s.classes.len()];
    for r in &reqs {
        counts[r.class as usize] += 1;
    }
    for (i, c) in s.classes.iter().enumerate() {
        let p = shares[i];
        let got = counts[i] as f64 / n as f64;
        // Binomial standard error; chat turns are correlated, so allow 5 standard errors.
        let se = (p * (1.0 - p) / n as f64).sqrt();
        assert!((got - p).abs() < 5.0 * se + 1e-3, "{}: share {got:.4} vs {p:.4}", c.name);
    }
    // A whole week at the weekly-mean rate: 700e6 × 3.67 / 86 400 × 1e-4 ≈ 2.97 req/s.
    let week_ns = 7 * 86_400 * 1_000_000_000u64;
    let in_week = s.generate(2).unwrap().take_while(|r| r.arrival_ns < week_ns).count() as f64;
    let expect = s.arrival.mean_rate_per_s() * 7.0 * 86_400.0;
    assert!((in_week / expect - 1.0).abs() < 0.02, "week: {in_week} requests vs {expect:.0}");
}

#[test]
fn single_class_lengths_and_arrivals_match_their_configuration() {
    let s = spec(
        r#"
        name = "t"
        [arrival]
        process = "gamma"
        rate_per_s = 20.0
        cv = 2.0
        [[classes]]
        name = "g"
        kind = "generic"
        share = 1.0
        input = { dist = "lognormal", median = 800, sigma = 0.8 }
        output = { dist = "uniform", min = 10, max = 30 }
        slo = { ttft_ms = 1000, tpot_ms = 50 }
        "#,
    );
    let mut st = TraceStats::default();
    s.generate(9).unwrap().take(200_000).for_each(|r| st.add(&r));
    let x = st.summary();
    assert!((x.rate_per_s / 20.0 - 1.0).abs() < 0.02, "rate {}", x.rate_per_s);
    assert!((x.interarrival_cv / 2.0 - 1.0).abs() < 0.05, "cv {}", x.interarrival_cv);
    assert!((x.input_tokens.p50 as f64 / 800.0 - 1.0).abs() < 0.02, "median {}", x.input_tokens.p50);
    // p90 of a lognormal = median × e^{1.2816 σ}.
    let p90 = 800.0 * (1.2816f64 * 0.8).exp();
    assert!((x.input_tokens.p90 as f64 / p90 - 1.0).abs() < 0.03, "p90 {} vs {p90:.0}", x.input_tokens.p90);
    assert!((x.output_tokens.mean - 20.0).abs() < 0.1, "uniform mean {}", x.output_tokens.mean);
    assert_eq!((st.output.min(), st.output.max()), (10, 30));
}

#[test]
fn translation_output_follows_language_fertility() {
    let s = spec(
        r#"
        name = "t"
        arrival = { process = "poisson", rate_per_s = 1.0 }
        languages = [ { name = "en", share = 1, fertility = 1.0 }, { name = "fr", share = 0, fertility = 1.3 } ]
        [[classes]]
        name = "en-fr"
        kind = "translation"
        share = 1.0
        input = { dist = "fixed", value = 1000 }
        output_ratio = 1.0
        ratio_sigma = 0.1
        pairs = [ { from = "en", to = "fr", share = 1 } ]
        slo = { ttft_ms = 1000, tpot_ms = 50 }
        "#,
    );
    let reqs: Vec<Request> = s.generate(3).unwrap().take(20_000).collect();
    assert!(reqs.iter().all(|r| r.input_tokens == 1000));
    let mean = reqs.iter().map(|r| r.output_tokens as f64).sum::<f64>() / reqs.len() as f64;
    // E[lognormal noise] = e^{σ²/2} = 1.005.
    let expect = 1300.0 * (0.005f64).exp();
    assert!((mean / expect - 1.0).abs() < 0.005, "mean output {mean} vs {expect}");
}

#[test]
fn chat_history_grows_and_is_reused_as_prefix() {
    let s = WorkloadSpec::builtin("assistant").unwrap();
    let chat = s.classes.iter().position(|c| c.kind == TaskKind::Chat).unwrap() as u16;
    let reqs: Vec<Request> = s.generate(4).unwrap().take(50_000).collect();
    let mut last: std::collections::BTreeMap<u64, &Request> = Default::default();
    let mut follow_ups = 0;
    for r in reqs.iter().filter(|r| r.class == chat) {
        let sess = r.session.expect("chat requests belong to a session");
        if let Some(prev) = last.get(&sess) {
            follow_ups += 1;
            assert_eq!(r.turn, prev.turn + 1);
            assert!(r.input_tokens > prev.input_tokens + prev.output_tokens, "history + new message");
            let (p, q) = (prev.prefix.as_ref().unwrap(), r.prefix.as_ref().unwrap());
            let shared = (prev.input_tokens / p.block_tokens) as usize;
            assert_eq!(q.ids[..shared], p.ids[..shared], "previous prompt's full blocks are a shared prefix");
        } else {
            assert_eq!(r.turn, 0);
        }
        last.insert(sess, r);
    }
    // turns_mean 2.9 → about 1.9 follow-ups per conversation start.
    let starts = last.len() as f64;
    assert!((follow_ups as f64 / starts - 1.9).abs() < 0.1, "{follow_ups} follow-ups for {starts} starts");
    // All chat sessions share the system-prompt blocks.
    let sys_blocks = 1000 / 16;
    let first = reqs.iter().find(|r| r.class == chat).unwrap().prefix.clone().unwrap();
    assert!(
        reqs.iter()
            .filter(|r| r.class == chat)
            .all(|r| r.prefix.as_ref().unwrap().ids[..sys_blocks] == first.ids[..sys_blocks])
    );
}

#[test]
fn unique_tails_are_never_shared_and_the_rest_is_claimed_only_where_shared() {
    let s = WorkloadSpec::builtin("assistant").unwrap();
    let reqs: Vec<Request> = s.generate(5).unwrap().take(60_000).collect();
    // Every block id, with the number of requests whose prompt holds it.
    let mut uses: std::collections::BTreeMap<u64, u32> = Default::default();
    for r in &reqs {
        for &id in &r.prefix.as_ref().unwrap().ids {
            *uses.entry(id).or_default() += 1;
        }
    }
    let (mut tail, mut total, mut tailed) = (0usize, 0usize, 0usize);
    for r in &reqs {
        let p = r.prefix.as_ref().unwrap();
        let u = p.unique_tail as usize;
        assert!(u <= p.ids.len(), "request {}: tail {u} of {} blocks", r.id, p.ids.len());
        for &id in &p.ids[p.ids.len() - u..] {
            assert_eq!(uses[&id], 1, "request {}: block {id} of its unique tail is shared", r.id);
        }
        tail += u;
        total += p.ids.len();
        tailed += (u > 0) as usize;
    }
    // The tail is not trivially empty: non-chat prompts and last turns are mostly their own.
    let frac = tail as f64 / total as f64;
    assert!(frac > 0.2 && tailed > reqs.len() / 2, "unique tail {frac:.3} of blocks, {tailed} requests");
}

#[test]
fn same_seed_same_stream_different_seed_different_stream() {
    let s = WorkloadSpec::builtin("assistant").unwrap();
    let a: Vec<Request> = s.generate(7).unwrap().take(2_000).collect();
    let b: Vec<Request> = s.generate(7).unwrap().take(2_000).collect();
    let c: Vec<Request> = s.generate(8).unwrap().take(2_000).collect();
    assert_eq!(a, b);
    assert_ne!(a, c);
}

#[test]
fn invalid_specs_report_every_problem_at_once() {
    let e = WorkloadSpec::from_toml(
        r#"
        name = "bad"
        arrival = { process = "gamma", rate_per_s = -1.0, cv = 1.0 }
        [[classes]]
        name = "x"
        kind = "translation"
        share = 1.0
        input = { dist = "uniform", min = 5, max = 1 }
        slo = { ttft_ms = 1000, tpot_ms = 50 }
        "#,
    )
    .unwrap_err()
    .to_string();
    for fragment in ["mean rate", "uniform min 5 > max 1", "output_ratio", "pairs"] {
        assert!(e.contains(fragment), "{e} should mention {fragment}");
    }
    let e = WorkloadSpec::from_toml("name = 'x'\nbogus = 1\n").unwrap_err().to_string();
    assert!(e.contains("bogus"), "{e}");
    // Unknown keys are rejected inside tagged tables too.
    let base = |arrival: &str, input: &str| {
        format!(
            "name = 'x'\narrival = {arrival}\n[[classes]]\nname = 'c'\nkind = 'generic'\nshare = 1.0\n\
             input = {input}\noutput = {{ dist = 'fixed', value = 1 }}\nslo = {{ ttft_ms = 1, tpot_ms = 1 }}\n"
        )
    };
    assert!(
        WorkloadSpec::from_toml(&base("{ process = 'poisson', rate_per_s = 1 }", "{ dist = 'fixed', value = 3 }"))
            .is_ok()
    );
    for (arrival, input, bad) in [
        ("{ process = 'poisson', rate_per_s = 1, burst = 2 }", "{ dist = 'fixed', value = 3 }", "burst"),
        ("{ process = 'poisson', rate_per_s = 1 }", "{ dist = 'fixed', value = 3, extra = 1 }", "extra"),
        ("{ process = 'weibull', rate_per_s = 1 }", "{ dist = 'fixed', value = 3 }", "weibull"),
    ] {
        let e = WorkloadSpec::from_toml(&base(arrival, input)).unwrap_err().to_string();
        assert!(e.contains(bad), "{e} should name {bad}");
    }
}

#[test]
fn fit_then_regenerate_reproduces_azure_conv() {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/traces/azure_llm_2023/AzureLLMInferenceTrace_conv.csv");
    if !p.exists() {
        eprintln!("SKIP: {} is absent", p.display());
        return;
    }
    let f = std::io::BufReader::new(std::fs::File::open(&p).unwrap());
    let mut trace = TraceStats::default();
    for r in TraceReader::new(f, None, ReadOptions::default()).unwrap() {
        trace.add(&r.unwrap());
    }
    let fitted = trace.fit("azure-conv", "Azure 2023 conv");
    // The fit survives its own TOML round trip.
    let fitted = WorkloadSpec::from_toml(&fitted.to_toml()).unwrap();
    let mut regen = TraceStats::default();
    fitted.generate(3).unwrap().take(trace.requests() as usize).for_each(|r| regen.add(&r));
    let (t, g) = (trace.summary(), regen.summary());
    for (what, a, b) in [
        ("input p50", t.input_tokens.p50, g.input_tokens.p50),
        ("input p90", t.input_tokens.p90, g.input_tokens.p90),
        ("input p99", t.input_tokens.p99, g.input_tokens.p99),
        ("output p50", t.output_tokens.p50, g.output_tokens.p50),
        ("output p90", t.output_tokens.p90, g.output_tokens.p90),
        ("output p99", t.output_tokens.p99, g.output_tokens.p99),
    ] {
        assert!((b as f64 / a as f64 - 1.0).abs() < 0.10, "{what}: trace {a}, regenerated {b}");
    }
    assert!((g.rate_per_s / t.rate_per_s - 1.0).abs() < 0.05, "rate {} vs {}", g.rate_per_s, t.rate_per_s);
    assert!((g.interarrival_cv / t.interarrival_cv - 1.0).abs() < 0.10, "cv");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn arrivals_are_monotone_and_ids_sequential(
        seed in any::<u64>(), rate in 0.01f64..1000.0, cv in 0.0f64..8.0, turns in 1.0f64..6.0,
        think in 0.0f64..100.0, diurnal in any::<bool>(),
    ) {
        let profile = if diurnal {
            "profile = { hourly = [1,1,1,1,1,1,2,3,4,4,4,4,4,4,4,4,4,3,2,1,1,1,1,1], weekly = [1,1,1,1,1,0.5,0.5] }"
        } else { "" };
        let s = spec(&format!(r#"
            name = "p"
            arrival = {{ process = "gamma", rate_per_s = {rate}, cv = {cv} {sep} {profile} }}
            [[classes]]
            name = "chat"
            kind = "chat"
            share = 1.0
            turns_mean = {turns}
            think_time_s = {think}
            system_prompt_tokens = 100
            input = {{ dist = "lognormal", median = 50, sigma = 1.0 }}
            output = {{ dist = "lognormal", median = 100, sigma = 1.0 }}
            slo = {{ ttft_ms = 500, tpot_ms = 20 }}
            [[classes]]
            name = "one-shot"
            kind = "summarization"
            share = 1.0
            input = {{ dist = "fixed", value = 3000 }}
            output = {{ dist = "fixed", value = 100 }}
            slo = {{ ttft_ms = 500, tpot_ms = 20 }}
            "#, sep = if diurnal { "," } else { "" }));
        let mut prev = 0u64;
        for (i, r) in s.generate(seed).unwrap().take(500).enumerate() {
            prop_assert_eq!(r.id, i as u64);
            prop_assert!(r.arrival_ns >= prev, "arrival {} after {}", r.arrival_ns, prev);
            prop_assert!(r.input_tokens >= 1 && r.output_tokens >= 1);
            let p = r.prefix.as_ref().unwrap();
            prop_assert_eq!(p.ids.len() as u32, r.input_tokens.div_ceil(p.block_tokens));
            prev = r.arrival_ns;
        }
    }
}
