//! `tokenfab explore` and `tokenfab merge`, run as a user would.

use std::path::PathBuf;

mod common;
use common::{repo, run as tokenfab, s};

fn tmp(name: &str) -> PathBuf {
    common::tmp_in("explore-cli", name)
}

const SMALL: &str = "examples/explore/small.toml";
const OUTPUTS: [&str; 9] = [
    "summary.json",
    "pareto.csv",
    "pareto.parquet",
    "designs.csv",
    "designs.parquet",
    "catalog.csv",
    "catalog.parquet",
    "report.html",
    "run.toml",
];

#[test]
fn small_space_writes_every_output_and_counts_every_design() {
    let out = tmp("single");
    let (code, _, err) = tokenfab(&["explore", SMALL, "--out", s(&out)]);
    assert_eq!(code, 0, "{err}");
    for f in OUTPUTS {
        assert!(out.join(f).is_file(), "missing {f}");
    }
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(v["format"], "tokenfab-explore-summary/1");
    assert_eq!(v["designs_total"], 216);
    assert_eq!(v["designs_evaluated"], 216);
    let rejected: u64 = v["rejections"].as_object().unwrap().values().map(|x| x.as_u64().unwrap()).sum();
    assert_eq!(rejected + v["designs_feasible"].as_u64().unwrap(), 216);
    let reasons: Vec<&str> = v["rejections"].as_object().unwrap().keys().map(String::as_str).collect();
    insta::assert_debug_snapshot!("rejection_reasons", reasons);
    assert!(v["frontier_size"].as_u64().unwrap() >= 1);
    // The frontier is confirmed with the simulator, design by design.
    assert_eq!(v["confirmation"]["method"], "simulator");
    assert_eq!(v["confirmation"]["designs"].as_array().unwrap().len() as u64, v["frontier_size"].as_u64().unwrap());
    // The catalog chips are scored on the same workload.
    assert!(v["catalog"].as_array().unwrap().iter().any(|c| c["chip"] == "h100-sxm"));
    let pareto = std::fs::read_to_string(out.join("pareto.csv")).unwrap();
    insta::assert_snapshot!("pareto_header", pareto.lines().next().unwrap());
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("<svg") && html.contains("h100-sxm") && html.contains("Frontier designs"));
    let run = std::fs::read_to_string(out.join("run.toml")).unwrap();
    assert!(run.contains("command = \"explore\"") && run.contains("space_toml"), "{run}");
}

#[test]
fn shards_merged_write_the_same_outputs_as_one_run() {
    let single = tmp("one");
    let shards = tmp("shards");
    let merged = tmp("merged");
    let (code, _, err) = tokenfab(&["explore", SMALL, "--out", s(&single), "--seed", "3"]);
    assert_eq!(code, 0, "{err}");
    for i in ["0/3", "2/3", "1/3"] {
        let (code, _, err) = tokenfab(&["explore", SMALL, "--out", s(&shards), "--seed", "3", "--shard", i]);
        assert_eq!(code, 0, "{err}");
    }
    assert!(shards.join("shard-1-of-3.json").is_file());
    let (code, _, err) = tokenfab(&["merge", s(&shards), "--out", s(&merged)]);
    assert_eq!(code, 0, "{err}");
    for f in ["summary.json", "pareto.csv", "pareto.parquet", "designs.csv", "catalog.csv", "report.html"] {
        assert_eq!(
            std::fs::read(single.join(f)).unwrap(),
            std::fs::read(merged.join(f)).unwrap(),
            "{f} differs between a single run and merged shards"
        );
    }
}

#[test]
fn no_sim_keeps_the_analytic_numbers_and_says_so() {
    let out = tmp("nosim");
    let (code, _, err) = tokenfab(&["explore", SMALL, "--out", s(&out), "--no-sim"]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(v["confirmation"]["method"], "analytic");
    assert!(v["confirmation"]["note"].as_str().unwrap().contains("not re-run through the discrete-event simulator"));
    let pareto = std::fs::read_to_string(out.join("pareto.csv")).unwrap();
    // Same columns as a simulated run (a stable schema), with the `sim_*` cells empty.
    assert!(pareto.lines().next().unwrap().contains("sim_meets_slo"));
    assert!(!pareto.contains(",yes,") && !pareto.contains(",no,"), "{pareto}");
}

#[test]
fn merge_with_a_missing_shard_fails_and_names_it() {
    let shards = tmp("partial");
    let (code, _, err) = tokenfab(&["explore", SMALL, "--out", s(&shards), "--shard", "0/2"]);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = tokenfab(&["merge", s(&shards), "--out", s(&tmp("never"))]);
    assert_eq!(code, 1);
    assert!(err.contains("missing [1/2]"), "{err}");
}

#[test]
fn bad_space_file_reports_every_problem() {
    let path = tmp("bad.toml");
    let text = std::fs::read_to_string(repo().join(SMALL))
        .unwrap()
        .replace("memory = [\"hbm3e-12h\", \"hbm4-12h\", \"hbm-lite\"]", "memory = [\"hbm5\"]")
        .replace("tpot_slo_ms = 30.0", "tpot_slo_ms = -1.0")
        .replace("source = \"example: a negotiated", "source = \"\" # \"");
    std::fs::write(&path, text).unwrap();
    let (code, _, err) = tokenfab(&["explore", s(&path), "--out", s(&tmp("bad-out"))]);
    assert_eq!(code, 1);
    insta::assert_snapshot!("bad_space", err.replace(s(&path), "BAD.toml"));
}

#[test]
fn bad_shard_flag_is_a_usage_error() {
    let (code, _, err) = tokenfab(&["explore", SMALL, "--shard", "3/3"]);
    assert_eq!(code, 2);
    assert!(err.contains("expected I/N with 0 <= I < N"), "{err}");
}
