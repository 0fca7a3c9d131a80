//! `tokenfab workload stats | fit | gen`, run as a user would.

use std::path::PathBuf;

mod common;
use common::{repo, run as tokenfab, s};

fn tmp(name: &str) -> PathBuf {
    common::tmp_in("workload-cli", name)
}

#[test]
fn stats_text_output() {
    let (code, out, err) = tokenfab(&["workload", "stats", "examples/workloads/burstgpt_v2_format.csv"]);
    assert_eq!(code, 0, "{err}");
    insta::assert_snapshot!(out);
}

#[test]
fn stats_json_has_exactly_the_contract_keys() {
    let (code, out, err) = tokenfab(&["workload", "stats", "examples/workloads/sample_native.csv", "--json"]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    let mut expect = ["requests", "duration_s", "rate_per_s", "interarrival_cv", "input_tokens", "output_tokens"];
    expect.sort();
    let mut keys_sorted = keys.clone();
    keys_sorted.sort();
    assert_eq!(keys_sorted, expect);
    for k in ["input_tokens", "output_tokens"] {
        let mut sub: Vec<&str> = v[k].as_object().unwrap().keys().map(String::as_str).collect();
        sub.sort();
        assert_eq!(sub, ["max", "mean", "p50", "p90", "p99"]);
    }
    assert_eq!(v["requests"], 12);
    insta::assert_snapshot!(out);
}

#[test]
fn malformed_row_names_file_and_line_and_lenient_counts_it() {
    let f = tmp("bad.csv");
    std::fs::write(
        &f,
        "TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:17:03.9,10,1\n2023-11-16 18:17:04.0,ten,1\n2023-11-16 18:17:05.0,7,2\n",
    )
    .unwrap();
    let (code, _, err) = tokenfab(&["workload", "stats", s(&f)]);
    assert_eq!(code, 1);
    assert!(err.contains(&format!("{}: line 3: input tokens \"ten\"", f.display())), "{err}");

    let (code, out, err) = tokenfab(&["workload", "stats", s(&f), "--lenient", "--json"]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!((v["requests"].as_u64(), v["skipped_rows"].as_u64()), (Some(2), Some(1)));
    let (_, out, _) = tokenfab(&["workload", "stats", s(&f), "--lenient"]);
    assert!(out.contains("skipped_rows     1") && out.contains("line 3:"), "{out}");
}

#[test]
fn gen_is_deterministic_and_stats_reads_it_back() {
    let (a, b) = (tmp("a.csv"), tmp("b.csv"));
    for p in [&a, &b] {
        let (code, _, err) =
            tokenfab(&["workload", "gen", "builtin:assistant", "--out", s(p), "--requests", "5000", "--seed", "4"]);
        assert_eq!(code, 0, "{err}");
    }
    assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap(), "same seed, same bytes");
    let (_, out, _) = tokenfab(&["workload", "stats", s(&a), "--json"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["requests"], 5000);

    let j = tmp("d.jsonl");
    let (code, _, err) = tokenfab(&["workload", "gen", "builtin:assistant", "--out", s(&j), "--duration-s", "600"]);
    assert_eq!(code, 0, "{err}");
    let (_, out, _) = tokenfab(&["workload", "stats", s(&j), "--json", "--format", "native-jsonl"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    // ~3 req/s scaled by the Monday-midnight profile (0.45 / mean): a few hundred to a few thousand.
    let n = v["requests"].as_u64().unwrap();
    assert!((200..3000).contains(&n), "{n} requests in 600 s");
    let text = std::fs::read_to_string(&j).unwrap();
    let last: tokenfab_workload::Request = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    assert!(last.arrival_ns <= 600_000_000_000);
}

#[test]
fn fit_prints_a_spec_that_gen_accepts() {
    let (code, out, err) = tokenfab(&["workload", "fit", "examples/workloads/sample_native.csv", "--name", "sample"]);
    assert_eq!(code, 0, "{err}");
    let spec = tokenfab_workload::WorkloadSpec::from_toml(&out).unwrap();
    assert_eq!(spec.name, "sample");
    let f = tmp("fit.toml");
    std::fs::write(&f, &out).unwrap();
    let o = tmp("fit.csv");
    let (code, _, err) = tokenfab(&["workload", "gen", s(&f), "--out", s(&o), "--requests", "10"]);
    assert_eq!(code, 0, "{err}");
    // --rate-per-s rescales the fitted arrival process (no profile: the rate is the mean rate).
    let (code, _, err) =
        tokenfab(&["workload", "gen", s(&f), "--out", s(&o), "--requests", "20000", "--rate-per-s", "50"]);
    assert_eq!(code, 0, "{err}");
    let (_, out, _) = tokenfab(&["workload", "stats", s(&o), "--json"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let rate = v["rate_per_s"].as_f64().unwrap();
    assert!((rate / 50.0 - 1.0).abs() < 0.05, "rate {rate}");
}

#[test]
fn bad_specs_and_formats_are_clear_errors() {
    let (code, _, err) = tokenfab(&["workload", "gen", "builtin:nope", "--out", "x.csv", "--requests", "1"]);
    assert_eq!(code, 1);
    assert!(err.contains("builtin:assistant"), "{err}");
    let f = tmp("bad.toml");
    std::fs::write(&f, "name = \"x\"\narrival = { process = \"poisson\", rate_per_s = 0 }\nclasses = []\n").unwrap();
    let (code, _, err) = tokenfab(&["workload", "gen", s(&f), "--out", "x.csv", "--requests", "1"]);
    assert_eq!(code, 1);
    assert!(err.contains("bad.toml") && err.contains("mean rate") && err.contains("at least one class"), "{err}");
    let (code, _, err) = tokenfab(&["workload", "stats", "Cargo.toml", "--format", "bogus"]);
    assert_eq!(code, 2, "usage error");
    assert!(err.contains("native-csv"), "{err}");
    let (code, _, err) = tokenfab(&["workload", "stats", "Cargo.toml"]);
    assert_eq!(code, 1);
    assert!(err.contains("cannot detect"), "{err}");
}

#[test]
fn servegen_stats_use_the_sibling_dataset_file_when_present() {
    let t = repo().join("../shared/traces/servegen/reason/deepseek-r1/chunk-1-trace.csv");
    if !t.exists() {
        eprintln!("SKIP: {} is absent", t.display());
        return;
    }
    let (code, out, err) = tokenfab(&["workload", "stats", s(&t), "--json", "--seed", "1"]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    // chunk-1-dataset.json: short prompts (mean ~170 tokens), unlike the m-large fallback (~900).
    let mean_in = v["input_tokens"]["mean"].as_f64().unwrap();
    assert!((100.0..300.0).contains(&mean_in), "input mean {mean_in}");
    // Same seed, same output.
    let (_, again, _) = tokenfab(&["workload", "stats", s(&t), "--json", "--seed", "1"]);
    assert_eq!(out, again);
}
