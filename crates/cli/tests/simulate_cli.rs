//! `tokenfab simulate` end to end: built-ins, outputs, determinism, and clear errors.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn tokenfab(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tokenfab")).args(args).output().expect("run tokenfab")
}

fn tmp(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("tokenfab-sim-cli-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn list_builtins() {
    let o = tokenfab(&["simulate", "--list"]);
    assert!(o.status.success());
    insta::assert_snapshot!(String::from_utf8_lossy(&o.stdout));
}

#[test]
fn default_writes_outputs_and_is_byte_identical() {
    let d = tmp("out");
    let (a, b) = (d.join("a"), d.join("b"));
    for dir in [&a, &b] {
        let o = tokenfab(&["simulate", "--seed", "3", "--out", dir.to_str().unwrap()]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    for f in ["summary.json", "timing.json", "requests.csv", "requests.parquet", "report.html", "run.toml"] {
        assert!(a.join(f).is_file(), "missing {f}");
    }
    let sa = std::fs::read(a.join("summary.json")).unwrap();
    assert_eq!(sa, std::fs::read(b.join("summary.json")).unwrap(), "summary.json differs between runs");
    let v: serde_json::Value = serde_json::from_slice(&sa).unwrap();
    let c = &v["results"]["counters"];
    assert!(c["engine_iterations"].as_u64().unwrap() > 1000);
    let done = c["requests_completed"].as_u64().unwrap();
    assert!(done > 100);
    assert_eq!(v["seed"], 3);
    let csv = std::fs::read_to_string(a.join("requests.csv")).unwrap();
    assert_eq!(csv.lines().count() as u64, done + 1, "one row per request");
    insta::assert_snapshot!(csv.lines().next().unwrap(), @"id,class,arrival_s,input_tokens,output_tokens,cached_tokens,ttft_ms,tpot_ms,e2e_ms,preemptions,replica,decode_replica");
    assert!(std::fs::read_to_string(a.join("run.toml")).unwrap().contains("seed = 3"));
    assert!(!std::fs::read_to_string(a.join("report.html")).unwrap().contains("<script"));
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn timing_records_each_parallel_group_and_core_estimates() {
    let d = tmp("timing");
    let f = repo().join("examples/sim-assistant-workload.toml");
    let o = tokenfab(&["simulate", "--scenario", f.to_str().unwrap(), "--out", d.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let t: serde_json::Value = serde_json::from_slice(&std::fs::read(d.join("timing.json")).unwrap()).unwrap();
    let groups: Vec<f64> = t["group_wall_s"].as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect();
    assert_eq!(groups.len(), 2, "the example runs two parallel groups");
    assert!(groups.iter().all(|&g| g > 0.0));
    let (wall, serial) = (t["wall_s"].as_f64().unwrap(), t["serial_s"].as_f64().unwrap());
    assert!(serial >= 0.0 && serial < wall);
    assert!(groups.iter().all(|&g| g <= wall));
    let est: Vec<(u64, f64)> = t["estimated_wall_s"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["cores"].as_u64().unwrap(), e["wall_s"].as_f64().unwrap()))
        .collect();
    assert_eq!(est.first().unwrap().0, 1);
    let sum: f64 = groups.iter().sum();
    assert!((est[0].1 - (sum + serial)).abs() < 1e-9, "one core runs the groups in turn");
    let max = groups.iter().copied().fold(0.0, f64::max);
    assert!((est.last().unwrap().1 - (max + serial)).abs() < 1e-9, "many cores: the longest group");
    assert!(est.windows(2).all(|w| w[1].1 <= w[0].1), "more cores never take longer: {est:?}");
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn check_determinism_with_parallel_groups() {
    let f = repo().join("examples/sim-assistant-workload.toml");
    let o = tokenfab(&["simulate", "--scenario", f.to_str().unwrap(), "--check-determinism"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).contains("determinism: OK"));
}

/// Each bad scenario: exit code 1 and an error naming the file and the field.
#[test]
fn bad_scenarios_fail_clearly() {
    let d = tmp("bad");
    let good = "[deployment]\nsystem = \"hgx-h100-8\"\nmodel = \"llama-3.1-8b\"\n[load]\ninput = { dist = \"fixed\", tokens = 100 }\noutput = { dist = \"fixed\", tokens = 10 }\narrivals = { kind = \"closed\", concurrency = 2 }\nrequests = 10\n";
    let cases: &[(&str, String, &[&str])] = &[
        ("syntax", good.replace("requests = 10", "requests = "), &["syntax.toml", "line 8"]),
        ("chip", good.replace("hgx-h100-8", "z9000"), &["chip.toml", "deployment.system", "z9000"]),
        ("model", good.replace("llama-3.1-8b", "gpt-7"), &["model.toml", "deployment.model", "gpt-7"]),
        ("fit", good.replace("llama-3.1-8b", "llama-3.1-405b"), &["fit.toml", "does not fit"]),
        (
            "tp",
            good.replace("model = \"llama-3.1-8b\"", "model = \"llama-3.1-8b\"\nparallel = { tp = 16 }"),
            &["tp.toml", "deployment.parallel", "scale-up domain"],
        ),
        (
            "rate",
            good.replace("{ kind = \"closed\", concurrency = 2 }", "{ kind = \"poisson\", rate_per_s = -1 }"),
            &["rate.toml", "load.arrivals.rate_per_s"],
        ),
        (
            "replicas",
            good.replace("model = \"llama-3.1-8b\"", "model = \"llama-3.1-8b\"\nreplicas = 4000000"),
            &["replicas.toml", "deployment.replicas", "limits.max_chips"],
        ),
        // An open loop far above capacity stops at a runtime limit, naming the run and the limit.
        (
            "overload",
            good.replace("{ kind = \"closed\", concurrency = 2 }", "{ kind = \"poisson\", rate_per_s = 100000 }")
                .replace("requests = 10", "duration_s = 600\n[limits]\nmax_in_flight = 3000"),
            &["overload.toml", "more than 3000 requests in the system at once", "limits.max_in_flight"],
        ),
    ];
    for (name, text, want) in cases {
        let p = d.join(format!("{name}.toml"));
        std::fs::write(&p, text).unwrap();
        let o = tokenfab(&["simulate", "--scenario", p.to_str().unwrap()]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{name}: {err}");
        assert!(!err.contains("panicked"), "{name} panicked: {err}");
        for w in *want {
            assert!(err.contains(w), "{name}: expected {w:?} in: {err}");
        }
    }
    let missing = d.join("missing.toml");
    let o = tokenfab(&["simulate", "--scenario", missing.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("missing.toml"));
    let o = tokenfab(&["simulate", "--scenario", "builtin:nope"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("builtin:fleet-hour"));
    std::fs::remove_dir_all(&d).unwrap();
}

/// Replays a shared trace (read by the CLI, not the library); skipped when ../shared is absent.
#[test]
fn trace_replay_from_shared_data() {
    let trace = repo().join("../shared/traces/azure_llm_2023/AzureLLMInferenceTrace_conv.csv");
    if !trace.is_file() {
        println!("skipped: {} is absent", trace.display());
        return;
    }
    let f = repo().join("examples/sim-trace-azure.toml");
    let o = tokenfab(&["simulate", "--scenario", f.to_str().unwrap()]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(out.contains("5000 requests completed, 0 unfinished"), "{out}");
    assert!(out.contains("= 80 % of measured capacity"), "{out}");
}
